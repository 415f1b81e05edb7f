"""Training-thread cost of a snapshot: shedding.track.Tracker vs the engine's Recorder.

Both record the same model (the mnist1d-demo ResNet-1D, and the CIFAR ResNet-20 of the
cifar10-resnet20-renda preset) into their own run file, dense and at 80% sparsity: the
engine through its MaskSet, the tracker through torch.nn.utils.prune's weight_orig and
weight_mask on an identical copy. Snapshots alternate (order flipped every repeat), each
after a few training steps, and both writers are flushed between repeats (untimed), so
neither call waits for its background writer. Reported: the median time of one snapshot
call on the training thread as the fastest of the repeats (on a shared, loaded machine the
minimum is the copy itself; the rest is time the process waited for a core), their ratio
tracker / Recorder, and the median of the per-repeat ratios ("paired"); target: within 5%.

    .venv/bin/python benchmarks/bench_tracker_overhead.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

import shedding.track
from shedding.config import load_config
from shedding.engine.recording import Recorder, layer_specs
from shedding.models import build_model
from shedding.pruning import MaskSet, bn_after, gmp_threshold, prunable_layers
from shedding.train.callbacks import TrainContext
from tracking import RunWriter

MODELS = {  # preset -> (classes, input shape)
    "mnist1d-demo": (10, (1, 40)),
    "cifar10-resnet20-renda": (10, (3, 32, 32)),
}


def engine_recorder(model: nn.Module, cfg, path: Path, sparsity: float) -> Recorder:
    layers = prunable_layers(model, cfg.prune)
    bn = bn_after(model, list(layers))
    mods = dict(model.named_modules())
    masks = None
    if sparsity:
        masks = MaskSet(model, list(layers))
        weights = {n: m.weight.detach() for n, m in layers.items()}
        t = gmp_threshold(weights, masks.masks, amount=sparsity)
        masks.update_({n: w.abs() > t for n, w in weights.items()})
        masks.apply_()
    writer = RunWriter(path, layers=layer_specs(layers, bn), config={}, overwrite=True)
    return Recorder(writer, layers, bn={n: mods[b] for n, b in bn.items() if b}, masks=masks)


def step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    opt.zero_grad()
    model(x).square().mean().backward()
    opt.step()


def bench(preset: str, sparsity: float, repeats: int, tmp: Path) -> tuple[float, float, float]:
    cfg = load_config(preset, [])
    classes, shape = MODELS[preset]
    torch.manual_seed(0)
    model_e = build_model(cfg.model, num_classes=classes, input_shape=shape)
    model_t = copy.deepcopy(model_e)
    rec = engine_recorder(model_e, cfg, tmp / "engine.h5", sparsity)
    if sparsity:
        params = [(m, "weight") for m in prunable_layers(model_t, cfg.prune).values()]
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=sparsity)
    tracker = shedding.track.open(model_t, tmp / "tracker.h5", overwrite=True)
    x = torch.randn(32, *shape)
    opts = [torch.optim.SGD(m.parameters(), lr=1e-3) for m in (model_e, model_t)]
    ctx = TrainContext(model_e, opts[0], "dense", 0, 1, 1)
    times: dict[str, list[float]] = {"engine": [], "tracker": []}
    calls = {
        "engine": lambda: rec.snapshot(ctx, epoch=0.0),
        "tracker": lambda: tracker.snapshot(epoch=0.0),
    }
    for r in range(repeats):
        for m, o in zip((model_e, model_t), opts, strict=True):
            step(m, o, x)
        for name in ("engine", "tracker") if r % 2 == 0 else ("tracker", "engine"):
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
        rec.writer.flush()
        tracker._writer.flush()
    rec.writer.close()
    tracker.close()
    ratios = [t / e for e, t in zip(times["engine"], times["tracker"], strict=True)]
    return min(times["engine"]), min(times["tracker"]), statistics.median(ratios)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}, {args.repeats} interleaved snapshots each"
    )
    print(
        f"{'model':<24}{'sparsity':>9}{'engine min ms':>15}{'tracker min ms':>16}"
        f"{'ratio':>8}{'paired':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for preset in MODELS:
            for sparsity in (0.0, 0.8):
                e, t, paired = bench(preset, sparsity, args.repeats, Path(tmp))
                print(
                    f"{preset:<24}{sparsity:>9.1f}{e * 1e3:>15.2f}{t * 1e3:>16.2f}"
                    f"{t / e:>8.3f}{paired:>8.3f}"
                )


if __name__ == "__main__":
    main()
