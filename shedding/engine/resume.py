"""Where an interrupted run stands, and which run files a new run may touch.

A run writes ``<work dir>/checkpoint.pt`` at every prune event and at the end of an epoch
once ``record.checkpoint_every_s`` seconds (default 30; 0: every epoch) have passed since
the last one: the model, optimizer and mask state, the round, epoch, step and LR, how many
snapshots the run file had committed, and what later rounds need to be re-planned
exactly (ALLR's inputs, the harvest's shedding reference). ``--resume`` continues from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shedding.errors import CheckpointError
from shedding.train import checkpoint as ckpt


@dataclass
class RoundHistory:
    """What the rounds so far leave to the next ones (stored in every checkpoint).

    Attributes:
        plan_inputs: (s, d) of every round: the fraction pruned and ALLR's norm ratio.
        references: The shedding reference (layer -> kept RMS) every round set.
    """

    plan_inputs: list[tuple[float, float]] = field(default_factory=list)
    references: list[dict[str, float]] = field(default_factory=list)

    def last_reference(self) -> dict[str, float] | None:
        return self.references[-1] if self.references else None

    def as_extra(self) -> dict[str, Any]:
        """The checkpoint entries (the lists themselves: later rounds append to them)."""
        return {"plan_inputs": self.plan_inputs, "references": self.references}


@dataclass
class ResumeState:
    """A run's checkpoint, read back.

    Attributes:
        round: The round the checkpoint was written in (1-based).
        epoch, step, lr: Where in that round.
        model, optimizer, masks: State dicts (``masks`` None without a mask).
        n_committed: Snapshots the run file had committed when it was written.
        history: The rounds' (s, d) and references up to and including ``round``.
    """

    round: int
    epoch: int
    step: int
    lr: float
    model: dict[str, Any]
    optimizer: dict[str, Any]
    masks: dict[str, Any] | None
    n_committed: int
    history: RoundHistory

    @classmethod
    def load(cls, path: Path) -> ResumeState:
        s = ckpt.load(path)
        history = RoundHistory(list(s["plan_inputs"]), list(s.get("references", [])))
        return cls(
            s["round"], s["epoch"], s["step"], s["lr"], s["model"], s["optimizer"],
            s["masks"], s["n_committed"], history,
        )  # fmt: skip

    def finished(self, k: int) -> bool:
        """Round ``k`` ended before the checkpoint was written."""
        return self.round > k


def check_run_files(path: Path, checkpoint: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuses to start over an existing run file unless told to resume or overwrite it.

    Raises:
        CheckpointError: The run file exists without ``resume``/``overwrite``, or
            ``resume`` of a run that is already complete.
    """
    if path.exists() and not (resume or overwrite):
        raise CheckpointError(
            f"run file {path} already exists; pass --resume to continue it or "
            "--overwrite to start it again"
        )
    if resume and path.exists() and not checkpoint.exists():
        from tracking import open_run

        with open_run(path) as r:
            if r.status == "complete":
                raise CheckpointError(f"run {path.name} is already complete; nothing to resume")
