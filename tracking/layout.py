"""Create the layout of a run file (format v2) and append snapshot rows to it.

SWMR forbids creating objects or changing attributes once writing starts, so
:func:`create_layout` makes every group, dataset and attribute up front; afterwards rows
are only appended (resize + write) and the small ``status`` dataset is overwritten.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
from h5py import h5s

from tracking import dims, labels
from tracking import format as fmt
from tracking.errors import RecordError
from tracking.labels import create_label_datasets


@dataclass(frozen=True)
class LayerSpec:
    """A recorded layer: its name, weight shape (axis 0 = output channel), BN layer after it."""

    name: str
    shape: tuple[int, ...]
    bn: str = ""

    @property
    def n_weights(self) -> int:
        """Number of weights."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def n_channels(self) -> int:
        """Number of output channels (shape[0])."""
        return int(self.shape[0]) if self.shape else 1


def sample_indices(spec: LayerSpec, *, n_samples: int, seed: int) -> np.ndarray:
    """Fixed random flat indices (K,) int64, sorted; seeded by (seed, crc32 of the name)."""
    k = min(n_samples, spec.n_weights)
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
    return np.sort(rng.choice(spec.n_weights, size=k, replace=False)).astype(np.int64)


def _resizable(
    group: h5py.Group, name: str, dtype: type, width: int, *, compression: str | None = None
) -> h5py.Dataset:
    """An empty dataset (0,) or (0, width) resizable along the snapshot axis."""
    itemsize = np.dtype(dtype).itemsize
    shape = (0,) if width == 0 else (0, width)
    maxshape = (None,) if width == 0 else (None, width)
    fill = np.nan if np.dtype(dtype).kind == "f" else -1
    if np.dtype(dtype).kind == "u":
        fill = 0
    return group.create_dataset(
        name,
        shape=shape,
        maxshape=maxshape,
        dtype=dtype,
        chunks=fmt.chunk_shape(width, itemsize),
        fillvalue=fill,
        compression=compression,
    )


def create_layout(
    f: h5py.File,
    *,
    layers: Sequence[LayerSpec],
    root_attrs: dict[str, str],
    samples: dict[str, np.ndarray],
    compression: str | None = None,
    mode: str = "full",
) -> None:
    """Create every group, dataset, attribute and dimension scale of an empty run file.

    Args:
        f: a file opened for writing with ``libver="latest"`` (SWMR needs it).
        layers: recorded layers, in recording order.
        root_attrs: string attributes (toolkit_version, created, config, environment,
            run_id, control, resumed).
        samples: layer name -> sample indices (K,) int64.
        compression: None, "lzf" or "gzip" for the bulk datasets (magnitude, mask, kept).
        mode: "full" (every magnitude and bitset) or "stats" (no bulk datasets: statistics,
            channel counts and sampled weights only).
    """
    if mode not in fmt.RECORD_MODES:
        raise RecordError(f"record mode {mode!r} must be one of {fmt.RECORD_MODES}")
    _write_root_attrs(f, root_attrs, compression=compression, mode=mode)
    root_dims = dims.create_root_dimensions(f)
    f.create_dataset("status", data=np.bytes_(b"running"), dtype="S16")
    _create_tables(f, root_dims)
    group = f.create_group("layers")
    group.attrs["names"] = json.dumps([spec.name for spec in layers])
    for spec in layers:
        if "/" in spec.name or not spec.name:
            raise RecordError(f"layer name {spec.name!r} is empty or contains '/'; rename it")
        _create_layer(
            group, spec, samples[spec.name], root_dims, compression=compression, mode=mode
        )


def _write_root_attrs(
    f: h5py.File, root_attrs: dict[str, str], *, compression: str | None, mode: str
) -> None:
    """The root attributes: format, the caller's strings, the grids and the defaults."""
    f.attrs["format"] = fmt.FORMAT_NAME
    f.attrs["format_version"] = fmt.FORMAT_VERSION
    for key, value in root_attrs.items():
        f.attrs[key] = value
    for key, grid in fmt.GRIDS.items():
        f.attrs[key] = grid
    f.attrs["default_rule"] = "layer_relative"
    f.attrs["default_c"] = fmt.DEFAULT_REL_C
    f.attrs["phase_names"] = json.dumps(fmt.PHASES)
    f.attrs["bulk_compression"] = compression or ""
    f.attrs["record_mode"] = mode


def _create_tables(f: h5py.File, root_dims: dict[str, h5py.Dataset]) -> None:
    """The empty ``index``, ``metrics`` and ``events`` tables and the label datasets."""
    index = f.create_group("index")
    for name, dtype in fmt.INDEX_COLUMNS.items():
        dims.attach(_resizable(index, name, dtype, 0), root_dims[fmt.SNAPSHOT_DIM])
    metrics = f.create_group("metrics")
    for name, dtype in fmt.METRIC_COLUMNS.items():
        dims.attach(_resizable(metrics, name, dtype, 0), root_dims["metric_row"])
    create_label_datasets(f)
    dims.attach(f[labels.PHASE_DATASET], root_dims["phase_label"])
    dims.attach(metrics[labels.EXTRA_BYTES], root_dims["metric_byte"])
    dims.attach(metrics[labels.EXTRA_END], root_dims["metric_row"])
    events = f.create_group("events")
    blob = events.create_dataset(
        "bytes", shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(16384,), fillvalue=0
    )
    dims.attach(blob, root_dims["event_byte"])
    for name, dtype in fmt.EVENT_COLUMNS.items():
        dims.attach(_resizable(events, name, dtype, 0), root_dims["event"])


