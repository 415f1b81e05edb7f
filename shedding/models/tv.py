"""Any torchvision classification model by name (``resnet50``, ``mobilenet_v3_large``, ...).

Built untrained (``weights=None``) with ``num_classes`` set. ``width`` is honoured only where
torchvision has a true uniform channel multiplier (``width_mult`` of the MobileNets); other
families refuse ``width != 1`` rather than silently meaning something else. BatchNorm off
replaces every BatchNorm module with ``nn.Identity``. A registered toolkit model of the same
name (the CIFAR ``vgg16_bn``) wins; prefix ``torchvision.`` to get torchvision's.
"""

from __future__ import annotations

import functools

from torch import nn

from shedding.config import ModelConfig
from shedding.errors import ConfigError
from shedding.models.base import Builder, require_input

#: Explicit prefix that selects torchvision's model even when a toolkit model shares the name.
PREFIX = "torchvision."

#: torchvision constructor argument that scales every channel count uniformly.
WIDTH_ARGS = {
    "mobilenet_v2": "width_mult",
    "mobilenet_v3_large": "width_mult",
    "mobilenet_v3_small": "width_mult",
}


@functools.cache
def classification_names() -> tuple[str, ...]:
    """Names of torchvision's classification models (``torchvision.models`` only)."""
    import torchvision.models as tvm

    return tuple(sorted(tvm.list_models(module=tvm)))


def strip_prefix(name: str) -> str:
    """``"torchvision.vgg16_bn"`` -> ``"vgg16_bn"``; other names unchanged."""
    return name[len(PREFIX) :] if name.lower().startswith(PREFIX) else name


def is_torchvision(name: str) -> bool:
    """True when ``name`` (with or without the prefix) is a torchvision classification model."""
    return strip_prefix(name).lower() in classification_names()


def _drop_batchnorm(model: nn.Module) -> None:
    for parent in model.modules():
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, child_name, nn.Identity())


def torchvision_builder(name: str) -> Builder:
    """Builder for torchvision's ``name``; raises ConfigError when it is not a model there."""
    tv_name = strip_prefix(name).lower()
    if tv_name not in classification_names():
        raise ConfigError(f"{tv_name!r} is not a torchvision classification model")

    def build(cfg: ModelConfig, *, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
        import torchvision.models as tvm

        require_input(name, input_shape, ndim=3, hint="torchvision models take images")
        if input_shape[0] != 3:
            raise ConfigError(
                f"torchvision model {tv_name!r} expects 3-channel images but the data set has "
                f"{input_shape[0]} channel(s); use a CIFAR model (resnet20, vgg16_bn, wrn_16_8) "
                "which adapt to the input channels"
            )
        if cfg.depth is not None:
            raise ConfigError(
                f"model.depth={cfg.depth} does not apply to torchvision model {tv_name!r}; "
                "choose the depth by name (e.g. resnet101) and unset model.depth"
            )
        kwargs: dict = {"weights": None, "num_classes": num_classes}
        if cfg.width != 1.0:
            arg = WIDTH_ARGS.get(tv_name)
            if arg is None:
                raise ConfigError(
                    f"model.width={cfg.width} is not supported for torchvision model "
                    f"{tv_name!r}: only {', '.join(sorted(WIDTH_ARGS))} have a uniform width "
                    "multiplier; use width=1 or a toolkit model (resnet20, wrn_16_8, vgg16_bn)"
                )
            kwargs[arg] = cfg.width
        model = tvm.get_model(tv_name, **kwargs)
        if not cfg.batchnorm:
            _drop_batchnorm(model)
        return model

    build.__name__ = tv_name
    build.__doc__ = f"torchvision.models.{tv_name}(weights=None, num_classes=...)."
    return build
