"""A tqdm progress bar per phase with loss, accuracy and LR."""

from __future__ import annotations

import math
import sys

from tqdm.auto import tqdm

from shedding.train.callbacks import Callback, TrainContext


class ProgressBar(Callback):
    """Shows one bar per phase; refreshes the loss at most every ``every`` steps.

    Reading the loss forces a host sync, so it is done sparsely, not per step. ``acc`` is
    the test accuracy of the last evaluated epoch ("-" before the first one; with
    ``train.eval_every`` > 1 the epochs between evaluations have none).
    """

    def __init__(self, *, label: str = "", every: int = 10, enabled: bool = True) -> None:
        self.label, self.every, self.enabled = label, every, enabled
        self.bar: tqdm | None = None
        self.acc = "-"

    def on_phase_start(self, ctx: TrainContext) -> None:
        if not self.enabled:
            return
        name = "dense" if ctx.phase == "dense" else f"round {ctx.round}"
        self.acc = "-"
        self.bar = tqdm(
            total=ctx.epochs * ctx.steps_per_epoch,
            initial=ctx.step,
            desc=f"{self.label}{name}",
            unit="step",
            file=sys.stderr,
            mininterval=0.5,
            dynamic_ncols=True,
            leave=True,
        )

    def on_step_end(self, ctx: TrainContext) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        if ctx.step % self.every == 0:
            self.bar.set_postfix(
                loss=f"{ctx.loss.item():.3f}",
                acc=self.acc,
                lr=f"{ctx.lr:.2e}",
                refresh=False,
            )

    def on_epoch_end(self, ctx: TrainContext) -> None:
        acc = ctx.metrics.get("test_acc")
        if acc is not None and math.isfinite(acc):
            self.acc = f"{acc:.3f}"

    def on_phase_end(self, ctx: TrainContext) -> None:
        if self.bar is not None:
            self.on_epoch_end(ctx)
            self.bar.set_postfix(
                loss=f"{ctx.metrics.get('train_loss', float('nan')):.3f}",
                acc=self.acc,
                lr=f"{ctx.lr:.2e}",
            )
            self.bar.close()
            self.bar = None
