"""Where a tracker finds its layers, their masks and their effective weights.

Layers: the engine's prunable layers by default (conv and linear weights, see
:func:`shedding.pruning.prunable_layers`), or the modules named in ``layers``, or those a
``filter`` accepts. Masks, per layer, in this order of precedence:

1. an explicit mask given to the tracker (``masks={name: tensor}``);
2. ``torch.nn.utils.prune``'s ``weight_mask`` buffer (effective weight
   ``weight_orig * weight_mask``, computed here: ``module.weight`` is only refreshed by the
   next forward pass);
3. the last ``weight_mask`` seen on that layer, after ``prune.remove`` made it permanent;
4. ``weight != 0`` when the tracker was opened with ``zeros_are_pruned=True``;
5. all kept (a dense layer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from shedding.config import PruneConfig
from shedding.errors import ConfigError
from shedding.pruning import prunable_layers
from shedding.track.errors import TrackerError

LayerFilter = Callable[[str, nn.Module], bool]


def _has_weight(m: nn.Module) -> bool:
    return isinstance(getattr(m, "weight", None), torch.Tensor) or hasattr(m, "weight_orig")


def find_layers(
    model: nn.Module,
    *,
    layers: Sequence[str] | None = None,
    filter: LayerFilter | None = None,
    layer_types: Sequence[str] = PruneConfig.layer_types,
) -> dict[str, nn.Module]:
    """Recorded layers, name -> module, in module order.

    Args:
        model: the network (names are ``model.named_modules()`` names).
        layers: exactly these module names (each needs a ``weight`` tensor).
        filter: ``filter(name, module) -> bool`` over every module with a ``weight``.
        layer_types: engine layer families when neither is given (default conv, linear).

    Raises:
        TrackerError: both ``layers`` and ``filter``, an unknown name, or no layer.
    """
    if layers is not None and filter is not None:
        raise TrackerError("pass either layers=[names] or filter=fn, not both")
    modules = dict(model.named_modules())
    if layers is not None:
        bad = [n for n in layers if n not in modules or not _has_weight(modules[n])]
        if bad or not layers:
            valid = [n for n, m in modules.items() if n and _has_weight(m)]
            raise TrackerError(
                f"layers={list(layers)}: {bad or 'empty list'} not modules with a weight in "
                f"{type(model).__name__}; valid names: {valid}"
            )
        return {n: modules[n] for n in modules if n in set(layers)}
    if filter is not None:
        found = {n: m for n, m in modules.items() if n and _has_weight(m) and filter(n, m)}
        if not found:
            raise TrackerError(
                f"filter accepted no module of {type(model).__name__}; it is called as "
                "filter(name, module) on every module with a weight"
            )
        return found
    try:
        return prunable_layers(model, PruneConfig(layer_types=tuple(layer_types)))
    except ConfigError as e:
        raise TrackerError(
            f"{e}; or name the layers to record with layers=[...] or filter=fn"
        ) from None


# torch.nn.utils.prune registers ``weight_orig`` as a parameter and ``weight_mask`` as a
# buffer; reading the module's dicts directly avoids nn.Module.__getattr__'s exception for
# a missing name, which several lookups per layer and snapshot would pay.


def raw_weight(module: nn.Module) -> torch.Tensor:
    """The trained tensor: ``weight_orig`` under torch.nn.utils.prune, else ``weight``."""
    orig = module._parameters.get("weight_orig")
    return orig if orig is not None else cast(torch.Tensor, module.weight)


def torch_mask(module: nn.Module) -> torch.Tensor | None:
    """torch.nn.utils.prune's ``weight_mask`` buffer, or None."""
    return module._buffers.get("weight_mask")


