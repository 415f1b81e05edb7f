"""A small BatchNorm ResNet for 1-D sequences (MNIST-1D).

Layout (He et al. 2016's CIFAR ResNet, transposed to 1-D): a stem conv (kernel 5) to 32
channels, three stages of basic residual blocks with 32, 64 and 128 channels (x ``width``) at
strides 1, 2 and 2, global average pooling and a linear classifier. ``depth`` counts the
weighted layers, ``6n + 2`` for ``n`` blocks per stage (default 14: two blocks per stage).
Shortcuts that change shape are 1x1 convs (+ BN). Convs have no bias while BatchNorm is on.
"""

from __future__ import annotations

from torch import Tensor, nn

from shedding.config import ModelConfig
from shedding.errors import ConfigError
from shedding.models.base import MODELS, norm1d, require_input, scaled


class BasicBlock1d(nn.Module):
    """conv3-BN-ReLU-conv3-BN plus shortcut, then ReLU. Input (N, C_in, L) -> (N, C_out, L/s)."""

    def __init__(self, c_in: int, c_out: int, *, stride: int, batchnorm: bool) -> None:
        super().__init__()
        bias = not batchnorm
        self.conv1 = nn.Conv1d(c_in, c_out, 3, stride=stride, padding=1, bias=bias)
        self.bn1 = norm1d(c_out, enabled=batchnorm)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1, bias=bias)
        self.bn2 = norm1d(c_out, enabled=batchnorm)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=stride, bias=bias),
                norm1d(c_out, enabled=batchnorm),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet1d(nn.Module):
    """Stem + three residual stages + global average pool + linear.

    Args:
        in_channels: Input channels (1 for MNIST-1D).
        num_classes: Output logits.
        widths: Channels of the stem/first stage and of the three stages.
        blocks: Basic blocks per stage.
        batchnorm: BatchNorm1d after every conv (Identity when off).
    """

    layer1: nn.Sequential  # the three stages, made in __init__'s loop
    layer2: nn.Sequential
    layer3: nn.Sequential

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        widths: tuple[int, int, int] = (32, 64, 128),
        blocks: int = 2,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, widths[0], 5, padding=2, bias=not batchnorm)
        self.bn1 = norm1d(widths[0], enabled=batchnorm)
        self.relu = nn.ReLU(inplace=True)
        stages = []
        c_in = widths[0]
        for i, (c, stride) in enumerate(zip(widths, (1, 2, 2), strict=True)):
            layer = []
            for b in range(blocks):
                layer.append(
                    BasicBlock1d(c_in, c, stride=stride if b == 0 else 1, batchnorm=batchnorm)
                )
                c_in = c
            stages.append(nn.Sequential(*layer))
            setattr(self, f"layer{i + 1}", stages[-1])
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, L) -> logits (N, num_classes); L 40 -> 40 -> 20 -> 10 -> pooled."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.pool(x).flatten(1))


@MODELS.register("resnet1d")
def resnet1d(cfg: ModelConfig, *, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """ResNet-1D of depth ``6n + 2`` (default 14), channels 32/64/128 x ``width``."""
    require_input("resnet1d", input_shape, ndim=2, hint="use it with mnist1d")
    depth = 14 if cfg.depth is None else cfg.depth
    if depth < 8 or (depth - 2) % 6:
        raise ConfigError(
            f"model.depth={depth} is not valid for resnet1d; use 6n + 2 with n >= 1 "
            "(8, 14, 20, 26, ...)"
        )
    w1, w2, w3 = (scaled(c, cfg.width) for c in (32, 64, 128))
    widths = (w1, w2, w3)
    return ResNet1d(
        input_shape[0],
        num_classes,
        widths=widths,
        blocks=(depth - 2) // 6,
        batchnorm=cfg.batchnorm,
    )
