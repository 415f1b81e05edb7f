"""WriterSession: the open file and the state the background thread writes with.

Only the writer's background thread (or ``record`` itself with ``background=False``)
touches a session. The commit protocol of a snapshot: append a row to every per-layer
dataset and every /index column except ``step``, flush, then append ``step``, flush.

A session with ``batch > 1`` commits several snapshots at once: each snapshot's bulk rows
(magnitudes and bitsets) are written as it comes, its small rows (statistics, sampled
weights, index) are staged and written together, one ``H5Dwrite`` per dataset for the
whole batch, then ``step`` grows by the batch. A reader sees the same rows either way,
only later; :meth:`WriterSession.commit` writes what is staged.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tracking import format as fmt
from tracking import labels
from tracking.errors import RecordError
from tracking.layout import LayerSpec, RowAppender, create_layout, sample_indices, write_row
from tracking.stats import compute_layer_snapshot

# snapshot rows are preallocated this many at a time (the commit marker /index/step grows
# one row per snapshot); close() trims every dataset back to the committed length
_GROW_ROWS = 64


def toolkit_version() -> str:
    """Installed cascade-shedding version, or "unknown" when running from a source tree."""
    try:
        return metadata.version("cascade-shedding")
    except metadata.PackageNotFoundError:
        return "unknown"


def root_attrs(
    *,
    config: Mapping[str, Any],
    environment: Mapping[str, Any] | None,
    run_id: str,
    control: str,
    resumed: Sequence[Mapping[str, Any]] = (),
) -> dict[str, str]:
    """The string attributes of the file root."""
    env = {"python": sys.version.split()[0], "host": socket.gethostname(), "os": platform.system()}
    env.update(environment or {})
    try:
        config_json = json.dumps(dict(config), sort_keys=True)
        env_json = json.dumps(env, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise RecordError(f"config and environment must be JSON-serialisable: {e}") from e
    return {
        "toolkit_version": toolkit_version(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "config": config_json,
        "environment": env_json,
        "run_id": run_id,
        "control": control,
        "resumed": json.dumps(list(resumed)),
    }


def snapshot_datasets(group: h5py.Group) -> dict[str, h5py.Dataset]:
    """A layer group's datasets with a snapshot axis (not its sample indices or scales)."""
    skip = {"sample_idx", *fmt.LAYER_DIMS}
    return {k: v for k, v in group.items() if k not in skip}


