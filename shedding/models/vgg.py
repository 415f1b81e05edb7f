"""VGG with BatchNorm for CIFAR (the variant of open_lth and most pruning papers).

The thirteen (VGG-16) or sixteen (VGG-19) 3x3 convs of Simonyan & Zisserman with BatchNorm,
five 2x2 max-pools, then a *single* linear classifier on the 512 pooled features instead of
the ImageNet three-layer head: about 14.7 M parameters for VGG-16 at width 1. Pools use
``ceil_mode`` so 28x28 inputs (MNIST) still reach 1x1.
"""

from __future__ import annotations

from torch import Tensor, nn

from shedding.config import ModelConfig
from shedding.errors import ConfigError
from shedding.models.base import MODELS, norm2d, require_input, scaled

#: Conv widths per stage; "M" is a 2x2 max-pool.
PLANS: dict[str, tuple[int | str, ...]] = {
    "vgg16_bn": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19_bn": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}  # fmt: skip


class CifarVGG(nn.Module):
    """Conv3-BN-ReLU stacks with max-pools, global average pool, one linear layer.

    Args:
        plan: Conv widths and "M" pools.
        num_classes: Output logits.
        in_channels: Image channels.
        batchnorm: BatchNorm2d after every conv (Identity when off; convs then get a bias).
    """

    def __init__(
        self,
        plan: tuple[int | str, ...],
        num_classes: int,
        *,
        in_channels: int = 3,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for v in plan:
            if v == "M":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            else:
                layers += [
                    nn.Conv2d(c_in, int(v), 3, padding=1, bias=not batchnorm),
                    norm2d(int(v), enabled=batchnorm),
                    nn.ReLU(inplace=True),
                ]
                c_in = int(v)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, 32, 32) -> logits; five pools take 32x32 to 1x1."""
        return self.fc(self.pool(self.features(x)).flatten(1))


def _make(name: str):
    def build(cfg: ModelConfig, *, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
        require_input(name, input_shape, ndim=3, hint="use resnet1d or mlp for sequences")
        if cfg.depth is not None:
            raise ConfigError(
                f"model.depth={cfg.depth} does not apply to {name!r}; pick the depth by name "
                f"({', '.join(PLANS)}) and unset model.depth"
            )
        plan = tuple(v if v == "M" else scaled(int(v), cfg.width) for v in PLANS[name])
        return CifarVGG(plan, num_classes, in_channels=input_shape[0], batchnorm=cfg.batchnorm)

    build.__name__ = name
    build.__doc__ = f"CIFAR {name} (single linear classifier), width x cfg.width."
    return build


for _name in PLANS:
    MODELS.add(_name, _make(_name))
