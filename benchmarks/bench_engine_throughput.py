"""Training throughput of the engine vs a minimal hand-written PyTorch loop.

Same model (the default ResNet-1D), same MNIST-1D data, same seed, same batch order;
the two are interleaved (A B A B ...) so machine noise hits both alike, and the median
samples/s of each is reported with the ratio engine / hand-written (target >= 0.95).

    .venv/bin/python benchmarks/bench_engine_throughput.py [--epochs 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from shedding.config import load_config
from shedding.data import load_dataset
from shedding.models import build_model
from shedding.train.batches import TensorBatches
from shedding.train.callbacks import CallbackList, TrainContext
from shedding.train.loop import train_phase
from shedding.train.optim import build_optimizer
from shedding.train.progress import ProgressBar
from shedding.train.schedules import build_schedule


def hand_written(model, x, y, xt, yt, *, epochs: int, batch: int, lr: float, seed: int) -> int:
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    n = 0
    for e in range(epochs):
        g = torch.Generator().manual_seed(seed + e)
        order = torch.randperm(len(y), generator=g)
        model.train()
        for i in range(0, len(y), batch):
            idx = order[i : i + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n += len(idx)
        model.eval()  # the same per-epoch evaluation the engine does
        with torch.no_grad():
            for i in range(0, len(yt), 1000):
                (model(xt[i : i + 1000]).argmax(1) == yt[i : i + 1000]).sum().item()
    return n


def engine(model, cfg, batches, test, *, epochs: int) -> int:
    opt = build_optimizer(model, cfg.train)
    ctx = TrainContext(model, opt, "dense", 0, epochs, len(batches))
    train_phase(
        ctx,
        forward_model=model,
        train_batches=batches,
        test_batches=test,
        lr_fn=build_schedule(cfg.train, len(batches)),
        callback=CallbackList([ProgressBar(enabled=False)]),
        device=torch.device("cpu"),
        data_key=0,
    )
    return epochs * len(batches.y)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config("mnist1d-demo", [f"train.epochs={args.epochs}", "data.augment=false"])
    with tempfile.TemporaryDirectory() as root:
        bundle = load_dataset(cfg.data, root=__import__("pathlib").Path(root), seed=0)
    x, y = bundle.train_tensors
    xt, yt = bundle.test_tensors
    batches = TensorBatches(x, y, cfg.data.batch_size, seed=0)
    test = TensorBatches(xt, yt, cfg.data.test_batch_size, shuffle=False)
    rates: dict[str, list[float]] = {"hand-written": [], "engine": []}

    def fresh():
        torch.manual_seed(0)
        return build_model(
            cfg.model, num_classes=bundle.num_classes, input_shape=bundle.input_shape
        )

    for rep in range(args.repeats):
        # ABBA order: neither loop always runs first (allocator and cache warm-up).
        for name in list(rates) if rep % 2 == 0 else list(rates)[::-1]:
            model = fresh()
            t0 = time.perf_counter()
            if name == "engine":
                n = engine(model, cfg, batches, test, epochs=args.epochs)
            else:
                n = hand_written(
                    model,
                    x,
                    y,
                    xt,
                    yt,
                    epochs=args.epochs,
                    batch=cfg.data.batch_size,
                    lr=cfg.train.lr,
                    seed=0,
                )
            rates[name].append(n / (time.perf_counter() - t0))
    hw, en = statistics.median(rates["hand-written"]), statistics.median(rates["engine"])
    print(
        f"threads={torch.get_num_threads()}  model={cfg.model.name}  epochs={args.epochs}  "
        f"repeats={args.repeats}"
    )
    print(f"{'loop':<14}{'median samples/s':>18}")
    print(f"{'hand-written':<14}{hw:>18.0f}")
    print(f"{'engine':<14}{en:>18.0f}")
    print(
        f"ratio engine/hand-written = {en / hw:.3f}  (target >= 0.95; both evaluate "
        "the test split every epoch)"
    )


if __name__ == "__main__":
    main()
