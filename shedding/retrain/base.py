"""What a retraining protocol produces (:class:`RetrainPlan`), what it is given
(:class:`RetrainContext`), and the protocol registry, whose entries carry the protocol's
traits (:class:`ProtocolInfo`) so that no other module keeps lists of protocol names."""

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
        max_lr: η_max (``retrain.max_lr``, else ``retrain.lr``, else ``train.lr``).
        ref_lr: The peak of the reference schedule (``retrain.lr`` or ``train.lr``);
            ``dense_lr`` and ``core_lr`` are the dense schedule rescaled to it.
        warmup_steps: ``round(warmup_fraction · R · steps_per_epoch)``.
        round_fraction: s, the fraction of the remaining weights pruned this round.
        norm_ratio: d = sqrt(|‖θ‖² − ‖m⊙θ‖²|) / ‖θ‖ (over ``retrain.allr_norm``).
        rewind_epoch: WR's rewind epoch e (None for other protocols).
    """

    cfg: ExperimentConfig
    steps_per_epoch: int
    dense_epochs: int
    epochs: int
    dense_lr: Schedule
    core_lr: Schedule
    max_lr: float
    ref_lr: float
    warmup_steps: int
    round_fraction: float
    norm_ratio: float
    rewind_epoch: int | None = None

    def lr_at_epoch(self, epoch: int) -> float:
        """η(epoch): the dense LR at the first step of ``epoch``."""
        return self.dense_lr(epoch * self.steps_per_epoch)


@dataclass(frozen=True)
class ProtocolInfo:
    """A retraining protocol and the facts about it that the rest of the toolkit needs.

    Attributes:
        plan: ``plan(ctx) -> RetrainPlan``; calling the info calls it.
        init: Where retraining starts (one of :data:`INITS`).
        has_control: Whether an unpruned control isolates pruning's effect (False for
            protocols that change the initialisation or the architecture).
        full_length: Trains the dense length T whatever ``retrain.epochs`` says.
        changes_architecture: Trains another network (no mask on the dense one).
        oneshot_only: Refuses iterative pruning.
    """

    plan: Callable[[RetrainContext], RetrainPlan]
    init: str
    has_control: bool = True
    full_length: bool = False
    changes_architecture: bool = False
    oneshot_only: bool = False

    def __call__(self, ctx: RetrainContext) -> RetrainPlan:
        return self.plan(ctx)


#: Retraining protocols, each a :class:`ProtocolInfo`.
PROTOCOLS: Registry[ProtocolInfo] = Registry("protocol")


def protocol(
    name: str,
    *,
    init: str,
    has_control: bool = True,
    full_length: bool = False,
    changes_architecture: bool = False,
    oneshot_only: bool = False,
) -> Callable[[Callable[[RetrainContext], RetrainPlan]], Callable[[RetrainContext], RetrainPlan]]:
    """Decorator registering a plan function under ``name`` with its traits.

    Example:
        >>> @protocol("toy", init="final")
        ... def toy(ctx): ...
    """
    if init not in INITS:
        raise ValueError(f"protocol {name!r}: init {init!r} is not one of {INITS}")

    def add(fn: Callable[[RetrainContext], RetrainPlan]) -> Callable[[RetrainContext], RetrainPlan]:
        info = ProtocolInfo(fn, init, has_control, full_length, changes_architecture, oneshot_only)
        PROTOCOLS.add(name, info)
        return fn

    return add
