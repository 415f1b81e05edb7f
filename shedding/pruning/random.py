"""Random pruning, in the three flavours the literature means by "random".

* ``random``           — global uniform: every kept weight equally likely.
* ``random_layerwise`` — the same fraction of every layer, uniform inside each layer.
* ``random_matched``   — uniform inside each layer, at the per-layer counts GMP would
  remove from these weights (isolates *which* weights GMP picks from *how many per layer*).

All draw from the caller's ``torch.Generator`` (CPU), so a seed fixes the mask.
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
    random_kept,
    remove_flat,
    split,
)
from shedding.pruning.magnitude import gmp_layer_counts


def _per_layer(masks: Masks, counts: dict[str, int], generator: torch.Generator) -> Masks:
    return {n: remove_flat(m, random_kept(m, counts[n], generator)) for n, m in masks.items()}


@pruner("random")
def random_global(
    weights: Masks, masks: Masks, *, amount: float, cfg: PruneConfig, generator: torch.Generator
) -> Masks:
    """Removes ``round(amount · kept)`` kept weights drawn uniformly over all layers."""
    flat_mask, _ = concat(masks)
    removed = random_kept(flat_mask, global_count(amount, masks), generator)
    return split(remove_flat(flat_mask, removed), masks)


@pruner("random_layerwise")
def random_layerwise(
    weights: Masks, masks: Masks, *, amount: float, cfg: PruneConfig, generator: torch.Generator
) -> Masks:
    """Removes the fraction ``amount`` of each layer's kept weights, uniformly."""
    return _per_layer(masks, layer_counts(amount, masks), generator)


@pruner("random_matched")
def random_matched(
    weights: Masks, masks: Masks, *, amount: float, cfg: PruneConfig, generator: torch.Generator
) -> Masks:
    """Removes, uniformly inside each layer, as many weights as GMP would there."""
    return _per_layer(masks, gmp_layer_counts(weights, masks, amount=amount), generator)
