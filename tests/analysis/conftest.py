"""Fixtures: planted run files written through the real tracking.RunWriter."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # analysis_planted

from analysis_planted import cascade_run, control_run

from tracking import Run, open_run


@pytest.fixture(scope="session")
def planted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the cascade run ("pruned", control "control") and its control."""
    d = tmp_path_factory.mktemp("planted")
    cascade_run(d / "pruned.h5", run_id="pruned", control="control")
    control_run(d / "control.h5", run_id="control")
    return d


@pytest.fixture
def run(planted_dir: Path) -> Iterator[Run]:
    with open_run(planted_dir / "pruned.h5") as r:
        yield r


@pytest.fixture
def control(planted_dir: Path) -> Iterator[Run]:
    with open_run(planted_dir / "control.h5") as r:
        yield r
