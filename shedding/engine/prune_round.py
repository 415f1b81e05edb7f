"""One prune round: prune the effective weights, record the event and the shedding
reference, rebuild the weights the retraining protocol asks for, and a fresh optimizer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from shedding.config import ExperimentConfig
from shedding.engine.dense import DensePhase
from shedding.pruning import PRUNERS, amount_to_reach, gmp_threshold, prune, round_targets
from shedding.pruning.masks import MaskSet
from shedding.retrain import norm_ratio, plan_retraining
from shedding.retrain.base import RetrainPlan
from shedding.retrain.optimizer import build_retrain_optimizer
from shedding.train.distributed import DistInfo, broadcast_masks

#: The default shedding rule's constant: shed = |w| < DEFAULT_C · reference RMS.
DEFAULT_C = 0.01


@dataclass(frozen=True)
class RoundStart:
    """What a prune round hands to retraining.

    Attributes:
        plan: The retraining plan.
        optimizer: A fresh optimizer (pruned entries' state zeroed).
        amount: s, the fraction of the remaining weights actually pruned (harvest included).
        norm_ratio: d (ALLR's input).
        reference: Layer -> kept-weight RMS set as the shedding reference.
    """

    plan: RetrainPlan
    optimizer: torch.optim.Optimizer
    amount: float
    norm_ratio: float
    reference: dict[str, float]


def norm_params(model: nn.Module, masks: MaskSet, cfg: ExperimentConfig) -> list[torch.Tensor]:
    """The parameters ALLR's norm ratio d is taken over: the effective prunable weights, or
    every parameter with ``retrain.allr_norm = "all"`` (copies: compared before / after)."""
    if cfg.retrain.allr_norm == "all":
        return [p.detach().clone() for p in model.parameters()]
    return list(masks.effective_weights().values())


@torch.no_grad()
def shed_masks(masks: MaskSet, reference: Mapping[str, float] | None) -> dict[str, torch.Tensor]:
    """Kept weights that the default rule calls shed: float16 |w| < float32(c · RMS).

    The comparison is the one the run file's statistics make (float16-rounded magnitudes,
    a float32 threshold, strict <), so a harvested weight is exactly one the file counted
    as shed. ``reference`` None (before the first prune event) uses each layer's own kept
    RMS, as the recorder does during dense training.
    """
    out: dict[str, torch.Tensor] = {}
    for name, w in masks.effective_weights().items():
        m = masks.masks[name]
        if reference is None:
            kept = w[m]
            rms = float(kept.double().pow(2).mean().sqrt()) if kept.numel() else 0.0
        else:
            rms = reference[name]
        tau = torch.tensor(DEFAULT_C, dtype=torch.float32) * torch.tensor(rms, dtype=torch.float32)
        out[name] = m & (w.abs().half().float() < tau)
    return out


def _round_amount(cfg: ExperimentConfig, k: int, amount: float, base: Mapping) -> float:
    """The fraction of the weights kept in ``base`` this round removes."""
    if amount <= 0 or not PRUNERS.get(cfg.prune.method).cumulative_target:
        return amount
    if cfg.prune.harvest and cfg.prune.mode == "iterative":
        # Harvested weights count: prune `rate` of what is left, never past the target.
        return min(cfg.prune.rate, amount_to_reach(base, cfg.prune.sparsity))
    # Aim at the cumulative target so rounding never drifts over many rounds.
    return amount_to_reach(base, round_targets(cfg.prune)[k - 1])


def prune_round(
    cfg: ExperimentConfig,
    k: int,
    amount: float,
    *,
    model: nn.Module,
    masks: MaskSet,
    dense: DensePhase,
    info: DistInfo,
    writer: Any,
    steps_per_epoch: int,
    offset: float,
    new_model: Any,
    reference: Mapping[str, float] | None = None,
) -> RoundStart:
    """Prunes round ``k``, records the event, and prepares weights + optimizer.

    Args:
        reference: The shedding reference in force before this round (the previous
            round's), used by ``prune.harvest``; None before the first round.
    """
    before = norm_params(model, masks, cfg)
    weights = masks.effective_weights()
    old = {n: m.clone() for n, m in masks.masks.items()}
    harvested = {n: torch.zeros_like(m) for n, m in old.items()}
    if cfg.prune.harvest and amount > 0:
        harvested = shed_masks(masks, reference)
        masks.update_({n: m & ~harvested[n] for n, m in old.items()})
    base = {n: m.clone() for n, m in masks.masks.items()}
    gen = torch.Generator().manual_seed(cfg.seed * 7_919 + k)
    amount = _round_amount(cfg, k, amount, base)
    threshold = gmp_threshold(weights, base, amount=amount) if amount > 0 else None
    if amount > 0:
        new = prune(cfg.prune.method, weights, base, amount=amount, cfg=cfg.prune, generator=gen)
        broadcast_masks(new, info)
        masks.update_(new)
    masks.apply_()
    d = norm_ratio(before, norm_params(model, masks, cfg))
    n_old = sum(int(m.sum()) for m in old.values())
    s = (n_old - masks.n_kept()) / n_old if n_old else 0.0
    plan = plan_retraining(cfg, steps_per_epoch=steps_per_epoch, round_fraction=s, norm_ratio=d)
    if plan.init == "rewind" and plan.rewind_epoch is not None:
        model.load_state_dict(dense.state_at_epoch(plan.rewind_epoch))
    elif plan.init == "reinit":
        fresh = new_model(seed_offset=104_729 * k)
        model.load_state_dict(fresh.state_dict())
    masks.apply_()
    # The shedding reference is the kept weights retraining starts from (after a rewind or
    # re-initialisation), so that shed-at-prune and every later count share one scale.
    per_layer, layer_rms = _per_layer(masks, old, harvested)
    optimizer = build_retrain_optimizer(model, cfg, lr=plan.start_lr)
    masks.zero_optimizer_state_(optimizer)
    if writer is not None:
        event = {
            "round": k,
            "epoch": offset,
            "method": cfg.prune.method,
            "amount": s,
            "sparsity": masks.sparsity(),
            "gmp_threshold": threshold,
            "protocol": plan.protocol,
            "start_lr": plan.start_lr,
            "norm_ratio": d,
            "init": plan.init,
            "rewind_epoch": plan.rewind_epoch,
            "harvested": sum(int(h.sum()) for h in harvested.values()),
            "per_layer": per_layer,
        }
        _record_event(writer, event, layer_rms, threshold)
    return RoundStart(plan, optimizer, s, d, layer_rms)


def _per_layer(
    masks: MaskSet, old: Mapping[str, torch.Tensor], harvested: Mapping[str, torch.Tensor]
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per layer: pruned, harvested and kept counts with the kept RMS; and the RMS alone."""
    eff = masks.effective_weights()
    per_layer: dict[str, dict[str, float]] = {}
    layer_rms: dict[str, float] = {}
    for n, m in masks.masks.items():
        kept = int(m.sum())
        rms = float(eff[n][m].pow(2).mean().sqrt()) if kept else 0.0
        layer_rms[n] = rms
        per_layer[n] = {
            "pruned": int((old[n] & ~m).sum()),
            "harvested": int(harvested[n].sum()),
            "kept": kept,
            "rms_kept": rms,
        }
    return per_layer, layer_rms


def _record_event(
    writer: Any, event: dict[str, Any], layer_rms: Mapping[str, float], threshold: float | None
) -> None:
    """Logs the prune event and sets the shedding reference of the recorded layers."""
    writer.log_event(event)
    recorded = set(writer.layer_names)  # record.layers may record only some layers
    refs = {n: v for n, v in layer_rms.items() if n in recorded}
    writer.set_reference(layer_rms=refs, gmp_threshold=threshold)


def reduced_round(
    cfg: ExperimentConfig,
    k: int,
    amount: float,
    *,
    model: nn.Module,
    writer: Any,
    steps_per_epoch: int,
    offset: float,
) -> RoundStart:
    """The one round of a protocol that trains another (smaller, dense) network."""
    plan = plan_retraining(
        cfg, steps_per_epoch=steps_per_epoch, round_fraction=amount, norm_ratio=1.0
    )
    if writer is not None:
        writer.log_event(
            {
                "round": k,
                "epoch": offset,
                "method": "reduced",
                "amount": amount,
                "protocol": cfg.retrain.protocol,
                "width": cfg.model.width,
            }
        )
        writer.set_reference(layer_rms={}, gmp_threshold=None)
    return RoundStart(plan, build_retrain_optimizer(model, cfg, lr=plan.start_lr), amount, 1.0, {})
