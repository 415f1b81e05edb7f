"""One snapshot of a ResNet-50-sized model, side by side.

Compares, per snapshot of torchvision's ResNet-50 conv/linear weights (25.5 M weights):
- training-thread blocking time of ``RunWriter.record`` (the copy it hands to the
  background writer) against ``torch.save(model.state_dict())`` (what researchers do
  today) and TensorBoard ``add_histogram`` on every layer (when tensorboard imports);
- total write time of the background writer (stats + HDF5 write + flush/commit);
- bytes on disk per snapshot, and bytes per weight per snapshot.
Targets: blocking <= 0.25x torch.save, bytes <= 0.6x torch.save, <= 2.3 bytes/weight.

Also profiles where the background time goes (fp16 + stats vs HDF5 writes) and what
zlib would save on the bulk arrays, to decide whether compression pays.

    PYTHONPATH=. python benchmarks/bench_recording_snapshot.py [--snapshots 5] [--density 0.2]

Writes to a temporary directory (page cache, no fsync, for every contender alike).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
import torchvision

from tracking import LayerSpec, RunWriter
from tracking.stats import compute_layer_snapshot


def prunable(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    return {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
    }


def global_magnitude_masks(layers: dict[str, torch.nn.Module], density: float) -> dict:
    if density >= 1.0:
        return {n: torch.ones_like(m.weight, dtype=torch.bool) for n, m in layers.items()}
    flat = torch.cat([m.weight.detach().abs().flatten() for m in layers.values()])
    k = int(len(flat) * (1 - density))
    thr = torch.kthvalue(flat, k).values
    return {n: m.weight.detach().abs() > thr for n, m in layers.items()}


def perturb(layers: dict[str, torch.nn.Module], masks: dict, seed: int) -> None:
    """A stand-in for an epoch of training: change every weight a little, keep the mask."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, m in layers.items():
            m.weight.mul_(1 + 0.01 * torch.randn(m.weight.shape, generator=g))
            m.weight.mul_(masks[n])


def run_writer(workdir, specs, layers, masks, snapshots, compression):
    """Record ``snapshots`` snapshots; returns blocking times, commit times, bytes/snapshot."""
    masks_np = {n: v.numpy() for n, v in masks.items()}
    run_path = workdir / f"run_{compression}.h5"
    t_block, t_total = [], []
    with RunWriter(
        run_path, layers=specs, config={"bench": "resnet50"}, compression=compression
    ) as writer:
        for i in range(snapshots):
            perturb(layers, masks, i)
            t0 = time.perf_counter()
            weights = {n: m.weight.detach().numpy() for n, m in layers.items()}  # no copy
            writer.record(step=i, epoch=i, phase="retrain", round=1, lr=0.1,
                          weights=weights, masks=masks_np)  # fmt: skip
            t1 = time.perf_counter()
            writer.flush()  # training would go on here; we wait to time the commit
            t2 = time.perf_counter()
            t_block.append(t1 - t0)
            t_total.append(t2 - t0)
            if i == 0:
                size_first = run_path.stat().st_size
    b_marginal = (run_path.stat().st_size - size_first) / max(1, snapshots - 1)
    run_path.unlink()
    return t_block, t_total, b_marginal


def median_ms(xs: list[float]) -> float:
    return 1000 * statistics.median(xs)


