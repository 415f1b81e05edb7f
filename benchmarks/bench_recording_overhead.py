"""Training-thread overhead of recording on the default MNIST-1D run.

The same dense training (default ResNet-1D, MNIST-1D, seed 0) runs unrecorded, recorded
once per epoch, and recorded ten times per epoch, interleaved over repeats; the median wall
time of each is reported with the ratios to unrecorded. Targets: <= 1.03 (1/epoch) and
<= 1.10 (10/epoch).

    .venv/bin/python benchmarks/bench_recording_overhead.py [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from shedding.config import load_config, to_dict
from shedding.data import load_dataset
from shedding.engine.recording import Recorder
from shedding.models import build_model
from shedding.pruning import bn_after, prunable_layers
from shedding.train.batches import TensorBatches
from shedding.train.callbacks import CallbackList, TrainContext
from shedding.train.loop import train_phase
from shedding.train.optim import build_optimizer
from shedding.train.schedules import build_schedule
from tracking import LayerSpec, RunWriter


def one_run(cfg, bundle, batches, test, per_epoch: int, out: Path) -> float:
    torch.manual_seed(0)
    model = build_model(cfg.model, num_classes=bundle.num_classes, input_shape=bundle.input_shape)
    opt = build_optimizer(model, cfg.train)
    ctx = TrainContext(model, opt, "dense", 0, cfg.train.epochs, len(batches))
    callbacks = []
    writer = None
    if per_epoch:
        layers = prunable_layers(model, cfg.prune)
        bn = bn_after(model, list(layers))
        mods = dict(model.named_modules())
        specs = [LayerSpec(n, tuple(m.weight.shape), bn.get(n, "")) for n, m in layers.items()]
        writer = RunWriter(out, layers=specs, config=to_dict(cfg), overwrite=True)
        callbacks.append(
            Recorder(writer, layers, bn={n: mods[b] for n, b in bn.items()}, per_epoch=per_epoch)
        )
    t0 = time.perf_counter()
    train_phase(
        ctx,
        forward_model=model,
        train_batches=batches,
        test_batches=test,
        lr_fn=build_schedule(cfg.train, len(batches)),
        callback=CallbackList(callbacks),
        device=torch.device("cpu"),
        data_key=0,
    )
    elapsed = time.perf_counter() - t0  # the training thread's time; the writer may lag
    if writer is not None:
        writer.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config("mnist1d-demo", [f"train.epochs={args.epochs}"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        bundle = load_dataset(cfg.data, root=tmp_path, seed=0)
        batches = TensorBatches(
            *bundle.train_tensors, cfg.data.batch_size, seed=0, augment=bundle.augment
        )
        test = TensorBatches(*bundle.test_tensors, 1000, shuffle=False)
        times: dict[int, list[float]] = {0: [], 1: [], 10: []}
        for _ in range(args.repeats):
            for per_epoch in times:
                times[per_epoch].append(
                    one_run(cfg, bundle, batches, test, per_epoch, tmp_path / f"r{per_epoch}.h5")
                )
    base = statistics.median(times[0])
    print(
        f"threads={torch.get_num_threads()} epochs={args.epochs} repeats={args.repeats} "
        f"steps/epoch={len(batches)}"
    )
    print(f"{'recording':<18}{'median s':>10}{'ratio':>8}{'target':>8}")
    for per_epoch, target in ((0, None), (1, 1.03), (10, 1.10)):
        med = statistics.median(times[per_epoch])
        label = "none" if per_epoch == 0 else f"{per_epoch} per epoch"
        goal = "" if target is None else f"{target:.2f}"
        print(f"{label:<18}{med:>10.2f}{med / base:>8.3f}{goal:>8}")


if __name__ == "__main__":
    main()
