"""The dense phase, trained once per (data, model, training, seed) and cached.

Every run sharing a dense configuration reuses one cache directory::

    <data_root>/cache/dense/<dense_hash>/
        states/epoch-00007.pt   weights at each kept epoch, each written once when reached
        checkpoint.pt           resume state while training (removed when done)
        done.json               metrics per epoch and the kept epochs; marks the cache complete

Every epoch is kept for small models (so every run file can replay the dense trajectory
and WR can rewind to any epoch); for models above ``FULL_HISTORY_PARAMS`` only the epochs
the config needs (rewind points and the end). Each state is written once and read back
only when used, so the checkpoint written every epoch stays small (it used to carry every
state so far: O(T²) bytes over a dense phase, about 44 GB for ResNet-56 over 160 epochs) and a
run holds one state in memory at a time. Caches of the earlier layout (one ``states.pt``)
are still read. A file lock (``filelock``: ``flock``, which NFS and Lustre mounted with
``flock`` honour across nodes; a lock file where the file system has no locks) lets
parallel sweep jobs, also on different cluster nodes, wait for one another instead of
training twice; a waiting job gives up after ``SHEDDING_LOCK_TIMEOUT_S`` seconds (default
two days) with an error naming the lock file.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
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


STATES_DIR = "states"


def state_path(directory: Path, epoch: int) -> Path:
    """Where the cache keeps the weights at the end of ``epoch`` (0 = initialisation)."""
    return directory / STATES_DIR / f"epoch-{epoch:05d}.pt"


@dataclass
class DensePhase:
    """A finished dense phase: the kept epochs (``step``, ``epoch``, ``lr``; weights are
    read from the cache when asked for) and the per-epoch metrics."""

    entries: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    directory: Path

    def load(self, entry: dict[str, Any]) -> dict[str, Any]:
        """``entry`` with its weights under ``"state"``."""
        if "state" in entry:  # a cache of the earlier layout, already in memory
            return entry
        path = state_path(self.directory, entry["epoch"])
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError) as e:
            raise CheckpointError(
                f"the dense cache {self.directory} cannot read {path.name} ({e}); delete "
                "that directory so the dense phase is trained again"
            ) from None
        return {**entry, "state": state}

    def states(self) -> Iterator[dict[str, Any]]:
        """Every kept state in epoch order, one in memory at a time."""
        for entry in self.entries:
            yield self.load(entry)

    @property
    def final(self) -> dict[str, Any]:
        return self.load(self.entries[-1])

    def state_at_epoch(self, epoch: int) -> dict[str, torch.Tensor]:
        """Model state at the end of ``epoch`` (0 = initialisation); for WR rewinding."""
        for s in self.entries:
            if s["epoch"] == epoch:
                return self.load(s)["state"]
        have = sorted({s["epoch"] for s in self.entries})
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


LOCK_TIMEOUT_S = 2 * 86400.0  # a dense phase of a large model can train for a day


def lock_timeout_s() -> float:
    """Seconds a run waits for another job's lock on a dense cache ($SHEDDING_LOCK_TIMEOUT_S)."""
    raw = os.environ.get("SHEDDING_LOCK_TIMEOUT_S", "")
    try:
        return float(raw) if raw else LOCK_TIMEOUT_S
    except ValueError:
        raise CheckpointError(
            f"SHEDDING_LOCK_TIMEOUT_S={raw!r} is not a number of seconds; fix: e.g. 3600"
        ) from None


