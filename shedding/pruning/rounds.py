"""How much each prune round removes: one-shot, iterative, and budgeted splits.

Iterative pruning removes a fixed fraction ``rate`` of the *remaining* weights per round
(Renda's 20%) until the target; the last round removes just enough that the cumulative
sparsity equals the target exactly: ``1 - prod(1 - a_i) = sparsity``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from shedding.config import ExperimentConfig, PruneConfig
from shedding.errors import ConfigError
from shedding.pruning.base import round_half_up

MODES = ("oneshot", "iterative")


def round_amounts(cfg: PruneConfig) -> list[float]:
    """Per-round fractions of the kept weights to remove.

    ``sparsity = 0`` gives ``[0.0] * rounds``: a control run whose rounds (1 unless set)
    prune nothing. ``oneshot`` gives ``[sparsity]``. ``iterative`` gives
    ``[rate, ..., rate, last]`` with the fewest rounds that reach the target and
    ``0 < last <= rate``.

    Raises:
        ConfigError: Sparsity outside [0, 1), rate outside (0, 1), unknown mode,
            ``rounds`` below 1 or set on a run that prunes.
    """
    s = cfg.sparsity
    if not 0 <= s < 1:
        raise ConfigError(
            f"prune.sparsity={s} must be in [0, 1) (fraction of prunable weights removed; "
            "0 = unpruned control run)"
        )
    if cfg.mode not in MODES:
        raise ConfigError(f"prune.mode={cfg.mode!r} is unknown; valid: {', '.join(MODES)}")
    if cfg.rounds is not None and (s != 0 or cfg.rounds < 1):
        raise ConfigError(
            f"prune.rounds={cfg.rounds} is for control runs only (prune.sparsity = 0, "
            "rounds >= 1); a pruning run gets its rounds from prune.mode and prune.rate"
        )
    if s == 0:
        return [0.0] * (cfg.rounds or 1)
    if cfg.mode == "oneshot":
        return [s]
    r = cfg.rate
    if not 0 < r < 1:
        raise ConfigError(f"prune.rate={r} must be in (0, 1), e.g. 0.2 (Renda's 20%)")
    # fewest n with (1-r)^n <= 1-s; the tolerance keeps exact cases (0.36 at 20%) at n
    n = max(1, math.ceil(math.log(1 - s) / math.log(1 - r) - 1e-9))
    last = 1 - (1 - s) / (1 - r) ** (n - 1)
    return [r] * (n - 1) + [last]


def round_targets(cfg: PruneConfig) -> list[float]:
    """Cumulative sparsity after each round (the last equals ``cfg.sparsity``)."""
    out, keep = [], 1.0
    for a in round_amounts(cfg):
        keep *= 1 - a
        out.append(1 - keep)
    if out:
        out[-1] = cfg.sparsity
    return out


def amount_to_reach(masks: Mapping[str, torch.Tensor], sparsity: float) -> float:
    """The ``amount`` that takes ``masks`` to ``sparsity`` to within one weight.

    Per-round rounding of ``round(amount · kept)`` drifts over many iterative rounds;
    passing ``amount_to_reach(masks, round_targets(cfg)[k])`` instead of
    ``round_amounts(cfg)[k]`` makes every round land on its cumulative target.
    """
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    target_kept = round_half_up((1 - sparsity) * total)
    if kept == 0 or target_kept >= kept:
        return 0.0
    return (kept - target_kept) / kept


def reached(masks: Any, sparsity: float) -> bool:
    """Whether a MaskSet is at ``sparsity`` (to the weight that ``amount_to_reach`` aims at)."""
    return masks.n_kept() <= round_half_up((1 - sparsity) * masks.n_total())


def split_budget(cfg: ExperimentConfig) -> tuple[int, int]:
    """Splits ``prune.budget_epochs`` (BIMP) into dense epochs and epochs per round.

    With ``retrain.epochs = R`` each of the n rounds gets R epochs and dense training the
    rest; without it, the rounds share half the budget equally (at least one epoch each).

    Returns:
        ``(dense_epochs, retrain_epochs_per_round)``.

    Raises:
        ConfigError: No budget set, or the rounds leave dense training no epoch.
    """
    budget = cfg.prune.budget_epochs
    if budget is None:
        raise ConfigError("prune.budget_epochs is not set; set it to split a total budget")
    n = len(round_amounts(cfg.prune))
    r = cfg.retrain.epochs if cfg.retrain.epochs is not None else max(1, budget // (2 * n))
    dense = budget - n * r
    if dense < 1:
        raise ConfigError(
            f"prune.budget_epochs={budget} leaves no dense epoch after {n} round(s) of "
            f"{r} retraining epochs; raise the budget or lower retrain.epochs"
        )
    return dense, r
