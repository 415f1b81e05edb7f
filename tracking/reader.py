"""open_run: read a run file, finished or still being written (SWMR).

The number of snapshots is the length of ``/index/step`` (the commit marker); rows beyond
it in any other dataset are ignored. :meth:`Run.refresh` picks up snapshots committed since.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tracking import format as fmt
from tracking import labels, tables
from tracking.errors import DamagedRunFile, NoMagnitudes, UnsupportedVersion
from tracking.integrity import check_complete, guarded, reading
from tracking.opening import open_hdf5


@dataclass(frozen=True)
class LayerInfo:
    """A recorded layer as stored in the file."""

    name: str
    shape: tuple[int, ...]
    n_weights: int
    n_channels: int
    bn: str


@dataclass(frozen=True)
class Index:
    """One entry per committed snapshot."""

    step: np.ndarray  # (S,) int64
    epoch: np.ndarray  # (S,) float64
    phase: np.ndarray  # (S,) str: "dense" / "retrain"
    round: np.ndarray  # (S,) int32: 0 = dense, k = retraining after prune round k
    wall_time: np.ndarray  # (S,) float64 seconds since the epoch
    lr: np.ndarray  # (S,) float64


@dataclass(frozen=True)
class LayerStats:
    """Per-snapshot statistics of one layer, first ``len(run)`` rows (docs/run-format.md)."""

    n_kept: np.ndarray  # (S,)
    rms_kept: np.ndarray  # (S,)
    ref_rms: np.ndarray  # (S,) reference RMS in force
    ref_source: np.ndarray  # (S,) 0 = own kept RMS, 1 = set at a prune event
    gmp_threshold: np.ndarray  # (S,) NaN if unknown
    percentiles: np.ndarray  # (S, P) at grids["percentile_q"]
    below_abs: np.ndarray  # (S, A)
    below_rel: np.ndarray  # (S, R)
    below_gmp: np.ndarray  # (S, G), -1 without GMP threshold
    hist: np.ndarray  # (S, B) over grids["hist_edges"]
    channel_kept: np.ndarray  # (S, C)
    channel_shed: np.ndarray  # (S, C)
    newly_shed: np.ndarray  # (S,)
    revived: np.ndarray  # (S,)
    bn_gamma: np.ndarray | None  # (S, C) or None without BN


def committed_rows(ds: h5py.Dataset, fill: float) -> int:
    """Rows of a marker dataset whose value is written (a live reader may see the last
    row resized but not yet written: it still holds the fill value).

    Args:
        ds: a one-column marker dataset (``index/step``, the metrics or events marker).
        fill: its fill value (NaN or a number).
    """
    n = ds.shape[0]
    while n > 0:
        last = ds[n - 1]
        if not (np.isnan(last) if np.isnan(fill) else last == fill):
            break
        n -= 1
    return n


def _check_types(config: Any, environment: Any, resumed: Any, phases: Any) -> None:
    """The JSON root attributes must have the shapes every reader relies on."""
    if not (isinstance(config, dict) and isinstance(environment, dict)):
        raise ValueError("config and environment must be JSON objects")
    if not isinstance(resumed, list):
        raise ValueError("resumed must be a JSON list")
    if not (isinstance(phases, list) and all(isinstance(p, str) for p in phases)):
        raise ValueError("phase_names must be a JSON list of strings")


class Run:
    """A run file opened for reading. Use :func:`open_run`."""

    def __init__(self, path: Path, f: h5py.File) -> None:
        self.path = path
        self._f = f
        self._swmr = bool(f.swmr_mode)
        try:
            attrs = f.attrs
            self.format_version = int(attrs["format_version"])
            self.run_id = str(attrs["run_id"])
            self.control = str(attrs["control"])
            self.toolkit_version = str(attrs["toolkit_version"])
            self.created = str(attrs["created"])
            self.config: dict[str, Any] = json.loads(attrs["config"])
            self.environment: dict[str, Any] = json.loads(attrs["environment"])
            self.resumed: list[dict[str, Any]] = json.loads(attrs["resumed"])
            self.grids = {k: np.asarray(attrs[k]) for k in fmt.GRIDS}
            self._phases = json.loads(attrs["phase_names"])
            self.record_mode = str(attrs.get("record_mode", "full"))  # v1: always "full"
            names = json.loads(f["layers"].attrs["names"])
            self.layers = [self._layer_info(f["layers"][n]) for n in names]
            self._layer_groups = {n: f["layers"][n] for n in names}
            self._step = f["index/step"]
            _check_types(self.config, self.environment, self.resumed, self._phases)
        except (KeyError, OSError, ValueError, TypeError, AttributeError, RuntimeError) as e:
            raise DamagedRunFile(
                f"{path} is damaged at its root metadata or layer list ({e}); fix: it cannot "
                "be repaired here, re-run the experiment or restore the file from a copy"
            ) from e
        self._n = 0
        self.refresh()
        check_complete(f, path, names, self._n)

    @staticmethod
    def _layer_info(g: h5py.Group) -> LayerInfo:
        for attr in ("name", "shape", "n_weights", "n_channels", "bn"):
            if attr not in g.attrs:
                raise ValueError(f"layer group {g.name} has no {attr!r} attribute")
        return LayerInfo(
            name=str(g.attrs["name"]),
            shape=tuple(int(s) for s in g.attrs["shape"]),
            n_weights=int(g.attrs["n_weights"]),
            n_channels=int(g.attrs["n_channels"]),
            bn=str(g.attrs["bn"]),
        )

    # ------------------------------------------------------------------ live
    @guarded("/index/step")
    def refresh(self) -> int:
        """Pick up snapshots committed since the last call; returns ``len(self)``."""
        if self._swmr:
            self._step.refresh()
        self._n = committed_rows(self._step, -1)
        return self._n

    def __len__(self) -> int:
        return self._n

    @property
    @guarded("/status")
    def status(self) -> str:
        """ "running", "complete", "crashed" or "interrupted" (re-read on every access).

        A writer killed by a signal cannot update it: "running" with no new snapshot
        for a long time means the writer died.
        """
        ds = self._f["status"]
        if self._swmr:
            ds.refresh()
        return ds[()].decode()

    # ------------------------------------------------------------------ tables
    def _read(self, ds: h5py.Dataset, stop: int | None = None) -> np.ndarray:
        if self._swmr:
            ds.refresh()
        try:
            return ds[: self._n if stop is None else stop]
        except OSError as e:
            raise DamagedRunFile(
                f"{self.path} is damaged at {ds.name} ({e}); fix: re-run or restore a copy"
            ) from e

    def _decode_phase(self, codes: np.ndarray) -> np.ndarray:
        phases = labels.phase_names(self._f, self._phases, swmr=self._swmr)
        names = np.array([*phases, ""], dtype=object)
        return names[np.where(codes < 0, len(self._phases), codes)].astype(str)

    @property
    @guarded("/index")
    def index(self) -> Index:
        """The snapshot index (step, epoch, phase, round, wall_time, lr)."""
        cols = {k: self._read(self._f["index"][k]) for k in fmt.INDEX_COLUMNS}
        cols["phase"] = self._decode_phase(cols["phase"])
        return Index(**cols)

    @property
    @guarded("/metrics")
    def metrics(self) -> dict[str, np.ndarray]:
        """Per-epoch metric columns (NaN where not logged); phase decoded to str; in v2
        files also every free-form metric (a column per name)."""
        g = self._f["metrics"]
        if self._swmr:
            g[fmt.METRICS_MARKER].refresh()
        n = committed_rows(g[fmt.METRICS_MARKER], np.nan)
        cols = {k: self._read(g[k], n) for k in fmt.METRIC_COLUMNS}
        cols["phase"] = self._decode_phase(cols["phase"])
        extra = labels.extra_metrics(g, n, swmr=self._swmr)
        return {**cols, **{k: v for k, v in extra.items() if k not in cols}}

    @property
    @guarded("/events")
    def events(self) -> list[dict[str, Any]]:
        """Prune events, in logging order; each has its ``n_snapshots`` (recorded before it)."""
        g = self._f["events"]
        if self._swmr:
            g[fmt.EVENTS_MARKER].refresh()
        n = committed_rows(g[fmt.EVENTS_MARKER], -1)
        ends = self._read(g[fmt.EVENTS_MARKER], n)
        blob = self._read(g["bytes"], int(ends[-1]) if n else 0).tobytes()
        counts = self._read(g["n_snapshots"], n)
        starts = np.concatenate([[0], ends[:-1]])[:n]  # (n,) also when n == 0
        return [
            {**json.loads(blob[s:e]), "n_snapshots": int(c)}
            for s, e, c in zip(starts, ends, counts, strict=True)
        ]

    # ------------------------------------------------------------------ layers
    def _group(self, layer: str) -> h5py.Group:
        try:
            return self._layer_groups[layer]
        except KeyError:
            raise KeyError(
                f"layer {layer!r} is not in {self.path.name}; layers: {list(self._layer_groups)}"
            ) from None

    def _row(self, layer: str, name: str, snapshot: int) -> np.ndarray:
        if not -self._n <= snapshot < self._n:
            raise IndexError(
                f"snapshot {snapshot} out of range: {self.path} has {self._n} snapshots"
                " (call refresh() to see new ones)"
            )
        g = self._group(layer)
        with reading(self.path, f"layer {layer!r} {name!r}"):
            ds = g[name]
            if self._swmr:
                ds.refresh()
            return ds[snapshot % self._n]

    @property
    def has_magnitudes(self) -> bool:
        """Whether per-weight magnitudes and bitsets are stored (``record_mode == "full"``)."""
        return self.record_mode == "full"

    def require_magnitudes(self, what: str) -> None:
        """Raise :class:`NoMagnitudes` (one line naming ``what``) on a statistics-only file."""
        if not self.has_magnitudes:
            raise NoMagnitudes(
                f"{self.path.name} was recorded statistics-only (record.mode='stats') and has "
                f"no {what}, which this needs (a threshold off the stored grid, an overlap, "
                "revivals); fix: use a threshold on the stored grid, or re-record the run "
                "with record.mode='full'"
            )

    def _info(self, layer: str) -> LayerInfo:
        self._group(layer)
        return next(info for info in self.layers if info.name == layer)

    def magnitudes(self, layer: str, snapshot: int) -> np.ndarray:
        """|effective weights| (float16, layer shape) at one snapshot."""
        self.require_magnitudes(f"magnitudes of {layer}")
        return self._row(layer, "magnitude", snapshot).reshape(self._info(layer).shape)

    def _bits(self, layer: str, name: str, snapshot: int) -> np.ndarray:
        self.require_magnitudes(f"{name} bitsets of {layer}")
        info = self._info(layer)
        packed = self._row(layer, name, snapshot)
        return np.unpackbits(packed, count=info.n_weights).astype(bool).reshape(info.shape)

    def mask(self, layer: str, snapshot: int) -> np.ndarray:
        """Pruning mask (bool, layer shape; True = kept by the pruner)."""
        return self._bits(layer, "mask", snapshot)

    def kept(self, layer: str, snapshot: int) -> np.ndarray:
        """Effective kept set at the default rule (mask and not shed), bool, layer shape."""
        return self._bits(layer, "kept", snapshot)

    def stats(self, layer: str) -> LayerStats:
        """All per-snapshot statistics of ``layer`` (first ``len(self)`` rows)."""
        g = self._group(layer)
        with reading(self.path, f"layer {layer!r} statistics"):
            cols = {k: self._read(g[k]) for k in fmt.STAT_NAMES if k != "bn_gamma"}
            gamma = self._read(g["bn_gamma"]) if "bn_gamma" in g else None
            return LayerStats(**cols, bn_gamma=gamma)

    def samples(self, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Sampled flat weight indices (K,) and their signed values (S, K) float32."""
        g = self._group(layer)
        with reading(self.path, f"layer {layer!r} samples"):
            return g["sample_idx"][()], self._read(g["sample_value"])

    def iter_snapshots(
        self,
        layers: Sequence[str] | None = None,
        *,
        start: int = 0,
        stop: int | None = None,
        field: str = "magnitude",
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Stream one snapshot at a time: yields ``(s, {layer: array of the layer shape})``.

        Args:
            layers: layer names (default: all).
            start, stop: snapshot range (stop defaults to ``len(self)`` at the call).
            field: "magnitude" (float16), "mask" or "kept" (bool).
        """
        if field not in ("magnitude", "mask", "kept"):
            raise ValueError(f"field {field!r} must be 'magnitude', 'mask' or 'kept'")
        names = [info.name for info in self.layers] if layers is None else list(layers)
        stop = self._n if stop is None else min(stop, self._n)
        read = self.magnitudes if field == "magnitude" else (lambda n, s: self._bits(n, field, s))
        for s in range(start, stop):
            yield s, {name: read(name, s) for name in names}

    # ------------------------------------------------------------------ export
    def to_dataframe(self, table: str = "stats") -> Any:
        """``table`` ("stats": per snapshot and layer; "metrics"; "events") as a long-form
        pandas DataFrame (needs the ``export`` extra). See :mod:`tracking.tables`."""
        return tables.to_dataframe(self, table)

    def to_xarray(self) -> Any:
        """Per-snapshot, per-layer statistics as an ``xarray.Dataset`` on shared axes
        (needs the ``export`` extra). See :mod:`tracking.tables`."""
        return tables.to_xarray(self)

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {len(self)} snapshots, status={self.status!r})"


# format_version -> reader class; v2 adds dimension scales, the "stats" mode and labels,
# which the same reader handles (absent on a v1 file)
_READERS = dict.fromkeys(fmt.READABLE_VERSIONS, Run)


def _version(value: object) -> int | str | None:
    """``format_version`` as an int, or as stored (shown in the refusal) when it is not one."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None if value is None else str(value)


def open_run(path: str | os.PathLike[str]) -> Run:
    """Open a run file for reading (also while its writer is still running).

    Raises:
        MissingRunFile, NotARunFile, DamagedRunFile, UnsupportedVersion
            (all :class:`tracking.errors.RunFileError`).
    """
    p = Path(path)
    f = open_hdf5(p)
    try:
        version = _version(f.attrs.get("format_version"))
    except (KeyError, OSError, RuntimeError) as e:
        f.close()
        raise DamagedRunFile(f"{p} is damaged at its root attributes ({e})") from e
    reader = _READERS.get(version) if isinstance(version, int) else None
    if reader is None:
        f.close()
        newest = max(_READERS)
        fix = (
            "upgrade cascade-shedding (pip install -U cascade-shedding)"
            if isinstance(version, int) and version > newest
            else "the file is not a valid run file; re-run the experiment"
        )
        raise UnsupportedVersion(
            f"{p} has run format version {version!r}; this cascade-shedding reads versions "
            f"up to {newest}; fix: {fix}"
        )
    try:
        return reader(p, f)
    except BaseException:
        f.close()
        raise
