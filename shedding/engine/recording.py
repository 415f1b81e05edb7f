"""The recorder: a training callback that hands effective weights to a tracking.RunWriter.

The training thread pays only for the copy of the (masked) weights; statistics, packing
and HDF5 writes happen on the writer's background thread.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from shedding.config import ExperimentConfig, to_dict
from shedding.engine import identity
from shedding.engine.dense import DensePhase
from shedding.engine.network import Network
from shedding.errors import ConfigError
from shedding.train.callbacks import Callback, TrainContext

log = logging.getLogger(__name__)


class Recorder(Callback):
    """Records snapshots of every prunable layer into a run file.

    Args:
        writer: A ``tracking.RunWriter`` (or None on non-zero DDP ranks: records nothing).
        layers: Prunable layer name -> module (its ``weight`` is recorded).
        bn: Layer name -> BatchNorm module that follows it (its γ is recorded).
        masks: The MaskSet in force (None during dense training: all kept).
        per_epoch: Snapshots per epoch; 1 records at each epoch end only.
        epoch_offset: Added to the phase's epoch count (retraining epochs continue the
            dense count in the index so plots have one time axis).
        every_epochs: Record the epoch end of every k-th epoch only (a phase's last epoch
            always); metrics are logged every epoch.
        every_steps: Also record every k optimizer steps (0: never).
    """

    def __init__(
        self,
        writer: Any,
        layers: Mapping[str, nn.Module],
        *,
        bn: Mapping[str, nn.Module] | None = None,
        masks: Any | None = None,
        per_epoch: int = 1,
        epoch_offset: float = 0.0,
        every_epochs: int = 1,
        every_steps: int = 0,
    ) -> None:
        self.writer, self.layers, self.bn = writer, dict(layers), dict(bn or {})
        self.masks, self.per_epoch, self.epoch_offset = masks, per_epoch, epoch_offset
        self.every_epochs, self.every_steps = max(1, every_epochs), max(0, every_steps)
        self.t0 = time.time()

    # -- hooks -------------------------------------------------------------------------
    def epoch_due(self, epoch: int, epochs: int) -> bool:
        """Whether the end of ``epoch`` (1-based) of a phase of ``epochs`` is recorded."""
        return epoch % self.every_epochs == 0 or epoch >= epochs

    def on_step_end(self, ctx: TrainContext) -> None:
        if self.writer is None or ctx.step % ctx.steps_per_epoch == 0:
            return  # an epoch end: on_epoch_end decides
        by_steps = self.every_steps > 0 and ctx.step % self.every_steps == 0
        every = max(1, ctx.steps_per_epoch // self.per_epoch)
        if by_steps or (self.per_epoch > 1 and ctx.step % every == 0):
            self.snapshot(ctx)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        if self.writer is None:
            return
        if self.epoch_due(ctx.epoch, ctx.epochs):
            self.snapshot(ctx)
        self.writer.log_metrics(
            epoch=self.epoch_offset + ctx.epoch,
            phase=ctx.phase,
            round=ctx.round,
            lr=ctx.lr,
            wall_time=time.time() - self.t0,
            **ctx.metrics,
        )

    # -- the copy the training thread pays for -----------------------------------------
    @torch.no_grad()
    def weights_and_masks(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Effective weights (weight ⊙ mask, float32, CPU copies) and boolean masks."""
        weights: dict[str, np.ndarray] = {}
        masks: dict[str, np.ndarray] = {}
        for name, module in self.layers.items():
            w = cast(torch.Tensor, module.weight).detach()
            if self.masks is not None:
                m = self.masks.masks[name]
                w = w * m  # a new tensor: the copy; never the raw pre-mask parameter
                masks[name] = m.to("cpu", copy=True).numpy()
            else:
                w = w.to(dtype=torch.float32, copy=True)
                masks[name] = np.ones(w.shape, dtype=bool)
            weights[name] = w.to(device="cpu", dtype=torch.float32).numpy()
        return weights, masks

    @torch.no_grad()
    def snapshot(
        self, ctx: TrainContext, *, phase: str | None = None, epoch: float | None = None
    ) -> None:
        """Records one snapshot now (also called directly around prune events)."""
        if self.writer is None:
            return
        weights, masks = self.weights_and_masks()
        gammas = {
            name: _gamma(bn)
            for name, bn in self.bn.items()
            if getattr(bn, "weight", None) is not None
        }
        self.writer.record(
            step=int(ctx.step),
            epoch=float(self.epoch_offset + (ctx.epoch_float if epoch is None else epoch)),
            phase=phase or ctx.phase,
            round=int(ctx.round),
            lr=float(ctx.lr),
            weights=weights,
            masks=masks,
            bn_gamma=gammas or None,
        )


