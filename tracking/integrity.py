"""Is a run file whole? One check, at open, so every reader gives the same verdict.

A file whose writer crashed is whole (its datasets merely end early); a file with an
object deleted or replaced after writing (a layer's ``magnitude``, ``/metrics``, ...) is
damaged, and :func:`check_complete` refuses it before any analysis starts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import h5py
import numpy as np

from tracking import format as fmt
from tracking.errors import DamagedRunFile, TrackingError

T = TypeVar("T")

_GROUPS = {
    "index": tuple(fmt.INDEX_COLUMNS),
    "metrics": tuple(fmt.METRIC_COLUMNS),
    "events": ("bytes", *fmt.EVENT_COLUMNS),
}


_MARKERS = {"index": fmt.INDEX_MARKER, "metrics": fmt.METRICS_MARKER, "events": fmt.EVENTS_MARKER}


def _rows(ds: h5py.Dataset) -> int:
    """Rows of a one-dimensional column, as the writer has them now."""
    if ds.file.swmr_mode:
        ds.refresh()  # a live writer may have extended it since the file was opened
    return (ds.shape or (0,))[0]


def _short_column(g: h5py.Group, group: str, n: int) -> str | None:
    """A column of ``g`` shorter than its commit marker (columns are written first).

    The marker is read before the columns: a live writer extends every column before its
    marker, so columns read later are never shorter than a whole writer's marker read
    earlier, while reading them the other way round races with the writer.
    """
    marker = _MARKERS[group]
    need = n if group == "index" else _rows(g[marker])
    rows = {name: _rows(g[name]) for name in _GROUPS[group] if name != marker}
    if group == "events" and need:
        end = int(g[fmt.EVENTS_MARKER][need - 1])
        if rows["bytes"] < end:
            return f"/events/bytes has {rows['bytes']} bytes, its index ends at {end}"
    for name, have in rows.items():
        if name != "bytes" and have < need:
            return f"/{group}/{name} has {have} rows for {need}"
    return None


def _problem(f: h5py.File, layers: Iterable[str], n: int) -> str | None:
    """What is missing or too short in ``f`` with ``n`` committed snapshots, or None."""
    if not isinstance(f.get("status"), h5py.Dataset):
        return "/status is missing"
    for group, names in _GROUPS.items():
        g = f.get(group)
        if not isinstance(g, h5py.Group):
            return f"/{group} is missing"
        for name in names:
            if not isinstance(g.get(name), h5py.Dataset):
                return f"/{group}/{name} is missing"
        short = _short_column(g, group, n)
        if short is not None:
            return short
    # a statistics-only file has no per-weight datasets by design
    skip = set(fmt.BULK_DATASETS) if str(f.attrs.get("record_mode", "full")) == "stats" else set()
    for layer in layers:
        g = f["layers"].get(fmt.layer_group_name(layer))
        if not isinstance(g, h5py.Group):
            return f"layer {layer!r} is listed but its group is missing"
        has_bn = bool(g.attrs.get("bn", ""))
        samples = g.get("sample_idx")
        if not isinstance(samples, h5py.Dataset):
            return f"layer {layer!r} has no 'sample_idx' dataset"
        if samples.ndim != 1 or samples.dtype.kind not in "iu":
            return f"layer {layer!r} 'sample_idx' is not a list of indices"
        width = fmt.widths(
            n_weights=int(g.attrs["n_weights"]),
            n_channels=int(g.attrs["n_channels"]),
            n_samples=samples.shape[0],
        )
        for name, (dtype, code) in fmt.LAYER_DATASETS.items():
            if (name == "bn_gamma" and not has_bn) or name in skip:
                continue
            ds = g.get(name)
            if not isinstance(ds, h5py.Dataset):
                return f"layer {layer!r} has no {name!r} dataset"
            if f.swmr_mode:
                ds.refresh()  # a live writer extends every dataset before the marker
            if ds.ndim < 1 or ds.shape[0] < n:
                rows = ds.shape[0] if ds.ndim else 0
                return f"layer {layer!r} {name!r} has {rows} rows for {n} snapshots"
            # a row of the right kind and width (grids: the file's own, so only the rank)
            known = code in ("N", "M", "C", "K")
            row: tuple[int | None, ...] = (width[code],) if known else ((None,) if code else ())
            shape_ok = len(ds.shape) == 1 + len(row) and all(
                want is None or have == want for have, want in zip(ds.shape[1:], row, strict=True)
            )
            if not shape_ok or ds.dtype.kind != np.dtype(dtype).kind:
                of = f" of width {width[code]}" if known else ""
                return (
                    f"layer {layer!r} {name!r} holds {ds.dtype} rows of shape {ds.shape[1:]}; "
                    f"the format has {np.dtype(dtype)} rows{of}"
                )
    return None


def check_complete(f: h5py.File, path: object, layers: Iterable[str], n: int) -> None:
    """Raise DamagedRunFile naming the first missing or short object of ``f``.

    Args:
        f: the open run file.
        path: its path, for the message.
        layers: the layer names the file lists.
        n: committed snapshots (the length of ``/index/step``).
    """
    try:
        problem = _problem(f, layers, n)
    except (OSError, KeyError, ValueError, TypeError) as e:
        problem = f"its objects cannot be listed ({e})"
    if problem is not None:
        raise DamagedRunFile(
            f"{path} is damaged: {problem}; fix: it cannot be repaired here, re-run the "
            "experiment or restore the file from a copy"
        )


#: What h5py, numpy and json raise on objects that exist but hold garbage (a corrupted
#: object header is a KeyError, a bad chunk an OSError, an odd dtype a TypeError...).
READ_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError)


@contextmanager
def reading(path: object, what: str) -> Iterator[None]:
    """Turn a failure while reading ``what`` of a run file into a DamagedRunFile."""
    try:
        yield
    except TrackingError:
        raise
    except READ_ERRORS as e:
        raise DamagedRunFile(
            f"{path} is damaged at {what} ({type(e).__name__}: {e}); fix: re-run the "
            "experiment or restore the file from a copy"
        ) from e


def guarded(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator for a reader method without user arguments: any read failure is damage."""

    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def inner(self: Any, *args: Any, **kwargs: Any) -> T:
            with reading(self.path, what):
                return method(self, *args, **kwargs)

        return inner

    return wrap
