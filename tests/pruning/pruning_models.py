"""Tiny models shared by the pruning tests (CPU, single thread, milliseconds per step)."""

from __future__ import annotations

import torch
from torch import nn

torch.set_num_threads(1)


def tiny_mlp() -> nn.Module:
    # input dims 20, 32, 16: all divisible by 4, so N:M 2:4 applies to every layer
    return nn.Sequential(
        nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10)
    )


def tiny_conv() -> nn.Module:
    # (B, 4, 24) -> conv/BN/ReLU x2 -> global average pool -> linear
    return nn.Sequential(
        nn.Conv1d(4, 8, 3, padding=1),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Conv1d(8, 12, 3, padding=1),
        nn.BatchNorm1d(12),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(12, 10),
    )


MODELS = {"mlp": (tiny_mlp, (20,)), "conv": (tiny_conv, (4, 24))}


def build(name: str) -> nn.Module:
    """A freshly seeded tiny model."""
    torch.manual_seed(0)
    return MODELS[name][0]()
