"""Which tensors may be pruned, and which BatchNorm follows each of them.

By default the *weights* of convolution and linear layers are prunable; biases and
BatchNorm parameters never are. ``PruneConfig.layer_types`` picks the layer families and
``prune_first`` / ``prune_last`` switch the first and last of them (in module order) off,
as many papers keep the stem and the classifier dense.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from shedding.config import PruneConfig
from shedding.errors import ConfigError

#: ``PruneConfig.layer_types`` entries -> module classes whose ``weight`` is prunable.
LAYER_TYPES: dict[str, tuple[type[nn.Module], ...]] = {
    "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d),
    "conv1d": (nn.Conv1d,),
    "conv2d": (nn.Conv2d,),
    "conv3d": (nn.Conv3d,),
    "linear": (nn.Linear,),
}

# Modules that carry weights and end the search for "the BN after this layer".
_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)
_BN = nn.modules.batchnorm._BatchNorm


def layer_classes(layer_types: Iterable[str]) -> tuple[type[nn.Module], ...]:
    """Module classes for ``layer_types``; raises ConfigError on an unknown entry."""
    classes: list[type[nn.Module]] = []
    for t in layer_types:
        if t not in LAYER_TYPES:
            raise ConfigError(
                f"unknown prune.layer_types entry {t!r}; valid entries: {', '.join(LAYER_TYPES)}"
            )
        classes.extend(LAYER_TYPES[t])
    return tuple(classes)


def prunable_layers(model: nn.Module, cfg: PruneConfig) -> dict[str, nn.Module]:
    """Prunable layers of ``model``, name -> module, in module (registration) order.

    Args:
        model: The network (bare module: names must not carry a DDP ``module.`` prefix).
        cfg: ``layer_types`` (families: conv, conv1d, conv2d, conv3d, linear),
            ``prune_first`` / ``prune_last`` (False keeps the first / last such layer dense).

    Raises:
        ConfigError: Unknown layer type, or no prunable layer left.
    """
    classes = layer_classes(cfg.layer_types)
    found = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, classes) and isinstance(getattr(m, "weight", None), torch.Tensor)
    ]
    n_found = len(found)
    if found and not cfg.prune_last:
        found = found[:-1]
    if found and not cfg.prune_first:
        found = found[1:]
    if not found:
        raise ConfigError(
            f"no prunable layer in {type(model).__name__}: {n_found} layer(s) of types "
            f"{list(cfg.layer_types)} (prune_first={cfg.prune_first}, "
            f"prune_last={cfg.prune_last}); widen prune.layer_types or enable the switches"
        )
    return dict(found)


def _direct_bn(
    model: nn.Module, names: Sequence[str], example_input: torch.Tensor
) -> dict[str, str]:
    """Layer -> the BatchNorm whose input *is* the layer's output tensor in a forward pass
    (so a BN applied to a residual sum, as in pre-activation blocks, is nobody's)."""
    modules = dict(model.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    found: dict[str, str] = {}

    def after_layer(name: str) -> Any:
        return lambda _m, _i, out: outputs.__setitem__(name, out)

    def before_bn(name: str) -> Any:
        def hook(_m: nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
            for layer, out in outputs.items():
                if inp and inp[0] is out and layer not in found:
                    found[layer] = name

        return hook

    hooks = [modules[n].register_forward_hook(after_layer(n)) for n in names]
    hooks += [
        m.register_forward_pre_hook(before_bn(n)) for n, m in modules.items() if isinstance(m, _BN)
    ]
    was_training = model.training
    try:
        model.eval()  # no BN running-stat update from the trace
        with torch.no_grad():
            model(example_input)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return {
        n: found[n]
        if n in found and modules[found[n]].num_features == modules[n].weight.shape[0]
        else ""
        for n in names
    }


def bn_after(
    model: nn.Module,
    names: Sequence[str],
    *,
    example_input: torch.Tensor | None = None,
) -> dict[str, str]:
    """Name of the BatchNorm that directly follows each named layer ("" if none).

    Given ``example_input`` (what runs use), exact: a forward pass with hooks pairs a layer
    with the BatchNorm whose input is the layer's very output tensor (``num_features`` equal
    to the layer's output channels). A BN fed by a residual sum, as after ``conv2`` of a
    pre-activation block (WRN), belongs to no layer: its γ scales the sum, not the conv's
    channels. (Hooks see modules, not functional ops: a conv output that also feeds an
    identity shortcut's ``+`` directly would still be paired with its BN.) Without an
    input, a heuristic: walk the modules after the layer in
    registration order; parameter-free modules (activations, pooling, dropout) are skipped;
    the first BatchNorm or weighted layer met ends the walk.

    Args:
        model: The network.
        names: Layer names (usually the keys of :func:`prunable_layers`).
        example_input: Optional batch to trace the execution order with.

    Returns:
        Layer name -> BN module name or "".
    """
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ConfigError(f"{type(model).__name__} has no module named {missing[0]!r}")
    if example_input is not None:
        return _direct_bn(model, names, example_input)
    order = [n for n, m in modules.items() if not list(m.children())]
    position = {n: i for i, n in enumerate(order)}
    out: dict[str, str] = {}
    for name in names:
        if name not in modules:
            raise ConfigError(f"{type(model).__name__} has no module named {name!r}")
        out[name] = ""
        if name not in position:  # never called in the traced forward pass
            continue
        channels = modules[name].weight.shape[0]
        for nxt in order[position[name] + 1 :]:
            m = modules[nxt]
            if isinstance(m, _BN):
                if m.num_features == channels:
                    out[name] = nxt
                break
            if isinstance(m, _WEIGHTED) or any(True for _ in m.parameters(recurse=False)):
                break
    return out