def bench(snapshots: int, density: float, workdir: Path) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    layers = prunable(model)
    masks = global_magnitude_masks(layers, density)
    with torch.no_grad():
        for n, m in layers.items():
            m.weight.mul_(masks[n])
    n_weights = sum(m.weight.numel() for m in layers.values())
    specs = [LayerSpec(n, tuple(m.weight.shape)) for n, m in layers.items()]
    masks_np = {n: v.numpy() for n, v in masks.items()}
    print(f"ResNet-50: {len(specs)} prunable layers, {n_weights / 1e6:.2f} M weights, "
          f"density {density}, {snapshots} snapshots, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip

    # --- torch.save(state_dict) per snapshot
    t_save, b_save = [], []
    for i in range(snapshots):
        perturb(layers, masks, i)
        path = workdir / f"ckpt_{i}.pt"
        t0 = time.perf_counter()
        torch.save(model.state_dict(), path)
        t_save.append(time.perf_counter() - t0)
        b_save.append(path.stat().st_size)
        path.unlink()

    # --- RunWriter: blocking time of record(), then total time until committed
    runs = {}
    for compression in (None, "lzf"):
        runs[compression] = run_writer(workdir, specs, layers, masks, snapshots, compression)

    # --- TensorBoard add_histogram on every layer
    t_tb, b_tb = [], None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        SummaryWriter = None
    if SummaryWriter is not None:
        tb_dir = workdir / "tb"
        tb = SummaryWriter(tb_dir)
        for i in range(snapshots):
            perturb(layers, masks, i)
            t0 = time.perf_counter()
            for n, m in layers.items():
                tb.add_histogram(n, m.weight.detach(), global_step=i)
            t_tb.append(time.perf_counter() - t0)
        tb.close()
        b_tb = sum(p.stat().st_size for p in tb_dir.rglob("*") if p.is_file()) / snapshots

    save_ms, save_b = median_ms(t_save), statistics.median(b_save)
    rows = [("torch.save(state_dict)", save_ms, save_ms, save_b)]
    for compression, (t_block, t_total, b_marginal) in runs.items():
        name = f"RunWriter.record ({compression or 'no'} compression)"
        rows.append((name, median_ms(t_block), median_ms(t_total), b_marginal))
    if t_tb:
        rows.append(("TensorBoard add_histogram", median_ms(t_tb), median_ms(t_tb), b_tb))
    print(f"\n{'per snapshot':36s} {'blocking ms':>12s} {'x save':>7s} {'total ms':>9s} "
          f"{'MB on disk':>11s} {'x save':>7s} {'B/weight':>9s}")  # fmt: skip
    for name, block, total, nbytes in rows:
        print(f"{name:36s} {block:12.1f} {block / save_ms:7.3f} {total:9.1f} "
              f"{nbytes / 1e6:11.2f} {nbytes / save_b:7.3f} {nbytes / n_weights:9.3f}")  # fmt: skip
    print(
        "(RunWriter bytes: file growth per snapshot after the first, which also pays the "
        "fixed layout; 'total ms' = until committed by the background thread)"
    )
    t_block, _, b_run = runs[None]
    ok = (
        median_ms(t_block) <= 0.25 * save_ms,
        b_run <= 0.6 * save_b,
        b_run / n_weights <= 2.3,
    )
    print(f"\ntargets (no compression): blocking <= 0.25x save: {ok[0]}; "
          f"bytes <= 0.6x save: {ok[1]}; <= 2.3 B/weight: {ok[2]}")  # fmt: skip

    profile(layers, masks_np)


def profile(layers: dict[str, torch.nn.Module], masks: dict[str, np.ndarray]) -> None:
    """Where the background writer's time goes, and what zlib would buy on bulk arrays."""
    weights = {n: m.weight.detach().numpy().copy() for n, m in layers.items()}
    t0 = time.perf_counter()
    snaps = {
        n: compute_layer_snapshot(w, masks[n], ref_rms=None, gmp_threshold=0.01)
        for n, w in weights.items()
    }
    t_stats = time.perf_counter() - t0
    t0 = time.perf_counter()
    for w in weights.values():
        np.abs(w).astype(np.float16)
    t_fp16 = time.perf_counter() - t0
    t0 = time.perf_counter()
    for n in weights:
        np.packbits(masks[n])
    t_pack = time.perf_counter() - t0
    print("\nprofile of one snapshot (background thread):")
    print(
        f"  fp16 magnitudes + all statistics: {1000 * t_stats:7.1f} ms "
        f"(of which |w| -> fp16 {1000 * t_fp16:.1f} ms, packbits {1000 * t_pack:.1f} ms)"
    )
    print("  HDF5 write of the bulk arrays, one chunk per layer row, by filter:")
    bulk = {
        "fp16 magnitudes": {n: s.magnitude for n, s in snaps.items()},
        "mask + kept bitsets": {n: np.concatenate([s.mask, s.kept]) for n, s in snaps.items()},
    }
    with tempfile.TemporaryDirectory() as d:
        for what, arrays in bulk.items():
            raw = sum(a.nbytes for a in arrays.values())
            for filt in (None, "lzf", "gzip"):
                path = Path(d) / f"{filt}.h5"
                opts = {} if filt is None else {"compression": filt}
                if filt == "gzip":
                    opts["compression_opts"] = 1
                t0 = time.perf_counter()
                with h5py.File(path, "w", libver="latest") as f:
                    for n, a in arrays.items():
                        f.create_dataset(n, data=a[None], chunks=(1, a.size), **opts)
                dt = time.perf_counter() - t0
                print(
                    f"    {what:20s} {filt!s:5s} {raw / 1e6:6.1f} MB -> "
                    f"{path.stat().st_size / 1e6:6.2f} MB in {1000 * dt:6.0f} ms"
                )
                path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=8)
    parser.add_argument("--density", type=float, default=1.0, help="kept fraction (GMP mask)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        bench(args.snapshots, args.density, Path(d))


if __name__ == "__main__":
    main()
