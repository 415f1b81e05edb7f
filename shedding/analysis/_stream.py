"""Streaming core: shed sets per (snapshot, layer) from stored magnitudes, bounded memory.

Only one snapshot of one run (plus one mask) is held at a time. Sets are handled as
packed bitsets (``np.packbits`` order, pad bits zero) because every count the analysis
needs is a popcount of an AND of two bitsets: 8x less memory traffic than bool arrays.

A non-negative float16 magnitude compares like its uint16 code, so ``|w| < τ`` is
evaluated as ``code < threshold_codes(τ)`` (exact, see thresholds.py) without ever
converting the magnitudes to float32.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tracking.reader import LayerInfo, Run


@dataclass(frozen=True)
class LayerSets:
    """Packed bitsets of one layer at one snapshot, each (ceil(N/8),) uint8.

    Attributes:
        mask: the kept set counted on (pruning mask of the run or of ``kept_from``).
        shed: ``mask & (magnitude < τ)``.
    """

    mask: np.ndarray
    shed: np.ndarray

    @property
    def effective(self) -> np.ndarray:
        """Effective kept set ``mask & ~shed`` (packed)."""
        return self.mask & ~self.shed


def popcount(packed: np.ndarray) -> int:
    """Number of set bits of a packed bitset.

    Example:
        >>> popcount(np.packbits(np.array([1, 0, 1, 1], dtype=bool)))
        3
    """
    return int(np.bitwise_count(packed).sum(dtype=np.int64))


def channel_popcount(packed: np.ndarray, info: LayerInfo) -> np.ndarray:
    """Set bits per output channel (C,) int64 of a layer's packed bitset.

    Channels are contiguous runs of ``N / C`` flat weights (axis 0 = output channel).
    """
    fan = info.n_weights // max(info.n_channels, 1)
    if fan % 8 == 0:  # every channel starts on a byte boundary: popcount the bytes
        per_byte = np.bitwise_count(packed[: info.n_weights // 8])
        return per_byte.reshape(info.n_channels, fan // 8).sum(axis=1, dtype=np.int64)
    bits = np.unpackbits(packed, count=info.n_weights).view(bool)
    return np.count_nonzero(bits.reshape(info.n_channels, fan), axis=1).astype(np.int64)


def packed_bits(run: Run, layer: str, snapshot: int, name: str = "mask") -> np.ndarray:
    """A stored packed bitset ("mask" or "kept") of ``layer`` at ``snapshot``, (ceil(N/8),).

    The public ``Run.mask`` / ``Run.kept`` unpack to bool (30 ms per 25 M weights, mostly
    the bool cast) and the analysis needs the packed row, so read it directly when the
    reader offers it and fall back to re-packing the public result otherwise.
    """
    row = getattr(run, "_row", None)
    if row is not None:
        return np.asarray(row(layer, name, snapshot), dtype=np.uint8)
    public = run.mask if name == "mask" else run.kept
    return np.packbits(public(layer, snapshot).reshape(-1))


def packed_mask(run: Run, layer: str, snapshot: int) -> np.ndarray:
    """The stored packed pruning mask of ``layer`` at ``snapshot`` (see packed_bits)."""
    return packed_bits(run, layer, snapshot, "mask")


def shed_sets(codes: np.ndarray, mask: np.ndarray, key: int) -> LayerSets:
    """Shed set of one layer: ``mask & (code < key)``; codes (N,) uint16, mask packed."""
    below = np.packbits(codes < key)
    return LayerSets(mask=mask, shed=below & mask)


def stream_sets(
    run: Run,
    keys: np.ndarray,
    *,
    snapshots: Sequence[int],
    mask_run: Run | None = None,
    source: np.ndarray | None = None,
) -> Iterator[tuple[int, list[LayerSets] | None]]:
    """Yields ``(s, [LayerSets per layer])`` for each reference snapshot ``s`` in order.

    Args:
        run: run whose magnitudes are read.
        keys: (S_ref, L) int64 float16 code bounds (``threshold_codes`` of τ).
        snapshots: reference snapshots to visit.
        mask_run: run whose masks define the kept set (default: ``run``); the reference
            axis is ``mask_run``'s snapshots.
        source: (S_ref,) snapshot of ``run`` aligned to each reference snapshot, -1 where
            none (then ``None`` is yielded). Default: identity.
    """
    mask_src = run if mask_run is None else mask_run
    layers = list(run.layers)
    for s in snapshots:
        src = int(s) if source is None else int(source[s])
        if src < 0:
            yield int(s), None
            continue
        out = []
        for li, info in enumerate(layers):
            # (N,) uint16 codes of the float16 magnitudes; |w| >= 0 so codes order like values
            codes = run.magnitudes(info.name, src).reshape(-1).view(np.uint16)
            mask = packed_mask(mask_src, info.name, int(s))
            out.append(shed_sets(codes, mask, int(keys[s, li])))
        yield int(s), out
