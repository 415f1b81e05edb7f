"""Every public function of shedding.analysis has an example, and every example runs."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import shedding.analysis as analysis
from tracking import open_run

MODULES = [
    importlib.import_module(f"shedding.analysis.{m.name}")
    for m in pkgutil.iter_modules(analysis.__path__)
]


def test_every_public_function_has_an_example() -> None:
    missing = [
        name
        for name in analysis.__all__
        if inspect.isfunction(getattr(analysis, name))
        and "Example" not in (inspect.getdoc(getattr(analysis, name)) or "")
    ]
    assert missing == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_examples_run(module, planted_dir: Path, tmp_path: Path) -> None:
    with open_run(planted_dir / "pruned.h5") as run, open_run(planted_dir / "control.h5") as ctl:
        globs = {name: getattr(analysis, name) for name in analysis.__all__}
        globs.update(vars(module))
        globs.update(np=np, run=run, control=ctl, run_dir=planted_dir, tmp_path=tmp_path)
        finder = doctest.DocTestFinder(exclude_empty=True)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        for test in finder.find(module, module.__name__, globs=globs):
            runner.run(test)
        result = runner.summarize(verbose=False)
    assert result.failed == 0
