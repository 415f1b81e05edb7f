"""Turns an experiment config and one prune round into a :class:`RetrainPlan`.

:func:`validate_retrain_config` runs every check up front so a bad protocol, a rewind
epoch outside the dense run or an impossible length fails before any training;
:func:`rewind_epoch` tells the dense phase which checkpoint WR will need.
"""

from __future__ import annotations

import dataclasses

from shedding.config import ExperimentConfig
from shedding.errors import ConfigError
from shedding.retrain import protocols  # noqa: F401  (registers the protocols)
from shedding.retrain.base import PROTOCOLS, RetrainContext, RetrainPlan
from shedding.train.optim import OPTIMIZERS
from shedding.train.schedules import build_schedule

#: What ``retrain.allr_norm`` may say: the parameters ALLR's norm ratio is taken over.
ALLR_NORMS = ("prunable", "all")


def _rewind_given(cfg: ExperimentConfig) -> bool:
    r = cfg.retrain
    return r.rewind_epoch is not None or r.rewind_fraction is not None


def rewind_epoch(cfg: ExperimentConfig) -> int | None:
    """The dense epoch whose weights WR rewinds to (None for other protocols).

    ``round(retrain.rewind_fraction · T)`` (Python's round) when set, else ``retrain.rewind_epoch``,
    else T − R. Epoch e means the weights after e epochs (0 = initialisation).

    Raises:
        ConfigError: The epoch falls outside [0, T] or the fraction outside [0, 1].
    """
    if cfg.retrain.protocol.lower() != "wr":
        return None
    r, t = cfg.retrain, cfg.train.epochs
    if r.rewind_fraction is not None:
        if not 0 <= r.rewind_fraction <= 1:
            raise ConfigError(
                f"retrain.rewind_fraction={r.rewind_fraction} must be in [0, 1] (share of "
                f"train.epochs={t})"
            )
        e = round(r.rewind_fraction * t)  # Python's round, as dense.needed_epochs
    elif r.rewind_epoch is not None:
        e = r.rewind_epoch
    else:
        e = t - (r.epochs if r.epochs is not None else t)
    if not 0 <= e <= t:
        raise ConfigError(
            f"wr rewinds to epoch {e}, outside the dense run [0, train.epochs={t}]; set "
            "retrain.rewind_epoch (or rewind_fraction) inside it, or retrain.epochs <= "
            f"{t}"
        )
    return e


def retrain_epochs(cfg: ExperimentConfig) -> int:
    """R for this config: T for scratch/reduced (``retrain.scratch_epochs`` when set);
    else ``retrain.epochs``, else T − e for WR with an explicit rewind point (Renda's
    "retrain for the rest"), else T.

    Raises:
        ConfigError: R < 1.
    """
    t = cfg.train.epochs
    protocol = cfg.retrain.protocol.lower()
    if PROTOCOLS.get(protocol).full_length:
        return cfg.retrain.scratch_epochs or t
    if cfg.retrain.epochs is not None:
        r = cfg.retrain.epochs
    elif protocol == "wr" and _rewind_given(cfg):
        e = rewind_epoch(cfg)
        r = t - (e if e is not None else 0)
    else:
        r = t
    if r < 1:
        raise ConfigError(
            f"retraining would last {r} epochs; set retrain.epochs >= 1 (or rewind to an "
            "epoch before the end of dense training)"
        )
    return r


def validate_retrain_config(cfg: ExperimentConfig) -> None:
    """All retraining checks, before any training starts.

    Raises:
        ConfigError: Unknown protocol; R < 1; LRR with R > T (it replays the last R dense
            epochs); WR rewind point outside the dense run; warm-up fraction outside
            [0, 1); non-positive ``ft_lr`` / ``max_lr``.
    """
    r, t = cfg.retrain, cfg.train.epochs
    PROTOCOLS.get(r.protocol)
    if t < 1:
        raise ConfigError(f"train.epochs={t} must be >= 1")
    epochs = retrain_epochs(cfg)
    rewind_epoch(cfg)
    if r.protocol.lower() == "lrr" and epochs > t:
        raise ConfigError(
            f"lrr replays the last R dense epochs, so retrain.epochs={epochs} must be <= "
            f"train.epochs={t}"
        )
    if not 0 <= r.warmup_fraction < 1:
        raise ConfigError(f"retrain.warmup_fraction={r.warmup_fraction} must be in [0, 1)")
    if r.scratch_epochs is not None and r.scratch_epochs < 1:
        raise ConfigError(f"retrain.scratch_epochs={r.scratch_epochs} must be >= 1 (or unset)")
    for key in ("ft_lr", "max_lr", "lr"):
        value = getattr(r, key)
        if value is not None and not value > 0:
            raise ConfigError(f"retrain.{key}={value} must be > 0 (or unset)")
    _validate_optimizer_overrides(cfg)