def _create_layer(
    group: h5py.Group,
    spec: LayerSpec,
    samples: np.ndarray,
    root_dims: dict[str, h5py.Dataset],
    *,
    compression: str | None,
    mode: str,
) -> None:
    """One layer's group: its attributes, dimension scales, sample indices and the empty
    per-snapshot datasets (without the bulk ones in "stats" mode, without ``bn_gamma``
    when no BatchNorm follows it)."""
    g = group.create_group(fmt.layer_group_name(spec.name))
    g.attrs["name"] = spec.name
    g.attrs["shape"] = np.asarray(spec.shape, dtype=np.int64)
    g.attrs["n_weights"] = spec.n_weights
    g.attrs["n_channels"] = spec.n_channels
    g.attrs["bn"] = spec.bn
    width = fmt.widths(n_weights=spec.n_weights, n_channels=spec.n_channels, n_samples=len(samples))
    scales = dims.create_layer_dimensions(g, width, root_dims)
    dims.attach(g.create_dataset("sample_idx", data=samples.astype(np.int64)), scales["K"])
    for name, (dtype, code) in fmt.LAYER_DATASETS.items():
        if (name == "bn_gamma" and not spec.bn) or (mode == "stats" and name in fmt.BULK_DATASETS):
            continue
        bulk = compression if name in fmt.BULK_DATASETS else None
        ds = _resizable(g, name, dtype, width[code] if code else 0, compression=bulk)
        dims.attach(ds, root_dims[fmt.SNAPSHOT_DIM], *([scales[code]] if code else []))


def write_row(ds: h5py.Dataset, row: int, value: object) -> None:
    """Grow ``ds`` to ``row + 1`` rows if needed and write ``value`` at ``row``."""
    if ds.shape[0] <= row:
        ds.resize(row + 1, axis=0)
    ds[row] = value


class RowAppender:
    """Appends rows to one dataset through cached HDF5 selections (no h5py high-level calls).

    ``Dataset.resize`` + ``Dataset.__setitem__`` cost ~0.9 ms of Python per row, and a
    snapshot writes ~20 rows per layer. Here the dataset grows ``block`` rows at a time and a
    row is one hyperslab selection plus one ``H5Dwrite``. Rows past the last one written hold
    the fill value; :meth:`trim` cuts the dataset back to its written length (the writer does
    at close; readers ignore rows beyond ``len(/index/step)`` anyway). Rows can also be
    staged (:meth:`stage`) and written several at once (:meth:`write_staged`): one
    ``H5Dwrite`` costs ~30-50 us whether it writes one small row or sixteen.
    """

    __slots__ = (
        "_block",
        "_count",
        "_dsid",
        "_dtype",
        "_fspace",
        "_mspace",
        "_mspaces",
        "_name",
        "_size",
        "_stage",
        "_staged",
        "_start",
        "_width",
        "capacity",
    )

    def __init__(self, ds: h5py.Dataset, *, block: int = 1) -> None:
        shape = ds.shape
        self._name = ds.name
        self._dsid = ds.id
        self._dtype = ds.dtype
        self._width = tuple(shape[1:])  # () or (w,)
        self._count = (1, *self._width)
        self._start = (0,) * len(self._width)
        self._size = int(np.prod(self._width, dtype=np.int64))
        self._block = max(1, int(block))
        self.capacity = int(shape[0])
        self._mspace = h5s.create_simple(self._count)
        self._fspace = self._dsid.get_space()
        self._stage = np.empty((0, *self._width), self._dtype)  # rows held for write_staged
        self._staged = 0
        self._mspaces: dict[int, Any] = {}  # memory spaces of k staged rows

    def _set_rows(self, rows: int) -> None:
        self._dsid.set_extent((rows, *self._width))
        self.capacity = rows
        self._fspace = self._dsid.get_space()

    def write(self, row: int, value: object) -> None:
        """Write ``value`` (cast to the dataset dtype) at ``row``, growing the dataset if needed."""
        if row >= self.capacity:
            self._set_rows(row + self._block)
        arr = np.ascontiguousarray(value, dtype=self._dtype)
        if arr.size != self._size:
            raise RecordError(f"{self._name}: row of {arr.size} values, expected {self._size}")
        self._fspace.select_hyperslab((row, *self._start), self._count)
        self._dsid.write(self._mspace, self._fspace, arr)

    def stage(self, value: object) -> None:
        """Hold ``value`` (cast to the dataset dtype) as the next row :meth:`write_staged`
        writes; nothing reaches the file yet."""
        arr = np.asarray(value, dtype=self._dtype)
        if arr.size != self._size:
            raise RecordError(f"{self._name}: row of {arr.size} values, expected {self._size}")
        if self._staged == len(self._stage):
            grown = np.empty((max(4, 2 * self._staged), *self._width), self._dtype)
            grown[: self._staged] = self._stage[: self._staged]
            self._stage = grown
        self._stage[self._staged] = arr.reshape(self._width)
        self._staged += 1

    def write_staged(self, row: int) -> None:
        """Write the staged rows at ``row``, ``row + 1``, ... in one ``H5Dwrite`` (the same
        values as one :meth:`write` per row) and forget them."""
        k = self._staged
        if k == 0:
            return
        if row + k > self.capacity:
            self._set_rows(row + k - 1 + self._block)
        mspace = self._mspaces.get(k)
        if mspace is None:
            mspace = self._mspaces[k] = h5s.create_simple((k, *self._width))
        self._fspace.select_hyperslab((row, *self._start), (k, *self._width))
        self._dsid.write(mspace, self._fspace, self._stage[:k])
        self._staged = 0

    def trim(self, rows: int) -> None:
        """Resize the dataset to exactly ``rows`` rows."""
        if self.capacity != rows:
            self._set_rows(rows)