def _gamma(bn: nn.Module) -> np.ndarray:
    """A BatchNorm's γ as a float32 CPU copy."""
    weight = cast(torch.Tensor, bn.weight).detach()
    return weight.to("cpu", dtype=torch.float32, copy=True).numpy()


def open_recording(
    cfg: ExperimentConfig,
    net: Network,
    *,
    path: Any,
    device: torch.device,
    resume_from: int | None,
    overwrite: bool,
    write: bool,
    dense: DensePhase | None = None,
) -> tuple[Any, Recorder]:
    """The run file's writer and the recorder that feeds it.

    Args:
        resume_from: Snapshots committed when the resumed checkpoint was written (None:
            a new file).
        write: Whether this process writes the run file (the main rank, recording on);
            otherwise the writer is None and the recorder records nothing.
        dense: The dense phase whose trajectory a new file starts with (None: none, e.g.
            a resumed file that has it already). In ``record.mode = "full"`` the file
            starts as a copy of the dense phase's template run file (see
            :func:`dense_template`); otherwise the trajectory is recorded snapshot by
            snapshot. Both give the same rows.
    """
    from tracking import RecordError, RunWriter

    recorded = select_layers(net.layers, cfg.record.layers)
    specs = layer_specs(recorded, net.bn_names)

    def recorder_for(writer: Any) -> Recorder:
        return Recorder(
            writer,
            recorded,
            bn=net.bn_modules(recorded),
            masks=net.masks,
            per_epoch=cfg.record.per_epoch,
            every_epochs=cfg.record.every_epochs,
            every_steps=cfg.record.every_steps,
        )

    def new_writer(file: Any, **kw: Any) -> Any:
        return RunWriter(
            file,
            layers=specs,
            sample_per_layer=cfg.record.sample_per_layer,
            seed=cfg.seed,
            compression=cfg.record.compression,
            mode=cfg.record.mode,
            **kw,
        )

    if not write:
        return None, recorder_for(None)
    ident = dict(
        config=to_dict(cfg),
        environment=identity.environment(device),
        run_id=identity.run_id(cfg),
        control=identity.control_id(cfg),
        overwrite=overwrite,
    )
    replay = dense is not None and resume_from is None
    if replay and cfg.record.mode == "full" and TEMPLATES:
        assert dense is not None
        template = dense_template(cfg, net.model, dense, specs, recorder_for, new_writer)
        try:
            return (writer := new_writer(path, template=template, **ident)), recorder_for(writer)
        except RecordError as e:  # a damaged template: record the rows instead
            log.warning("%s; recording the dense trajectory instead", e)
            template.unlink(missing_ok=True)
    writer = new_writer(path, resume_from=resume_from, **ident)
    recorder = recorder_for(writer)
    if replay:
        assert dense is not None
        try:
            replay_dense(recorder, net.model, dense, cfg)
        except BaseException:
            writer.close("crashed")
            raise
    return writer, recorder


#: Whether new run files start from a dense phase's template (False: always record the
#: dense trajectory snapshot by snapshot, the path a test compares the templates with).
TEMPLATES = True


