"""shedding.figures draws from arrays alone: none of its modules imports torch, the
analysis package or the dashboard (lazily either), so the report, the dashboard and the
study all build on it without an import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import shedding.figures

FORBIDDEN = ("torch", "shedding.analysis", "dashboard", "tracking")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_figures_import_only_plotting_and_array_libraries() -> None:
    files = sorted(Path(shedding.figures.__file__).parent.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        bad = {m for m in _imports(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
        assert not bad, f"{path.name} imports {sorted(bad)}"
