"""A tiny model and training loop the tracker tests record (a few seconds on a CPU)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

import shedding.track

ROOT = Path(__file__).resolve().parents[2]


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(1, 8, 3),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 14, 16),
        nn.ReLU(),
        nn.Linear(16, 4),
    )


def batches(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(64, 1, 16, generator=g), torch.randint(0, 4, (64,), generator=g)


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 4) -> float:
    x, y = batches()
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return loss.item()


def parameters_to_prune(model: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(m, "weight") for m in model.modules() if isinstance(m, nn.Conv1d | nn.Linear)]


def record_loop(
    path: Path, *, prune_amount: float, epochs: int = 4, prune_after: int = 2, **options
) -> nn.Module:
    """Train ``tiny_model``; after ``prune_after`` epochs prune globally (or, with amount 0,
    only mark the event, as a control does); snapshot every epoch."""
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with shedding.track.open(model, path, optimizer=opt, **options) as t:
        for epoch in range(1, epochs + 1):
            loss = train_epoch(model, opt)
            t.snapshot(epoch=epoch, metrics={"train_loss": loss, "top5": 1.0})
            if epoch == prune_after:
                if prune_amount:
                    prune.global_unstructured(
                        parameters_to_prune(model),
                        pruning_method=prune.L1Unstructured,
                        amount=prune_amount,
                    )
                t.prune_event(method="l1_unstructured")
    return model


def analyze_json(*args: str | Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "shedding", "analyze", "--json", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.stdout)


def load_example(name: str) -> Any:
    """Import ``examples/<name>.py`` as a module."""
    path = ROOT / "examples" / f"{name}.py"
    sys.path.insert(0, str(path.parent))  # the Lightning example imports own_loop
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module
