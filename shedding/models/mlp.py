"""A fully connected network for small inputs (the MNIST-1D baseline of Greydanus 2020).

Default: flatten -> 100 -> 100 -> classes with ReLU (``width`` scales the hidden units,
``depth`` sets the number of hidden layers, BatchNorm after each hidden linear layer when on).
"""

from __future__ import annotations

import math
from collections import OrderedDict

from torch import nn

from shedding.config import ModelConfig
from shedding.models.base import MODELS, norm1d, scaled


class MLP(nn.Sequential):
    """Flatten, ``depth`` hidden blocks (linear [+ BN] + ReLU), then a linear classifier.

    Input (N, *input_shape) is flattened to (N, in_features). Layer names are
    ``fc1 .. fc<depth>`` (+ ``bn<i>``) and ``fc_out``.

    Args:
        in_features: Product of the input shape.
        num_classes: Output logits.
        hidden: Units per hidden layer.
        depth: Number of hidden layers.
        batchnorm: BatchNorm1d after each hidden linear layer (its bias is then dropped).
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        hidden: int = 100,
        depth: int = 2,
        batchnorm: bool = True,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        width_in = in_features
        for i in range(1, depth + 1):
            layers[f"fc{i}"] = nn.Linear(width_in, hidden, bias=not batchnorm)
            layers[f"bn{i}"] = norm1d(hidden, enabled=batchnorm)
            layers[f"relu{i}"] = nn.ReLU(inplace=True)
            width_in = hidden
        layers["fc_out"] = nn.Linear(width_in, num_classes)
        super().__init__(layers)


@MODELS.register("mlp")
def mlp(cfg: ModelConfig, *, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """MLP on flattened inputs: ``depth`` (default 2) hidden layers of ``100 * width`` units."""
    return MLP(
        math.prod(input_shape),
        num_classes,
        hidden=scaled(100, cfg.width),
        depth=2 if cfg.depth is None else cfg.depth,
        batchnorm=cfg.batchnorm,
    )
