"""Overlap of kept sets: a run vs global magnitude pruning, and runs vs each other.

All overlaps are Jaccard similarities ``|A & B| / |A | B|`` (1 when both are empty).

GMP at a given size k keeps the k largest magnitudes over all layers (one global
threshold). Ties at the threshold magnitude (float16 makes them common) are broken by
position: earlier layer first, then lower flat index, so the GMP set has exactly k
weights and is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis import _cache, _stream
from shedding.analysis.drift import sets_at
from shedding.analysis.serialize import jsonable
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE
from shedding.errors import ConfigError, DataError

if TYPE_CHECKING:
    from tracking.reader import Run

_INF_CODE = 0x7C00  # float16 +inf; larger codes are NaN or negative and rank lowest


@dataclass(frozen=True)
class GmpOverlap:
    """Final effective kept set of a run vs the GMP mask of the same size.

    Attributes:
        run_id, rule, c: the run and the threshold defining its effective kept set.
        n_weights, n_effective_kept: sizes; effective_sparsity = 1 - kept / N.
        snapshot_final: the run's last snapshot (its effective kept set is compared).
        snapshot_dense: the last dense snapshot (-1 when the file has none).
        jaccard_dense: overlap with GMP applied to the dense weights (NaN without them).
        jaccard_final: overlap with GMP applied to the final weights.
        jaccard_mask_dense: the pruner's final mask alone (shedding ignored) vs GMP of the
            mask's size on the dense weights: the baseline that ``jaccard_dense`` moves
            away from when shedding makes the kept set more (or less) GMP-like.
    """

    run_id: str
    rule: str
    c: float
    n_weights: int
    n_effective_kept: int
    effective_sparsity: float
    snapshot_final: int
    snapshot_dense: int
    jaccard_dense: float
    jaccard_final: float
    jaccard_mask_dense: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None)."""
        return {k: jsonable(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class OverlapMatrix:
    """Pairwise Jaccard similarities of several runs' kept sets: (n, n) float64."""

    labels: tuple[str, ...]
    which: str
    jaccard: np.ndarray

    def to_table(self) -> list[dict[str, Any]]:
        """One row per run: its label and its overlap with every run."""
        return [
            {"run": a, **{b: float(self.jaccard[i, j]) for j, b in enumerate(self.labels)}}
            for i, a in enumerate(self.labels)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"labels": list(self.labels), "which": self.which, "jaccard": self.jaccard.tolist()}


def _jaccard(inter: int, union: int) -> float:
    return inter / union if union else 1.0


def gmp_sets(run: Run, snapshot: int, k: int) -> list[np.ndarray]:
    """Packed GMP kept set per layer: the k largest magnitudes at ``snapshot`` over all
    layers, ties broken by (layer order, flat index). Two passes over one snapshot.

    Example:
        >>> sum(int(np.bitwise_count(p).sum()) for p in gmp_sets(run, -1, 10))
        10
    """
    n = sum(i.n_weights for i in run.layers)
    if not 0 <= k <= n:
        raise ConfigError(f"k={k} must be between 0 and the run's {n} weights")
    counts = np.zeros(_INF_CODE + 1, dtype=np.int64)
    for info in run.layers:
        counts += np.bincount(_codes(run, info.name, snapshot), minlength=_INF_CODE + 1)
    above = counts[::-1].cumsum()[::-1] - counts  # above[q] = #codes > q
    # threshold code q: above[q] < k <= above[q] + counts[q]; the rest are taken at q
    q = int(np.flatnonzero(above < k)[0]) if k > 0 else _INF_CODE + 1
    rem = k - int(above[q]) if k > 0 else 0
    out = []
    for info in run.layers:
        codes = _codes(run, info.name, snapshot)
        sel = codes > q
        if rem > 0:
            ties = np.flatnonzero(codes == q)[:rem]
            sel[ties] = True
            rem -= len(ties)
        out.append(np.packbits(sel))
    return out


def _codes(run: Run, layer: str, snapshot: int) -> np.ndarray:
    """(N,) float16 codes with NaN / negative codes mapped to 0 (rank lowest)."""
    codes = run.magnitudes(layer, snapshot).reshape(-1).view(np.uint16)
    return np.where(codes > _INF_CODE, np.uint16(0), codes)


def gmp_overlap(run: Run, *, rule: str = DEFAULT_RULE, c: float = DEFAULT_C) -> GmpOverlap:
    """Jaccard of the run's final effective kept set with GMP at the same effective
    sparsity, GMP applied to the dense weights (last dense snapshot) and to the final ones.

    Example:
        >>> ov = gmp_overlap(run)
        >>> 0.0 <= ov.jaccard_final <= 1.0
        True
    """
    n_snap = len(run)
    if n_snap == 0:
        raise DataError(f"{run.path} has no committed snapshots yet; nothing to overlap")
    final = n_snap - 1
    eff = sets_at(run, final, rule=rule, c=c)
    k = sum(_stream.popcount(e) for e in eff)
    n = sum(i.n_weights for i in run.layers)
    dense = np.flatnonzero(_cache.index(run).phase == "dense")
    snap_dense = int(dense[-1]) if len(dense) else -1

    def overlap(snapshot: int, sets: list[np.ndarray] = eff) -> float:
        size = sum(_stream.popcount(e) for e in sets)
        g = gmp_sets(run, snapshot, size)
        inter = sum(_stream.popcount(a & b) for a, b in zip(sets, g, strict=True))
        union = sum(_stream.popcount(a | b) for a, b in zip(sets, g, strict=True))
        return _jaccard(inter, union)

    masks = [_stream.packed_mask(run, i.name, final) for i in run.layers]

    return GmpOverlap(
        run_id=run.run_id,
        rule=rule,
        c=float(c),
        n_weights=n,
        n_effective_kept=k,
        effective_sparsity=1.0 - k / n,
        snapshot_final=final,
        snapshot_dense=snap_dense,
        jaccard_dense=overlap(snap_dense) if snap_dense >= 0 else float("nan"),
        jaccard_final=overlap(final),
        jaccard_mask_dense=overlap(snap_dense, masks) if snap_dense >= 0 else float("nan"),
    )


def _check_same_layers(runs: Sequence[Run]) -> None:
    first = [(i.name, tuple(i.shape)) for i in runs[0].layers]
    for r in runs[1:]:
        if [(i.name, tuple(i.shape)) for i in r.layers] != first:
            raise DataError(
                f"{r.path} and {runs[0].path} record different layers; overlaps need runs "
                "of the same network (compare runs with the same model config)"
            )


def _kept_sets(run: Run, snapshot: int, which: str, rule: str, c: float) -> list[np.ndarray]:
    n = len(run)
    if n == 0 or not -n <= snapshot < n:
        raise ConfigError(f"snapshot={snapshot} is outside {run.path}'s {n} snapshots")
    s = snapshot % n
    if which == "mask":
        return [_stream.packed_mask(run, i.name, s) for i in run.layers]
    if which == "effective":
        return sets_at(run, s, rule=rule, c=c)
    raise ConfigError(f"which={which!r} is not one of ['effective', 'mask']")


def overlap_matrix(
    runs: Sequence[Run],
    *,
    snapshot: int = -1,
    which: str = "effective",
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    labels: Sequence[str] | None = None,
) -> OverlapMatrix:
    """Pairwise Jaccard similarity of the runs' kept sets at ``snapshot`` (of each run).

    Args:
        runs: open runs of the same network.
        snapshot: snapshot index in every run (negative counts from the end).
        which: "effective" (kept and not shed) or "mask" (kept by the pruner).
        rule, c: threshold for the effective set.
        labels: names of the runs (default: run ids).

    Example:
        >>> m = overlap_matrix([run, run])
        >>> m.jaccard.tolist()
        [[1.0, 1.0], [1.0, 1.0]]
    """
    if not runs:
        raise ConfigError("overlap_matrix needs at least one run")
    _check_same_layers(runs)
    sets = [_kept_sets(r, snapshot, which, rule, c) for r in runs]
    n = len(runs)
    inter = np.zeros((n, n), dtype=np.int64)
    union = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(i, n):
            for a, b in zip(sets[i], sets[j], strict=True):
                inter[i, j] += _stream.popcount(a & b)
                union[i, j] += _stream.popcount(a | b)
            inter[j, i], union[j, i] = inter[i, j], union[i, j]
    jac = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    names = tuple(labels) if labels is not None else tuple(r.run_id for r in runs)
    return OverlapMatrix(labels=names, which=which, jaccard=jac)


def run_overlap(
    a: Run,
    b: Run,
    *,
    snapshot: int = -1,
    which: str = "effective",
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
) -> float:
    """Jaccard similarity of two runs' kept sets at ``snapshot`` (see overlap_matrix).

    Example:
        >>> run_overlap(run, run, which="mask")
        1.0
    """
    return float(
        overlap_matrix([a, b], snapshot=snapshot, which=which, rule=rule, c=c).jaccard[0, 1]
    )
