"""Retraining after pruning: the protocols of docs/definitions.md (ft, wr, lrr, llr, allr, slr,
clr, scratch, reduced) as plans the training loop follows."""

from shedding.retrain.adaptive import allr_start_lr, norm_ratio
from shedding.retrain.base import PROTOCOLS, RetrainContext, RetrainPlan
from shedding.retrain.plan import (
    plan_retraining,
    retrain_epochs,
    rewind_epoch,
    validate_retrain_config,
)
from shedding.retrain.reduced import match_width, prunable_count

__all__ = [
    "PROTOCOLS",
    "RetrainContext",
    "RetrainPlan",
    "allr_start_lr",
    "match_width",
    "norm_ratio",
    "plan_retraining",
    "prunable_count",
    "retrain_epochs",
    "rewind_epoch",
    "validate_retrain_config",
]
