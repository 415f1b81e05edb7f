"""One instrumented prune experiment: dense training → prune rounds → retraining.

``run_experiment`` is what ``shedding run`` calls. The dense phase comes from the shared
cache (:mod:`shedding.engine.dense`); each prune round prunes the effective weights, records the
prune event and the shedding reference (layer RMS, GMP threshold), rebuilds the weights
the protocol asks for (final, rewound, re-initialised), and retrains with a fresh
optimizer under the mask. Everything is recorded into one run file; a checkpoint at
every prune event and at an epoch end every ``record.checkpoint_every_s`` seconds (30 by
default; 0: every epoch) makes ``resume=True`` continue bit-exactly from the last one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shedding.config import ExperimentConfig
from shedding.data import load_dataset
from shedding.engine import identity
from shedding.engine.dense import ensure_dense
from shedding.engine.network import ModelFactory, retraining_network
from shedding.engine.recording import open_recording
from shedding.engine.resume import ResumeState, RoundHistory, check_run_files
from shedding.engine.rounds import Rounds
from shedding.engine.runtime import Runtime, make_batches
from shedding.errors import ConfigError
from shedding.paths import data_root as resolve_data_root
from shedding.pruning import round_amounts, split_budget, validate_prune_config
from shedding.retrain import PROTOCOLS, validate_retrain_config
from shedding.train import checkpoint as ckpt


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports back (the run file holds everything else)."""

    run_id: str
    path: Path
    test_acc: float
    dense_test_acc: float
    sparsity: float
    seconds: float
    status: str


def resolve_budget(cfg: ExperimentConfig) -> ExperimentConfig:
    """BIMP: with ``prune.budget_epochs`` set, split the budget into T and R per round."""
    if cfg.prune.budget_epochs is None:
        return cfg
    dense_epochs, per_round = split_budget(cfg)
    return cfg.replace(**{"train.epochs": dense_epochs, "retrain.epochs": per_round})


def validate(cfg: ExperimentConfig) -> None:
    """Fails fast, before any training, on configs that cannot run."""
    cfg = resolve_budget(cfg)
    validate_prune_config(cfg.prune)
    validate_retrain_config(cfg)
    if cfg.record.compression not in (None, "lzf", "gzip"):
        raise ConfigError(
            f"record.compression={cfg.record.compression!r} must be unset, 'lzf' or 'gzip'"
        )
    if cfg.record.per_epoch < 1:
        raise ConfigError(f"record.per_epoch={cfg.record.per_epoch} must be >= 1")
    if not cfg.record.checkpoint_every_s >= 0:
        raise ConfigError(
            f"record.checkpoint_every_s={cfg.record.checkpoint_every_s} must be >= 0 "
            "(seconds between resume checkpoints; 0 = after every epoch)"
        )
    validate_scaling(cfg.record)
    amounts = round_amounts(cfg.prune)
    if PROTOCOLS.get(cfg.retrain.protocol).oneshot_only and len(amounts) > 1:
        raise ConfigError(
            f"retrain.protocol={cfg.retrain.protocol!r} trains the one-shot pruned size from "
            "scratch; set prune.mode='oneshot'"
        )


def log_to_tensorboard(path: Path, logdir: str) -> Path:
    """The finished run's per-round scalars into ``logdir/<run_id>`` (with its control's
    excess when the control is already beside it)."""
    from shedding.analysis.to_tensorboard import log_run
    from tracking import open_run

    with open_run(path) as run:
        return log_run(run, logdir)


def validate_scaling(record: Any) -> None:
    """The recording-that-scales fields of ``record`` (mode, every_epochs, every_steps)."""
    if record.mode not in ("full", "stats"):
        raise ConfigError(f"record.mode={record.mode!r} must be 'full' or 'stats'")
    if record.every_epochs < 1:
        raise ConfigError(f"record.every_epochs={record.every_epochs} must be >= 1")
    if record.every_steps < 0:
        raise ConfigError(f"record.every_steps={record.every_steps} must be >= 0 (0: off)")