def template_key(cfg: ExperimentConfig, specs: Sequence[Any], dense: DensePhase) -> str:
    """What a dense phase's template depends on beyond the dense cache it lives in: the
    recorded layers, the record settings, the replayed epochs and the code's versions."""
    from tracking import FORMAT_VERSION
    from tracking.session import toolkit_version

    parts = {
        "format": FORMAT_VERSION,
        "toolkit": toolkit_version(),  # "unknown" in a source tree, hence the code itself:
        "code": _statistics_code_digest(),
        "layers": [(s.name, list(s.shape), s.bn) for s in specs],
        "record": [cfg.record.sample_per_layer, cfg.seed, cfg.record.compression,
                   cfg.record.mode, cfg.record.record_dense, cfg.record.every_epochs],
        "entries": [[e["epoch"], e["step"], repr(e["lr"])] for e in dense.entries],
        "metrics": dense.metrics,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


def _statistics_code_digest() -> str:
    """sha256 of the modules that compute and lay out the stored rows, so a template
    written by other statistics code (an edited source tree) is never reused."""
    import tracking.format
    import tracking.layout
    import tracking.stats

    h = hashlib.sha256()
    for module in (tracking.stats, tracking.format, tracking.layout):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()


def dense_template(
    cfg: ExperimentConfig,
    model: nn.Module,
    dense: DensePhase,
    specs: Sequence[Any],
    recorder_for: Any,
    new_writer: Any,
) -> Path:
    """The dense phase's template run file: the dense trajectory as this run records it,
    written once per (dense phase, record settings) beside the dense cache and copied into
    every run file that starts from it. Written to a temporary name and renamed, so jobs
    building the same template at once each leave a complete one."""
    path = Path(dense.directory) / f"run-template-{template_key(cfg, specs, dense)[:16]}.h5"
    if path.is_file():
        return path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    writer = new_writer(tmp, config={}, overwrite=True)
    try:
        replay_dense(recorder_for(writer), model, dense, cfg)
        writer.close("complete")
    except BaseException:
        writer.close("crashed")
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def select_layers(layers: Mapping[str, nn.Module], patterns: Sequence[str]) -> dict[str, nn.Module]:
    """The layers whose names match one of ``patterns`` (names or globs); all when empty.

    Raises:
        ConfigError: a pattern matches no layer (the message lists the layers).
    """
    if not patterns:
        return dict(layers)
    unmatched = [p for p in patterns if not fnmatch.filter(layers, p)]
    if unmatched:
        raise ConfigError(
            f"record.layers {unmatched} match no prunable layer; fix: use names or globs "
            f"of these layers: {list(layers)}"
        )
    return {n: m for n, m in layers.items() if any(fnmatch.fnmatchcase(n, p) for p in patterns)}


def layer_specs(layers: dict[str, nn.Module], bn_names: dict[str, str]) -> list[Any]:
    from tracking import LayerSpec

    return [
        LayerSpec(name=n, shape=tuple(cast(torch.Tensor, m.weight).shape), bn=bn_names.get(n, ""))
        for n, m in layers.items()
    ]


def replay_dense(
    recorder: Recorder, model: nn.Module, dense: DensePhase, cfg: ExperimentConfig
) -> None:
    """Writes the dense trajectory (every kept epoch) into this run's file."""
    writer = recorder.writer
    final = dense.final
    states = dense.states() if cfg.record.record_dense else [final]
    steps_per_epoch = max(1, final["step"] // max(1, final["epoch"]))
    last = int(final["epoch"])
    for s in states:
        if not recorder.epoch_due(int(s["epoch"]), last) and s["epoch"] != 0:
            continue
        model.load_state_dict(s["state"])
        ctx = TrainContext(
            model,
            None,
            "dense",
            0,
            cfg.train.epochs,
            steps_per_epoch,
            epoch=s["epoch"],
            step=s["step"],
            lr=s["lr"],
        )
        recorder.snapshot(ctx, epoch=float(s["epoch"]))
    for row in dense.metrics:
        writer.log_metrics(phase="dense", round=0, wall_time=0.0, **row)
    model.load_state_dict(final["state"])
