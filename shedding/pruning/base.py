"""The pruner registry and the exact-count helpers every pruner shares.

A pruner is called as ``pruner(weights, masks, *, amount, cfg, generator)`` with CPU
float32 weights and CPU bool masks (True = kept), both keyed by layer name in layer
order, and returns new masks that are subsets of the old ones. ``amount`` is the fraction
of the currently kept weights (or, for structured pruners, filters) to remove this round.
Callers go through :func:`shedding.pruning.prune`, which validates and moves tensors.

Counts are exact: a global pruner removes ``round(amount · kept)`` weights; a per-layer
pruner splits that same total over layers by the largest-remainder method, so the total is
exact *and* every layer is within one weight of ``amount · kept_layer``. Ties in magnitude
are broken by position (layer order, then flat index) through a stable sort.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from shedding.registry import Registry

Masks = dict[str, torch.Tensor]
Pruner = Callable[..., Masks]
#: ``check(cfg, shapes)``: raises ConfigError on options or layer shapes a pruner cannot
#: use; ``shapes`` (layer name -> weight shape) is None when no model is built yet.
ConfigCheck = Callable[[Any, "Mapping[str, tuple[int, ...]] | None"], None]


@dataclass(frozen=True)
class PrunerInfo:
    """A pruner and the facts about it that the rest of the toolkit needs.

    Attributes:
        prune: ``prune(weights, masks, *, amount, cfg, generator) -> masks``; calling the
            info calls it.
        cumulative_target: Whether an iterative round may aim at the cumulative sparsity
            target (weight counts: rounding never drifts over many rounds). False for
            pruners whose unit is not one weight (filters, N:M groups): they get the
            round's own amount.
        check: Optional config/layer check run before any training (see ConfigCheck).
    """

    prune: Pruner
    cumulative_target: bool = True
    check: ConfigCheck | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Masks:
        return self.prune(*args, **kwargs)


#: Pruning methods, each a :class:`PrunerInfo`: gmp, layerwise, random,
#: random_layerwise, random_matched, l1_filter, nm.
PRUNERS: Registry[PrunerInfo] = Registry("pruner")


def pruner(
    name: str, *, cumulative_target: bool = True, check: ConfigCheck | None = None
) -> Callable[[Pruner], Pruner]:
    """Decorator registering a pruner under ``name`` with its traits.

    Example:
        >>> @pruner("toy")
        ... def toy(weights, masks, *, amount, cfg, generator): ...
    """

    def add(fn: Pruner) -> Pruner:
        PRUNERS.add(name, PrunerInfo(fn, cumulative_target, check))
        return fn

    return add


def round_half_up(x: float) -> int:
    """Nearest integer, halves up (Python's ``round`` would round halves to even)."""
    return math.floor(x + 0.5)


def n_kept(masks: Masks) -> int:
    """Kept entries over all masks."""
    return sum(int(m.sum()) for m in masks.values())


def global_count(amount: float, masks: Masks) -> int:
    """Weights a global pruner removes: ``round(amount · kept)``."""
    return round_half_up(amount * n_kept(masks))


def apportion(total: int, quotas: Sequence[float], caps: Sequence[int]) -> list[int]:
    """Splits ``total`` into integers close to ``quotas`` (largest-remainder method).

    Every share is ``floor(q)`` or ``floor(q) + 1`` (so within one of its quota when the
    quotas sum to ``total``) and never above its cap; ties go to earlier entries.
    """
    shares = [min(math.floor(q), c) for q, c in zip(quotas, caps, strict=True)]
    left = total - sum(shares)
    # Largest fractional remainder first; stable on index for determinism.
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    while left > 0:
        progressed = False
        for i in order:
            if left and shares[i] < caps[i]:
                shares[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return shares


def layer_counts(amount: float, masks: Masks) -> dict[str, int]:
    """Per-layer removal counts for "same fraction in every layer" pruners."""
    kept = [int(m.sum()) for m in masks.values()]
    shares = apportion(global_count(amount, masks), [amount * k for k in kept], kept)
    return dict(zip(masks, shares, strict=True))


def remove_flat(mask: torch.Tensor, flat_idx: torch.Tensor) -> torch.Tensor:
    """A copy of ``mask`` with the flat positions ``flat_idx`` set to False."""
    out = mask.clone().reshape(-1)
    out[flat_idx] = False
    return out.reshape(mask.shape)


def smallest_kept(scores: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Flat indices of the ``k`` kept entries with the smallest ``scores`` (ties: lower
    index first)."""
    kept_idx = mask.reshape(-1).nonzero().squeeze(1)
    if k <= 0:
        return kept_idx[:0]
    vals = scores.reshape(-1)[kept_idx]
    order = torch.argsort(vals, stable=True)
    return kept_idx[order[:k]]


def random_kept(mask: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Flat indices of ``k`` kept entries drawn uniformly without replacement."""
    kept_idx = mask.reshape(-1).nonzero().squeeze(1)
    if k <= 0:
        return kept_idx[:0]
    perm = torch.randperm(kept_idx.numel(), generator=generator)
    return kept_idx[perm[:k]]


def concat(tensors: Masks) -> tuple[torch.Tensor, list[int]]:
    """All tensors flattened into one vector (layer order) and their sizes."""
    sizes = [t.numel() for t in tensors.values()]
    return torch.cat([t.reshape(-1) for t in tensors.values()]), sizes


def split(flat: torch.Tensor, like: Masks) -> Masks:
    """Inverse of :func:`concat`: a flat vector back into tensors shaped like ``like``."""
    out: Masks = {}
    offset = 0
    for name, t in like.items():
        out[name] = flat[offset : offset + t.numel()].reshape(t.shape)
        offset += t.numel()
    return out