def run_experiment(
    cfg: ExperimentConfig,
    *,
    data_root: str | Path | None = None,
    runs_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> RunResult:
    """Runs one experiment end to end and returns where its run file is.

    The main process holds the run's lock (``<run file>.lock``) throughout, so a second
    ``run`` or a ``--resume`` of a live run is refused with ``RunLocked`` before it loads
    any data, and nothing can replace the file under its writer.

    Args:
        cfg: The experiment.
        data_root: Data root (default: ``shedding.paths.data_root()``).
        runs_dir: Where run files go (default ``<data_root>/runs``).
        resume: Continue an interrupted run from its last completed epoch.
        overwrite: Replace an existing run file instead of refusing.
        progress: Show progress bars.

    Raises:
        ConfigError: Invalid config (checked before any training).
        CheckpointError: ``resume`` without a usable checkpoint, or an existing run
            file without ``resume``/``overwrite``.
    """
    from tracking import RunLock

    cfg = resolve_budget(cfg)
    validate(cfg)
    root = resolve_data_root(data_root)
    runs_dir = Path(runs_dir) if runs_dir is not None else root / "runs"
    main = int(os.environ.get("RANK", "0")) == 0  # torchrun's other ranks write nothing
    with RunLock(identity.run_path(runs_dir, cfg)) if main else contextlib.nullcontext():
        return _run_experiment(cfg, root, runs_dir, resume, overwrite, progress)


def _run_experiment(
    cfg: ExperimentConfig,
    root: Path,
    runs_dir: Path,
    resume: bool,
    overwrite: bool,
    progress: bool,
) -> RunResult:
    t_start = time.time()
    path, checkpoint = (
        identity.run_path(runs_dir, cfg),
        identity.work_dir(runs_dir, cfg) / "checkpoint.pt",
    )
    with Runtime(cfg.device) as rt:
        main = rt.info.is_main
        if main:
            check_run_files(path, checkpoint, resume=resume, overwrite=overwrite)
            runs_dir.mkdir(parents=True, exist_ok=True)
        ckpt.seed_everything(cfg.seed)
        bundle = load_dataset(cfg.data, root=root, seed=cfg.seed)
        batches = make_batches(bundle, cfg, rt.info)
        new_model = ModelFactory(cfg, bundle, rt.device)
        model = new_model()
        validate_prune_config(cfg.prune, model)  # layer-dependent checks (N:M divisibility)
        dense = ensure_dense(
            cfg, model=model, forward_model=rt.forward_model(model), train_batches=batches[0],
            test_batches=batches[1], cache_root=root / "cache", device=rt.device,
            dist_info=rt.info, progress=progress,
        )  # fmt: skip
        dense_acc = float(dense.metrics[-1]["test_acc"]) if dense.metrics else float("nan")
        net = retraining_network(cfg, model, new_model)
        state = ResumeState.load(checkpoint) if resume and checkpoint.exists() else None
        writer, recorder = open_recording(
            cfg, net, path=path, device=rt.device, write=main and cfg.record.enabled,
            resume_from=state.n_committed if state else None,
            overwrite=overwrite or (resume and state is None),
            dense=None if state is not None or net.reshaped else dense,
        )  # fmt: skip
        rounds = Rounds(
            cfg, net, dense, rt, writer, recorder, batches, checkpoint, new_model, progress,
            history=state.history if state else RoundHistory(),
        )  # fmt: skip
        with _closing(writer, checkpoint, main) as outcome:
            test_acc = rounds.run(round_amounts(cfg.prune), state, dense_acc)
            if main:  # final weights beside the run file: for evaluation and resume checks
                masks = net.masks.state_dict() if net.masks else None
                ckpt.save_atomic(
                    {"model": net.model.state_dict(), "masks": masks}, path.with_suffix(".final.pt")
                )
            outcome.status = "complete"
    if cfg.record.tensorboard and main and writer is not None:
        log_to_tensorboard(path, cfg.record.tensorboard)
    return RunResult(
        identity.run_id(cfg), path, float(test_acc), dense_acc, float(net.sparsity),
        time.time() - t_start, "complete",
    )  # fmt: skip


@dataclass
class _Outcome:
    status: str = "crashed"


@contextlib.contextmanager
def _closing(writer: Any, checkpoint: Path, main: bool) -> Iterator[_Outcome]:
    """Closes the run file with the run's status (crashed, interrupted or complete); a
    complete run's checkpoint is no longer needed."""
    outcome = _Outcome()
    try:
        yield outcome
    except KeyboardInterrupt:
        outcome.status = "interrupted"
        raise
    finally:
        if writer is not None:
            writer.close(status=outcome.status)
        if outcome.status == "complete" and main:
            checkpoint.unlink(missing_ok=True)
