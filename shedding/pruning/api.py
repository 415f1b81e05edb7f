"""The pruning entry points: :func:`prune`, :func:`gmp_threshold` and config validation.

:func:`prune` is what the experiment calls at each prune event. It validates the inputs,
runs the named pruner on CPU copies and checks the result: every new mask is a subset of
the old one (pruned weights never revive) and is returned on the old mask's device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import torch
from torch import nn

from shedding.config import PruneConfig
from shedding.errors import ConfigError
from shedding.pruning import magnitude
from shedding.pruning.base import PRUNERS, Masks, global_count
from shedding.pruning.prunable import layer_classes, prunable_layers
from shedding.pruning.rounds import round_amounts


def prepare(
    weights: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor], *, amount: float
) -> tuple[Masks, Masks]:
    """Validated CPU float32 weights and CPU bool masks, in the masks' layer order.

    Raises:
        ConfigError: ``amount`` outside [0, 1).
        ValueError: Layer names or shapes of weights and masks differ, or no layer.
    """
    if not 0 <= amount < 1:
        raise ConfigError(
            f"prune amount {amount} must be in [0, 1) (fraction of the kept weights to remove)"
        )
    if not masks:
        raise ValueError("no layer to prune: masks is empty")
    if set(weights) != set(masks):
        raise ValueError(
            f"weights and masks name different layers: {sorted(set(weights) ^ set(masks))}"
        )
    w: Masks = {}
    m: Masks = {}
    for name, mask in masks.items():
        weight = weights[name]
        if tuple(weight.shape) != tuple(mask.shape):
            raise ValueError(
                f"layer {name!r}: weight shape {tuple(weight.shape)} != mask shape "
                f"{tuple(mask.shape)}"
            )
        w[name] = weight.detach().to("cpu", torch.float32)
        m[name] = mask.detach().to("cpu", torch.bool)
    return w, m


def prune(
    method: str,
    weights: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    *,
    amount: float,
    cfg: PruneConfig,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """One prune round: new masks that remove ``amount`` of the currently kept weights.

    Args:
        method: A :data:`PRUNERS` name (gmp, layerwise, random, random_layerwise,
            random_matched, l1_filter, nm).
        weights: Layer name -> weight (raw or effective; pruned entries are ignored).
        masks: Layer name -> current bool mask (True = kept).
        amount: Fraction in [0, 1) of the kept weights (l1_filter: of the remaining
            filters per layer) to remove; 0 returns copies of ``masks`` (control run).
        cfg: Pruning options (``n``/``m`` for nm).
        generator: CPU generator for the random pruners.

    Returns:
        Layer name -> new bool mask, a subset of the old, on the old mask's device.

    Raises:
        ConfigError: Unknown method, ``amount`` outside [0, 1), N:M on a layer whose
            input dimension does not divide by m.
    """
    pruner = PRUNERS.get(method)
    w, m = prepare(weights, masks, amount=amount)
    new = (
        {n: t.clone() for n, t in m.items()}
        if amount == 0
        else pruner(w, m, amount=amount, cfg=cfg, generator=generator)
    )
    for name, old in m.items():
        if new[name].shape != old.shape or bool((new[name] & ~old).any()):
            raise RuntimeError(f"pruner {method!r} revived or reshaped layer {name!r}'s mask")
    return {n: new[n].to(masks[n].device) for n in m}


def gmp_threshold(
    weights: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor], *, amount: float
) -> float:
    """The global magnitude threshold GMP uses (or would use) at ``amount``.

    It is the largest ``|w|`` GMP removes: kept weights below it are pruned, those above
    survive (ties exactly at it are split by position). 0.0 when nothing is removed.
    Unpruned control runs call it with the configured sparsity for the recorder's
    ``gmp_relative`` reference.
    """
    w, m = prepare(weights, masks, amount=amount)
    return magnitude.largest_removed(w, m, global_count(amount, m))


def validate_prune_config(cfg: PruneConfig, model: nn.Module | None = None) -> None:
    """Checks a prune config (and, given the model, its layers) before any training.

    Raises:
        ConfigError: Unknown method or layer type, sparsity outside [0, 1), bad mode or
            rate, N:M with ``sparsity`` other than 0 or ``1 - n/m`` or in iterative mode,
            no prunable layer, N:M on a layer whose input dimension does not divide by m.
    """
    info = PRUNERS.get(cfg.method)
    round_amounts(cfg)
    layer_classes(cfg.layer_types)
    shapes = None
    if model is not None:
        layers = prunable_layers(model, cfg)
        shapes = {n: tuple(cast(torch.Tensor, mod.weight).shape) for n, mod in layers.items()}
    if info.check is not None:
        info.check(cfg, shapes)
