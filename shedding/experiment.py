"""One instrumented prune experiment: dense training → prune rounds → retraining.

``run_experiment`` is what ``shedding run`` calls. The dense phase comes from the shared
cache (:mod:`shedding.dense`); each prune round prunes the effective weights, records the
prune event and the shedding reference (layer RMS, GMP threshold), rebuilds the weights
the protocol asks for (final, rewound, re-initialised), and retrains with a fresh
optimizer under the mask. Everything is recorded into one run file; a checkpoint after
every epoch makes ``resume=True`` continue bit-exactly from the last completed epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shedding import runs
from shedding.config import ExperimentConfig, to_dict
from shedding.data import load_dataset
from shedding.dense import ensure_dense
from shedding.errors import CheckpointError, ConfigError
from shedding.models import build_model
from shedding.paths import data_root as resolve_data_root
from shedding.prune_round import prune_round, reduced_round
from shedding.pruning import round_amounts, split_budget, validate_prune_config
from shedding.pruning.masks import MaskSet
from shedding.pruning.prunable import bn_after, prunable_layers
from shedding.pruning.rounds import reached
from shedding.recording import Recorder, layer_specs, replay_dense, select_layers
from shedding.retrain import PROTOCOLS, match_width, plan_retraining, validate_retrain_config
from shedding.retrain.optimizer import build_retrain_optimizer
from shedding.setup import make_batches, resolve_device, sigterm_as_interrupt, wrap_ddp
from shedding.train import checkpoint as ckpt
from shedding.train.callbacks import Callback, CallbackList, TrainContext
from shedding.train.distributed import cleanup, init_from_env
from shedding.train.loop import train_phase
from shedding.train.progress import ProgressBar


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
    with RunLock(runs.run_path(runs_dir, cfg)) if main else contextlib.nullcontext():
        return _run_experiment(cfg, root, runs_dir, resume, overwrite, progress)


def _run_experiment(
    cfg: ExperimentConfig,
    root: Path,
    runs_dir: Path,
    resume: bool,
    overwrite: bool,
    progress: bool,
) -> RunResult:
    from tracking import RunWriter

    t_start = time.time()
    device = resolve_device(cfg.device)
    info = init_from_env(device)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    path, work = runs.run_path(runs_dir, cfg), runs.work_dir(runs_dir, cfg)
    ck_path = work / "checkpoint.pt"
    if info.is_main:
        if path.exists() and not (resume or overwrite):
            raise CheckpointError(
                f"run file {path} already exists; pass --resume to continue it or "
                "--overwrite to start it again"
            )
        if resume and path.exists() and not ck_path.exists():
            from tracking import open_run

            with open_run(path) as r:
                if r.status == "complete":
                    raise CheckpointError(f"run {path.name} is already complete; nothing to resume")
        runs_dir.mkdir(parents=True, exist_ok=True)
    old_handler = sigterm_as_interrupt()
    ckpt.seed_everything(cfg.seed)
    bundle = load_dataset(cfg.data, root=root, seed=cfg.seed)
    train_b, test_b = make_batches(bundle, cfg, info)
    steps_per_epoch = len(train_b)

    def new_model(width: float | None = None, seed_offset: int = 0) -> nn.Module:
        torch.manual_seed(cfg.seed + seed_offset)
        mc = cfg.model if width is None else dataclasses.replace(cfg.model, width=width)
        return build_model(mc, num_classes=bundle.num_classes, input_shape=bundle.input_shape).to(
            device
        )

    model = new_model()
    validate_prune_config(cfg.prune, model)  # layer-dependent checks (N:M divisibility)
    dense = ensure_dense(
        cfg,
        model=model,
        forward_model=wrap_ddp(model, device, info),
        train_batches=train_b,
        test_batches=test_b,
        cache_root=root / "cache",
        device=device,
        dist_info=info,
        progress=progress,
    )
    dense_acc = float(dense.metrics[-1]["test_acc"]) if dense.metrics else float("nan")
    amounts = round_amounts(cfg.prune)
    reshapes = PROTOCOLS.get(cfg.retrain.protocol).changes_architecture
    masks: MaskSet | None = None
    if reshapes:
        # Crowley: a dense net whose width gives the pruned net's prunable parameter count.
        total = sum(m.weight.numel() for m in prunable_layers(model, cfg.prune).values())
        target = round(total * (1 - cfg.prune.sparsity))
        width = match_width(
            lambda w: build_model(
                dataclasses.replace(cfg.model, width=w),
                num_classes=bundle.num_classes,
                input_shape=bundle.input_shape,
            ),
            target,
        )
        model = new_model(width=width, seed_offset=7919)
    layers = prunable_layers(model, cfg.prune)
    probe = torch.zeros(2, *bundle.input_shape, device=next(model.parameters()).device)
    bn_names = bn_after(model, list(layers), example_input=probe)
    bn_modules = dict(model.named_modules())
    if not reshapes:
        masks = MaskSet(model, list(layers))

    recorded = select_layers(layers, cfg.record.layers)
    writer = None
    state: dict[str, Any] | None = None
    if resume and ck_path.exists():
        state = ckpt.load(ck_path)
    if info.is_main and cfg.record.enabled:
        writer = RunWriter(
            path,
            layers=layer_specs(recorded, bn_names),
            config=to_dict(cfg),
            environment=runs.environment(device),
            run_id=runs.run_id(cfg),
            control=runs.control_id(cfg),
            sample_per_layer=cfg.record.sample_per_layer,
            seed=cfg.seed,
            resume_from=state["n_committed"] if state else None,
            overwrite=overwrite or (resume and state is None),
            compression=cfg.record.compression,
            mode=cfg.record.mode,
        )
    recorder = Recorder(
        writer,
        recorded,
        bn={n: bn_modules[b] for n, b in bn_names.items() if n in recorded},
        masks=masks,
        per_epoch=cfg.record.per_epoch,
        every_epochs=cfg.record.every_epochs,
        every_steps=cfg.record.every_steps,
    )
    status = "crashed"
    test_acc = dense_acc
    try:
        if state is None and writer is not None and not reshapes:
            replay_dense(recorder, model, dense, cfg)
        offset = float(cfg.train.epochs) if not reshapes else 0.0
        # (s, d) of every round so far: what ALLR's plan needs, kept for exact resume; and
        # the shedding reference each round set (what the next round's harvest uses).
        plan_inputs: list[tuple[float, float]] = list(state["plan_inputs"]) if state else []
        references: list[dict[str, float]] = list(state.get("references", [])) if state else []
        for k, amount in enumerate(amounts, start=1):
            if state is not None and state["round"] > k:
                s_k, d_k = plan_inputs[k - 1]
                plan = plan_retraining(
                    cfg, steps_per_epoch=steps_per_epoch, round_fraction=s_k, norm_ratio=d_k
                )
                offset += plan.epochs
                continue
            resuming = state is not None and state["round"] == k
            if resuming:
                assert state is not None
                s_k, d_k = plan_inputs[k - 1]
                plan = plan_retraining(
                    cfg, steps_per_epoch=steps_per_epoch, round_fraction=s_k, norm_ratio=d_k
                )
                model.load_state_dict(state["model"])
                if masks is not None:
                    masks.load_state_dict(state["masks"])
                optimizer = build_retrain_optimizer(model, cfg, lr=plan.start_lr)
                optimizer.load_state_dict(state["optimizer"])
                ctx = TrainContext(
                    model,
                    optimizer,
                    "retrain",
                    k,
                    plan.epochs,
                    steps_per_epoch,
                    epoch=state["epoch"],
                    step=state["step"],
                    lr=state["lr"],
                )
                start_epoch = state["epoch"]
                state = None
            else:
                if masks is None:
                    start = reduced_round(
                        cfg,
                        k,
                        amount,
                        model=model,
                        writer=writer,
                        steps_per_epoch=steps_per_epoch,
                        offset=offset,
                    )
                else:
                    start = prune_round(
                        cfg,
                        k,
                        amount,
                        model=model,
                        masks=masks,
                        dense=dense,
                        info=info,
                        writer=writer,
                        steps_per_epoch=steps_per_epoch,
                        offset=offset,
                        new_model=new_model,
                        reference=references[-1] if references else None,
                    )
                plan, optimizer = start.plan, start.optimizer
                plan_inputs.append((start.amount, start.norm_ratio))
                references.append(start.reference)
                ctx = TrainContext(
                    model, optimizer, "retrain", k, plan.epochs, steps_per_epoch, lr=plan.lr(0)
                )
                start_epoch = 0
            recorder.epoch_offset = offset
            extra = {"plan_inputs": plan_inputs, "references": references}
            saver = ckpt.EpochCheckpoint(ck_path, masks, writer, extra)
            if not resuming:
                if cfg.record.at_prune and writer is not None:
                    recorder.snapshot(ctx, epoch=0.0)
                if info.is_main:
                    saver.save(ctx)
            cbs: list[Callback] = [recorder, ProgressBar(enabled=progress and info.is_main)]
            if info.is_main:
                cbs.append(saver)
            train_phase(
                ctx,
                forward_model=wrap_ddp(model, device, info),
                train_batches=train_b,
                test_batches=test_b,
                lr_fn=plan.lr,
                callback=CallbackList(cbs),
                device=device,
                data_key=k + 1000 * cfg.retrain.data_order,
                masks=masks,
                start_epoch=start_epoch,
                dist_info=info,
            )
            test_acc = ctx.metrics.get("test_acc", test_acc)
            offset += plan.epochs
            if cfg.prune.harvest and masks is not None and reached(masks, cfg.prune.sparsity):
                break  # harvesting reached the target early: the remaining rounds are not needed
        if info.is_main:
            # Final weights beside the run file: for evaluation, and to check resume exactness.
            ckpt.save_atomic(
                {"model": model.state_dict(), "masks": masks.state_dict() if masks else None},
                path.with_suffix(".final.pt"),
            )
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if writer is not None:
            writer.close(status=status)
        if status == "complete" and info.is_main:
            ck_path.unlink(missing_ok=True)
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
        cleanup(info)
    if cfg.record.tensorboard and info.is_main and writer is not None:
        log_to_tensorboard(path, cfg.record.tensorboard)
    sparsity = masks.sparsity() if masks is not None else 0.0
    return RunResult(
        runs.run_id(cfg),
        path,
        float(test_acc),
        dense_acc,
        float(sparsity),
        time.time() - t_start,
        status,
    )
