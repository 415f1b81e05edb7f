"""Format v2: free-form phase labels and free-form numeric metrics.

Format v1 knows two phases ("dense", "retrain", in the ``phase_names`` attribute) and the
fixed /metrics columns. v2 adds, without changing anything v1 has:

- ``/phases``: fixed-width UTF-8 names (S64), one row per phase code, starting with
  v1's two. A new label is appended (and flushed) before the first row that uses its code,
  so a reader never meets a code it cannot name.
- ``/metrics/extra_bytes`` + ``/metrics/extra_end``: per /metrics row, one JSON object of
  the metrics that have no column of their own (``{"top5": 0.91}``), as a byte stream cut
  by end offsets, written before the row's commit marker.

SWMR cannot store variable-length strings or create datasets once writing starts, hence
the fixed-width names and the byte stream.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from tracking import format as fmt
from tracking.errors import RecordError

PHASE_DATASET = "phases"
PHASE_DTYPE = "S64"
EXTRA_BYTES = "extra_bytes"
EXTRA_END = "extra_end"


def create_label_datasets(f: h5py.File) -> None:
    """Create the v2 objects of an empty run file (before SWMR writing starts)."""
    names = np.array([p.encode() for p in fmt.PHASES], dtype=PHASE_DTYPE)
    f.create_dataset(PHASE_DATASET, data=names, maxshape=(None,), chunks=(64,), dtype=PHASE_DTYPE)
    m = f["metrics"]
    m.create_dataset(
        EXTRA_BYTES, shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(4096,), fillvalue=0
    )
    m.create_dataset(
        EXTRA_END, shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,), fillvalue=-1
    )


def check_phase(phase: object) -> str:
    """``phase`` if it is a storable label (non-empty str, at most 64 UTF-8 bytes)."""
    if not isinstance(phase, str) or not phase or len(phase.encode()) > 64:
        raise RecordError(
            f"phase {phase!r} must be a non-empty string of at most 64 UTF-8 bytes "
            "(e.g. 'dense', 'retrain', 'finetune')"
        )
    return phase


def split_metrics(row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Split a metrics row into its fixed /metrics columns and the free-form rest.

    Raises:
        RecordError: a free-form value that is not a real number (bool, str, tensor...).
    """
    fixed: dict[str, Any] = {}
    extra: dict[str, float] = {}
    for key, value in row.items():
        if key == "phase":
            fixed[key] = value
            continue
        if not isinstance(key, str) or not key:
            raise RecordError(f"metric name {key!r} must be a non-empty string")
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()  # numpy / torch scalars
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise RecordError(
                f"metric {key!r} = {value!r} is not a number; pass a float or int "
                "(e.g. float(tensor) or tensor.item())"
            )
        if key in fmt.METRIC_COLUMNS:
            fixed[key] = value
        else:
            extra[key] = float(value)
    return fixed, extra


def encode_extra(extra: Mapping[str, float]) -> bytes:
    """JSON bytes of one row's free-form metrics (NaN/inf stored as null)."""
    clean = {k: (v if math.isfinite(v) else None) for k, v in extra.items()}
    return json.dumps(clean, sort_keys=True).encode()


def append_stream(bytes_ds: h5py.Dataset, end_ds: h5py.Dataset, row: int, data: bytes) -> None:
    """Write ``data`` after the stream's last row and its end offset at ``row``."""
    start = int(end_ds[row - 1]) if row else 0
    stop = start + len(data)
    if bytes_ds.shape[0] < stop:
        bytes_ds.resize(stop, axis=0)
    if data:
        bytes_ds[start:stop] = np.frombuffer(data, dtype=np.uint8)
    if end_ds.shape[0] <= row:
        end_ds.resize(row + 1, axis=0)
    end_ds[row] = stop


def phase_names(f: h5py.File, fallback: list[str], *, swmr: bool) -> list[str]:
    """Phase code -> name: ``/phases`` in v2 files, else the v1 attribute list."""
    if PHASE_DATASET not in f:
        return fallback
    ds = f[PHASE_DATASET]
    if swmr:
        ds.refresh()
    return [bytes(b).decode() for b in ds[()] if len(b)]


def extra_metrics(g: h5py.Group, n: int, *, swmr: bool) -> dict[str, np.ndarray]:
    """Free-form metric columns (n,) float64 of the first ``n`` /metrics rows (NaN where a
    row did not log the key); {} for a v1 file."""
    if EXTRA_END not in g:
        return {}
    if swmr:
        g[EXTRA_END].refresh()
        g[EXTRA_BYTES].refresh()
    ends = g[EXTRA_END][:n]
    blob = g[EXTRA_BYTES][: int(ends[-1]) if len(ends) else 0].tobytes()
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)[: len(ends)]
    rows = [json.loads(blob[s:e] or b"{}") for s, e in zip(starts, ends, strict=True)]
    keys = sorted({k for r in rows for k in r})
    cols = {k: np.full(len(rows), np.nan) for k in keys}
    for i, r in enumerate(rows):
        for k, v in r.items():
            cols[k][i] = np.nan if v is None else v
    return cols


def copy_labels(src: h5py.File, dst: h5py.File, n_metrics: int) -> None:
    """Copy the v2 objects of ``src`` (if any) into a fresh v2 layout ``dst`` (resume)."""
    names = phase_names(src, [], swmr=False)
    if names:
        dst[PHASE_DATASET].resize(len(names), axis=0)
        dst[PHASE_DATASET][:] = np.array([n.encode() for n in names], dtype=PHASE_DTYPE)
    if EXTRA_END in src["metrics"]:
        ends = src["metrics"][EXTRA_END][:n_metrics]
        for row in range(len(ends)):
            start = int(ends[row - 1]) if row else 0
            data = src["metrics"][EXTRA_BYTES][start : int(ends[row])].tobytes()
            append_stream(dst["metrics"][EXTRA_BYTES], dst["metrics"][EXTRA_END], row, data)
    elif n_metrics:  # a v1 file: every kept row has no free-form metric
        for row in range(n_metrics):
            append_stream(dst["metrics"][EXTRA_BYTES], dst["metrics"][EXTRA_END], row, b"")
