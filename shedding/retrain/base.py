"""What a retraining protocol produces (:class:`RetrainPlan`), what it is given
(:class:`RetrainContext`), and the protocol registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shedding.config import ExperimentConfig
from shedding.registry import Registry
from shedding.train.schedules import Schedule

#: Where retraining starts from.
INITS = ("final", "rewind", "reinit", "reduced")


@dataclass(frozen=True)
class RetrainPlan:
    """How to retrain after one prune round.

    Attributes:
        protocol: The protocol's registry name.
        epochs: Retraining epochs R of this round.
        init: "final" (m⊙θ_T, the weights at the prune event), "rewind" (m⊙θ at
            ``rewind_epoch`` of dense training), "reinit" (fresh initialisation, same
            mask) or "reduced" (a fresh dense network of matched size, no mask).
        rewind_epoch: Dense epoch whose checkpoint "rewind" loads; None otherwise.
        lr: LR as a pure function of the 0-based retraining step.
        start_lr: The schedule's anchor: its peak after the warm-up (LLR, ALLR's η₀, SLR,
            CLR), else its first value.
        warmup_steps: Length of the schedule's warm-up (0 if none).

    Every protocol starts from a fresh optimizer (no state carried over from dense
    training), as in Renda et al.
    """

    protocol: str
    epochs: int
    init: str
    rewind_epoch: int | None
    lr: Callable[[int], float]
    start_lr: float
    warmup_steps: int = 0


@dataclass(frozen=True)
class RetrainContext:
    """Everything a protocol needs, resolved once by ``plan_retraining``.

    Attributes:
        cfg: The experiment config.
        steps_per_epoch: Optimizer steps per epoch (dense and retraining alike).
        dense_epochs: T.
        epochs: R for the weight-keeping protocols (``retrain.epochs`` or T).
        dense_lr: The dense schedule η as a function of the dense step (with warm-up).
        core_lr: The dense schedule without its warm-up (what SLR compresses).
        max_lr: η_max (``retrain.max_lr`` or ``train.lr``).
        warmup_steps: ``round(warmup_fraction · R · steps_per_epoch)``.
        round_fraction: s, the fraction of the remaining weights pruned this round.
        norm_ratio: d = sqrt(|‖θ‖² − ‖m⊙θ‖²|) / ‖θ‖ over all parameters.
        rewind_epoch: WR's rewind epoch e (None for other protocols).
    """

    cfg: ExperimentConfig
    steps_per_epoch: int
    dense_epochs: int
    epochs: int
    dense_lr: Schedule
    core_lr: Schedule
    max_lr: float
    warmup_steps: int
    round_fraction: float
    norm_ratio: float
    rewind_epoch: int | None = None

    def lr_at_epoch(self, epoch: int) -> float:
        """η(epoch): the dense LR at the first step of ``epoch``."""
        return self.dense_lr(epoch * self.steps_per_epoch)


#: Retraining protocols: ``entry(ctx: RetrainContext) -> RetrainPlan``.
PROTOCOLS: Registry[Callable[[RetrainContext], RetrainPlan]] = Registry("protocol")