def check_masks(
    masks: Mapping[str, Any], layers: Mapping[str, nn.Module]
) -> dict[str, torch.Tensor]:
    """Explicit masks as bool tensors, after checking names and shapes against ``layers``."""
    unknown = sorted(set(masks) - set(layers))
    if unknown:
        raise TrackerError(f"masks for unknown layers {unknown}; recorded layers: {list(layers)}")
    out = {}
    for name, mask in masks.items():
        t = torch.as_tensor(mask)
        shape = tuple(raw_weight(layers[name]).shape)
        if tuple(t.shape) != shape:
            raise TrackerError(
                f"mask for layer {name!r} has shape {tuple(t.shape)}, but its weight has shape "
                f"{shape}; pass a mask of the weight's shape (True or 1 = kept)"
            )
        out[name] = t if t.dtype == torch.bool else t != 0
    return out


class MaskReader:
    """Reads the masks in force for a fixed set of layers (see the module docstring)."""

    def __init__(self, layers: Mapping[str, nn.Module], *, zeros_are_pruned: bool) -> None:
        self.layers = dict(layers)
        self.zeros_are_pruned = zeros_are_pruned
        self.explicit: dict[str, torch.Tensor] = {}
        self.sticky: dict[str, torch.Tensor] = {}  # last weight_mask, kept after prune.remove
        self.seen: dict[str, torch.Tensor] = {}  # the weight_mask buffer last read
        # all-kept masks of dense layers, made once (the writer copies, nobody mutates them)
        self._ones = {n: np.ones(tuple(raw_weight(m).shape), bool) for n, m in layers.items()}
        self._versions: dict[str, int] = {}
        self._numpy: dict[str, tuple[torch.Tensor, int, np.ndarray]] = {}  # CPU mask copies

    def set_explicit(self, masks: Mapping[str, Any]) -> None:
        """Use these masks from now on (names and shapes are checked)."""
        self.explicit.update(check_masks(masks, self.layers))

    @torch.no_grad()
    def mask(self, name: str) -> torch.Tensor | None:
        """The bool mask of ``name`` (None: dense, all kept)."""
        if name in self.explicit:
            return self.explicit[name]
        module = self.layers[name]
        tm = torch_mask(module)
        if tm is not None:
            # the bool copy is remade only when the buffer is replaced or changed in place
            # (a new buffer per prune call; _version counts in-place writes)
            if self.seen.get(name) is not tm or self._versions.get(name) != tm._version:
                self.sticky[name] = tm != 0
                self.seen[name], self._versions[name] = tm, tm._version
            return self.sticky[name]
        if name in self.sticky:
            return self.sticky[name]
        if self.zeros_are_pruned:
            return raw_weight(module) != 0
        return None

    def changed_buffers(self) -> list[str]:
        """Layers whose ``weight_mask`` buffer was replaced since it was last read."""
        out = []
        for name, module in self.layers.items():
            tm = torch_mask(module)
            if tm is not None and name not in self.explicit and self.seen.get(name) is not tm:
                out.append(name)
        return out

    @torch.no_grad()
    def all_masks(self) -> dict[str, torch.Tensor]:
        """Every layer's bool mask (dense layers: all True), on the weight's device."""
        out = {}
        for name, module in self.layers.items():
            m = self.mask(name)
            out[name] = torch.ones_like(raw_weight(module), dtype=torch.bool) if m is None else m
        return out

    @torch.no_grad()
    def effective(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """CPU float32 effective weights and bool masks (numpy), copies of the model's."""
        weights, masks = {}, {}
        for name, module in self.layers.items():
            w = raw_weight(module).detach()
            m = self.mask(name)
            if m is None:
                weights[name] = w.to("cpu", torch.float32, copy=True).numpy()
                masks[name] = self._ones[name]
            else:
                weights[name] = (w * m).to("cpu", torch.float32).numpy()  # w * m: the copy
                masks[name] = self._cpu_mask(name, m)
        return weights, masks

    def _cpu_mask(self, name: str, m: torch.Tensor) -> np.ndarray:
        """A numpy copy of mask ``m``, reused while ``m`` is unchanged (the writer copies it
        into its own buffers, and nothing here writes to it)."""
        cached = self._numpy.get(name)
        if cached is None or cached[0] is not m or cached[1] != m._version:
            cached = (m, m._version, m.to("cpu", copy=True).numpy())
            self._numpy[name] = cached
        return cached[2]
