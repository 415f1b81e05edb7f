"""Wide ResNets (Zagoruyko & Komodakis 2016) for CIFAR, named ``wrn_<depth>_<k>``.

WRN-d-k: depth ``d = 6n + 4``, widening factor ``k``. A 3x3 conv to 16 channels, three
groups of ``n`` pre-activation blocks (BN-ReLU-conv3x3-BN-ReLU-conv3x3) with 16k, 32k and 64k
channels at strides 1, 2, 2, a final BN-ReLU, global average pooling and a linear layer. A
block that changes the shape has a 1x1 conv shortcut on the pre-activated input (as the
authors' code). WRN-16-8 has 10.96 M parameters, WRN-28-10 36.5 M. ``width`` multiplies
every channel count on top of ``k`` (Crowley et al.'s reduced networks).
"""

from __future__ import annotations

import re

from torch import Tensor, nn

from shedding.config import ModelConfig
from shedding.errors import ConfigError
from shedding.models.base import MODELS, Builder, norm2d, require_depth, require_input, scaled

#: Name pattern ``wrn_<depth>_<k>``.
PATTERN = re.compile(r"^wrn_(\d+)_(\d+)$")

#: Registered by name so they are listed; any other valid ``wrn_<d>_<k>`` resolves by pattern.
COMMON = ("wrn_16_8", "wrn_28_10", "wrn_40_4", "wrn_16_4")


class PreActBlock(nn.Module):
    """Pre-activation basic block. (N, C_in, H, W) -> (N, C_out, H/s, W/s)."""

    def __init__(self, c_in: int, c_out: int, *, stride: int, batchnorm: bool) -> None:
        super().__init__()
        bias = not batchnorm
        self.bn1 = norm2d(c_in, enabled=batchnorm)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=bias)
        self.bn2 = norm2d(c_out, enabled=batchnorm)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=bias)
        self.relu = nn.ReLU(inplace=False)
        self.shortcut: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        a = self.relu(self.bn1(x))
        out = self.conv2(self.relu(self.bn2(self.conv1(a))))
        # The projection reads the activated input, the identity the raw one (authors' code).
        return out + (x if self.shortcut is None else self.shortcut(a))


class WideResNet(nn.Module):
    """WRN-depth-k for 32x32 images.

    Args:
        depth: ``6n + 4``.
        k: Widening factor.
        num_classes: Output logits.
        in_channels: Image channels.
        width: Extra multiplier on every channel count.
        batchnorm: BatchNorm2d before every conv (Identity when off).
    """

    layer1: nn.Sequential  # the three stages, made in __init__'s loop
    layer2: nn.Sequential
    layer3: nn.Sequential

    def __init__(
        self,
        depth: int,
        k: int,
        num_classes: int,
        *,
        in_channels: int = 3,
        width: float = 1.0,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 or k < 1:
            raise ValueError(f"WRN needs depth 6n + 4 and k >= 1, got depth={depth}, k={k}")
        n = (depth - 4) // 6
        stem, *widths = (scaled(c, width) for c in (16, 16 * k, 32 * k, 64 * k))
        self.conv1 = nn.Conv2d(in_channels, stem, 3, padding=1, bias=not batchnorm)
        c_in = stem
        for i, (c, stride) in enumerate(zip(widths, (1, 2, 2), strict=True)):
            blocks = []
            for b in range(n):
                blocks.append(
                    PreActBlock(c_in, c, stride=stride if b == 0 else 1, batchnorm=batchnorm)
                )
                c_in = c
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.bn = norm2d(c_in, enabled=batchnorm)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, 32, 32) -> logits; feature maps 32 -> 32 -> 16 -> 8 -> pooled."""
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        return self.fc(self.pool(self.relu(self.bn(x))).flatten(1))


def parse(name: str) -> tuple[int, int] | None:
    """``"wrn_16_8"`` -> ``(16, 8)``; None when the name is not of that form."""
    m = PATTERN.match(name.lower())
    return (int(m.group(1)), int(m.group(2))) if m else None


def wrn_builder(name: str) -> Builder:
    """Builder for ``wrn_<depth>_<k>``; raises ConfigError on an invalid depth or k."""
    parsed = parse(name)
    if parsed is None:
        raise ConfigError(f"{name!r} is not a WRN name; use wrn_<depth>_<k>, e.g. wrn_16_8")
    depth, k = parsed
    if depth < 10 or (depth - 4) % 6 or k < 1:
        raise ConfigError(
            f"model {name!r}: WRN depth must be 6n + 4 (10, 16, 22, 28, 40, ...) and k >= 1, "
            "e.g. wrn_16_8 or wrn_28_10"
        )

    def build(cfg: ModelConfig, *, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
        require_input(name, input_shape, ndim=3, hint="use resnet1d or mlp for sequences")
        require_depth(name, cfg, depth)
        return WideResNet(
            depth,
            k,
            num_classes,
            in_channels=input_shape[0],
            width=cfg.width,
            batchnorm=cfg.batchnorm,
        )

    build.__name__ = name
    build.__doc__ = f"Wide ResNet WRN-{depth}-{k} (Zagoruyko & Komodakis 2016)."
    return build


for _name in COMMON:
    MODELS.add(_name, wrn_builder(_name))
