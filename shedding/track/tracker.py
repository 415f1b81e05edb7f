"""Tracker: record any PyTorch training loop into a run file.

    with shedding.track.open(model, "runs/pruned.h5", control="runs/control.h5") as t:
        for epoch in range(epochs):
            train_one_epoch(...)
            t.snapshot(epoch=epoch + 1, metrics={"test_acc": acc})
            if epoch + 1 == prune_at:
                prune.global_unstructured(...)
                t.prune_event(method="l1_unstructured")

The training thread pays for one copy of the effective weights per snapshot (as the
engine's Recorder does); statistics and HDF5 writes run on the writer's background thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from shedding.engine.identity import environment
from shedding.pruning import bn_after
from shedding.track.errors import TrackerError
from shedding.track.reference import event_dict, prune_reference
from shedding.track.sources import LayerFilter, MaskReader, find_layers, raw_weight
from tracking import LayerSpec, RecordError, RunWriter, open_run

#: names a metric cannot have: the index columns every /metrics row already has
RESERVED = frozenset({"epoch", "phase", "round", "lr", "wall_time", "n_snapshots", "step"})
_OPEN: set[Path] = set()  # files a Tracker of this process is writing
_OPEN_LOCK = threading.Lock()


def control_id(control: str | os.PathLike[str]) -> str:
    """Run id of a control given as a run id or as the path of its run file (``.h5``):
    the file's run id when it exists, else the file's stem (the tracker's default id)."""
    text = os.fspath(control)
    if not text.lower().endswith((".h5", ".hdf5")):
        return text
    path = Path(text)
    if path.exists():
        with open_run(path) as run:
            return run.run_id
    return path.stem


class Tracker:
    """Records snapshots of a model's prunable layers into a run file.

    Args:
        model: the network being trained.
        path: the ``.h5`` run file to create.
        layers: names of the modules to record (default: every conv and linear layer,
            the engine's prunable layers); or ``filter(name, module) -> bool``.
        masks: explicit masks ``{layer: bool/0-1 tensor}`` (default: torch.nn.utils.prune's
            ``weight_mask``, else dense); replace them later with ``prune_event(masks=)``.
        zeros_are_pruned: read exact zeros as pruned in layers without a mask (a model
            whose pruning was made permanent).
        control: run id, or path of the run file, of this run's unpruned control.
        run_id: identity stored in the file (default: the file name without ``.h5``).
        config: your run's settings (JSON), stored in the file for ``shedding compare``.
        optimizer: read the learning rate from ``param_groups[0]["lr"]`` at each snapshot.
        example_input: a batch, to pair each layer with its BatchNorm exactly (else by
            module order).
        overwrite: replace an existing file at ``path``.
        writer_options: passed to :class:`tracking.RunWriter` (sample_per_layer,
            compression, max_queue, background).

    Raises:
        TrackerError: no prunable layer, a bad mask, or ``path`` already being recorded.
    """

    def __init__(
        self,
        model: nn.Module,
        path: str | os.PathLike[str],
        *,
        layers: Sequence[str] | None = None,
        filter: LayerFilter | None = None,
        masks: Mapping[str, Any] | None = None,
        zeros_are_pruned: bool = False,
        control: str | os.PathLike[str] = "",
        run_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        example_input: torch.Tensor | None = None,
        overwrite: bool = False,
        **writer_options: Any,
    ) -> None:
        self.path = Path(path)
        self.layers = find_layers(model, layers=layers, filter=filter)
        self._reader = MaskReader(self.layers, zeros_are_pruned=zeros_are_pruned)
        if masks is not None:
            self._reader.set_explicit(masks)
        self.bn = _bn_modules(model, list(self.layers), example_input)
        self.optimizer = optimizer
        self.round = 0
        self.n_snapshots = 0
        self._epoch = 0.0
        self._t0 = time.time()
        self._last: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None
        self._masks = {n: m.cpu().numpy() for n, m in self._reader.all_masks().items()}
        self._writer: RunWriter | None = self._open_writer(
            model, run_id, control, config, overwrite=overwrite, **writer_options
        )

    def _open_writer(
        self,
        model: nn.Module,
        run_id: str | None,
        control: str | os.PathLike[str],
        config: Mapping[str, Any] | None,
        **options: Any,
    ) -> RunWriter:
        key = self.path.resolve()
        with _OPEN_LOCK:
            if key in _OPEN:
                raise TrackerError(
                    f"{self.path} is already being recorded by another Tracker; close that "
                    "one first or choose another path"
                )
            _OPEN.add(key)
        specs = [
            LayerSpec(n, tuple(raw_weight(m).shape), bn=self.bn[n][0] if n in self.bn else "")
            for n, m in self.layers.items()
        ]
        device = next(iter(self.layers.values())).weight.device
        stored = {
            "source": "shedding.track",
            "model": {"name": type(model).__name__},
            "layers": list(self.layers),
            **dict(config or {}),
        }
        try:
            return RunWriter(
                self.path,
                layers=specs,
                config=stored,
                environment=environment(device),
                run_id=run_id or self.path.stem,
                control=control_id(control) if control else "",
                **options,
            )
        except RecordError as e:
            _OPEN.discard(key)
            raise TrackerError(str(e)) from None
        except BaseException:
            _OPEN.discard(key)
            raise

    # ------------------------------------------------------------------ recording
    def _live(self, what: str) -> RunWriter:
        """The open writer; raises TrackerError naming ``what`` after close()."""
        if self._writer is None:
            raise TrackerError(
                f"{what} after close(): the tracker of {self.path} is closed; open a new "
                "Tracker (another path) to record more"
            )
        return self._writer

    def _phase(self, phase: str | None) -> str:
        return phase or ("dense" if self.round == 0 else "retrain")

    @torch.no_grad()
    def snapshot(
        self,
        *,
        epoch: float,
        step: int | None = None,
        phase: str | None = None,
        metrics: Mapping[str, float] | None = None,
        lr: float | None = None,
    ) -> None:
        """Record the weights and masks now, and ``metrics`` (any numeric names) if given.

        Args:
            epoch: training time in epochs (fractions for every-k-steps snapshots); use
                the same values in a run and in its control.
            step: optimizer step (default: the number of snapshots so far).
            phase: any label (default "dense" before the first prune event, "retrain" after).
            metrics: e.g. ``{"test_acc": 0.91, "top5": 0.99}``; non-numbers are refused.
            lr: learning rate (default: from ``optimizer``, else NaN).
        """
        writer = self._live("snapshot()")
        changed = self._reader.changed_buffers()
        if changed:
            raise TrackerError(
                f"the weight_mask of {changed} changed since the last prune event; call "
                "tracker.prune_event() right after pruning, before the next snapshot"
            )
        weights, masks = self._reader.effective()
        gammas = {
            n: cast(torch.Tensor, bn.weight).detach().to("cpu", torch.float32, copy=True).numpy()
            for n, (_, bn) in self.bn.items()
            if getattr(bn, "weight", None) is not None
        }
        self._epoch = float(epoch)
        writer.record(
            step=self.n_snapshots if step is None else int(step),
            epoch=float(epoch),
            phase=self._phase(phase),
            round=self.round,
            lr=self._lr(lr),
            weights=weights,
            masks=masks,
            bn_gamma=gammas or None,
        )
        self._last = (weights, masks)
        self.n_snapshots += 1
        if metrics:
            self.log(epoch=epoch, phase=phase, lr=lr, **metrics)

    def log(
        self, *, epoch: float, phase: str | None = None, lr: float | None = None, **metrics: float
    ) -> None:
        """Log one row of metrics (any numeric names) without a snapshot."""
        writer = self._live("log()")
        clash = sorted(RESERVED & set(metrics))
        if clash:
            raise TrackerError(
                f"metric names {clash} are reserved (every row has them); rename them, "
                "e.g. 'val_round'"
            )
        try:
            writer.log_metrics(
                epoch=float(epoch),
                phase=self._phase(phase),
                round=self.round,
                lr=self._lr(lr),
                wall_time=time.time() - self._t0,
                **metrics,
            )
        except RecordError as e:
            raise TrackerError(str(e)) from None

    @torch.no_grad()
    def prune_event(
        self,
        *,
        epoch: float | None = None,
        masks: Mapping[str, Any] | None = None,
        method: str = "",
        phase: str | None = None,
        snapshot: bool = True,
        **info: Any,
    ) -> dict[str, Any]:
        """Say that you just pruned (call it at the same point in the control, which prunes
        nothing, so the two runs have the same rounds).

        Starts round ``k + 1``: logs the event (per layer pruned / kept / RMS of the kept
        weights, amount, sparsity, GMP threshold) and sets the threshold reference the way
        the engine does, from the weights of the most recent snapshot (take one right
        before pruning), then records the at-prune snapshot.

        Args:
            epoch: when (default: the epoch of the last snapshot).
            masks: new explicit masks, if the tracker was given masks.
            method: your pruner's name, stored in the event (``shedding analyze`` shows it).
            phase: label of the at-prune snapshot (default "retrain").
            snapshot: record the at-prune snapshot (the start of the round).
            info: more JSON fields for the event (e.g. ``protocol="finetune"``).

        Returns:
            The event as stored.
        """
        writer = self._live("prune_event()")
        if masks is not None:
            self._reader.set_explicit(masks)
        new = {n: m.cpu().numpy() for n, m in self._reader.all_masks().items()}
        weights = self._last[0] if self._last is not None else self._current(self._masks)
        ref = prune_reference(weights, self._masks, new)
        epoch = self._epoch if epoch is None else float(epoch)
        event = event_dict(ref, round=self.round + 1, epoch=epoch, info={"method": method, **info})
        try:
            writer.log_event(event)
        except RecordError as e:
            raise TrackerError(str(e)) from None
        writer.set_reference(layer_rms=ref.layer_rms, gmp_threshold=ref.gmp_threshold)
        self.round += 1
        self._masks, self._last = new, None
        if snapshot:
            self.snapshot(epoch=epoch, phase=phase)
        return event

    def masks_changed(self) -> bool:
        """True when torch.nn.utils.prune replaced a ``weight_mask`` since the last prune
        event (the trainer callbacks call :meth:`prune_event` then)."""
        return bool(self._reader.changed_buffers())

    pruned = prune_event  # alias: ``tracker.pruned()`` reads well after pruning

    def _current(self, masks: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            n: raw_weight(m).detach().to("cpu", torch.float32).numpy() * masks[n]
            for n, m in self.layers.items()
        }

    def _lr(self, lr: float | None) -> float:
        if lr is not None:
            return float(lr)
        if self.optimizer is not None:
            return float(self.optimizer.param_groups[0]["lr"])
        return float("nan")

    # ------------------------------------------------------------------ closing
    def flush(self) -> None:
        """Block until everything recorded so far is committed to the file."""
        writer = self._live("flush()")
        writer.flush()

    def close(self, status: str = "complete") -> None:
        """Commit everything and close the file (idempotent)."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        try:
            writer.close(status)
        finally:
            with _OPEN_LOCK:
                _OPEN.discard(self.path.resolve())

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close("complete")
        else:
            with contextlib.suppress(Exception):
                self.close("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "crashed")


def _bn_modules(
    model: nn.Module, names: list[str], example_input: torch.Tensor | None
) -> dict[str, tuple[str, nn.Module]]:
    """Layer -> (name, module) of the BatchNorm that follows it (layers without: absent)."""
    modules = dict(model.named_modules())
    pairs = bn_after(model, names, example_input=example_input)
    return {n: (bn, modules[bn]) for n, bn in pairs.items() if bn}


def open(model: nn.Module, path: str | os.PathLike[str], **options: Any) -> Tracker:
    """Open a :class:`Tracker` on ``model`` writing ``path`` (use it as a context manager)."""
    return Tracker(model, path, **options)
