"""The optimizer of retraining: ``train``'s settings with the ``retrain.*`` overrides.

Retraining may use another optimizer than dense training (SGD dense, Adam + L2 retraining),
another weight decay (5e-4 dense, 5e-3 retraining) or exempt BatchNorm from weight decay
only while it retrains. Every override left unset inherits from ``train``, so configs
without them train exactly as before.
"""

from __future__ import annotations

import dataclasses

from torch import nn
from torch.optim import Optimizer

from shedding.config import ExperimentConfig, TrainConfig
from shedding.train.optim import build_optimizer

#: ``retrain`` fields that override the ``train`` field of the same name.
OVERRIDES = ("optimizer", "lr", "weight_decay", "momentum", "nesterov", "decay_bn_bias", "betas")


def retrain_train_config(cfg: ExperimentConfig) -> TrainConfig:
    """``cfg.train`` with every ``retrain.<field>`` that is set put in its place.

    Example:
        >>> from shedding.config import load_config
        >>> cfg = load_config(None, ["retrain.weight_decay=5e-3"])
        >>> retrain_train_config(cfg).weight_decay, cfg.train.weight_decay
        (0.005, 0.0005)
    """
    changes = {k: getattr(cfg.retrain, k) for k in OVERRIDES}
    return dataclasses.replace(cfg.train, **{k: v for k, v in changes.items() if v is not None})


def build_retrain_optimizer(model: nn.Module, cfg: ExperimentConfig, *, lr: float) -> Optimizer:
    """A fresh optimizer for one retraining round (no state carried over from before).

    Raises:
        ConfigError: As :func:`shedding.train.optim.build_optimizer`, naming the setting.
    """
    return build_optimizer(model, retrain_train_config(cfg), lr=lr)