@contextmanager
def cache_lock(directory: Path, *, timeout_s: float | None = None) -> Iterator[None]:
    """Hold ``directory``'s lock (waiting up to ``timeout_s``; default :func:`lock_timeout_s`)."""
    directory.mkdir(parents=True, exist_ok=True)
    timeout = lock_timeout_s() if timeout_s is None else timeout_s
    # polling once a second keeps a shared file system's metadata server quiet
    lock = filelock.FileLock(directory / ".lock", timeout=timeout, poll_interval=1.0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise CheckpointError(
            f"the dense cache {directory} stayed locked for {timeout:g} s by another run "
            f"training it; fix: wait for that run, or if none is running delete "
            f"{directory / '.lock'} (or raise SHEDDING_LOCK_TIMEOUT_S)"
        ) from None
    try:
        yield
    finally:
        lock.release()


class _KeepStates(Callback):
    """Writes the model state at each epoch the cache must hold (once, atomically) and
    records the epoch in ``entries``; ranks other than the main one only record."""

    def __init__(
        self, directory: Path, entries: list[dict[str, Any]], keep: set[int] | None, write: bool
    ) -> None:
        self.directory, self.entries, self.keep, self.write = directory, entries, keep, write

    def on_epoch_end(self, ctx: TrainContext) -> None:
        if self.keep is None or ctx.epoch in self.keep:
            entry = {"step": ctx.step, "epoch": ctx.epoch, "lr": ctx.lr}
            if self.write:
                _save_state(self.directory, ctx.epoch, ctx.model.state_dict())
            self.entries.append(entry)


def _save_state(directory: Path, epoch: int, state: dict[str, torch.Tensor]) -> None:
    path = state_path(directory, epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt.save_atomic({k: v.detach().cpu() for k, v in state.items()}, path)


class _Checkpoint(Callback):
    """Resume state at an epoch end once ``every_s`` seconds have passed since the last
    one (0: every epoch): weights, optimizer, kept epochs, metrics (the kept weights
    themselves are already in ``states/``)."""

    def __init__(
        self,
        path: Path,
        entries: list[dict[str, Any]],
        metrics: list[dict[str, Any]],
        every_s: float = 0.0,
    ) -> None:
        self.path, self.entries, self.metrics = path, entries, metrics
        self.cadence = ckpt.Cadence(every_s)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        self.metrics.append({"epoch": ctx.epoch, "lr": ctx.lr, **ctx.metrics})
        if not self.cadence.due():
            return
        self.cadence.saved()
        ckpt.save_atomic(
            {
                "epoch": ctx.epoch,
                "step": ctx.step,
                "model": ctx.model.state_dict(),
                "optimizer": ctx.optimizer.state_dict(),
                "entries": self.entries,
                "metrics": self.metrics,
            },
            self.path,
        )


def cached_dense(directory: Path, cfg: ExperimentConfig) -> DensePhase | None:
    """The finished cache in ``directory`` when it holds every epoch ``cfg`` needs."""
    done = directory / "done.json"
    if not done.is_file():
        return None
    info = json.loads(done.read_text())
    if "entries" in info:
        entries = info["entries"]
        have = {e["epoch"] for e in entries if state_path(directory, e["epoch"]).is_file()}
    else:  # the earlier layout: every kept state in one states.pt
        entries = torch.load(directory / "states.pt", map_location="cpu", weights_only=False)
        have = {e["epoch"] for e in entries}
    if needed_epochs(cfg) - have:
        return None  # the cache lacks a rewind point this config needs: train again
    return DensePhase(entries, info["metrics"], directory)


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
    with nullcontext() if dist_info.enabled else cache_lock(directory):
        cached = cached_dense(directory, cfg)
        if cached is not None:
            model.load_state_dict(cached.final["state"])
            return cached
        n_params = sum(p.numel() for p in model.parameters())
        keep = None if n_params <= FULL_HISTORY_PARAMS else needed_epochs(cfg)
        entries: list[dict[str, Any]] = [{"step": 0, "epoch": 0, "lr": 0.0}]
        metrics: list[dict[str, Any]] = []
        optimizer = build_optimizer(model, cfg.train)
        steps_per_epoch = len(train_batches)
        ctx = TrainContext(model, optimizer, "dense", 0, cfg.train.epochs, steps_per_epoch)
        ck_path = directory / "checkpoint.pt"
        start_epoch = 0
        if ck_path.is_file():
            state = ckpt.load(ck_path)
            if "entries" not in state:  # a checkpoint of the earlier layout
                raise CheckpointError(
                    f"{ck_path} was written by an earlier version of cascade-shedding; "
                    f"delete {directory} so the dense phase is trained again"
                )
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            entries, metrics = state["entries"], state["metrics"]
            start_epoch, ctx.step, ctx.epoch = state["epoch"], state["step"], state["epoch"]
        elif dist_info.is_main:
            _save_state(directory, 0, model.state_dict())
        callbacks: list[Callback] = [
            _KeepStates(directory, entries, keep, write=dist_info.is_main),
            ProgressBar(label="", enabled=progress and dist_info.is_main),
        ]
        if dist_info.is_main:
            every_s = cfg.record.checkpoint_every_s
            callbacks.append(_Checkpoint(ck_path, entries, metrics, every_s))
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
            eval_every=cfg.train.eval_every,
            dist_info=dist_info,
        )
        if dist_info.is_main:
            done = {"metrics": metrics, "seconds": time.time() - t0, "entries": entries}
            tmp = directory / "done.json.tmp"
            tmp.write_text(json.dumps(done))
            tmp.replace(directory / "done.json")
            ck_path.unlink(missing_ok=True)
        barrier(dist_info)  # other ranks read the states the main rank wrote
        return DensePhase(entries, metrics, directory)
