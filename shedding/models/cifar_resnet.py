"""He et al. (2016) ResNets for CIFAR: ResNet-20/32/44/56/110.

Depth ``6n + 2``: a 3x3 conv to 16 channels, three stages of ``n`` basic blocks with 16, 32
and 64 channels (x ``width``) at strides 1, 2, 2, global average pooling, a linear layer.
Shortcuts are parameter-free identities ("option A" of the paper): when a block halves the
resolution and widens the channels, the input is subsampled and zero-padded with the extra
channels. This gives the published sizes (ResNet-20 0.27 M, ResNet-56 0.85 M, ResNet-110
1.7 M parameters).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from shedding.config import ModelConfig
from shedding.models.base import MODELS, norm2d, require_depth, require_input, scaled

#: The depths of He et al. 2016, Table 6, registered as ``resnet<depth>``.
DEPTHS = (20, 32, 44, 56, 110)


class PadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad channels to ``c_out``."""

    def __init__(self, c_in: int, c_out: int, *, stride: int) -> None:
        super().__init__()
        self.stride = stride
        extra = c_out - c_in
        # Pad the new channels evenly before and after the old ones (He et al.'s layout).
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, *self.pad))


class BasicBlock(nn.Module):
    """conv3-BN-ReLU-conv3-BN plus shortcut, then ReLU. (N, C_in, H, W) -> (N, C_out, H/s, W/s)."""

    def __init__(self, c_in: int, c_out: int, *, stride: int, batchnorm: bool) -> None:
        super().__init__()
        bias = not batchnorm
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=bias)
        self.bn1 = norm2d(c_out, enabled=batchnorm)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=bias)
        self.bn2 = norm2d(c_out, enabled=batchnorm)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = PadShortcut(c_in, c_out, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 images.

    Args:
        depth: ``6n + 2``.
        num_classes: Output logits.
        in_channels: Image channels.
        widths: Channels of the three stages (16, 32, 64 at width 1).
        batchnorm: BatchNorm2d after every conv (Identity when off).
    """

    layer1: nn.Sequential  # the three stages, made in __init__'s loop
    layer2: nn.Sequential
    layer3: nn.Sequential

    def __init__(
        self,
        depth: int,
        num_classes: int,
        *,
        in_channels: int = 3,
        widths: tuple[int, int, int] = (16, 32, 64),
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n + 2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=not batchnorm)
        self.bn1 = norm2d(widths[0], enabled=batchnorm)
        self.relu = nn.ReLU(inplace=True)
        c_in = widths[0]
        for i, (c, stride) in enumerate(zip(widths, (1, 2, 2), strict=True)):
            blocks = []
            for b in range(n):
                blocks.append(
                    BasicBlock(c_in, c, stride=stride if b == 0 else 1, batchnorm=batchnorm)
                )
                c_in = c
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, 32, 32) -> logits; feature maps 32 -> 32 -> 16 -> 8 -> pooled."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.pool(x).flatten(1))


def _make(depth: int):
    name = f"resnet{depth}"

    def build(cfg: ModelConfig, *, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
        require_input(name, input_shape, ndim=3, hint="use resnet1d or mlp for sequences")
        require_depth(name, cfg, depth)
        w1, w2, w3 = (scaled(c, cfg.width) for c in (16, 32, 64))
        widths = (w1, w2, w3)
        return CifarResNet(
            depth, num_classes, in_channels=input_shape[0], widths=widths, batchnorm=cfg.batchnorm
        )

    build.__name__ = name
    build.__doc__ = f"He et al. 2016 CIFAR ResNet-{depth} (option-A shortcuts), width x cfg.width."
    return build


for _d in DEPTHS:
    MODELS.add(f"resnet{_d}", _make(_d))