class WriterSession:
    """An open run file in SWMR write mode, plus the running state of the statistics."""

    def __init__(self, f: h5py.File, *, layers: Sequence[LayerSpec], batch: int = 1) -> None:
        self.f = f
        self.layers = list(layers)
        self.n = int(f["index/step"].shape[0])  # committed snapshots
        self.batch = max(1, int(batch))  # snapshots per commit at most
        self.pending = 0  # snapshots written or staged after the committed ones
        self.pending_since = 0.0  # time.monotonic() when the first of them came
        self.n_metrics = int(f["metrics/wall_time"].shape[0])
        self.n_events = int(f["events/end"].shape[0])
        self.n_bytes = int(f["events/end"][-1]) if self.n_events else 0
        self.refs: dict[str, float] = {}
        self.gmp: float | None = None
        self.prev_mask: dict[str, np.ndarray] = {}
        self.prev_kept: dict[str, np.ndarray] = {}
        # dataset handles, looked up once (h5py lookups cost ~10 us each)
        self.full = str(f.attrs.get("record_mode", "full")) == "full"
        self.ds = {spec.name: snapshot_datasets(f["layers"][spec.name]) for spec in self.layers}
        self.samples = {s.name: f["layers"][s.name]["sample_idx"][()] for s in self.layers}
        self.index = {k: f["index"][k] for k in fmt.INDEX_COLUMNS}
        self.metrics = {k: f["metrics"][k] for k in fmt.METRIC_COLUMNS}
        self.events = {k: f["events"][k] for k in ("bytes", *fmt.EVENT_COLUMNS)}
        self.status = f["status"]
        self.phases = labels.phase_names(f, list(fmt.PHASES), swmr=False)
        # per-snapshot row writers; every dataset but the marker grows in blocks of rows
        self.rows = {
            name: {k: RowAppender(ds, block=_GROW_ROWS) for k, ds in group.items()}
            for name, group in self.ds.items()
        }
        self.index_rows = {
            k: RowAppender(ds, block=1 if k == fmt.INDEX_MARKER else _GROW_ROWS)
            for k, ds in self.index.items()
        }
        f.swmr_mode = True  # no new objects or attributes from here on

    def write_snapshot(
        self,
        row: Mapping[str, Any],
        weights: Mapping[str, np.ndarray],
        masks: Mapping[str, np.ndarray],
        bn_gamma: Mapping[str, np.ndarray],
    ) -> None:
        """Compute one snapshot (index ``self.n + self.pending``): write its bulk rows,
        stage the others, and commit once ``self.batch`` snapshots are pending."""
        n = self.n + self.pending
        if not self.pending:
            self.pending_since = time.monotonic()
        for spec in self.layers:
            name = spec.name
            snap = compute_layer_snapshot(
                weights[name],
                masks[name],
                ref_rms=self.refs.get(name),
                gmp_threshold=self.gmp,
                prev_mask=self.prev_mask.get(name),
                prev_kept=self.prev_kept.get(name),
            )
            rows = self.rows[name]
            if self.full:
                rows["magnitude"].write(n, snap.magnitude)
                rows["mask"].write(n, snap.mask)
                rows["kept"].write(n, snap.kept)
            for key, value in vars(snap.stats).items():
                rows[key].stage(value)
            rows["sample_value"].stage(weights[name].reshape(-1)[self.samples[name]])
            if spec.bn:
                gamma = bn_gamma.get(name, np.full(spec.n_channels, np.nan, np.float32))
                rows["bn_gamma"].stage(gamma)
            self.prev_mask[name], self.prev_kept[name] = snap.mask, snap.kept
        for key, index_row in self.index_rows.items():
            index_row.stage(row[key])
        self.pending += 1
        if self.pending >= self.batch:
            self.commit()

    def commit(self) -> None:
        """Write the staged rows of the pending snapshots, flush, then grow the commit
        marker ``/index/step`` by them and flush again (nothing to do when none pend)."""
        if not self.pending:
            return
        n = self.n
        for rows in self.rows.values():
            for key, appender in rows.items():
                if key not in fmt.BULK_DATASETS:
                    appender.write_staged(n)
        for key, index_row in self.index_rows.items():
            if key != fmt.INDEX_MARKER:
                index_row.write_staged(n)
        self.f.flush()
        self.index_rows[fmt.INDEX_MARKER].write_staged(n)
        self.f.flush()
        self.n, self.pending = n + self.pending, 0

    def add_phase(self, name: str) -> None:
        """Append a phase label (its code is its row) before any row uses the code."""
        ds = self.f[labels.PHASE_DATASET]
        write_row(ds, len(self.phases), np.bytes_(name.encode()))
        self.f.flush()
        self.phases.append(name)

    def write_metrics(self, values: Mapping[str, Any], extra: bytes = b"") -> None:
        """Commit one /metrics row (``wall_time`` last) and its free-form metrics JSON."""
        for key, ds in self.metrics.items():
            if key != fmt.METRICS_MARKER:
                write_row(ds, self.n_metrics, values[key])
        m = self.f["metrics"]
        labels.append_stream(m[labels.EXTRA_BYTES], m[labels.EXTRA_END], self.n_metrics, extra)
        self.f.flush()
        write_row(self.metrics[fmt.METRICS_MARKER], self.n_metrics, values[fmt.METRICS_MARKER])
        self.f.flush()
        self.n_metrics += 1

    def write_event(self, data: bytes, n_snapshots: int) -> None:
        """Commit one event: its JSON bytes, then its end offset (the marker); the
        snapshots before it are committed first."""
        self.commit()
        end = self.n_bytes + len(data)
        self.events["bytes"].resize(end, axis=0)
        self.events["bytes"][self.n_bytes : end] = np.frombuffer(data, dtype=np.uint8)
        write_row(self.events["n_snapshots"], self.n_events, n_snapshots)
        self.f.flush()
        write_row(self.events[fmt.EVENTS_MARKER], self.n_events, end)
        self.f.flush()
        self.n_bytes, self.n_events = end, self.n_events + 1

    def close(self, status: str) -> None:
        """Write the final status and close the file."""
        try:
            # drop preallocated rows and any half-written snapshot: every snapshot dataset
            # ends with exactly the committed rows
            # (best effort: after a failed write the extra rows may stay; readers ignore them)
            with contextlib.suppress(Exception):
                for rows in (self.index_rows, *self.rows.values()):
                    for appender in rows.values():
                        appender.trim(self.n)
            self.status[()] = np.bytes_(status.encode())
            self.f.flush()
        finally:
            self.f.close()


def new_session(
    path: Path,
    *,
    layers: Sequence[LayerSpec],
    sample_per_layer: int,
    seed: int,
    compression: str | None,
    mode: str = "full",
    **attrs: Any,
) -> WriterSession:
    """Create a fresh run file at ``path`` and open it for SWMR writing.

    The file is built next to ``path`` and renamed into place once SWMR writing has
    started, so a reader never sees a half-created file (an empty file is "not HDF5").
    """
    samples = {s.name: sample_indices(s, n_samples=sample_per_layer, seed=seed) for s in layers}
    root = root_attrs(**attrs)
    tmp = path.with_name(path.name + ".creating")
    f = h5py.File(tmp, "w", libver="latest")
    try:
        create_layout(
            f, layers=layers, root_attrs=root, samples=samples, compression=compression, mode=mode
        )
        session = WriterSession(f, layers=layers)
        os.replace(tmp, path)  # POSIX: the open handle follows the file
        return session
    except BaseException:
        f.close()
        tmp.unlink(missing_ok=True)
        raise
