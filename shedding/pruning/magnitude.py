"""Magnitude pruning: global (GMP, one threshold over all prunable tensors) and layerwise
(the same fraction of each layer's kept weights).

Only kept weights compete; the smallest ``|w|`` go first, ties broken by position.
"""

from __future__ import annotations

import torch

from shedding.config import PruneConfig
from shedding.pruning.base import (
    Masks,
    concat,
    global_count,
    layer_counts,
    pruner,
    remove_flat,
    smallest_kept,
    split,
)


def _gmp_removed(weights: Masks, masks: Masks, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Global flat indices GMP removes and the flat kept vector they index."""
    scores, _ = concat({n: w.abs() for n, w in weights.items()})  # (N,) all layers
    flat_mask, _ = concat(masks)
    return smallest_kept(scores, flat_mask, k), flat_mask


def gmp_layer_counts(weights: Masks, masks: Masks, *, amount: float) -> dict[str, int]:
    """How many weights of each layer GMP would remove at ``amount`` (random_matched)."""
    removed, flat_mask = _gmp_removed(weights, masks, global_count(amount, masks))
    hit = torch.zeros_like(flat_mask)
    hit[removed] = True
    return {n: int(h.sum()) for n, h in split(hit, masks).items()}


@pruner("gmp")
def gmp(
    weights: Masks, masks: Masks, *, amount: float, cfg: PruneConfig, generator: torch.Generator
) -> Masks:
    """Global magnitude pruning: removes the ``round(amount · kept)`` smallest kept
    weights over all layers together."""
    removed, flat_mask = _gmp_removed(weights, masks, global_count(amount, masks))
    return split(remove_flat(flat_mask, removed), masks)


@pruner("layerwise")
def layerwise(
    weights: Masks, masks: Masks, *, amount: float, cfg: PruneConfig, generator: torch.Generator
) -> Masks:
    """Layerwise magnitude pruning: the same fraction ``amount`` of each layer's kept
    weights (counts apportioned so the total is exact)."""
    counts = layer_counts(amount, masks)
    return {
        n: remove_flat(m, smallest_kept(weights[n].abs(), m, counts[n])) for n, m in masks.items()
    }


def largest_removed(weights: Masks, masks: Masks, k: int) -> float:
    """The largest magnitude among the ``k`` weights GMP removes (0.0 when k = 0)."""
    if k <= 0:
        return 0.0
    removed, _ = _gmp_removed(weights, masks, k)
    scores, _ = concat({n: w.abs() for n, w in weights.items()})
    return float(scores[removed].max())
