"""The dashboard tests' run directories: the standard set of synthetic runs, and how to
find a run's opaque id (imported by the tests; the fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from dashboard_synth import Synth, write_run

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


def rid_of(store: RunStore, stem: str) -> str:
    """Opaque id of the file whose name (without suffix) is ``stem``."""
    for f in store.catalog.scan():
        if Path(f.rel).stem == stem:
            return f.run_id
    raise LookupError(f"{stem} not in {[f.rel for f in store.catalog.files()]}")
