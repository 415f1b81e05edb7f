"""Atomic checkpoints: a file is either the old complete one or the new complete one.

``torch.save`` to a temporary file in the same directory, fsync, then ``os.replace``:
a SIGKILL at any moment leaves the previous checkpoint intact, which is what lets
``--resume`` continue from the last completed epoch.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.utils.deterministic

from shedding.errors import CheckpointError
from shedding.train.callbacks import Callback, TrainContext


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """Writes ``payload`` with torch.save atomically (tmp file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path) -> dict[str, Any]:
    """Loads a checkpoint written by :func:`save_atomic`; raises CheckpointError if unusable."""
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; run without --resume to start over"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a half-written foreign file, a torch version mismatch, ...
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(e).__name__}: {e}); "
            "delete it to restart that phase from scratch"
        ) from None


def rng_state() -> dict[str, Any]:
    """Global RNG states (python, numpy, torch CPU and CUDA) for exact resumption."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores what :func:`rng_state` captured."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seeds python, numpy and torch; deterministic algorithms where torch offers them.

    Deterministic mode would also fill every new tensor with NaN
    (``torch.utils.deterministic.fill_uninitialized_memory``), a guard against ops that
    read memory they did not write. No op of a run does, so the results are the same
    without it, and the fill costs about 5% of a CPU training step when two runs share
    the cores (13.95 against 14.65 ms, docs/benchmarks.md): it is turned off.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]


class Cadence:
    """Whether a checkpoint is due at an epoch end: once ``every_s`` seconds have passed
    since the last one (0: always)."""

    def __init__(self, every_s: float = 0.0) -> None:
        self.every_s = every_s
        self.last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every_s

    def saved(self) -> None:
        self.last = time.monotonic()


class EpochCheckpoint(Callback):
    """Saves everything needed to resume the current round: at the end of an epoch once
    ``every_s`` seconds have passed since the last save (0: after every epoch), and when
    :meth:`save` is called (at a prune event).

    Args:
        path: Checkpoint file (written atomically).
        masks: The MaskSet in force, or None.
        writer: The run's RunWriter (flushed first: the checkpoint is never ahead of the
            run file), or None.
        extra: More entries to store (e.g. ALLR's per-round inputs).
        every_s: Seconds between epoch-end checkpoints.
    """

    def __init__(
        self, path: Path, masks: Any, writer: Any, extra: dict[str, Any], every_s: float = 0.0
    ) -> None:
        self.path, self.masks, self.writer, self.extra = path, masks, writer, extra
        self.cadence = Cadence(every_s)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        if self.cadence.due():
            self.save(ctx)

    def save(self, ctx: TrainContext) -> None:
        if self.writer is not None:
            self.writer.flush()  # the checkpoint must never be ahead of the run file
        save_atomic(
            {
                **self.extra,
                "round": ctx.round,
                "epoch": ctx.epoch,
                "step": ctx.step,
                "lr": ctx.lr,
                "model": ctx.model.state_dict(),
                "optimizer": ctx.optimizer.state_dict(),
                "masks": self.masks.state_dict() if self.masks is not None else None,
                "n_committed": self.writer.n_committed if self.writer is not None else 0,
            },
            self.path,
        )
        self.cadence.saved()
