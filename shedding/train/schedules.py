"""Learning-rate schedules as pure functions of an explicit step (nanoGPT's ``get_lr``).

A schedule is a callable ``lr(step) -> float`` of the 0-based optimizer step of one phase.
It holds no state, so a resumed run asks for ``lr(step)`` and gets exactly what the
interrupted run would have used. Every schedule here is a small frozen dataclass (so it
pickles, compares and prints its parameters) built from a few shapes:

* ``constant``  — ``lr`` forever.
* ``multistep`` — ``lr · gamma^k`` after the k-th milestone step.
* ``cosine``    — ``lr`` until ``start_step``, half a cosine down to ``final`` at
  ``total_steps``, ``final`` afterwards.
* ``linear``    — the same with a straight line.

:class:`Warmup` overlays a linear warm-up on any of them, :class:`Shifted` replays a
schedule from an offset (LR rewinding) and :class:`Compressed` squeezes a schedule into a
shorter phase (SLR). Steps past a schedule's end hold its end value.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shedding.config import TrainConfig
from shedding.errors import ConfigError
from shedding.registry import Registry

#: An LR schedule: the LR of a 0-based step of one phase.
Schedule = Callable[[int], float]


@dataclass(frozen=True)
class Constant:
    """``lr`` at every step."""

    lr: float

    def __call__(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class MultiStep:
    """``lr · gamma^k`` where k = number of milestone steps ``<= step``."""

    lr: float
    milestones: tuple[int, ...]
    gamma: float

    def __call__(self, step: int) -> float:
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, step)


@dataclass(frozen=True)
class Cosine:
    """``lr`` up to ``start``, cosine annealing to ``final`` at ``total``, then ``final``."""

    lr: float
    total: int
    start: int = 0
    final: float = 0.0

    def __call__(self, step: int) -> float:
        if step <= self.start:
            return self.lr
        if step >= self.total:
            return self.final
        frac = (step - self.start) / (self.total - self.start)
        return self.final + 0.5 * (self.lr - self.final) * (1.0 + math.cos(math.pi * frac))


@dataclass(frozen=True)
class Linear:
    """``lr`` up to ``start``, a straight line to ``final`` at ``total``, then ``final``."""

    lr: float
    total: int
    start: int = 0
    final: float = 0.0

    def __call__(self, step: int) -> float:
        if step <= self.start:
            return self.lr
        if step >= self.total:
            return self.final
        frac = (step - self.start) / (self.total - self.start)
        return self.lr + (self.final - self.lr) * frac


@dataclass(frozen=True)
class Warmup:
    """Linear warm-up over the first ``steps`` steps, then ``inner``.

    The ramp is ``inner(steps) · (step + 1) / (steps + 1)`` (nanoGPT): it never starts at
    0 (a step at LR 0 is wasted), reaches ``inner(steps)`` exactly at step ``steps`` and
    is therefore continuous with the schedule it overlays.
    """

    inner: Schedule
    steps: int

    def __call__(self, step: int) -> float:
        if step < self.steps:
            return self.inner(self.steps) * (step + 1) / (self.steps + 1)
        return self.inner(step)


@dataclass(frozen=True)
class Shifted:
    """``inner(step + offset)``: replays a schedule from ``offset`` (LR rewinding)."""

    inner: Schedule
    offset: int

    def __call__(self, step: int) -> float:
        return self.inner(step + self.offset)


@dataclass(frozen=True)
class Compressed:
    """``scale · inner`` squeezed so that ``inner``'s ``inner_total`` steps fit in
    ``length`` steps starting at ``start`` (SLR's compressed original schedule).

    Before ``start`` it returns ``scale · inner(0)`` (callers overlay a warm-up there).
    """

    inner: Schedule
    start: int
    length: int
    inner_total: int
    scale: float = 1.0

    def __call__(self, step: int) -> float:
        rel = max(step - self.start, 0)
        return self.scale * self.inner(rel * self.inner_total // self.length)


def with_warmup(schedule: Schedule, steps: int) -> Schedule:
    """``schedule`` with a linear warm-up over its first ``steps`` steps (none if 0)."""
    if steps < 0:
        raise ConfigError(f"warm-up steps must be >= 0, got {steps}")
    return Warmup(schedule, steps) if steps else schedule


# --------------------------------------------------------------------------- registry

#: Schedule shapes. Each entry is called as
#: ``entry(lr, *, total_steps, start_step=0, milestones=(), gamma=0.1) -> Schedule``;
#: milestones are in steps; ``start_step`` is where a decay starts (after a warm-up).
SCHEDULES: Registry[Callable[..., Schedule]] = Registry("schedule")


@SCHEDULES.register("constant")
def constant(lr: float, *, total_steps: int, start_step: int = 0, **_: object) -> Schedule:
    """Constant ``lr``."""
    return Constant(lr)


@SCHEDULES.register("multistep")
def multistep(
    lr: float,
    *,
    total_steps: int,
    start_step: int = 0,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    **_: object,
) -> Schedule:
    """Step decay: multiply by ``gamma`` at each milestone step (absolute, not shifted)."""
    return MultiStep(lr, tuple(sorted(int(m) for m in milestones)), gamma)


@SCHEDULES.register("cosine")
def cosine(lr: float, *, total_steps: int, start_step: int = 0, **_: object) -> Schedule:
    """Cosine annealing from ``lr`` at ``start_step`` to 0 at ``total_steps``."""
    return Cosine(lr, total_steps, start_step)


@SCHEDULES.register("linear")
def linear(lr: float, *, total_steps: int, start_step: int = 0, **_: object) -> Schedule:
    """Linear decay from ``lr`` at ``start_step`` to 0 at ``total_steps``."""
    return Linear(lr, total_steps, start_step)


# --------------------------------------------------------------------------- dense phase


def _validate(train: TrainConfig, steps_per_epoch: int) -> None:
    if steps_per_epoch < 1:
        raise ConfigError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    if train.epochs < 1:
        raise ConfigError(f"train.epochs={train.epochs} must be >= 1")
    if not train.lr > 0:
        raise ConfigError(f"train.lr={train.lr} must be > 0")
    if not 0 <= train.warmup_epochs < train.epochs:
        raise ConfigError(
            f"train.warmup_epochs={train.warmup_epochs} must be in [0, train.epochs="
            f"{train.epochs}); use a shorter warm-up"
        )
    if not train.gamma > 0:
        raise ConfigError(f"train.gamma={train.gamma} must be > 0 (e.g. 0.1)")
    if any(m < 1 for m in train.milestones) or list(train.milestones) != sorted(train.milestones):
        raise ConfigError(
            f"train.milestones={list(train.milestones)} must be increasing epochs >= 1, "
            "e.g. [15, 23]"
        )


def build_schedule(train: TrainConfig, steps_per_epoch: int, *, warmup: bool = True) -> Schedule:
    """The dense phase's LR as a pure function of the 0-based step.

    Args:
        train: ``schedule`` names the shape; ``milestones`` are epochs; the first
            ``warmup_epochs`` (rounded to whole steps) ramp linearly up to the schedule.
            Multistep milestones stay at their absolute epochs; cosine and linear decay
            over the steps after the warm-up, reaching 0 at the end of ``train.epochs``.
        steps_per_epoch: Optimizer steps per epoch.
        warmup: False drops the warm-up and starts the decay at step 0 (SLR compresses
            this "core" schedule and puts its own warm-up in front).

    Raises:
        ConfigError: Unknown schedule name, non-positive LR, warm-up not shorter than
            training, milestones not increasing.
    """
    _validate(train, steps_per_epoch)
    builder = SCHEDULES.get(train.schedule)
    w = round(train.warmup_epochs * steps_per_epoch) if warmup else 0
    core = builder(
        train.lr,
        total_steps=train.epochs * steps_per_epoch,
        start_step=w,
        milestones=[m * steps_per_epoch for m in train.milestones],
        gamma=train.gamma,
    )
    return with_warmup(core, w)
