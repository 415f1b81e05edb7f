"""A run's statistics as pandas DataFrames (long form) and as an xarray Dataset.

pandas and xarray are optional (``pip install cascade-shedding[export]``); they are imported
on first use, so reading a run needs neither. Both work on every format version: they are
built from the reader, not from the file's dimension scales.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from tracking import format as fmt
from tracking.errors import TrackingError


class Run(Protocol):
    """What the tables read of a run: the members of :class:`tracking.reader.Run` they use
    (declared here so that this module does not import the reader, which imports it)."""

    run_id: str
    control: str
    format_version: int
    record_mode: str
    grids: dict[str, np.ndarray]
    layers: list[Any]  # of tracking.reader.LayerInfo

    def __len__(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def index(self) -> Any: ...  # a tracking.reader.Index

    @property
    def metrics(self) -> dict[str, np.ndarray]: ...

    @property
    def events(self) -> list[dict[str, Any]]: ...

    def stats(self, layer: str) -> Any: ...  # a tracking.reader.LayerStats


TABLES = ("stats", "metrics", "events")
# per-snapshot scalars of a layer, in column order
SCALAR_STATS = (
    "n_kept",
    "rms_kept",
    "ref_rms",
    "ref_source",
    "gmp_threshold",
    "newly_shed",
    "revived",
)
# (name in the file, dimension name) of the per-layer grid statistics
GRID_STATS = (
    ("percentiles", "percentile_q"),
    ("below_abs", "abs_grid"),
    ("below_rel", "rel_grid"),
    ("below_gmp", "gmp_grid"),
    ("hist", "bin"),
)


def optional(module: str) -> Any:
    """Import an optional dependency or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise TrackingError(
            f"{module} is not installed; fix: pip install 'cascade-shedding[export]' "
            f"(or pip install {module})"
        ) from e


def _index_columns(run: Run) -> dict[str, np.ndarray]:
    idx = run.index
    return {
        "snapshot": np.arange(len(run), dtype=np.int64),
        "step": idx.step,
        "epoch": idx.epoch,
        "phase": idx.phase,
        "round": idx.round,
        "lr": idx.lr,
        "wall_time": idx.wall_time,
    }


def stats_frame(run: Run) -> Any:
    """One row per (snapshot, layer): the index columns, the layer's size and scalar
    statistics, ``shed_default`` (kept weights below the default rule's threshold) and
    one column per stored percentile (``p0`` ... ``p100``)."""
    pd = optional("pandas")
    base = _index_columns(run)
    q_names = [f"p{q:g}" for q in run.grids["percentile_q"]]
    parts = []
    for info in run.layers:
        st = run.stats(info.name)
        cols: dict[str, Any] = dict(base)
        cols["layer"] = np.full(len(run), info.name, dtype=object)
        cols["n_weights"] = np.full(len(run), info.n_weights, dtype=np.int64)
        for name in SCALAR_STATS:
            cols[name] = getattr(st, name)
        cols["shed_default"] = st.below_rel[:, fmt.DEFAULT_REL_INDEX]
        cols.update({q: st.percentiles[:, i] for i, q in enumerate(q_names)})
        parts.append(pd.DataFrame(cols))
    if not parts:
        return pd.DataFrame(columns=[*base, "layer"])
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("snapshot", kind="stable", ignore_index=True)  # layers in order


def metrics_frame(run: Run) -> Any:
    """One row per logged metrics row (NaN where a value was not logged)."""
    return optional("pandas").DataFrame(run.metrics)


def events_frame(run: Run) -> Any:
    """One row per event; nested fields become dotted columns (``pandas.json_normalize``)."""
    pd = optional("pandas")
    events = run.events
    return pd.json_normalize(events) if events else pd.DataFrame(columns=["n_snapshots"])


def to_dataframe(run: Run, table: str = "stats") -> Any:
    """``run``'s ``table`` ("stats", "metrics" or "events") as a long-form DataFrame."""
    builders = {"stats": stats_frame, "metrics": metrics_frame, "events": events_frame}
    if table not in builders:
        raise TrackingError(f"table {table!r} is not one of {TABLES}; fix: pick one of them")
    return builders[table](run)


def to_xarray(run: Run) -> Any:
    """Every layer's per-snapshot statistics on shared axes (snapshot, layer, grids).

    Scalars are (snapshot, layer); percentiles, threshold counts and histograms add their
    grid axis. The index columns are coordinates along ``snapshot``; the grids (and each
    histogram bin's lower edge) are coordinates of their axes.
    """
    xr = optional("xarray")
    names = [info.name for info in run.layers]
    stats = [run.stats(n) for n in names]
    data: dict[str, Any] = {}
    for name in SCALAR_STATS:
        data[name] = (("snapshot", "layer"), _stack([getattr(s, name) for s in stats], run))
    for name, dim in GRID_STATS:
        width = len(fmt.coordinate_values()[dim])
        data[name] = (
            ("snapshot", "layer", dim),
            _stack([getattr(s, name) for s in stats], run, width),
        )
    coords: dict[str, Any] = {k: ("snapshot", v) for k, v in _index_columns(run).items()}
    coords["layer"] = ("layer", np.asarray(names, dtype=object))
    coords["n_weights"] = ("layer", np.array([i.n_weights for i in run.layers], np.int64))
    coords.update({dim: (dim, values) for dim, values in _grid_coords(run).items()})
    attrs = {
        "run_id": run.run_id,
        "control": run.control,
        "format_version": run.format_version,
        "record_mode": run.record_mode,
        "status": run.status,
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _grid_coords(run: Run) -> dict[str, np.ndarray]:
    g = run.grids
    return {
        "percentile_q": g["percentile_q"],
        "abs_grid": g["abs_grid"],
        "rel_grid": g["rel_grid"],
        "gmp_grid": g["gmp_grid"],
        "bin": g["hist_edges"][:-1],
    }


def _stack(columns: list[np.ndarray], run: Run, width: int | None = None) -> np.ndarray:
    """(S, L[, width]) from per-layer (S[, width]) columns; (S, 0[, width]) without layers."""
    if columns:
        return np.stack(columns, axis=1)
    shape = (len(run), 0) if width is None else (len(run), 0, width)
    return np.zeros(shape)
