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

from dashboard_synth import Synth, write_run

from dashboard.app import EXTENSION, create_app
from dashboard.store import RunStore

PRUNED = Synth(run_id="gmp0", control="ctl0", sparsity=0.2, shed=0.4)
RUNS = {
    "gmp_s0.h5": PRUNED,
    "gmp_s1.h5": Synth(run_id="gmp1", control="ctl1", sparsity=0.2, shed=0.45, seed=1),
    "ctl_s0.h5": Synth(run_id="ctl0", sparsity=0.0, shed=0.1),
    "ctl_s1.h5": Synth(run_id="ctl1", sparsity=0.0, shed=0.1, seed=1),
    "sub/rand_s0.h5": Synth(run_id="rand0", method="random", sparsity=0.2, shed=0.2),
}


def make_runs(root: Path, runs: dict[str, Synth] = RUNS, *, bad: bool = True) -> Path:
    """Writes ``runs`` under ``root`` (plus a foreign and a truncated file when ``bad``)."""
    for rel, p in runs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_run(root / rel, p)
    if bad:
        (root / "junk.h5").write_bytes(b"this is not an HDF5 file")
        data = (root / next(iter(runs))).read_bytes()
        (root / "cut.h5").write_bytes(data[: len(data) // 2])
    return root


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


def rid_of(store: RunStore, stem: str) -> str:
    """Opaque id of the file whose name (without suffix) is ``stem``."""
    for f in store.catalog.scan():
        if Path(f.rel).stem == stem:
            return f.run_id
    raise LookupError(f"{stem} not in {[f.rel for f in store.catalog.files()]}")
