"""Mask drift: how the effective kept set (kept by the pruner and not shed) moves.

Between two snapshots a and b, with effective kept sets E_a and E_b:
Hamming count ``|E_a xor E_b|`` and Jaccard distance ``1 - |E_a & E_b| / |E_a | E_b|``
(0 when both are empty), the distance Early-Bird tickets (You et al. 2020) use.
Reported between consecutive snapshots and against one reference snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis import _cache, _stream
from shedding.analysis.serialize import jsonable
from shedding.analysis.thresholds import (
    DEFAULT_C,
    DEFAULT_RULE,
    grid_index,
    layer_thresholds,
    threshold_codes,
)
from shedding.errors import ConfigError

if TYPE_CHECKING:
    from tracking.reader import Run


@dataclass(frozen=True, eq=False)
class MaskDrift:
    """Set sizes behind the drift distances, per snapshot and layer: (S, L) int64 each.

    Row 0 of the ``*_prev`` arrays compares snapshot 0 with itself (distance 0).

    Attributes:
        run_id, rule, c: the run and threshold.
        reference: the reference snapshot (non-negative index).
        source: "stored" (the file's effective kept sets at the default rule) or "stream".
        step, epoch, round: (S,) index; layers: (L,) names.
        inter_prev, union_prev: |E_t & E_{t-1}|, |E_t | E_{t-1}|.
        inter_ref, union_ref: |E_t & E_ref|, |E_t | E_ref|.
    """

    run_id: str
    rule: str
    c: float
    reference: int
    source: str
    step: np.ndarray
    epoch: np.ndarray
    round: np.ndarray
    layers: tuple[str, ...]
    inter_prev: np.ndarray
    union_prev: np.ndarray
    inter_ref: np.ndarray
    union_ref: np.ndarray

    @property
    def hamming_prev(self) -> np.ndarray:
        """(S,) Hamming count to the previous snapshot, all layers."""
        return (self.union_prev - self.inter_prev).sum(axis=1)

    @property
    def jaccard_prev(self) -> np.ndarray:
        """(S,) Jaccard distance to the previous snapshot, all layers."""
        return _distance(self.inter_prev.sum(axis=1), self.union_prev.sum(axis=1))

    @property
    def hamming_ref(self) -> np.ndarray:
        """(S,) Hamming count to the reference snapshot, all layers."""
        return (self.union_ref - self.inter_ref).sum(axis=1)

    @property
    def jaccard_ref(self) -> np.ndarray:
        """(S,) Jaccard distance to the reference snapshot, all layers."""
        return _distance(self.inter_ref.sum(axis=1), self.union_ref.sum(axis=1))

    def layer_jaccard_prev(self) -> np.ndarray:
        """(S, L) Jaccard distance to the previous snapshot per layer."""
        return _distance(self.inter_prev, self.union_prev)

    def layer_jaccard_ref(self) -> np.ndarray:
        """(S, L) Jaccard distance to the reference snapshot per layer."""
        return _distance(self.inter_ref, self.union_ref)

    def to_table(self) -> list[dict[str, Any]]:
        """One row per snapshot: Hamming counts and Jaccard distances."""
        hp, jp, hr, jr = self.hamming_prev, self.jaccard_prev, self.hamming_ref, self.jaccard_ref
        return [
            {
                "snapshot": s,
                "epoch": float(self.epoch[s]),
                "round": int(self.round[s]),
                "hamming_prev": int(hp[s]),
                "jaccard_prev": float(jp[s]),
                "hamming_ref": int(hr[s]),
                "jaccard_ref": float(jr[s]),
            }
            for s in range(len(self.step))
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fields and the global distances."""
        out = {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
        for k in ("hamming_prev", "jaccard_prev", "hamming_ref", "jaccard_ref"):
            out[k] = jsonable(getattr(self, k))
        return out


def _distance(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, 1.0 - inter / np.maximum(union, 1), 0.0)


def _stored(run: Run, rule: str, c: float, method: str) -> bool:
    if method not in ("auto", "stream"):
        raise ConfigError(f"method={method!r} is not one of ['auto', 'stream']")
    gi = grid_index(run, rule, c)
    on_grid = gi is not None and bool(np.isclose(c, DEFAULT_C))
    return method == "auto" and rule == DEFAULT_RULE and on_grid


def effective_sets(
    run: Run, *, rule: str, c: float, snapshots: Sequence[int], method: str = "auto"
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yields ``(layer index, s, packed effective kept set)`` (mask and not shed), layer
    by layer, snapshots in the given (increasing) order.

    At the default rule and c the file's stored ``kept`` bitsets are read (no magnitudes)
    unless ``method="stream"``; any other threshold streams the magnitudes.
    """
    if _stored(run, rule, c, method):
        for li, info in enumerate(run.layers):
            for block in _stream.blocks(snapshots, _stream.layer_block(info, 1) * 8):
                for s, row in zip(
                    block, _stream.read_rows(run, info.name, "kept", block), strict=True
                ):
                    yield li, s, row
        return
    keys = threshold_codes(layer_thresholds(run, rule=rule, c=c))
    for li, s, sets in _stream.stream_sets(run, keys, snapshots=snapshots):
        if sets is not None:
            yield li, s, sets.effective


def sets_at(
    run: Run, snapshot: int, *, rule: str, c: float, method: str = "auto"
) -> list[np.ndarray]:
    """Packed effective kept set of every layer at one snapshot, in layer order."""
    sets = effective_sets(run, rule=rule, c=c, snapshots=[snapshot], method=method)
    return [e for _, _, e in sets]


def mask_drift(
    run: Run,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    reference: int = -1,
    method: str = "auto",
) -> MaskDrift:
    """Drift of the effective kept set between consecutive snapshots and to ``reference``.

    Args:
        run: an open run.
        rule, c: threshold defining "shed" (as :func:`shed_curve`).
        reference: snapshot to compare every snapshot with (negative counts from the end;
            default: the last snapshot, i.e. distance to the final mask).
        method: "auto" (stored kept sets at the default threshold) or "stream".

    Example:
        >>> drift = mask_drift(run)
        >>> int(drift.hamming_prev[0]), float(drift.jaccard_ref[-1])
        (0, 0.0)
    """
    n = len(run)
    if n == 0 or not -n <= reference < n:
        raise ConfigError(f"reference={reference} is outside the run's {n} snapshots")
    ref = reference % n
    L = len(run.layers)
    arrays = {k: np.zeros((n, L), dtype=np.int64) for k in ("ip", "up", "ir", "ur")}
    stored = _stored(run, rule, c, method)
    ref_sets = sets_at(run, ref, rule=rule, c=c, method=method)
    prev: np.ndarray | None = None
    last_layer = -1
    for li, s, e in effective_sets(run, rule=rule, c=c, snapshots=range(n), method=method):
        if li != last_layer:  # layer-major: a new layer starts at its first snapshot
            prev, last_layer = None, li
        p = e if prev is None else prev
        arrays["ip"][s, li] = _stream.popcount(e & p)
        arrays["up"][s, li] = _stream.popcount(e | p)
        arrays["ir"][s, li] = _stream.popcount(e & ref_sets[li])
        arrays["ur"][s, li] = _stream.popcount(e | ref_sets[li])
        prev = e
    index = _cache.index(run)
    return MaskDrift(
        run_id=run.run_id,
        rule=rule,
        c=float(c),
        reference=ref,
        source="stored" if stored else "stream",
        step=index.step,
        epoch=index.epoch,
        round=index.round,
        layers=tuple(i.name for i in run.layers),
        inter_prev=arrays["ip"],
        union_prev=arrays["up"],
        inter_ref=arrays["ir"],
        union_ref=arrays["ur"],
    )
