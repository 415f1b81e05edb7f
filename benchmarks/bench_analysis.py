"""Benchmark: shed curves on a large run vs merely reading its magnitudes.

Writes a synthetic run with the real tracking.RunWriter (default 25.6 M weights in 50
layers x 50 snapshots, ~2.9 GB in /tmp), then measures, each in a fresh subprocess so
peak RSS is that of the measurement alone:

- read:   every stored magnitude row once through the public reader (iter_snapshots);
- read_blocks: the same bytes read in the blocks the analysis reads (the tighter floor);
- stream: global shed curve at an off-grid threshold (c = 0.0123, streams magnitudes+masks);
- stream_channel: the same per output channel;
- grid:   the shed curve at the default grid threshold (from stored statistics);
- drift / cascade: mask drift at the default rule (stored kept sets) and cascade summary
  with revivals at the off-grid threshold.

Each measurement is the median of 3 repetitions in one process (a fresh Run each time).
Targets: stream peak memory <= 1.5 GB, stream time <= 1.5x the faster read, grid < 1 s.
Peak memory is the measuring process's VmHWM (includes ~150 MB of interpreter + numpy +
h5py).
The file is deleted afterwards unless --keep. Not a test; prints one table.

    .venv/bin/python benchmarks/bench_analysis.py [--weights 25.6e6 --snapshots 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OFF_GRID_C = 0.0123


def write_run(path: Path, *, n_weights: int, n_layers: int, n_snapshots: int) -> float:
    """Synthetic run: weights decay at per-weight rates, one GMP-like prune at 1/5."""
    from tracking import LayerSpec, RunWriter

    fan = n_weights // n_layers // 512
    layers = [LayerSpec(f"layer{i}.weight", (512, fan)) for i in range(n_layers)]
    rng = np.random.default_rng(0)
    w0 = {s.name: (rng.standard_normal(s.shape) * 0.05).astype(np.float32) for s in layers}
    rate = {s.name: (10 ** rng.uniform(-3, 0, s.shape)).astype(np.float32) for s in layers}
    masks = {s.name: np.ones(s.shape, dtype=bool) for s in layers}
    prune_at = n_snapshots // 5
    t0 = time.perf_counter()
    with RunWriter(
        path, layers=layers, config={"bench": True}, run_id="bench", overwrite=True
    ) as w:
        for t in range(n_snapshots):
            if t == prune_at:
                allw = np.concatenate([np.abs(w0[s.name]).ravel() for s in layers])
                thr = float(np.quantile(allw[:: max(1, len(allw) // 1_000_000)], 0.5))
                del allw
                for s in layers:
                    masks[s.name] = np.abs(w0[s.name]) >= thr
                rms = {
                    s.name: float(np.sqrt(np.mean(w0[s.name][masks[s.name]] ** 2))) for s in layers
                }
                w.set_reference(layer_rms=rms, gmp_threshold=thr)
                w.log_event({"round": 1, "epoch": t, "method": "gmp"})
            decay = 0.0 if t < prune_at else float(t - prune_at)
            weights = {
                s.name: w0[s.name] * np.exp(-rate[s.name] * decay) * masks[s.name] for s in layers
            }
            w.record(
                step=t,
                epoch=float(t),
                phase="dense" if t < prune_at else "retrain",
                round=0 if t < prune_at else 1,
                lr=0.1,
                weights=weights,
                masks=masks,
            )
    return time.perf_counter() - t0


def measure(path: Path, mode: str, repeats: int = 3) -> dict[str, float]:
    """Run one measurement ``repeats`` times in this process; median seconds, peak RSS."""
    times = [_measure_once(path, mode) for _ in range(repeats)]
    return {"seconds": float(np.median(times)), "peak_rss_mib": peak_rss_mib()}


def _measure_once(path: Path, mode: str) -> float:
    from shedding.analysis import cascade_summary, mask_drift, shed_curve
    from shedding.analysis._stream import blocks, layer_block, read_rows
    from tracking import open_run

    with open_run(path) as run:
        t0 = time.perf_counter()
        if mode == "read":  # the public per-row reader API
            total = 0
            for _, mags in run.iter_snapshots():
                total += sum(m.size for m in mags.values())
        elif mode == "read_blocks":  # the same bytes in the blocks the analysis reads
            for info in run.layers:
                for block in blocks(range(len(run)), layer_block(info)):
                    read_rows(run, info.name, "magnitude", block)
        elif mode == "stream":
            shed_curve(run, c=OFF_GRID_C)
        elif mode == "stream_channel":
            shed_curve(run, c=OFF_GRID_C, per="channel")
        elif mode == "grid":
            curve = shed_curve(run)
            if curve.source != "stats":
                raise SystemExit("grid curve did not use the stored statistics")
        elif mode == "drift":
            mask_drift(run)
        elif mode == "cascade":
            cascade_summary(run, c=OFF_GRID_C)
        else:
            raise SystemExit(f"unknown mode {mode}")
        return time.perf_counter() - t0


def peak_rss_mib() -> float:
    """Peak resident memory of this process image. VmHWM, not getrusage's ru_maxrss: the
    latter survives exec and would report the parent's peak (it wrote the file)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_mode(path: Path, mode: str) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", mode, "--path", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--weights", type=float, default=25.6e6)
    ap.add_argument("--layers", type=int, default=50)
    ap.add_argument("--snapshots", type=int, default=50)
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--keep", action="store_true", help="keep the run file")
    ap.add_argument("--reuse", action="store_true", help="reuse an existing file")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.path), args.measure)))
        return
    n = int(args.weights)
    path = Path(args.dir) / f"bench_analysis_{n}x{args.snapshots}.h5"
    if not (args.reuse and path.exists()):
        secs = write_run(path, n_weights=n, n_layers=args.layers, n_snapshots=args.snapshots)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {secs:.1f} s")
    try:
        run_mode(path, "read")  # warm the page cache so every mode reads from the same state
        modes = ("read", "read_blocks", "stream", "stream_channel", "grid", "drift", "cascade")
        res = {m: run_mode(path, m) for m in modes}
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    base = res["read"]["seconds"]
    print(f"{'measurement':<16}{'seconds':>10}{'x read':>9}{'peak RSS MiB':>14}")
    for m, r in res.items():
        print(f"{m:<16}{r['seconds']:>10.2f}{r['seconds'] / base:>9.2f}{r['peak_rss_mib']:>14.0f}")
    ok_mem = res["stream"]["peak_rss_mib"] <= 1.5 * 1024
    ok_time = res["stream"]["seconds"] <= 1.5 * min(base, res["read_blocks"]["seconds"])
    ok_grid = res["grid"]["seconds"] < 1.0
    print(f"targets: stream memory <= 1.5 GB {ok_mem}; stream <= 1.5x read {ok_time}; ", end="")
    print(f"grid < 1 s {ok_grid}")
    print(f"stream vs read_blocks: {res['stream']['seconds'] / res['read_blocks']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
