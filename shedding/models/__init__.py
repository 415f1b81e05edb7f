"""Models: a registry of builders plus name patterns, and :func:`build_model`.

Example:
    >>> from shedding.config import ModelConfig
    >>> net = build_model(ModelConfig(name="resnet20"), num_classes=10, input_shape=(3, 32, 32))

Names resolve in this order: a registered name (``mlp``, ``resnet1d``, ``resnet20/32/44/56/110``,
``vgg16_bn``, ``vgg19_bn``, ``wrn_16_8``, ...), the pattern ``wrn_<depth>_<k>``, then any
torchvision classification model (``resnet50``, ``mobilenet_v3_large``; the prefix
``torchvision.`` forces torchvision's when a name is taken, e.g. ``torchvision.vgg16_bn``).
"""

from __future__ import annotations

import difflib

from torch import nn

from shedding.config import ModelConfig
from shedding.errors import ConfigError
from shedding.models import cifar_resnet, mlp, resnet1d, vgg, wrn  # noqa: F401  (register)
from shedding.models.base import MODELS, Builder, check_common, count_params
from shedding.models.tv import PREFIX, classification_names, is_torchvision, torchvision_builder

__all__ = ["MODELS", "build_model", "count_params", "model_names", "resolve_model"]


def model_names(*, include_torchvision: bool = False) -> list[str]:
    """Registered names, optionally followed by torchvision's classification models."""
    names = MODELS.names()
    if include_torchvision:
        names += [n for n in classification_names() if n not in MODELS]
    return names


def resolve_model(name: str) -> Builder:
    """Finds the builder for ``name``.

    Raises:
        ConfigError: No registered name, pattern or torchvision model matches; the message
            lists the valid names and suggests the closest ones.
    """
    key = name.strip().lower()
    if key.startswith(PREFIX):
        if is_torchvision(key):
            return torchvision_builder(key)
    elif key in MODELS:
        return MODELS.get(key)
    elif wrn.parse(key) is not None:
        return wrn.wrn_builder(key)
    elif is_torchvision(key):
        return torchvision_builder(key)
    close = difflib.get_close_matches(key, model_names(include_torchvision=True), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(
        f"unknown model {name!r}; valid choices: {', '.join(MODELS.names())}; "
        "wrn_<depth>_<k> with depth 6n + 4 (e.g. wrn_16_8); or any torchvision classification "
        "model (e.g. resnet50, mobilenet_v3_large; list: torchvision.models.list_models("
        f"module=torchvision.models)).{hint}"
    )


def build_model(cfg: ModelConfig, *, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Builds the untrained network ``cfg.name``.

    Args:
        cfg: Model config: ``name``, ``width`` (channel multiplier), ``batchnorm``, ``depth``.
        num_classes: Number of output logits.
        input_shape: Shape of one example, ``(C, L)`` or ``(C, H, W)``.

    Raises:
        ConfigError: Unknown name, a width/depth the family cannot take, or an input shape
            the family cannot read.
    """
    check_common(cfg, num_classes)
    builder = resolve_model(cfg.name)
    return builder(cfg, num_classes=num_classes, input_shape=tuple(input_shape))
