"""The network a run retrains: its model, prunable layers, BatchNorm pairing and mask."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from shedding.config import ExperimentConfig
from shedding.models import build_model
from shedding.pruning.masks import MaskSet
from shedding.pruning.prunable import bn_after, prunable_layers
from shedding.retrain import PROTOCOLS, match_width


class ModelFactory:
    """Builds the run's model (or a resized one) on the run's device, seeded.

    Calling it seeds torch with ``cfg.seed + seed_offset`` first, so a model is a pure
    function of the config and the offset (re-initialisation and the reduced network use
    their own offsets).
    """

    def __init__(self, cfg: ExperimentConfig, bundle: Any, device: torch.device) -> None:
        self.cfg, self.bundle, self.device = cfg, bundle, device

    def shape_only(self, width: float | None = None) -> nn.Module:
        """The model at ``width`` on the CPU, unseeded: for counting parameters."""
        mc = self.cfg.model if width is None else dataclasses.replace(self.cfg.model, width=width)
        return build_model(
            mc, num_classes=self.bundle.num_classes, input_shape=self.bundle.input_shape
        )

    def __call__(self, width: float | None = None, seed_offset: int = 0) -> nn.Module:
        torch.manual_seed(self.cfg.seed + seed_offset)
        return self.shape_only(width).to(self.device)


@dataclass
class Network:
    """What retraining works on.

    Attributes:
        model: The network retrained (the dense one, or a resized one).
        layers: Prunable layer name -> module, in layer order.
        bn_names: Prunable layer -> the BatchNorm that normalises its output.
        masks: The mask over ``layers``; None when the protocol trains another network.
        reshaped: Whether the protocol trains another network (no mask, nothing pruned).
    """

    model: nn.Module
    layers: dict[str, nn.Module]
    bn_names: dict[str, str]
    masks: MaskSet | None
    reshaped: bool

    def bn_modules(self, names: Any) -> dict[str, nn.Module]:
        """Layer -> its BatchNorm module, for the layers in ``names`` that have one."""
        modules = dict(self.model.named_modules())
        return {n: modules[b] for n, b in self.bn_names.items() if n in names}

    @property
    def sparsity(self) -> float:
        return self.masks.sparsity() if self.masks is not None else 0.0


def retraining_network(
    cfg: ExperimentConfig, dense_model: nn.Module, new_model: ModelFactory
) -> Network:
    """The network retraining starts from, after the dense phase trained ``dense_model``.

    A protocol that changes the architecture (Crowley's reduced network) gets a fresh dense
    network whose width gives the pruned network's prunable parameter count; every other
    protocol keeps ``dense_model`` under a mask.
    """
    reshaped = PROTOCOLS.get(cfg.retrain.protocol).changes_architecture
    model = dense_model
    if reshaped:
        dense_layers = prunable_layers(model, cfg.prune).values()
        total = sum(cast(torch.Tensor, m.weight).numel() for m in dense_layers)
        width = match_width(new_model.shape_only, round(total * (1 - cfg.prune.sparsity)))
        model = new_model(width=width, seed_offset=7919)
    layers = prunable_layers(model, cfg.prune)
    probe = torch.zeros(2, *new_model.bundle.input_shape, device=next(model.parameters()).device)
    bn_names = bn_after(model, list(layers), example_input=probe)
    masks = None if reshaped else MaskSet(model, list(layers))
    return Network(model, layers, bn_names, masks, reshaped)
