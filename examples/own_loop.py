"""Record a plain PyTorch training loop that prunes with torch.nn.utils.prune.

    python examples/own_loop.py --out runs/own-loop       # under a minute on 2 cores
    shedding analyze runs/own-loop/pruned.h5              # C, and C_excess vs the control
    shedding dashboard runs/own-loop

The same loop runs twice on a synthetic 1-D classification task: once pruning 80% of the
conv and linear weights by global magnitude after the dense epochs (``pruned.h5``), once
identically without pruning (``control.h5``, the unpruned control, linked to the pruned
run). The four lines marked ``# record`` (the import, open, snapshot, prune_event) are
all that recording needs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

import shedding.track  # record


def make_data(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """2000 train / 1000 test smoothed noise sequences (1, 64), labelled by a fixed random
    teacher network (10 classes)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3000, 1, 64, generator=g)
    x = nn.functional.avg_pool1d(x, 5, stride=1, padding=2)
    teacher = nn.Sequential(nn.Conv1d(1, 8, 9), nn.Tanh(), nn.Flatten(), nn.Linear(8 * 56, 10))
    with torch.random.fork_rng():
        torch.manual_seed(seed + 1)
        teacher = teacher.apply(lambda m: m.reset_parameters() if hasattr(m, "bias") else None)
        y = teacher(x).argmax(1)
    return x[:2000], y[:2000], x[2000:], y[2000:]


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(1, 16, 5, padding=2),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Conv1d(16, 16, 5, padding=2),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.MaxPool1d(4),
        nn.Flatten(),
        nn.Linear(16 * 16, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    model.train()
    return acc


def train(
    path: Path, *, prune_amount: float, epochs: int, prune_after: int, control: Path | str = ""
) -> nn.Module:
    """Train, prune ``prune_amount`` after ``prune_after`` epochs, retrain; record to ``path``."""
    x, y, x_test, y_test = make_data()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    order = torch.Generator().manual_seed(1)
    # settings stored in the file: `shedding compare` groups runs by them
    config = {
        "prune": {"method": "l1_unstructured", "sparsity": prune_amount},
        "retrain": {"protocol": "finetune"},
        "seed": 0,
    }
    options = dict(control=control, config=config, optimizer=opt, overwrite=True)
    # record: open a tracker on the model (context manager: closes the file at the end)
    with shedding.track.open(model, path, **options) as t:
        for epoch in range(1, epochs + 1):
            for idx in torch.randperm(len(x), generator=order).split(128):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
            test_acc = accuracy(model, x_test, y_test)
            metrics = {"train_loss": loss.item(), "test_acc": test_acc}
            t.snapshot(epoch=epoch, metrics=metrics)  # record: weights, masks, metrics
            if epoch == prune_after:
                if prune_amount:
                    layers = [m for m in model.modules() if isinstance(m, nn.Conv1d | nn.Linear)]
                    prune.global_unstructured(
                        [(m, "weight") for m in layers],
                        pruning_method=prune.L1Unstructured,
                        amount=prune_amount,
                    )
                # record: the prune event (the control calls it too, so both have one round)
                t.prune_event(method="l1_unstructured")
    return model


def run(out: Path, *, epochs: int = 20, amount: float = 0.8) -> nn.Module:
    """Write ``out/control.h5`` and ``out/pruned.h5`` (linked to it); returns the pruned model."""
    out.mkdir(parents=True, exist_ok=True)
    prune_after = epochs // 2
    train(out / "control.h5", prune_amount=0.0, epochs=epochs, prune_after=prune_after)
    return train(
        out / "pruned.h5",
        prune_amount=amount,
        epochs=epochs,
        prune_after=prune_after,
        control=out / "control.h5",
    )


def main(run: Callable[..., Any], doc: str, *, epochs: int, amount: float) -> None:
    """The command line of the three own-loop examples: --out DIR [--epochs N] [--amount A]."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the two run files")
    p.add_argument("--epochs", type=int, default=epochs, help="dense + retraining (half each)")
    p.add_argument("--amount", type=float, default=amount, help="fraction of weights pruned")
    a = p.parse_args()
    run(a.out, epochs=a.epochs, amount=a.amount)
    print(f"wrote {a.out / 'pruned.h5'} and its control {a.out / 'control.h5'}")
    print(f"next: shedding analyze {a.out / 'pruned.h5'}")


if __name__ == "__main__":
    main(run, __doc__, epochs=20, amount=0.8)