def _validate_optimizer_overrides(cfg: ExperimentConfig) -> None:
    """The ``retrain.*`` optimizer overrides, named as the user wrote them."""
    r = cfg.retrain
    if r.optimizer is not None:
        OPTIMIZERS.get(r.optimizer)
    if r.weight_decay is not None and not r.weight_decay >= 0:
        raise ConfigError(f"retrain.weight_decay={r.weight_decay} must be >= 0 (or unset)")
    if r.momentum is not None and not 0 <= r.momentum < 1:
        raise ConfigError(f"retrain.momentum={r.momentum} must be in [0, 1) (or unset)")
    if r.betas is not None and (len(r.betas) != 2 or not all(0 <= b < 1 for b in r.betas)):
        raise ConfigError(f"retrain.betas={list(r.betas)} must be two numbers in [0, 1)")
    optimizer = (r.optimizer or cfg.train.optimizer).lower()
    nesterov = cfg.train.nesterov if r.nesterov is None else r.nesterov
    if nesterov and optimizer != "sgd":
        raise ConfigError(
            f"Nesterov momentum applies to sgd only, and retraining uses {optimizer!r}; set "
            "retrain.nesterov=false"
        )
    if r.allr_norm not in ALLR_NORMS:
        raise ConfigError(
            f"retrain.allr_norm={r.allr_norm!r} must be one of {', '.join(ALLR_NORMS)}"
        )


def plan_retraining(
    cfg: ExperimentConfig, *, steps_per_epoch: int, round_fraction: float, norm_ratio: float
) -> RetrainPlan:
    """The retraining plan of one prune round.

    Args:
        cfg: The experiment config (``train`` gives T and η, ``retrain`` the protocol).
        steps_per_epoch: Optimizer steps per epoch.
        round_fraction: s, the fraction of the remaining prunable weights pruned this
            round (0 in a control run).
        norm_ratio: d = sqrt(|‖θ‖² − ‖m⊙θ‖²|) / ‖θ‖ over the parameters
            ``retrain.allr_norm`` names (:func:`shedding.retrain.norm_ratio`); only ALLR
            uses it.

    Raises:
        ConfigError: As :func:`validate_retrain_config`, or bad dense schedule settings.
    """
    validate_retrain_config(cfg)
    if not 0 <= round_fraction <= 1:
        raise ValueError(f"round_fraction={round_fraction} must be in [0, 1]")
    if not norm_ratio >= 0:
        raise ValueError(f"norm_ratio={norm_ratio} must be >= 0")
    epochs = retrain_epochs(cfg)
    r = cfg.retrain
    ref_lr = r.lr if r.lr is not None else cfg.train.lr
    # The reference schedule: the dense one, rescaled to peak retrain.lr when that is set.
    reference = dataclasses.replace(cfg.train, lr=ref_lr)
    ctx = RetrainContext(
        cfg=cfg,
        steps_per_epoch=steps_per_epoch,
        dense_epochs=cfg.train.epochs,
        epochs=epochs,
        dense_lr=build_schedule(reference, steps_per_epoch),
        core_lr=build_schedule(reference, steps_per_epoch, warmup=False),
        max_lr=r.max_lr if r.max_lr is not None else ref_lr,
        ref_lr=ref_lr,
        warmup_steps=round(cfg.retrain.warmup_fraction * epochs * steps_per_epoch),
        round_fraction=round_fraction,
        norm_ratio=norm_ratio,
        rewind_epoch=rewind_epoch(cfg),
    )
    return PROTOCOLS.get(cfg.retrain.protocol)(ctx)
