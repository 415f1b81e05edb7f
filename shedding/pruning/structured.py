"""Structured L1-norm filter pruning (Li et al. 2017, "Pruning Filters for Efficient
ConvNets").

Each layer loses the fraction ``amount`` of its *remaining* output filters (rows of the
weight along axis 0; a filter remains while any of its weights is kept), those with the
smallest L1 norm of kept weights; a removed filter loses all its weights. Counts are per
layer, ``round(amount · remaining)``, capped so at least one filter of each layer survives
(a layer with no filter left would disconnect the network). Ties go by filter index.
Weight-level sparsity then follows from the filter sizes: for a layer it is exact in
filters, not in weights.
"""

from __future__ import annotations

import torch

from shedding.config import PruneConfig
from shedding.pruning.base import Masks, pruner, round_half_up, smallest_kept


def filter_counts(masks: Masks, *, amount: float) -> dict[str, int]:
    """Filters each layer loses at ``amount``."""
    out: dict[str, int] = {}
    for name, m in masks.items():
        remaining = int(m.reshape(m.shape[0], -1).any(1).sum())
        out[name] = min(round_half_up(amount * remaining), max(remaining - 1, 0))
    return out


@pruner("l1_filter", cumulative_target=False)
def l1_filter(
    weights: Masks, masks: Masks, *, amount: float, cfg: PruneConfig, generator: torch.Generator
) -> Masks:
    """Removes the ``amount`` fraction of each layer's remaining filters by L1 norm."""
    counts = filter_counts(masks, amount=amount)
    out: Masks = {}
    for name, m in masks.items():
        rows = m.reshape(m.shape[0], -1)  # (C_out, fan_in)
        norms = (weights[name].reshape(rows.shape).abs() * rows).sum(1)  # (C_out,)
        drop = smallest_kept(norms, rows.any(1), counts[name])
        new = rows.clone()
        new[drop] = False
        out[name] = new.reshape(m.shape)
    return out
