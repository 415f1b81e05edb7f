"""The one callback interface through which recording, checkpointing, progress and
pruning bookkeeping attach to the training loop (open_lth's standard_callbacks pattern).

The loop calls, in order: ``on_phase_start`` once, then per step ``on_step_end``, per
epoch ``on_epoch_end`` (after evaluation), and ``on_phase_end`` once. Callbacks get the
live :class:`TrainContext` and must not change the model's weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainContext:
    """What the loop exposes to callbacks (mutable: the loop updates it in place).

    Attributes:
        model: The network being trained (unwrapped from DDP).
        optimizer: Its optimizer.
        phase: ``"dense"`` or ``"retrain"``.
        round: 0 for dense training, k for retraining after prune round k.
        epochs: Length of this phase in epochs.
        steps_per_epoch: Optimizer steps per epoch.
        epoch: Completed epochs in this phase (0 before the first epoch ends).
        step: Optimizer steps taken in this phase.
        lr: The LR used by the last step.
        loss: Training loss of the last step, as a 0-dim tensor (no host sync).
        metrics: Metrics of the last completed epoch (train/test loss and accuracy).
        state: Free slots for callbacks that must persist things across resume.
    """

    model: Any
    optimizer: Any
    phase: str
    round: int
    epochs: int
    steps_per_epoch: int
    epoch: int = 0
    step: int = 0
    lr: float = 0.0
    loss: Any = None
    metrics: dict[str, float] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def epoch_float(self) -> float:
        """Fractional epoch position of the current step."""
        return self.step / self.steps_per_epoch


class Callback:
    """Base class: override the hooks you need; all default to doing nothing."""

    def on_phase_start(self, ctx: TrainContext) -> None:
        """Called once before the first step of a phase (also after a resume)."""

    def on_step_end(self, ctx: TrainContext) -> None:
        """Called after every optimizer step (and the mask re-application)."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Called after every epoch, once ``ctx.metrics`` holds its evaluation."""

    def on_phase_end(self, ctx: TrainContext) -> None:
        """Called once after the last epoch of a phase."""


class EveryNSteps(Callback):
    """Calls ``fn(ctx)`` every ``n`` steps (``skip_epoch_end`` avoids doubling with epoch hooks)."""

    def __init__(
        self, n: int, fn: Callable[[TrainContext], None], *, skip_epoch_end: bool = True
    ) -> None:
        if n < 1:
            raise ValueError(f"EveryNSteps needs n >= 1, got {n}")
        self.n, self.fn, self.skip_epoch_end = n, fn, skip_epoch_end

    def on_step_end(self, ctx: TrainContext) -> None:
        if ctx.step % self.n:
            return
        if self.skip_epoch_end and ctx.step % ctx.steps_per_epoch == 0:
            return
        self.fn(ctx)


class EveryEpoch(Callback):
    """Calls ``fn(ctx)`` at the end of every ``n``-th epoch and of the last one."""

    def __init__(self, fn: Callable[[TrainContext], None], *, n: int = 1) -> None:
        self.fn, self.n = fn, n

    def on_epoch_end(self, ctx: TrainContext) -> None:
        if ctx.epoch % self.n == 0 or ctx.epoch == ctx.epochs:
            self.fn(ctx)


class CallbackList(Callback):
    """Dispatches every hook to a list of callbacks, in order."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_phase_start(self, ctx: TrainContext) -> None:
        for cb in self.callbacks:
            cb.on_phase_start(ctx)

    def on_step_end(self, ctx: TrainContext) -> None:
        for cb in self.callbacks:
            cb.on_step_end(ctx)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(ctx)

    def on_phase_end(self, ctx: TrainContext) -> None:
        for cb in self.callbacks:
            cb.on_phase_end(ctx)
