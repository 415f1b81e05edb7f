"""Snapshot buffers: the only thing the training thread pays for is a copy into them.

Copying into fresh arrays costs page faults (the kernel zeroes every new page), which made
a ResNet-50 copy 2-10x slower than a copy into memory that was already touched. So the
background writer owns a small pool of pre-touched buffer sets, one per snapshot in flight;
``record`` copies into a free set (waiting for one is the backpressure) and the background
thread hands the set back once the snapshot is committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracking.errors import RecordError
from tracking.layout import LayerSpec


def checked(array: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``array`` as a numpy array (no copy when possible) after checking its shape."""
    out = np.asarray(array)
    if out.shape != tuple(shape):
        raise RecordError(f"record: {what} has shape {out.shape}, expected {tuple(shape)}")
    return out


class SnapshotBuffers:
    """Preallocated, pre-touched arrays holding one snapshot: weights, masks, BN gammas."""

    def __init__(self, specs: Sequence[LayerSpec]) -> None:
        self.specs = list(specs)
        self.weights = {s.name: np.empty(s.shape, np.float32) for s in specs}
        self.masks = {s.name: np.empty(s.shape, np.bool_) for s in specs}
        self.gammas = {s.name: np.empty(s.n_channels, np.float32) for s in specs if s.bn}
        for arrays in (self.weights, self.masks, self.gammas):
            for a in arrays.values():
                a.fill(0)  # touch every page now, not during the first record

    def fill(
        self,
        weights: Mapping[str, Any],
        masks: Mapping[str, Any],
        bn_gamma: Mapping[str, Any] | None,
    ) -> None:
        """Copy one snapshot in (float32 weights, bool masks, NaN gamma where not given)."""
        for s in self.specs:
            w = checked(weights[s.name], s.shape, f"weights[{s.name!r}]")
            m = checked(masks[s.name], s.shape, f"masks[{s.name!r}]")
            try:
                np.copyto(self.weights[s.name], w, casting="same_kind")
            except TypeError as e:
                raise RecordError(f"record: weights[{s.name!r}] must be float ({e})") from e
            np.copyto(self.masks[s.name], m if m.dtype == np.bool_ else m != 0)
            if s.bn:
                gamma = None if bn_gamma is None else bn_gamma.get(s.name)
                if gamma is None:
                    self.gammas[s.name].fill(np.nan)
                else:
                    g = checked(gamma, (s.n_channels,), f"bn_gamma[{s.name!r}]")
                    np.copyto(self.gammas[s.name], g, casting="same_kind")


@dataclass
class SnapshotArrays:
    """One snapshot's arrays, not copied (foreground writer)."""

    weights: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    gammas: dict[str, np.ndarray]


def as_arrays(
    specs: Sequence[LayerSpec],
    weights: Mapping[str, Any],
    masks: Mapping[str, Any],
    bn_gamma: Mapping[str, Any] | None,
) -> SnapshotArrays:
    """The same arrays as :class:`SnapshotBuffers` holds, without copying them."""
    w_out, m_out, g_out = {}, {}, {}
    for s in specs:
        w_out[s.name] = checked(weights[s.name], s.shape, f"weights[{s.name!r}]").astype(
            np.float32, copy=False
        )
        m = checked(masks[s.name], s.shape, f"masks[{s.name!r}]")
        m_out[s.name] = m if m.dtype == np.bool_ else m != 0
        if s.bn:
            gamma = None if bn_gamma is None else bn_gamma.get(s.name)
            g_out[s.name] = (
                np.full(s.n_channels, np.nan, np.float32)
                if gamma is None
                else checked(gamma, (s.n_channels,), f"bn_gamma[{s.name!r}]").astype(np.float32)
            )
    return SnapshotArrays(w_out, m_out, g_out)
