"""Optimisers from the training config, with the weight-decay grouping in one place.

``sgd`` (momentum, optional Nesterov), ``adam`` (Adam with *L2* weight decay: the decay
term is added to the gradient, so it passes through the adaptive scaling — the setting
Mehta et al. link to filter collapse) and ``adamw`` (decoupled weight decay). The LR set
here is only the initial one: the loop sets ``group["lr"]`` from the schedule every step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from shedding.config import TrainConfig
from shedding.errors import ConfigError
from shedding.registry import Registry

#: Each entry is called as ``entry(param_groups, train, lr) -> torch.optim.Optimizer``.
OptimizerBuilder = Callable[[list[dict[str, Any]], TrainConfig, float], torch.optim.Optimizer]
OPTIMIZERS: Registry[OptimizerBuilder] = Registry("optimizer")

# Normalisation layers whose affine parameters count as "BN" for ``decay_bn_bias``.
_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _check_betas(train: TrainConfig) -> None:
    if len(train.betas) != 2 or not all(0 <= b < 1 for b in train.betas):
        raise ConfigError(f"train.betas={list(train.betas)} must be two numbers in [0, 1)")


@OPTIMIZERS.register("sgd")
def sgd(groups: list[dict[str, Any]], train: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """SGD with heavy-ball (or Nesterov) momentum and coupled weight decay."""
    if not 0 <= train.momentum < 1:
        raise ConfigError(f"train.momentum={train.momentum} must be in [0, 1)")
    if train.nesterov and train.momentum == 0:
        raise ConfigError(
            "train.nesterov=true needs momentum > 0; set train.momentum (e.g. 0.9) or "
            "train.nesterov=false"
        )
    return torch.optim.SGD(
        groups,
        lr=lr,
        momentum=train.momentum,
        nesterov=train.nesterov,
        weight_decay=train.weight_decay,
    )


def _no_nesterov(train: TrainConfig) -> None:
    if train.nesterov:
        raise ConfigError(
            f"train.nesterov=true applies to sgd only, not {train.optimizer!r}; "
            "set train.nesterov=false"
        )


@OPTIMIZERS.register("adam")
def adam(groups: list[dict[str, Any]], train: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """Adam with L2 weight decay added to the gradient (torch ``Adam(weight_decay=...)``)."""
    _check_betas(train)
    _no_nesterov(train)
    return torch.optim.Adam(
        groups, lr=lr, betas=(train.betas[0], train.betas[1]), weight_decay=train.weight_decay
    )


@OPTIMIZERS.register("adamw")
def adamw(groups: list[dict[str, Any]], train: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """AdamW: decoupled weight decay (``p ← p·(1 − lr·wd)``)."""
    _check_betas(train)
    _no_nesterov(train)
    return torch.optim.AdamW(
        groups, lr=lr, betas=(train.betas[0], train.betas[1]), weight_decay=train.weight_decay
    )


def param_groups(model: nn.Module, *, decay_bn_bias: bool) -> list[dict[str, Any]]:
    """Parameter groups: everything decays, or norm-layer params and biases get wd = 0.

    Args:
        model: The network; shared parameters are listed once.
        decay_bn_bias: True puts every parameter in one group (Renda decays BN too).
            False moves the affine parameters of BatchNorm/GroupNorm/LayerNorm layers and
            every parameter named ``bias`` to a second group with ``weight_decay=0``.

    Returns:
        One or two non-empty groups, each with a ``name`` key ("decay" / "no_decay").

    Raises:
        ConfigError: The model has no trainable parameter.
    """
    seen: set[int] = set()
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in model.modules():
        for pname, p in module.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            exempt = isinstance(module, _NORM_TYPES) or pname == "bias"
            (no_decay if exempt and not decay_bn_bias else decay).append(p)
    if not decay and not no_decay:
        raise ConfigError(f"{type(model).__name__} has no trainable parameters to optimise")
    groups: list[dict[str, Any]] = []
    if decay:
        groups.append({"params": decay, "name": "decay"})
    if no_decay:
        groups.append({"params": no_decay, "name": "no_decay", "weight_decay": 0.0})
    return groups


def build_optimizer(
    model: nn.Module, train: TrainConfig, *, lr: float | None = None
) -> torch.optim.Optimizer:
    """The optimizer named by ``train.optimizer`` over ``model``'s parameters.

    Args:
        model: The network (the bare module, not a DDP wrapper, so names are stable).
        train: Optimizer name, momentum/Nesterov, betas, weight decay and
            ``decay_bn_bias`` (False: BN parameters and biases get no weight decay).
        lr: Initial LR (default ``train.lr``); the loop overrides it every step anyway.

    Raises:
        ConfigError: Unknown optimizer, Nesterov without momentum (or with Adam),
            momentum/betas out of range, negative weight decay or LR.
    """
    if train.weight_decay < 0:
        raise ConfigError(f"train.weight_decay={train.weight_decay} must be >= 0")
    lr = train.lr if lr is None else lr
    if not lr > 0:
        raise ConfigError(f"learning rate {lr} must be > 0")
    builder = OPTIMIZERS.get(train.optimizer)
    return builder(param_groups(model, decay_bn_bias=train.decay_bn_bias), train, lr)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Sets the LR of every parameter group (the loop's per-step update)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
