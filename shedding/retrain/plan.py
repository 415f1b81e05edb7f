"""Turns an experiment config and one prune round into a :class:`RetrainPlan`.

:func:`validate_retrain_config` runs every check up front so a bad protocol, a rewind
epoch outside the dense run or an impossible length fails before any training;
:func:`rewind_epoch` tells the dense phase which checkpoint WR will need.
"""

from __future__ import annotations

from shedding.config import ExperimentConfig
from shedding.errors import ConfigError
from shedding.retrain import protocols  # noqa: F401  (registers the protocols)
from shedding.retrain.base import PROTOCOLS, RetrainContext, RetrainPlan
from shedding.train.schedules import build_schedule

#: Protocols that train a fresh network for the full dense length T.
FULL_LENGTH = ("scratch", "reduced")


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
    """R for this config: T for scratch/reduced; else ``retrain.epochs``, else T − e for
    WR with an explicit rewind point (Renda's "retrain for the rest"), else T.

    Raises:
        ConfigError: R < 1.
    """
    t = cfg.train.epochs
    protocol = cfg.retrain.protocol.lower()
    if protocol in FULL_LENGTH:
        return t
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
    for key in ("ft_lr", "max_lr"):
        value = getattr(r, key)
        if value is not None and not value > 0:
            raise ConfigError(f"retrain.{key}={value} must be > 0 (or unset)")


def plan_retraining(
    cfg: ExperimentConfig, *, steps_per_epoch: int, round_fraction: float, norm_ratio: float
) -> RetrainPlan:
    """The retraining plan of one prune round.

    Args:
        cfg: The experiment config (``train`` gives T and η, ``retrain`` the protocol).
        steps_per_epoch: Optimizer steps per epoch.
        round_fraction: s, the fraction of the remaining prunable weights pruned this
            round (0 in a control run).
        norm_ratio: d = sqrt(|‖θ‖² − ‖m⊙θ‖²|) / ‖θ‖ over all parameters
            (:func:`shedding.retrain.norm_ratio`); only ALLR uses it.

    Raises:
        ConfigError: As :func:`validate_retrain_config`, or bad dense schedule settings.
    """
    validate_retrain_config(cfg)
    if not 0 <= round_fraction <= 1:
        raise ValueError(f"round_fraction={round_fraction} must be in [0, 1]")
    if not norm_ratio >= 0:
        raise ValueError(f"norm_ratio={norm_ratio} must be >= 0")
    epochs = retrain_epochs(cfg)
    ctx = RetrainContext(
        cfg=cfg,
        steps_per_epoch=steps_per_epoch,
        dense_epochs=cfg.train.epochs,
        epochs=epochs,
        dense_lr=build_schedule(cfg.train, steps_per_epoch),
        core_lr=build_schedule(cfg.train, steps_per_epoch, warmup=False),
        max_lr=cfg.retrain.max_lr if cfg.retrain.max_lr is not None else cfg.train.lr,
        warmup_steps=round(cfg.retrain.warmup_fraction * epochs * steps_per_epoch),
        round_fraction=round_fraction,
        norm_ratio=norm_ratio,
        rewind_epoch=rewind_epoch(cfg),
    )
    return PROTOCOLS.get(cfg.retrain.protocol)(ctx)
