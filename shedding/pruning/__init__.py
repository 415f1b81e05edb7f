"""Pruning: which layers are prunable, the pruners, the masks that keep pruned weights at
zero, and how much each round removes."""

from shedding.pruning import magnitude, nm, random, structured  # noqa: F401  (register)
from shedding.pruning.api import gmp_threshold, prune, validate_prune_config
from shedding.pruning.base import PRUNERS
from shedding.pruning.masks import MaskSet
from shedding.pruning.prunable import bn_after, prunable_layers
from shedding.pruning.rounds import amount_to_reach, round_amounts, round_targets, split_budget

__all__ = [
    "PRUNERS",
    "MaskSet",
    "amount_to_reach",
    "bn_after",
    "gmp_threshold",
    "prunable_layers",
    "prune",
    "round_amounts",
    "round_targets",
    "split_budget",
    "validate_prune_config",
]
