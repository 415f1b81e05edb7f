"""One prune round: prune the effective weights, record the event and the shedding
reference, rebuild the weights the retraining protocol asks for, and a fresh optimizer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from shedding.config import ExperimentConfig
from shedding.dense import DensePhase
from shedding.pruning import amount_to_reach, gmp_threshold, prune, round_targets
from shedding.pruning.masks import MaskSet
from shedding.retrain import norm_ratio, plan_retraining
from shedding.train.distributed import DistInfo, broadcast_masks
from shedding.train.optim import build_optimizer


def prune_round(
    cfg: ExperimentConfig,
    k: int,
    amount: float,
    *,
    model: nn.Module,
    masks: MaskSet | None,
    dense: DensePhase,
    info: DistInfo,
    writer: Any,
    steps_per_epoch: int,
    offset: float,
    new_model: Any,
) -> tuple[Any, torch.optim.Optimizer, float, float]:
    """Prunes round ``k``, records the event, and prepares weights + optimizer.

    Returns:
        The retraining plan, a fresh optimizer, the fraction s of the remaining weights
        actually pruned, and the norm ratio d (both feed ALLR).
    """
    if masks is None:  # reduced network: nothing to prune, train from scratch
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
                    "protocol": "reduced",
                    "width": cfg.model.width,
                }
            )
            writer.set_reference(layer_rms={}, gmp_threshold=None)
        return plan, build_optimizer(model, cfg.train, lr=plan.start_lr), amount, 1.0
    before = [p.detach().clone() for p in model.parameters()]
    weights = masks.effective_weights()
    old = {n: m.clone() for n, m in masks.masks.items()}
    gen = torch.Generator().manual_seed(cfg.seed * 7_919 + k)
    if amount > 0 and cfg.prune.method not in ("l1_filter", "nm"):
        # Aim at the cumulative target so rounding never drifts over many rounds.
        amount = amount_to_reach(old, round_targets(cfg.prune)[k - 1])
    threshold = gmp_threshold(weights, old, amount=amount) if amount > 0 else None
    if amount > 0:
        new = prune(cfg.prune.method, weights, old, amount=amount, cfg=cfg.prune, generator=gen)
        broadcast_masks(new, info)
        masks.update_(new)
    masks.apply_()
    d = norm_ratio(before, [p.detach() for p in model.parameters()])
    # The shedding reference is taken at the prune event, before any rewind/re-init.
    eff = masks.effective_weights()
    per_layer: dict[str, dict[str, float]] = {}
    layer_rms: dict[str, float] = {}
    for n, m in masks.masks.items():
        kept = int(m.sum())
        rms = float(eff[n][m].pow(2).mean().sqrt()) if kept else 0.0
        layer_rms[n] = rms
        per_layer[n] = {"pruned": int((old[n] & ~m).sum()), "kept": kept, "rms_kept": rms}
    plan = plan_retraining(
        cfg, steps_per_epoch=steps_per_epoch, round_fraction=amount, norm_ratio=d
    )
    if plan.init == "rewind":
        model.load_state_dict(dense.state_at_epoch(plan.rewind_epoch))
    elif plan.init == "reinit":
        fresh = new_model(seed_offset=104_729 * k)
        model.load_state_dict(fresh.state_dict())
    masks.apply_()
    optimizer = build_optimizer(model, cfg.train, lr=plan.start_lr)
    masks.zero_optimizer_state_(optimizer)
    if writer is not None:
        writer.log_event(
            {
                "round": k,
                "epoch": offset,
                "method": cfg.prune.method,
                "amount": amount,
                "sparsity": masks.sparsity(),
                "gmp_threshold": threshold,
                "protocol": plan.protocol,
                "start_lr": plan.start_lr,
                "norm_ratio": d,
                "init": plan.init,
                "rewind_epoch": plan.rewind_epoch,
                "per_layer": per_layer,
            }
        )
        recorded = set(writer.layer_names)  # record.layers may record only some layers
        refs = {n: v for n, v in layer_rms.items() if n in recorded}
        writer.set_reference(layer_rms=refs, gmp_threshold=threshold)
    return plan, optimizer, amount, d
