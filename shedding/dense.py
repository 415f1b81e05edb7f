"""The dense phase, trained once per (data, model, training, seed) and cached.

Every run sharing a dense configuration reuses one cache directory::

    <data_root>/cache/dense/<dense_hash>/
        checkpoint.pt   resume state while training (removed when done)
        states.pt       weights at each recorded point: [{step, epoch, lr, state}, ...]
        done.json       metrics per epoch; its presence marks the cache complete

``states.pt`` holds the state at every epoch for small models (so every run file can
replay the dense trajectory and WR can rewind to any epoch); for models above
``FULL_HISTORY_PARAMS`` only the epochs the config needs (rewind points and the end).
A file lock lets parallel sweep jobs wait for one another instead of training twice.
"""

from __future__ import annotations

import copy
import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shedding.config import ExperimentConfig, dense_hash
from shedding.errors import CheckpointError
from shedding.retrain import rewind_epoch
from shedding.train import checkpoint as ckpt
from shedding.train.callbacks import Callback, CallbackList, TrainContext
from shedding.train.distributed import SINGLE_PROCESS, DistInfo, barrier
from shedding.train.loop import train_phase
from shedding.train.optim import build_optimizer
from shedding.train.progress import ProgressBar
from shedding.train.schedules import build_schedule

FULL_HISTORY_PARAMS = 5_000_000


@dataclass
class DensePhase:
    """A finished dense phase: the recorded states and per-epoch metrics."""

    states: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    directory: Path

    @property
    def final(self) -> dict[str, Any]:
        return self.states[-1]

    def state_at_epoch(self, epoch: int) -> dict[str, torch.Tensor]:
        """Model state at the end of ``epoch`` (0 = initialisation); for WR rewinding."""
        for s in self.states:
            if s["epoch"] == epoch:
                return s["state"]
        have = sorted({s["epoch"] for s in self.states})
        raise CheckpointError(
            f"the dense cache {self.directory} has no weights for epoch {epoch} (it has "
            f"{have}); delete that directory so the dense phase is re-run keeping epoch {epoch}"
        )


def needed_epochs(cfg: ExperimentConfig) -> set[int]:
    """Epochs whose weights a run needs from the dense phase (init, end, rewind point)."""
    need = {0, cfg.train.epochs}
    rewind = rewind_epoch(cfg)
    if rewind is not None:
        need.add(rewind)
    return need


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _KeepStates(Callback):
    """Keeps a CPU copy of the model state at each epoch the cache must hold."""

    def __init__(self, states: list[dict[str, Any]], keep: set[int] | None) -> None:
        self.states, self.keep = states, keep

    def on_epoch_end(self, ctx: TrainContext) -> None:
        if self.keep is None or ctx.epoch in self.keep:
            self.states.append(
                {
                    "step": ctx.step,
                    "epoch": ctx.epoch,
                    "lr": ctx.lr,
                    "state": copy.deepcopy({k: v.cpu() for k, v in ctx.model.state_dict().items()}),
                }
            )


class _Checkpoint(Callback):
    def __init__(self, path: Path, states: list[dict[str, Any]], metrics: list[dict[str, Any]]):
        self.path, self.states, self.metrics = path, states, metrics

    def on_epoch_end(self, ctx: TrainContext) -> None:
        self.metrics.append({"epoch": ctx.epoch, "lr": ctx.lr, **ctx.metrics})
        ckpt.save_atomic(
            {
                "epoch": ctx.epoch,
                "step": ctx.step,
                "model": ctx.model.state_dict(),
                "optimizer": ctx.optimizer.state_dict(),
                "states": self.states,
                "metrics": self.metrics,
            },
            self.path,
        )


def ensure_dense(
    cfg: ExperimentConfig,
    *,
    model: nn.Module,
    forward_model: nn.Module,
    train_batches: Any,
    test_batches: Any,
    cache_root: Path,
    device: torch.device,
    dist_info: DistInfo = SINGLE_PROCESS,
    progress: bool = True,
) -> DensePhase:
    """Returns the cached dense phase for ``cfg``, training (or resuming) it if needed.

    ``model`` must hold the seeded initialisation on entry; on return it holds the final
    dense weights.
    """
    directory = cache_root / "dense" / dense_hash(cfg)
    # Under DDP every rank trains together (a lock would deadlock the all-reduce); the
    # barrier makes all ranks see the same cache state before deciding.
    barrier(dist_info)
    with nullcontext() if dist_info.enabled else _locked(directory):
        done = directory / "done.json"
        if done.is_file():
            states = torch.load(directory / "states.pt", map_location="cpu", weights_only=False)
            missing = needed_epochs(cfg) - {s["epoch"] for s in states}
            if not missing:
                metrics = json.loads(done.read_text())["metrics"]
                model.load_state_dict(states[-1]["state"])
                return DensePhase(states, metrics, directory)
            # The cache lacks a rewind point this config needs: train again keeping it.
        n_params = sum(p.numel() for p in model.parameters())
        keep = None if n_params <= FULL_HISTORY_PARAMS else needed_epochs(cfg)
        states: list[dict[str, Any]] = [
            {"step": 0, "epoch": 0, "lr": 0.0, "state": copy.deepcopy(model.state_dict())}
        ]
        metrics: list[dict[str, Any]] = []
        optimizer = build_optimizer(model, cfg.train)
        steps_per_epoch = len(train_batches)
        ctx = TrainContext(model, optimizer, "dense", 0, cfg.train.epochs, steps_per_epoch)
        ck_path = directory / "checkpoint.pt"
        start_epoch = 0
        if ck_path.is_file():
            state = ckpt.load(ck_path)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            states, metrics = state["states"], state["metrics"]
            start_epoch, ctx.step, ctx.epoch = state["epoch"], state["step"], state["epoch"]
        callbacks: list[Callback] = [
            _KeepStates(states, keep),
            ProgressBar(label="", enabled=progress and dist_info.is_main),
        ]
        if dist_info.is_main:
            callbacks.append(_Checkpoint(ck_path, states, metrics))
        t0 = time.time()
        train_phase(
            ctx,
            forward_model=forward_model,
            train_batches=train_batches,
            test_batches=test_batches,
            lr_fn=build_schedule(cfg.train, steps_per_epoch),
            callback=CallbackList(callbacks),
            device=device,
            data_key=0,
            start_epoch=start_epoch,
            dist_info=dist_info,
        )
        if dist_info.is_main:
            ckpt.save_atomic(states, directory / "states.pt")  # type: ignore[arg-type]
            done.write_text(json.dumps({"metrics": metrics, "seconds": time.time() - t0}))
            ck_path.unlink(missing_ok=True)
        return DensePhase(states, metrics, directory)
