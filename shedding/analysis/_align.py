"""Snapshot bookkeeping: prune rounds of a run and alignment of two runs' snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tracking.reader import Index


@dataclass(frozen=True)
class RoundSpan:
    """Snapshots of prune round k: ``first`` is right after the prune, ``last`` the end.

    ``before`` is the last snapshot before the round (its mask is the pre-prune mask),
    -1 when the file has none.
    """

    round: int
    first: int
    last: int
    before: int

    @property
    def snapshots(self) -> range:
        """All snapshot indices of the round."""
        return range(self.first, self.last + 1)


def round_spans(index: Index) -> list[RoundSpan]:
    """Spans of the prune rounds k >= 1 present in the index, in order.

    A round is the maximal contiguous block of snapshots with ``index.round == k``.
    """
    rounds = np.asarray(index.round)
    spans = []
    start = 0
    for i in range(1, len(rounds) + 1):
        if i == len(rounds) or rounds[i] != rounds[start]:
            if rounds[start] >= 1:
                spans.append(RoundSpan(int(rounds[start]), start, i - 1, start - 1))
            start = i
    return spans


def _keys(index: Index) -> list[tuple[int, str, int, int]]:
    """(round, phase, epoch in micro-epochs, occurrence) per snapshot.

    Two snapshots at the same (round, phase, epoch) (e.g. the before/after-prune pair
    shares an epoch but not a round; repeated records do share all three) are told
    apart by their order of occurrence.
    """
    seen: dict[tuple[int, str, int], int] = {}
    out = []
    for r, p, e in zip(index.round, index.phase, index.epoch, strict=True):
        base = (int(r), str(p), round(float(e) * 1e6))
        k = seen.get(base, 0)
        seen[base] = k + 1
        out.append((*base, k))
    return out


def align(reference: Index, other: Index) -> np.ndarray:
    """For each reference snapshot, the snapshot of ``other`` at the same (round, phase,
    epoch, occurrence), or -1: (S_ref,) int64.

    Used to compare a pruned run with its control, whose retraining has the same rounds
    and epochs.
    """
    lookup = {k: i for i, k in enumerate(_keys(other))}
    return np.array([lookup.get(k, -1) for k in _keys(reference)], dtype=np.int64)
