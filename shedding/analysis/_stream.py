"""Streaming core: shed sets per (layer, snapshot) from stored magnitudes, bounded memory.

Rows are read layer by layer in blocks of consecutive snapshots (at most BLOCK_BYTES of
magnitudes plus their masks in memory), so the number of HDF5 calls stays small. Sets are
packed bitsets (``np.packbits`` order, pad bits zero) because every count the analysis
needs is a popcount of an AND of two bitsets: 8x less memory traffic than bool arrays.

A non-negative float16 magnitude compares like its uint16 code, so ``|w| < τ`` is
evaluated as ``code < threshold_codes(τ)`` (exact, see thresholds.py) without ever
converting the magnitudes to float32.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    n8 = len(packed) // 8 * 8  # count 8 bytes at a time (2x faster), then the tail
    whole = np.bitwise_count(packed[:n8].view(np.uint64)).sum(dtype=np.int64)
    return int(whole) + int(np.bitwise_count(packed[n8:]).sum(dtype=np.int64))


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


# magnitude bytes read per call: few HDF5 calls, bounded memory, and below glibc's largest
# mmap threshold (32 MiB) so blocks reuse heap memory instead of page-faulting fresh maps
BLOCK_BYTES = 16 << 20


def read_rows(run: Run, layer: str, name: str, snapshots: Sequence[int]) -> np.ndarray:
    """Stored rows ``name`` ("magnitude", "mask", "kept") of ``layer`` at ``snapshots``:
    (k, width) raw (float16 magnitudes, packed uint8 bitsets).

    A contiguous increasing run of snapshots is one HDF5 read. Per-call overhead of a row
    read (~0.3 ms: group lookup, SWMR refresh, selection) is larger than the compute on a
    64 KB bitset, so reading blocks is what keeps streaming near raw read speed. Uses the
    reader's ``rows`` method when it has one, else its dataset handle, else the public
    per-row methods.
    """
    require = getattr(run, "require_magnitudes", None)
    if require is not None:  # a statistics-only file: one clear line, not a KeyError
        require(f"{name} rows of {layer}")
    idx = [int(s) % len(run) for s in snapshots]
    rows = getattr(run, "rows", None)
    if rows is not None:
        return np.asarray(rows(layer, name, idx))
    group = getattr(run, "_group", None)
    if group is not None and idx and idx == list(range(idx[0], idx[0] + len(idx))):
        ds = group(layer)[name]
        if getattr(run, "_swmr", False):
            ds.refresh()
        return ds[idx[0] : idx[0] + len(idx)]
    return np.stack([_public_row(run, layer, name, s) for s in idx])


def _public_row(run: Run, layer: str, name: str, snapshot: int) -> np.ndarray:
    if name == "magnitude":
        return run.magnitudes(layer, snapshot).reshape(-1)
    public = run.mask if name == "mask" else run.kept
    return np.packbits(public(layer, snapshot).reshape(-1))


def packed_bits(run: Run, layer: str, snapshot: int, name: str = "mask") -> np.ndarray:
    """One stored packed bitset ("mask" or "kept") of ``layer`` at ``snapshot``."""
    return read_rows(run, layer, name, [snapshot])[0]


def packed_mask(run: Run, layer: str, snapshot: int) -> np.ndarray:
    """The stored packed pruning mask of ``layer`` at ``snapshot``, (ceil(N/8),) uint8."""
    return packed_bits(run, layer, snapshot, "mask")


def shed_sets(codes: np.ndarray, mask: np.ndarray, key: int) -> LayerSets:
    """Shed set of one layer: ``mask & (code < key)``; codes (N,) uint16, mask packed."""
    below = np.packbits(codes < key)
    below &= mask
    return LayerSets(mask=mask, shed=below)


def blocks(snapshots: Sequence[int], size: int) -> Iterator[list[int]]:
    """Consecutive pieces of ``snapshots`` that are contiguous runs of at most ``size``.

    Example:
        >>> list(blocks([0, 1, 2, 5, 6], 2))
        [[0, 1], [2], [5, 6]]
    """
    cur: list[int] = []
    for s in snapshots:
        if cur and (s != cur[-1] + 1 or len(cur) >= size):
            yield cur
            cur = []
        cur.append(int(s))
    if cur:
        yield cur


def layer_block(info: LayerInfo, itemsize: int = 2) -> int:
    """Rows of one layer per read so a block stays under BLOCK_BYTES."""
    return max(1, BLOCK_BYTES // max(1, info.n_weights * itemsize))


def stream_sets(
    run: Run,
    keys: np.ndarray,
    *,
    snapshots: Sequence[int],
    mask_run: Run | None = None,
    source: np.ndarray | None = None,
) -> Iterator[tuple[int, int, LayerSets | None]]:
    """Yields ``(layer index, s, LayerSets)``: layer by layer, snapshots in given order.

    Layer-major order lets a whole block of one layer's rows be read in one call; memory
    is one block of one layer (<= BLOCK_BYTES of magnitudes plus its masks).

    Args:
        run: run whose magnitudes are read.
        keys: (S_ref, L) int64 float16 code bounds (``threshold_codes`` of τ).
        snapshots: reference snapshots to visit, increasing.
        mask_run: run whose masks define the kept set (default: ``run``); the reference
            axis is ``mask_run``'s snapshots.
        source: (S_ref,) snapshot of ``run`` aligned to each reference snapshot, -1 where
            none (then ``None`` is yielded). Default: identity.
    """
    mask_src = run if mask_run is None else mask_run
    for li, info in enumerate(mask_src.layers):
        for block in blocks(snapshots, layer_block(info)):
            src = block if source is None else [int(source[s]) for s in block]
            have = [(s, r) for s, r in zip(block, src, strict=True) if r >= 0]
            got = {s: j for j, (s, _) in enumerate(have)}
            masks: Any = (
                read_rows(mask_src, info.name, "mask", [s for s, _ in have]) if have else []
            )
            mags: Any = read_rows(run, info.name, "magnitude", [r for _, r in have]) if have else []
            for s in block:
                if s not in got:
                    yield li, s, None
                    continue
                # (N,) uint16 codes of float16 magnitudes; |w| >= 0 so codes order like values
                codes = mags[got[s]].view(np.uint16)
                yield li, s, shed_sets(codes, masks[got[s]], int(keys[s, li]))
