"""Fixtures for the dashboard tests: synthetic run directories written by tracking.RunWriter.

``runs_dir`` (session-wide, read-only for tests) holds two GMP runs with their controls,
a random-pruning run without a control in a subdirectory, a foreign file and a truncated
copy of a run. Tests that change files make their own directory with :func:`make_runs`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # dashboard_synth, also run as a script

from dash_runs import make_runs

from dashboard.app import EXTENSION, create_app
from dashboard.store import RunStore


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def app(runs_dir: Path) -> Iterator:
    app = create_app(runs_dir, refresh_ms=500)
    yield app
    app.server.extensions[EXTENSION].close()


@pytest.fixture
def store(app) -> RunStore:
    return app.server.extensions[EXTENSION]
