"""ALLR's adaptive start LR (Zimmer, Spiegel, Pokutta 2023) and the norm ratio it uses."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch


def _tensors(params: Mapping[str, torch.Tensor] | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    values = params.values() if isinstance(params, Mapping) else params
    return [p.detach() for p in values]


@torch.no_grad()
def norm_ratio(
    params_before: Mapping[str, torch.Tensor] | Iterable[torch.Tensor],
    params_after: Mapping[str, torch.Tensor] | Iterable[torch.Tensor],
) -> float:
    """d = sqrt(|‖θ‖² − ‖m⊙θ‖²|) / ‖θ‖ over ALL parameters (weights, biases, BN).

    Args:
        params_before: θ just before the prune (e.g. ``dict(model.named_parameters())``
            copied), as a name mapping or a sequence.
        params_after: m⊙θ just after it, same names/order.

    Returns:
        d in [0, 1]; 0.0 when ‖θ‖ = 0.

    Raises:
        ValueError: The two sides list different names or shapes.
    """
    if (
        isinstance(params_before, Mapping)
        and isinstance(params_after, Mapping)
        and list(params_before) != list(params_after)
    ):
        raise ValueError("norm_ratio: before/after name different parameters")
    before, after = _tensors(params_before), _tensors(params_after)
    if len(before) != len(after) or any(
        a.shape != b.shape for a, b in zip(after, before, strict=True)
    ):
        raise ValueError("norm_ratio: before/after differ in parameter count or shapes")
    # Elementwise differences first: unchanged entries cancel exactly, so the pruned share
    # survives even when it is ~1e-12 of ‖θ‖² (differencing two float sums would lose it).
    sq_before = sum(float(b.double().pow(2).sum()) for b in before)
    diff = sum(
        float((b.double().pow(2) - a.double().pow(2)).sum())
        for a, b in zip(after, before, strict=True)
    )
    if sq_before == 0:
        return 0.0
    return math.sqrt(abs(diff)) / math.sqrt(sq_before)


def allr_start_lr(
    *, max_lr: float, norm_ratio: float, round_fraction: float, epochs: int, dense_epochs: int
) -> float:
    """η₀ = clip(η_max · d / √s, [min(R/T, 1) · η_max, η_max]).

    With s = 0 (a control round that prunes nothing) d/√s is 0/0; η₀ is then the lower
    bound min(R/T, 1) · η_max, the value the formula tends to as the pruned share of the
    norm vanishes.
    """
    low = min(epochs / dense_epochs, 1.0) * max_lr
    if round_fraction <= 0:
        return low
    raw = max_lr * norm_ratio / math.sqrt(round_fraction)
    return min(max(raw, low), max_lr)
