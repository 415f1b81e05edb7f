"""Width matching for the ``reduced`` protocol (Crowley et al. 2018): a dense network
whose prunable parameter count equals the pruned network's kept count."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from torch import Tensor, nn

from shedding.config import PruneConfig
from shedding.errors import ConfigError
from shedding.pruning.prunable import prunable_layers


def prunable_count(model: nn.Module, cfg: PruneConfig | None = None) -> int:
    """Number of prunable weights of ``model`` (default: conv and linear weights)."""
    layers = prunable_layers(model, cfg or PruneConfig())
    return sum(int(cast(Tensor, m.weight).numel()) for m in layers.values())


def match_width(
    build: Callable[[float], nn.Module],
    target_params: int,
    *,
    count: Callable[[nn.Module], int] | None = None,
    tol: float = 1e-4,
    max_width: float = 64.0,
) -> float:
    """The width multiplier whose dense network has ``target_params`` prunable weights.

    Bisection on ``w``: ``count(build(w))`` grows with ``w`` in steps (channel counts are
    rounded), so an exact match may not exist; the width whose count is closest to the
    target is returned (the smaller width on a tie).

    Args:
        build: Width multiplier -> network (e.g. ``lambda w: build_model(cfg, width=w)``).
        target_params: Kept prunable weights of the pruned network.
        count: Model -> parameter count to match (default :func:`prunable_count`).
        tol: Stop when the bracket is narrower than this.
        max_width: Largest width tried when growing the bracket.

    Raises:
        ConfigError: ``target_params`` < 1 or not reachable below ``max_width``.
    """
    if target_params < 1:
        raise ConfigError(f"target_params={target_params} must be >= 1 for a reduced network")
    count_fn = count or prunable_count
    seen: dict[float, int] = {}

    def n(w: float) -> int:
        if w not in seen:
            seen[w] = count_fn(build(w))
        return seen[w]

    lo, hi = 0.0, 1.0
    while n(hi) < target_params:
        lo, hi = hi, hi * 2
        if hi > max_width:
            raise ConfigError(
                f"no width up to {max_width} reaches {target_params} prunable parameters"
            )
    while hi - lo > tol and n(hi) != target_params:
        mid = (lo + hi) / 2
        try:
            below = n(mid) < target_params
        except (RuntimeError, ValueError, ConfigError):
            below = True  # too thin to build (a zero-width layer): treat as too small
        if below:
            lo = mid
        else:
            hi = mid
    return min(seen, key=lambda w: (abs(seen[w] - target_params), w))
