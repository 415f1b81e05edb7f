"""Is a run file whole? One check, at open, so every reader gives the same verdict.

A file whose writer crashed is whole (its datasets merely end early); a file with an
object deleted or replaced after writing (a layer's ``magnitude``, ``/metrics``, ...) is
damaged, and :func:`check_complete` refuses it before any analysis starts.
"""

from __future__ import annotations

from collections.abc import Iterable

import h5py

from tracking import format as fmt
from tracking.errors import DamagedRunFile

_GROUPS = {
    "index": tuple(fmt.INDEX_COLUMNS),
    "metrics": tuple(fmt.METRIC_COLUMNS),
    "events": ("bytes", *fmt.EVENT_COLUMNS),
}


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
    for layer in layers:
        g = f["layers"].get(fmt.layer_group_name(layer))
        if not isinstance(g, h5py.Group):
            return f"layer {layer!r} is listed but its group is missing"
        has_bn = bool(g.attrs.get("bn", ""))
        for name in ("sample_idx", *fmt.LAYER_DATASETS):
            if name == "bn_gamma" and not has_bn:
                continue
            ds = g.get(name)
            if not isinstance(ds, h5py.Dataset):
                return f"layer {layer!r} has no {name!r} dataset"
            if f.swmr_mode:
                ds.refresh()  # a live writer extends every dataset before the marker
            if name != "sample_idx" and (ds.ndim < 1 or ds.shape[0] < n):
                rows = ds.shape[0] if ds.ndim else 0
                return f"layer {layer!r} {name!r} has {rows} rows for {n} snapshots"
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
