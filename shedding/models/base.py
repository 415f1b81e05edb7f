"""The model registry and small helpers shared by the model families.

A builder is registered under a lowercase name and called as
``builder(cfg, num_classes=..., input_shape=...) -> nn.Module``. ``cfg.width`` multiplies
channel or unit counts, ``cfg.batchnorm`` switches BatchNorm (``nn.Identity`` when off, and
the preceding conv/linear then gets a bias), ``cfg.depth`` is read where the family has a
free depth and must otherwise be unset or agree with the name.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from shedding.config import ModelConfig
from shedding.errors import ConfigError
from shedding.registry import Registry

#: Builder signature: ``builder(cfg, *, num_classes, input_shape) -> nn.Module``.
Builder = Callable[..., nn.Module]

MODELS: Registry[Builder] = Registry("model")


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded to the nearest integer, at least 1."""
    return max(1, round(channels * width))


def norm1d(channels: int, *, enabled: bool) -> nn.Module:
    """BatchNorm1d, or Identity when BatchNorm is switched off."""
    return nn.BatchNorm1d(channels) if enabled else nn.Identity()


def norm2d(channels: int, *, enabled: bool) -> nn.Module:
    """BatchNorm2d, or Identity when BatchNorm is switched off."""
    return nn.BatchNorm2d(channels) if enabled else nn.Identity()


def require_input(name: str, input_shape: tuple[int, ...], *, ndim: int, hint: str) -> None:
    """Raises ConfigError unless one example has ``ndim`` dims ((C, L) = 2, (C, H, W) = 3)."""
    if len(input_shape) != ndim:
        want = "(C, L) sequences" if ndim == 2 else "(C, H, W) images"
        raise ConfigError(
            f"model {name!r} needs {want}, but the data set gives examples of shape "
            f"{tuple(input_shape)}; {hint}"
        )


def require_depth(name: str, cfg: ModelConfig, depth: int) -> None:
    """Raises ConfigError when ``cfg.depth`` is set and disagrees with the name's depth."""
    if cfg.depth is not None and cfg.depth != depth:
        raise ConfigError(
            f"model.depth={cfg.depth} conflicts with model {name!r} (depth {depth}); "
            "unset model.depth or pick the model of that depth by name"
        )


def check_common(cfg: ModelConfig, num_classes: int) -> None:
    """Validates the fields every family reads."""
    if not cfg.width > 0:
        raise ConfigError(f"model.width={cfg.width!r} must be > 0 (1.0 = the published width)")
    if num_classes < 1:
        raise ConfigError(f"num_classes={num_classes!r} must be >= 1")
    if cfg.depth is not None and cfg.depth < 1:
        raise ConfigError(f"model.depth={cfg.depth!r} must be a positive integer or unset")


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
