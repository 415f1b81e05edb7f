"""Sweep run start-up: runs forked from the preloaded forkserver vs fresh processes.

The same tiny MNIST-1D runs (3 dense + 2 retraining epochs, width 0.5, their dense phase
cached first) go once through ``shedding.sweep.execute`` (each run forked from a server
that has imported torch) and once as fresh ``python -m shedding run`` processes, both with
2 at a time, in alternating order; the run files of the two ways are compared bit for bit.

    python benchmarks/bench_sweep_startup.py [--runs 6] [--reps 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shedding.config import dumps_toml, load_config  # noqa: E402
from shedding.engine import identity  # noqa: E402
from shedding.sweep import PlannedRun, execute  # noqa: E402

TINY = ["model.width=0.5", "train.epochs=3", "train.milestones=[2]", "retrain.epochs=2"]


def fresh_processes(cfgs: list, data_root: Path, runs_dir: Path) -> None:
    def one(cfg) -> None:
        f = runs_dir / f"{identity.run_id(cfg)}.toml"
        f.write_text(dumps_toml(cfg))
        cmd = [sys.executable, "-m", "shedding", "run", str(f), "--quiet", "--overwrite"]
        cmd += ["--data-root", str(data_root), "--runs-dir", str(runs_dir)]
        env = {"SHEDDING_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, cfgs))


def same_files(a: Path, b: Path) -> bool:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names: list[str] = []
        fa.visit(lambda n: names.append(n) if isinstance(fa[n], h5py.Dataset) else None)
        return all(
            np.array_equal(fa[n][()], fb[n][()], equal_nan=fa[n].dtype.kind == "f")
            for n in names
            if "wall_time" not in n
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    cfgs = [
        load_config("mnist1d-demo", [*TINY, f"prune.sparsity={0.3 + 0.1 * i:.1f}"])
        for i in range(a.runs)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        warm = [PlannedRun(load_config("mnist1d-demo", [*TINY, "prune.sparsity=0.2"]), "run")]
        execute(warm, data_root=root, runs_dir=Path(tmp) / "warm", progress=False)  # dense cache
        times: dict[str, list[float]] = {"forkserver (execute)": [], "fresh processes": []}
        for rep in range(a.reps):
            order = list(times) if rep % 2 == 0 else list(times)[::-1]
            for way in order:
                out = Path(tmp) / f"{way.split()[0]}-{rep}"
                out.mkdir()
                t = time.perf_counter()
                if way.startswith("forkserver"):
                    plan = [PlannedRun(c, "run") for c in cfgs]
                    execute(plan, data_root=root, runs_dir=out, jobs=2, progress=False)
                else:
                    fresh_processes(cfgs, root, out)
                times[way].append(time.perf_counter() - t)
        a_dir, b_dir = Path(tmp) / "forkserver-0", Path(tmp) / "fresh-0"
        same = all(same_files(p, b_dir / p.name) for p in sorted(a_dir.glob("*.h5")))
    for way, v in times.items():
        print(f"{way:22s} {a.runs} runs, 2 at a time: {[round(x, 1) for x in v]} s")
    f, s = (min(v) for v in times.values())
    print(f"ratio forkserver / fresh (best of {a.reps}): {f / s:.2f}; run files identical: {same}")


if __name__ == "__main__":
    main()
