"""Run file format: names, version, grids and chunk shapes (no I/O here).

Everything the writer creates and the reader expects is named in this module, so the two
cannot drift apart. docs/run-format.md describes the layout; version 2 adds named
dimensions, the statistics-only record mode and free-form phase labels and metrics
(:mod:`tracking.labels`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

FORMAT_NAME = "cascade-shedding-run"
FORMAT_VERSION = 2  # v1 files (no dimension scales, no labels, always "full") stay readable
READABLE_VERSIONS = (1, 2)

STATUSES = ("running", "complete", "crashed", "interrupted")
PHASES = ("dense", "retrain")  # codes 0 and 1; v2 files append free-form labels

# Threshold grids (float64). Counts are "#kept with magnitude < threshold" (strict <), the
# threshold rounded to float32 (see stats.threshold_f32).
ABS_GRID = np.logspace(-8, 0, 33)
REL_GRID = np.logspace(-4, 0, 17)  # contains 0.01 exactly (index 8)
GMP_GRID = np.logspace(-2, 1, 13)
PERCENTILE_Q = np.array([0, 1, 5, 25, 50, 75, 95, 99, 100], dtype=np.float64)
# 72 edges: a zero bin [0, 1e-8) then 70 log bins up to 10; the last bin also takes >= 10.
HIST_EDGES = np.concatenate([[0.0], np.logspace(-8, 1, 71)])

# The toolkit's default shedding rule: layer-relative, c = 1% of the reference kept RMS.
DEFAULT_REL_C = 0.01
DEFAULT_REL_INDEX = int(np.flatnonzero(REL_GRID == DEFAULT_REL_C)[0])

GRIDS = {
    "abs_grid": ABS_GRID,
    "rel_grid": REL_GRID,
    "gmp_grid": GMP_GRID,
    "hist_edges": HIST_EDGES,
    "percentile_q": PERCENTILE_Q,
}

# /index columns, in write order; "step" is written LAST and is the commit marker.
INDEX_COLUMNS: dict[str, type[Any]] = {
    "epoch": np.float64,
    "phase": np.int8,
    "round": np.int32,
    "wall_time": np.float64,
    "lr": np.float64,
    "step": np.int64,
}
INDEX_MARKER = "step"

# /metrics columns; "n_snapshots" = snapshots recorded before the row (used by resume);
# "wall_time" is written LAST and is the commit marker.
METRIC_COLUMNS: dict[str, type[Any]] = {
    "epoch": np.float64,
    "phase": np.int8,
    "round": np.int32,
    "train_loss": np.float64,
    "train_acc": np.float64,
    "test_loss": np.float64,
    "test_acc": np.float64,
    "lr": np.float64,
    "n_snapshots": np.int64,
    "wall_time": np.float64,
}
METRICS_MARKER = "wall_time"

# /events: SWMR cannot store variable-length strings, so the JSON objects are one UTF-8
# byte stream ("bytes") cut by end offsets ("end", the commit marker).
EVENT_COLUMNS: dict[str, type[Any]] = {"n_snapshots": np.int64, "end": np.int64}
EVENTS_MARKER = "end"

# Per-layer snapshot datasets: name -> (dtype, width), width in
# {"N": weights, "M": packed bytes, "C": channels, "P"/"A"/"R"/"G"/"B": grids, "K": samples,
# "": scalar per snapshot}.
LAYER_DATASETS: dict[str, tuple[type[Any], str]] = {
    "magnitude": (np.float16, "N"),
    "mask": (np.uint8, "M"),
    "kept": (np.uint8, "M"),
    "n_kept": (np.int64, ""),
    "rms_kept": (np.float32, ""),
    "ref_rms": (np.float32, ""),
    "ref_source": (np.int8, ""),
    "gmp_threshold": (np.float32, ""),
    "percentiles": (np.float32, "P"),
    "below_abs": (np.int64, "A"),
    "below_rel": (np.int64, "R"),
    "below_gmp": (np.int64, "G"),
    "hist": (np.int64, "B"),
    "channel_kept": (np.int32, "C"),
    "channel_shed": (np.int32, "C"),
    "newly_shed": (np.int64, ""),
    "revived": (np.int64, ""),
    "sample_value": (np.float32, "K"),
    "bn_gamma": (np.float32, "C"),  # only when the layer has a BN layer after it
}
BULK_DATASETS = ("magnitude", "mask", "kept")
STAT_NAMES = tuple(n for n in LAYER_DATASETS if n not in (*BULK_DATASETS, "sample_value"))


def widths(*, n_weights: int, n_channels: int, n_samples: int) -> dict[str, int]:
    """Width of every per-layer dataset code for one layer."""
    return {
        "N": n_weights,
        "M": (n_weights + 7) // 8,
        "C": n_channels,
        "P": len(PERCENTILE_Q),
        "A": len(ABS_GRID),
        "R": len(REL_GRID),
        "G": len(GMP_GRID),
        "B": len(HIST_EDGES) - 1,
        "K": n_samples,
    }


def chunk_shape(width: int, itemsize: int) -> tuple[int, ...]:
    """Explicit chunk shape for a dataset with a resizable snapshot axis.

    Bulk rows (magnitudes, bitsets) get one snapshot per chunk, capped at 4 MiB, so writing
    a snapshot writes whole chunks and reading one snapshot reads only its own chunks.
    Small rows are grouped to about 4 KiB so per-chunk overhead stays negligible while a
    run with few snapshots does not pay for large, mostly empty chunks.
    """
    if width == 0:
        return (128,)
    row_bytes = width * itemsize
    if row_bytes >= 4096:
        # split a long row into equal chunks (a ragged last chunk would be allocated whole)
        n_chunks = -(-row_bytes // (4 << 20))
        return (1, -(-width // n_chunks))
    return (max(1, min(256, 4096 // row_bytes)), width)


def layer_group_name(name: str) -> str:
    """HDF5 group name of a layer: the module name itself ('.' is legal in HDF5 names)."""
    return name


# ---------------------------------------------------------------- format v2 additions
# v2 = v1 + named dimensions (HDF5 dimension scales, the netCDF-4 convention, so xarray and
# netCDF tools open every group with named, shared axes) + the recording mode attribute.
# A v1 file reads exactly as before; the reader only looks at these when present.
RECORD_MODES = ("full", "stats")  # "stats": no magnitude/mask/kept datasets

# width code -> dimension name
DIM_NAMES = {
    "N": "weight",
    "M": "byte",
    "C": "channel",
    "P": "percentile_q",
    "A": "abs_grid",
    "R": "rel_grid",
    "G": "gmp_grid",
    "B": "bin",
    "K": "sample",
}
SNAPSHOT_DIM = "snapshot"
# dimensions without values, one per file (at the root; unlimited)
ROOT_DIMS = (SNAPSHOT_DIM, "metric_row", "metric_byte", "event", "event_byte", "phase_label")
# per-layer dimensions without values (datasets of these names in each layer group)
LAYER_DIMS = ("weight", "byte", "channel", "sample")
# netCDF-4's NAME of a dimension scale that is a dimension but not a variable
NOT_A_VARIABLE = b"This is a netCDF dimension but not a netCDF variable."


def coordinate_values() -> dict[str, np.ndarray]:
    """Root coordinate variables (dimension scales with values): the grids, and per
    histogram bin its lower edge."""
    return {
        "percentile_q": PERCENTILE_Q,
        "abs_grid": ABS_GRID,
        "rel_grid": REL_GRID,
        "gmp_grid": GMP_GRID,
        "bin": HIST_EDGES[:-1],
    }
