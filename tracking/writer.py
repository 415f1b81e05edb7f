"""RunWriter: records snapshots into a run file from a single background thread.

The training thread only validates and copies the arrays it hands over (``record``);
a bounded queue gives backpressure. The background thread computes the statistics,
writes every dataset, flushes, and only then extends ``/index/step`` (the commit marker)
and flushes again, so a live reader or a crash never exposes a half-written snapshot. It
commits snapshots in batches (at most ``_COMMIT_BATCH``, at most ``_COMMIT_LAG_S`` after
the first was recorded, and at every flush, event and close).
The file is in SWMR mode while open, so readers (``open_run``) can watch it live.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tracking import format as fmt
from tracking import labels
from tracking.buffers import SnapshotBuffers, as_arrays
from tracking.errors import RecordError, WriterFailed
from tracking.layout import LayerSpec
from tracking.lock import RunLock
from tracking.resume import resume_session, template_session
from tracking.session import WriterSession, new_session

_POLL_S = 0.2
#: The background writer commits snapshots in batches of at most this many, and at most
#: this many seconds after the first of them was recorded (or at flush, event and close):
#: one HDF5 write per small dataset per batch instead of per snapshot. A live reader,
#: refreshing every 2 s, sees a snapshot at most that much later.
_COMMIT_BATCH = 16
_COMMIT_LAG_S = 1.0


class RunWriter:
    """Writes one run file (the current format). Use as a context manager or call :meth:`close`.

    Args:
        path: the ``.h5`` file to create (or to continue with ``resume_from``).
        layers: recorded layers, in order.
        config: fully resolved experiment config (JSON-serialisable).
        environment: torch/CUDA/device/host/git info (JSON-serialisable); python and host
            are filled in when absent.
        run_id: identity of the run.
        control: run_id of its control run, or "".
        sample_per_layer: number of weights per layer whose signed values are stored.
        seed: seed of the sampled weight indices.
        background: compute and write on a background thread (False: inside ``record``).
        resume_from: continue an existing file keeping its first ``resume_from`` committed
            snapshots (works on a file whose writer was killed).
        overwrite: replace an existing file at ``path`` (otherwise refuse).
        max_queue: snapshots waiting to be written before ``record`` blocks; the writer
            keeps ``max_queue + 1`` preallocated copies of all weights and masks.
        compression: None (default), "lzf" or "gzip" (level 4) for magnitudes and bitsets.
            Pays for pruned runs (ResNet-50 at 20% density: lzf 2.8x smaller magnitudes)
            at about +0.4 s of background CPU per ResNet-50 snapshot; see the benchmark.
            A resumed file keeps the compression it was created with.
        mode: "full" (default: every magnitude and bitset) or "stats" (statistics, channel
            counts and sampled weights only, about 1% of the bytes; a resumed file keeps
            its mode). See docs/run-format.md.
        template: start the new file as a copy of this run file's committed snapshots,
            metrics and events (a file a RunWriter closed as complete, with the same
            layers, ``sample_per_layer``, ``seed``, compression and mode; checked, else
            RecordError). The engine keeps one per dense phase so a run does not record
            the dense trajectory again; the copy costs milliseconds.

    Raises:
        RunLocked: another live process is writing ``path`` (the writer holds the run's
            lock, ``<path>.lock``, from here until :meth:`close`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        layers: Sequence[LayerSpec],
        config: Mapping[str, Any],
        environment: Mapping[str, Any] | None = None,
        run_id: str = "",
        control: str = "",
        sample_per_layer: int = 256,
        seed: int = 0,
        background: bool = True,
        resume_from: int | None = None,
        overwrite: bool = False,
        max_queue: int = 2,
        compression: str | None = None,
        mode: str = "full",
        template: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._specs = {spec.name: spec for spec in layers}
        if len(self._specs) != len(layers):
            raise RecordError("duplicate layer names in `layers`; every LayerSpec needs its own")
        if max_queue < 1:
            raise RecordError(f"max_queue={max_queue} must be >= 1")
        if compression not in (None, "lzf", "gzip"):
            raise RecordError(f"compression={compression!r} must be None, 'lzf' or 'gzip'")
        args: dict[str, Any] = dict(
            layers=list(layers),
            config=config,
            environment=environment,
            run_id=run_id,
            control=control,
        )
        self._lock = RunLock(self.path)
        try:
            if resume_from is None and self.path.exists() and not overwrite:
                raise RecordError(
                    f"{self.path} already exists; pass resume_from=N to continue it, "
                    "overwrite=True to replace it, or choose another path"
                )
            if resume_from is None and template is not None:
                self._session: WriterSession = template_session(
                    self.path,
                    template=Path(template),
                    sample_per_layer=sample_per_layer,
                    seed=seed,
                    compression=compression,
                    mode=mode,
                    **args,
                )
            elif resume_from is None:
                self._session = new_session(
                    self.path,
                    sample_per_layer=sample_per_layer,
                    seed=seed,
                    compression=compression,
                    mode=mode,
                    **args,
                )
            else:
                self._session = resume_session(self.path, resume_from=resume_from, **args)
        except BaseException:
            self._lock.release()
            raise
        self._n_recorded = self._session.n
        self._phases = list(self._session.phases)  # the training thread's copy
        self._error: BaseException | None = None
        self._closed = False
        # items in write order; snapshots are bounded by the buffer pool, not by the queue
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._free: queue.Queue[SnapshotBuffers] = queue.Queue()
        self._thread: threading.Thread | None = None
        if background:
            self._session.batch = _COMMIT_BATCH
            for _ in range(max_queue + 1):  # max_queue waiting + one being written
                self._free.put(SnapshotBuffers(layers))
            self._thread = threading.Thread(target=self._run, name="RunWriter", daemon=True)
            self._thread.start()

    # ---------------------------------------------------------------- training thread
    @property
    def n_committed(self) -> int:
        """Snapshots committed to disk so far."""
        return self._session.n

    @property
    def n_recorded(self) -> int:
        """Snapshots handed to :meth:`record` so far (committed or queued)."""
        return self._n_recorded

    @property
    def layer_names(self) -> list[str]:
        """The recorded layers, in order."""
        return list(self._specs)

    def set_reference(self, *, layer_rms: Mapping[str, float], gmp_threshold: float | None) -> None:
        """Set the shedding reference for the following snapshots (call at a prune event).

        Args:
            layer_rms: layer -> RMS of its kept weights at the prune event. Layers left
                out keep using their own kept RMS per snapshot.
            gmp_threshold: global magnitude threshold GMP used / would use, or None.
        """
        unknown = sorted(set(layer_rms) - set(self._specs))
        if unknown:
            raise RecordError(f"set_reference: unknown layers {unknown}; valid: {self._names()}")
        refs = {name: float(v) for name, v in layer_rms.items()}
        gmp = None if gmp_threshold is None else float(gmp_threshold)
        self._put(("reference", refs, gmp))

    def record(
        self,
        *,
        step: int,
        epoch: float,
        phase: str,
        round: int,
        lr: float,
        weights: Mapping[str, np.ndarray],
        masks: Mapping[str, np.ndarray],
        bn_gamma: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Copy one snapshot and queue it; returns once queued.

        Blocks while ``max_queue`` snapshots are already waiting (backpressure).

        Args:
            step, epoch, phase, round, lr: index row (phase: "dense", "retrain" or any
                label; round 0 = before the first prune event).
            weights: layer -> float32 signed effective weights of the layer's shape.
            masks: layer -> bool pruning mask of the layer's shape (True = kept).
            bn_gamma: layer -> BN gamma (C,) for layers with a BN layer; missing -> NaN.
        """
        self._check_keys("weights", weights)
        self._check_keys("masks", masks)
        phase_code = self._phase_code(phase)
        row = {
            "epoch": float(epoch),
            "phase": phase_code,
            "round": int(round),
            "wall_time": time.time(),
            "lr": float(lr),
            "step": int(step),
        }
        if self._thread is None:
            arrays = as_arrays(list(self._specs.values()), weights, masks, bn_gamma)
            self._put(("snapshot", row, arrays))
        else:
            buffers = self._take_buffers()
            try:
                buffers.fill(weights, masks, bn_gamma)
            except BaseException:
                self._free.put(buffers)
                raise
            self._put(("snapshot", row, buffers))
        self._n_recorded += 1

    def log_metrics(self, **row: Any) -> None:
        """Append one /metrics row: epoch, phase, round, lr, wall_time and any numeric
        metric (train_loss, test_acc... have columns; other names are stored as free-form
        metrics). Raises RecordError on a value that is not a number."""
        fixed, extra = labels.split_metrics(row)
        values: dict[str, Any] = {k: np.nan for k in fmt.METRIC_COLUMNS}
        values.update(fixed)
        values["phase"] = self._phase_code(row["phase"]) if "phase" in row else -1
        values["round"] = int(row.get("round", -1))
        values["n_snapshots"] = self._n_recorded
        if "wall_time" not in row:
            values["wall_time"] = time.time()
        self._put(("metrics", values, labels.encode_extra(extra) if extra else b""))

    def log_event(self, event: Mapping[str, Any]) -> None:
        """Append one prune event (a JSON-serialisable dict) to /events."""
        try:
            data = json.dumps(dict(event), sort_keys=True).encode()
        except (TypeError, ValueError) as e:
            raise RecordError(f"log_event: event is not JSON-serialisable ({e})") from e
        self._put(("event", data, self._n_recorded))

    def flush(self) -> None:
        """Block until everything queued so far is committed to disk."""
        if self._thread is None:
            self._raise_if_failed()
            return
        done = threading.Event()
        self._put(("flush", done))
        while not done.wait(_POLL_S):
            self._raise_if_failed()
        self._raise_if_failed()

    def close(self, status: str = "complete") -> None:
        """Commit everything queued, write ``status`` and close the file (idempotent)."""
        if status not in fmt.STATUSES:
            raise RecordError(f"status {status!r} is not one of {fmt.STATUSES}")
        if self._closed:
            return
        try:
            if self._thread is not None and self._thread.is_alive():
                self._queue.put(("stop",))  # after a failure the worker skips what is left
                self._thread.join()
        finally:
            self._closed = True
            try:
                self._session.close("crashed" if self._error is not None else status)
            finally:
                self._lock.release()
        self._raise_if_failed()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close("complete")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted")
        else:
            # the exception already propagating is the one to report
            with contextlib.suppress(WriterFailed):
                self.close("crashed")

    # ---------------------------------------------------------------- helpers
    def _names(self) -> list[str]:
        return list(self._specs)

    def _check_keys(self, what: str, arrays: Mapping[str, Any]) -> None:
        missing = [n for n in self._specs if n not in arrays]
        extra = sorted(set(arrays) - set(self._specs))
        if missing or extra:
            raise RecordError(
                f"record: {what} must have exactly the recorded layers; missing {missing}, "
                f"unknown {extra}"
            )

    def _phase_code(self, phase: str) -> int:
        if phase not in self._phases:
            self._put(("phase", labels.check_phase(phase)))  # named before first use
            self._phases.append(phase)
        return self._phases.index(phase)

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._closed:
            raise RecordError(f"{self.path}: the writer is closed; open a new RunWriter")
        self._raise_if_failed()
        if self._thread is None:
            self._handle(item)
            return
        self._queue.put(item)

    def _take_buffers(self) -> SnapshotBuffers:
        if self._closed:
            raise RecordError(f"{self.path}: the writer is closed; open a new RunWriter")
        while True:  # wait for a free buffer set, but notice a dead worker
            self._raise_if_failed()
            try:
                return self._free.get(timeout=_POLL_S)
            except queue.Empty:
                pass

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise WriterFailed(
                f"background writer of {self.path} failed: {self._error!r}; snapshots "
                f"0..{self._session.n - 1} are committed, resume with resume_from="
                f"{self._session.n}"
            ) from self._error

    def _run(self) -> None:
        session = self._session
        while True:
            timeout = None  # wait for work; with snapshots pending, only until they are due
            if session.pending:
                timeout = max(0.0, session.pending_since + _COMMIT_LAG_S - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = ("commit",)
            try:
                if self._error is None:
                    self._handle(item)
            except BaseException as e:  # reported on the training thread
                self._error = e
            finally:
                if item[0] == "flush":
                    item[1].set()
                elif item[0] == "snapshot" and isinstance(item[2], SnapshotBuffers):
                    self._free.put(item[2])  # the buffers can take the next snapshot
            if item[0] == "stop":
                return

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "snapshot":
            row, arrays = item[1], item[2]
            self._session.write_snapshot(row, arrays.weights, arrays.masks, arrays.gammas)
        elif kind == "metrics":
            self._session.write_metrics(item[1], item[2])
        elif kind == "phase":
            self._session.add_phase(item[1])
        elif kind == "event":
            self._session.write_event(item[1], item[2])
        elif kind == "reference":
            self._session.refs, self._session.gmp = item[1], item[2]
        elif kind in ("commit", "flush", "stop"):
            self._session.commit()  # what is pending is due, asked for, or the last
