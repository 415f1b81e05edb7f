"""The training loop: small on purpose; everything else attaches through callbacks.

One call trains one *phase* (dense training, or the retraining after one prune round)
for ``ctx.epochs`` epochs from ``start_epoch``. The LR is a pure function of the phase
step, set before every step. When a :class:`~shedding.pruning.masks.MaskSet` is given the
three-part mask enforcement (docs/definitions.md) runs around every step: gradients are masked
before ``optimizer.step()`` and weights after it (the optimizer state was zeroed at prune
time), so pruned weights stay exactly 0.0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from shedding.train.callbacks import Callback, TrainContext
from shedding.train.distributed import SINGLE_PROCESS, DistInfo, all_reduce_sum


class Batches(Protocol):
    """Anything that yields a phase's deterministic batches (see shedding.train.batches)."""

    def __len__(self) -> int: ...

    def epoch(self, key: int, epoch: int) -> Any: ...


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    # AMP only on GPU: bf16 autocast needs no loss scaling; CPU stays in float32 so runs
    # are bit-exact and resumable on the 2-core reference machine.
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Batches, device: torch.device, dist_info: DistInfo = SINGLE_PROCESS
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` over ``batches`` (key 0, epoch 0)."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    for x, y in batches.epoch(0, 0):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(device):
            out = model(x)
        totals[0] += F.cross_entropy(out.float(), y, reduction="sum")
        totals[1] += (out.argmax(1) == y).sum()
        totals[2] += y.numel()
    all_reduce_sum(totals, dist_info)
    loss_sum, correct, count = totals.tolist()
    return loss_sum / max(count, 1), correct / max(count, 1)


def train_phase(
    ctx: TrainContext,
    *,
    forward_model: nn.Module,
    train_batches: Batches,
    test_batches: Batches,
    lr_fn: Callable[[int], float],
    callback: Callback,
    device: torch.device,
    data_key: int,
    masks: Any | None = None,
    start_epoch: int = 0,
    dist_info: DistInfo = SINGLE_PROCESS,
    eval_every: int = 1,
) -> None:
    """Trains ``ctx.model`` for epochs ``start_epoch .. ctx.epochs - 1`` of one phase.

    Args:
        ctx: Phase context; ``ctx.step``/``ctx.epoch`` must match ``start_epoch`` on resume.
        forward_model: The module to call (``ctx.model`` or its DDP wrapper).
        train_batches: Training batches; epoch ``e`` of key ``data_key`` is deterministic.
        test_batches: Evaluation batches, evaluated after every ``eval_every``-th epoch and
            after the last; the other epochs report NaN test loss and accuracy.
        lr_fn: LR as a pure function of the phase step.
        callback: Hooks (usually a CallbackList).
        device: Where to compute.
        data_key: Distinguishes the data order of phases (dense, round 1, ...).
        masks: A MaskSet to enforce, or None for dense training.
        start_epoch: First epoch to train (for resume).
        dist_info: Rank/world under DDP.
        eval_every: Evaluation cadence in epochs (evaluation changes no training state, so
            the weights are the same for every cadence).
    """
    optimizer = ctx.optimizer
    callback.on_phase_start(ctx)
    for epoch in range(start_epoch, ctx.epochs):
        forward_model.train()
        # Accumulated on device and read once per epoch: no host sync per step.
        sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss*n, correct, n
        for x, y in train_batches.epoch(data_key, epoch):
            lr = lr_fn(ctx.step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with _autocast(device):
                out = forward_model(x)
                loss = F.cross_entropy(out.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if masks is not None:
                masks.mask_grads_()
            optimizer.step()
            if masks is not None:
                masks.apply_()
            ctx.step += 1
            ctx.lr = lr
            ctx.loss = loss.detach()
            with torch.no_grad():
                sums[0] += ctx.loss * y.numel()
                sums[1] += (out.argmax(1) == y).sum()
                sums[2] += y.numel()
            callback.on_step_end(ctx)
        all_reduce_sum(sums, dist_info)
        loss_sum, correct, count = sums.tolist()
        test_loss = test_acc = float("nan")
        if (epoch + 1) % eval_every == 0 or epoch + 1 == ctx.epochs:
            test_loss, test_acc = evaluate(forward_model, test_batches, device, dist_info)
        ctx.epoch = epoch + 1
        ctx.metrics = {
            "train_loss": loss_sum / max(count, 1),
            "train_acc": correct / max(count, 1),
            "test_loss": test_loss,
            "test_acc": test_acc,
        }
        callback.on_epoch_end(ctx)
    callback.on_phase_end(ctx)
