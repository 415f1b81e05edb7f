"""Per-snapshot statistics of one layer, pure numpy.

Everything is computed from the float16-rounded magnitudes that the file stores, so a
reader streaming ``magnitude`` and comparing ``m.astype(float32) < threshold_f32(...)``
gets exactly the stored counts. Comparisons are strict ``<``.

Speed: a float16 magnitude has 2**15 non-negative bit patterns, ordered like their values,
so one ``bincount`` over the kept codes (N,) gives a 32769-bin exact histogram from which
every count, percentile and RMS follows in O(2**15) instead of sorting N values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracking import format as fmt

_INF_CODE = 0x7C00  # float16 +inf; codes above it are NaN
# (32769,) float64 value of every non-negative non-NaN float16 code, increasing
CODE_VALUES = np.arange(_INF_CODE + 1, dtype=np.uint16).view(np.float16).astype(np.float64)
_CODE_VALUES_F32 = CODE_VALUES.astype(np.float32)
_CODE_SQUARES = CODE_VALUES[:-1] ** 2  # finite codes only (inf * 0 would give NaN)
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def threshold_f32(
    grid: np.ndarray | float, reference: float | np.floating | None = None
) -> np.ndarray:
    """Thresholds as stored counts use them: float32(grid * reference), product in float64.

    Args:
        grid: grid value(s).
        reference: multiplier (a float32 reference RMS or GMP threshold); None means 1.
    """
    g = np.asarray(grid, dtype=np.float64)
    ref = 1.0 if reference is None else float(np.float32(reference))
    return (g * ref).astype(np.float32)


def fp16_magnitude(weights: np.ndarray) -> np.ndarray:
    """|weights| rounded to float16 (round to nearest even), same shape."""
    return np.abs(weights).astype(np.float16)


def popcount(packed: np.ndarray) -> int:
    """Number of set bits in a uint8 array."""
    return int(_POPCOUNT[packed].sum(dtype=np.int64))


@dataclass
class SnapshotStats:
    """Statistics of one layer at one snapshot; field names are the dataset names."""

    n_kept: int
    rms_kept: float
    ref_rms: float
    ref_source: int
    gmp_threshold: float
    percentiles: np.ndarray  # (P,) float32
    below_abs: np.ndarray  # (A,) int64
    below_rel: np.ndarray  # (R,) int64
    below_gmp: np.ndarray  # (G,) int64, -1 without a GMP threshold
    hist: np.ndarray  # (B,) int64
    channel_kept: np.ndarray  # (C,) int32
    channel_shed: np.ndarray  # (C,) int32
    newly_shed: int
    revived: int


@dataclass
class LayerSnapshot:
    """What the writer stores for one layer at one snapshot."""

    magnitude: np.ndarray  # (N,) float16
    mask: np.ndarray  # (ceil(N/8),) uint8 packbits of the pruning mask
    kept: np.ndarray  # (ceil(N/8),) uint8 packbits of mask & not shed (default rule)
    stats: SnapshotStats


def _count_below(cum: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """#values < t for each float32 t, from cum[j] = #values with code < j; NaN t -> 0."""
    j = np.searchsorted(_CODE_VALUES_F32, thresholds, side="left")
    out = cum[j].astype(np.int64)
    out[np.isnan(thresholds)] = 0
    return out


def _per_channel(bits: np.ndarray, n_channels: int) -> np.ndarray:
    """(C,) int32 count of True per output channel of a flat (N,) bool array."""
    return np.add.reduce(bits.reshape(n_channels, -1).view(np.uint8), axis=1, dtype=np.int32)


