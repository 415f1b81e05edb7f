"""N:M semi-structured pruning by magnitude (e.g. 2:4, the pattern sparse tensor cores
accelerate).

Groups are ``m`` consecutive *input* channels at a fixed output channel and kernel
position (NVIDIA ASP's layout): a weight of shape (C_out, C_in, *k) is viewed as
(C_out, *k, C_in) and C_in is cut into groups of ``m``. In each group the ``n`` kept
weights of largest ``|w|`` stay (ties: lower index), so every group ends with at most
``n`` kept weights and a dense layer ends at sparsity exactly ``1 - n/m``. The pattern
fixes the count, so the round's ``amount`` only switches the pruner on (0 = control run);
``validate_prune_config`` requires ``sparsity = 1 - n/m`` and one-shot mode.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from shedding.config import PruneConfig
from shedding.errors import ConfigError
from shedding.pruning.base import Masks, pruner


def check_nm(shapes: Mapping[str, tuple[int, ...]], cfg: PruneConfig) -> None:
    """Raises ConfigError unless ``0 < n < m`` and every layer's input dimension divides
    by ``m``.

    Args:
        shapes: Layer name -> weight shape.
        cfg: ``n`` and ``m``.
    """
    if not 0 < cfg.n < cfg.m:
        raise ConfigError(f"prune.n={cfg.n}, prune.m={cfg.m}: N:M needs 0 < n < m, e.g. 2:4")
    for name, shape in shapes.items():
        if len(shape) < 2 or shape[1] % cfg.m:
            got = shape[1] if len(shape) >= 2 else "no input dimension"
            raise ConfigError(
                f"prune.method='nm' groups m={cfg.m} consecutive input channels, but layer "
                f"{name!r} (weight shape {tuple(shape)}) has {got}, not divisible by "
                f"{cfg.m}; set prune.prune_first=false / prune.prune_last=false to skip "
                "it, or pick an m that divides it"
            )


def check_nm_config(cfg: PruneConfig, shapes: Mapping[str, tuple[int, ...]] | None) -> None:
    """N:M removes exactly ``1 - n/m`` in one round; every layer's input must divide by m.

    Raises:
        ConfigError: ``n``/``m`` out of range, a sparsity other than 0 or ``1 - n/m``, an
            iterative mode, or (given ``shapes``) a layer whose input does not divide by m.
    """
    if not 0 < cfg.n < cfg.m:
        raise ConfigError(f"prune.n={cfg.n}, prune.m={cfg.m}: N:M needs 0 < n < m")
    target = 1 - cfg.n / cfg.m
    if cfg.sparsity != 0 and (abs(cfg.sparsity - target) > 1e-9 or cfg.mode != "oneshot"):
        raise ConfigError(
            f"prune.method='nm' with n={cfg.n}, m={cfg.m} removes exactly {target:g} of "
            f"the weights in one round; set prune.sparsity={target!r} and "
            f"prune.mode='oneshot' (got sparsity={cfg.sparsity}, mode={cfg.mode!r})"
        )
    if shapes is not None:
        check_nm(shapes, cfg)


def _groups(t: torch.Tensor, m: int) -> torch.Tensor:
    # (C_out, C_in, *k) -> (C_out, *k, C_in) -> (G, m): m consecutive input channels
    return t.movedim(1, -1).reshape(-1, m)


def _ungroup(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    moved = (shape[0], *shape[2:], shape[1])
    return g.reshape(moved).movedim(-1, 1).contiguous()


@pruner("nm", cumulative_target=False, check=check_nm_config)
def nm(
    weights: Masks, masks: Masks, *, amount: float, cfg: PruneConfig, generator: torch.Generator
) -> Masks:
    """Keeps the ``n`` largest kept weights of every group of ``m`` input channels."""
    check_nm({k: tuple(v.shape) for k, v in weights.items()}, cfg)
    out: Masks = {}
    for name, m in masks.items():
        mg = _groups(m, cfg.m)  # (G, m) bool
        # pruned entries score -1 < any |w|, so they are never among the n chosen
        # unless the group has fewer than n kept, and then the AND below drops them.
        score = torch.where(mg, _groups(weights[name], cfg.m).abs(), -1.0)
        order = torch.argsort(score, dim=1, descending=True, stable=True)
        keep = torch.zeros_like(mg)
        keep.scatter_(1, order[:, : cfg.n], True)
        out[name] = _ungroup(keep & mg, m.shape)
    return out
