"""Bytes per weight per snapshot of each recording mode, on a ResNet-50-shaped recording.

Synthetic: the 54 conv/linear weight shapes of ResNet-50 (25.5 M weights), float32 values
from a normal distribution, a dense first snapshot and global-magnitude masks at 50%
density after it; every conv layer has a BN layer after it (its gamma is recorded).
Modes, side by side in one run:

- ``full``: every magnitude (float16) and both bitsets, plus the statistics;
- ``full + lzf``: the same, bulk datasets lzf-compressed;
- ``stats``: statistics, channel counts and sampled weights only;
- ``full, layers=layer4.*``: only the last stage recorded (bytes per *model* weight).

Reported per mode, divided by the model's weights: the bytes one snapshot stores (the rows
it appends to every dataset: what a long run converges to) and the bytes the file grew per
snapshot over this short run (larger: a small dataset's first chunk holds many rows and is
allocated whole); the one-off layout (an empty file of the same mode) is reported
separately, and the wall time per snapshot. No GPU, no torch.

    PYTHONPATH=. python benchmarks/bench_recording_modes.py [--snapshots 3]
"""

from __future__ import annotations

import argparse
import fnmatch
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from tracking import LayerSpec, RunWriter


def resnet50_shapes() -> list[tuple[str, tuple[int, ...]]]:
    """(name, weight shape) of torchvision ResNet-50's conv and linear layers, in order."""
    shapes: list[tuple[str, tuple[int, ...]]] = [("conv1", (64, 3, 7, 7))]
    inp = 64
    stages = zip([3, 4, 6, 3], [64, 128, 256, 512], strict=True)
    for stage, (blocks, width) in enumerate(stages, start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            shapes += [
                (f"{p}.conv1", (width, inp, 1, 1)),
                (f"{p}.conv2", (width, width, 3, 3)),
                (f"{p}.conv3", (4 * width, width, 1, 1)),
            ]
            if b == 0:
                shapes.append((f"{p}.downsample.0", (4 * width, inp, 1, 1)))
            inp = 4 * width
    shapes.append(("fc", (1000, 2048)))
    return shapes


def snapshots(specs: list[LayerSpec], n: int, seed: int = 0) -> list[dict]:
    """``n`` record() argument sets: dense first, then 50% global-magnitude masks."""
    rng = np.random.default_rng(seed)
    weights = {s.name: rng.standard_normal(s.shape, dtype=np.float32) * 0.05 for s in specs}
    flat = np.concatenate([np.abs(w).ravel() for w in weights.values()])
    thr = np.quantile(flat, 0.5)
    out = []
    for i in range(n):
        pruned = i > 0
        masks = {
            k: (np.abs(w) > thr) if pruned else np.ones(w.shape, bool) for k, w in weights.items()
        }
        decay = np.float32(0.97**i)
        w_i = {k: (w * decay * masks[k]).astype(np.float32) for k, w in weights.items()}
        gammas = {s.name: np.ones(s.shape[0], np.float32) for s in specs if s.bn}
        out.append(
            dict(
                step=100 * i,
                epoch=float(i),
                phase="retrain" if pruned else "dense",
                round=int(pruned),
                lr=0.1,
                weights=w_i,
                masks=masks,
                bn_gamma=gammas,
            )
        )
    return out


def row_bytes(path: Path) -> int:
    """Bytes of every row on the snapshot axis in the file (all rows, all datasets)."""
    total = 0

    def visit(_: str, obj: object) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.maxshape[:1] == (None,):
            total += obj.dtype.itemsize * int(np.prod(obj.shape, dtype=np.int64))

    with h5py.File(path, "r") as f:
        for group in ("index", "layers"):
            f[group].visititems(visit)
    return total


def measure(path: Path, specs: list[LayerSpec], snaps: list[dict], **kw) -> tuple[int, int, float]:
    """(empty-file bytes, bytes after all snapshots, seconds per snapshot)."""
    empty = path.with_suffix(".empty.h5")
    RunWriter(empty, layers=specs, config={}, run_id="empty", **kw).close()
    names = {s.name for s in specs}
    t0 = time.perf_counter()
    with RunWriter(path, layers=specs, config={}, run_id="bench", **kw) as w:
        for s in snaps:
            w.record(
                **{
                    **s,
                    **{
                        k: {n: a for n, a in s[k].items() if n in names}
                        for k in ("weights", "masks", "bn_gamma")
                    },
                }
            )
        w.flush()
    dt = (time.perf_counter() - t0) / len(snaps)
    return empty.stat().st_size, path.stat().st_size, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=3)
    a = ap.parse_args()
    all_specs = [LayerSpec(n, s, bn=f"{n}.bn" if len(s) == 4 else "") for n, s in resnet50_shapes()]
    n_model = sum(s.n_weights for s in all_specs)
    snaps = snapshots(all_specs, a.snapshots)
    modes = {
        "full": (all_specs, {}),
        "full + lzf": (all_specs, {"compression": "lzf"}),
        "stats": (all_specs, {"mode": "stats"}),
        "full, layers=layer4.*": (
            [s for s in all_specs if fnmatch.fnmatchcase(s.name, "layer4.*")],
            {},
        ),
    }
    print(
        f"ResNet-50 shapes: {len(all_specs)} layers, {n_model / 1e6:.2f} M weights, "
        f"{a.snapshots} snapshots (1 dense, then 50% density)"
    )
    print(
        f"{'mode':<24}{'rows B/w':>11}{'vs full':>9}{'file B/w':>10}{'MB/snap':>9}"
        f"{'layout MB':>11}{'s/snap':>8}"
    )
    ref = None
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (specs, kw)) in enumerate(modes.items()):
            empty, size, dt = measure(Path(tmp) / f"m{i}.h5", specs, snaps, **kw)
            grown = (size - empty) / a.snapshots
            stored = row_bytes(Path(tmp) / f"m{i}.h5") / a.snapshots
            ref = stored if ref is None else ref
            print(
                f"{name:<24}{stored / n_model:>11.4f}{stored / ref:>9.2%}{grown / n_model:>10.4f}"
                f"{stored / 1e6:>9.2f}{empty / 1e6:>11.2f}{dt:>8.2f}"
            )


if __name__ == "__main__":
    main()