def _percentiles(cum: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Linear-interpolated percentiles (numpy's default method) from the code histogram."""
    n = int(cum[-1])
    if n == 0:
        return np.full(len(q), np.nan, dtype=np.float32)
    pos = q / 100.0 * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    # k-th smallest (0-based) has the code c with cum[c] <= k < cum[c + 1]
    v_lo = CODE_VALUES[np.searchsorted(cum[1:], lo, side="right")]
    v_hi = CODE_VALUES[np.searchsorted(cum[1:], hi, side="right")]
    t = pos - lo
    return (v_lo + (v_hi - v_lo) * t).astype(np.float32)


def _code_histogram(
    codes: np.ndarray, flat_mask: np.ndarray, n_kept: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact histogram of the kept float16 codes: ``counts`` (32769,) per non-NaN code and
    ``cum`` (32770,) with ``cum[j]`` = #kept with code < j."""
    kept_codes = codes if n_kept == flat_mask.size else codes[flat_mask]
    counts = np.bincount(kept_codes, minlength=_INF_CODE + 1)[: _INF_CODE + 1]
    cum = np.empty(_INF_CODE + 2, dtype=np.int64)
    cum[0] = 0
    np.cumsum(counts, out=cum[1:])
    return counts, cum


def _kept_rms(counts: np.ndarray, n_finite: int) -> float:
    """RMS of the kept magnitudes from their code histogram: NaN with none kept, inf with
    a kept +inf magnitude (fp16 overflow above 65504)."""
    if n_finite == 0:
        return np.nan
    if counts[-1]:
        return np.inf
    # not `counts @ squares`: the mixed int64 @ float64 matmul takes a slow path and a
    # 32768-long BLAS dot wakes BLAS threads (~4 ms per layer on a busy machine, and
    # its rounding depends on the thread count); numpy's pairwise sum is deterministic
    sq_sum = np.add.reduce(counts[:-1] * _CODE_SQUARES)
    return float(np.sqrt(sq_sum / n_finite))


def _shed_bits(codes: np.ndarray, flat_mask: np.ndarray, ref: np.float32) -> np.ndarray:
    """(N,) bool: kept by the pruner but below the default rule's τ = c · ``ref``."""
    tau = threshold_f32(fmt.DEFAULT_REL_C, ref)
    # as a uint16 so the (N,) comparison stays 2 bytes wide (an int64 scalar would widen it)
    tau_code = np.uint16(np.searchsorted(_CODE_VALUES_F32, tau) if np.isfinite(tau) else 0)
    return flat_mask & (codes < tau_code)


def _transitions(
    prev_mask: np.ndarray | None,
    prev_kept: np.ndarray | None,
    packed_mask: np.ndarray,
    packed_kept: np.ndarray,
) -> tuple[int, int]:
    """(newly shed, revived) since the previous snapshot, among weights the pruner kept
    at both; (0, 0) for the first snapshot."""
    if prev_mask is None or prev_kept is None:
        return 0, 0
    both = prev_mask & packed_mask
    return popcount(both & prev_kept & ~packed_kept), popcount(both & ~prev_kept & packed_kept)


def _below_gmp(cum: np.ndarray, gmp: np.float32) -> np.ndarray:
    """(G,) kept counts below each GMP-grid threshold; -1 without a GMP threshold."""
    if np.isfinite(gmp):
        return _count_below(cum, threshold_f32(fmt.GMP_GRID, gmp))
    return np.full(len(fmt.GMP_GRID), -1, dtype=np.int64)


def _histogram(cum: np.ndarray, n_finite: int) -> np.ndarray:
    """(B,) int64 kept counts per histogram bin; the last bin also takes the values at or
    above its right edge."""
    edge_counts = _count_below(cum, fmt.HIST_EDGES.astype(np.float32))
    hist = np.diff(edge_counts)
    hist[-1] += n_finite - edge_counts[-1]
    return hist.astype(np.int64)


def compute_layer_snapshot(
    weights: np.ndarray,
    mask: np.ndarray,
    *,
    ref_rms: float | None,
    gmp_threshold: float | None,
    prev_mask: np.ndarray | None = None,
    prev_kept: np.ndarray | None = None,
) -> LayerSnapshot:
    """Compute the stored rows of one layer at one snapshot.

    Args:
        weights: float32 signed effective weights, shape (C, ...); axis 0 = output channel.
        mask: bool pruning mask, same shape (True = kept by the pruner).
        ref_rms: reference kept RMS set at the last prune event; None = use this
            snapshot's own kept RMS (dense phase).
        gmp_threshold: global magnitude threshold of the last prune event, or None.
        prev_mask, prev_kept: packed bitsets of the previous snapshot (None for the first).

    Returns:
        The float16 magnitudes, packed bitsets and statistics.
    """
    n_channels = weights.shape[0] if weights.ndim else 1
    mag = fp16_magnitude(weights).reshape(-1)  # (N,) float16
    codes = mag.view(np.uint16)
    flat_mask = np.asarray(mask, dtype=bool).reshape(-1)
    n_kept = int(np.count_nonzero(flat_mask))
    counts, cum = _code_histogram(codes, flat_mask, n_kept)
    n_finite = int(cum[-1])
    rms = _kept_rms(counts, n_finite)
    ref = np.float32(rms if ref_rms is None else ref_rms)
    gmp = np.float32(np.nan if gmp_threshold is None else gmp_threshold)

    shed = _shed_bits(codes, flat_mask, ref)
    packed_mask = np.packbits(flat_mask)
    packed_kept = np.packbits(flat_mask & ~shed)
    newly, revived = _transitions(prev_mask, prev_kept, packed_mask, packed_kept)

    stats = SnapshotStats(
        n_kept=n_kept,
        rms_kept=float(np.float32(rms)),
        ref_rms=float(ref),
        ref_source=0 if ref_rms is None else 1,
        gmp_threshold=float(gmp),
        percentiles=_percentiles(cum, fmt.PERCENTILE_Q),
        below_abs=_count_below(cum, threshold_f32(fmt.ABS_GRID)),
        below_rel=_count_below(cum, threshold_f32(fmt.REL_GRID, ref)),
        below_gmp=_below_gmp(cum, gmp),
        hist=_histogram(cum, n_finite),
        channel_kept=_per_channel(flat_mask, n_channels),
        channel_shed=_per_channel(shed, n_channels),
        newly_shed=newly,
        revived=revived,
    )
    return LayerSnapshot(magnitude=mag, mask=packed_mask, kept=packed_kept, stats=stats)
