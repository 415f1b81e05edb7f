"""Mask drift and overlaps: planted truth (see analysis_planted.cascade_run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from analysis_planted import LAYERS, PlantedRun

from shedding.analysis import gmp_overlap, gmp_sets, mask_drift, overlap_matrix, run_overlap
from shedding.errors import DataError
from tracking import LayerSpec, open_run

# effective kept sets: s0, s1 all 64; s2 = 64 - 8 pruned - 2 shed = 54; s3 = 48;
# s4 = 41 (conv1 {9, 16..31}, fc {8..31})


@pytest.mark.parametrize("method", ["auto", "stream"])
def test_planted_drift(run, method: str) -> None:
    d = mask_drift(run, method=method)
    assert d.source == ("stored" if method == "auto" else "stream")
    assert d.reference == 4
    # s1->s2: 8 pruned + 2 shed leave; s2->s3: 6 more shed; s3->s4: 8 shed + 1 revived
    assert d.hamming_prev.tolist() == [0, 0, 10, 6, 9]
    np.testing.assert_allclose(d.jaccard_prev, [0, 0, 10 / 64, 6 / 54, 9 / 49])
    assert d.hamming_ref.tolist() == [23, 23, 13, 9, 0]
    np.testing.assert_allclose(d.jaccard_ref, [23 / 64, 23 / 64, 13 / 54, 1 - 40 / 49, 0])
    assert d.layer_jaccard_prev().shape == (5, 2)


def test_drift_against_an_earlier_reference(run) -> None:
    d = mask_drift(run, reference=2)
    assert d.hamming_ref.tolist() == [10, 10, 0, 6, 13]
    assert d.to_table()[3]["hamming_ref"] == 6


def test_planted_gmp_overlap(run) -> None:
    ov = gmp_overlap(run)
    assert (ov.n_effective_kept, ov.snapshot_dense, ov.snapshot_final) == (41, 1, 4)
    assert ov.effective_sparsity == 23 / 64
    # dense weights all tie at 1.0: GMP keeps the first 41 by position (conv1 all, fc 0..8);
    # 18 of them are in the final set (conv1 17 + fc flat 8) -> 18 / (41 + 41 - 18)
    assert ov.jaccard_dense == 18 / 64
    assert ov.jaccard_final == 1.0  # the 41 weights at 1.0 are exactly the final set
    # the final mask alone keeps 56 (conv1 4.., fc 4..); GMP of 56 on the tied dense weights
    # keeps flat 0..55 (conv1 all, fc 0..23): 28 + 20 = 48 shared -> 48 / (56 + 56 - 48)
    assert ov.jaccard_mask_dense == 48 / 64


def test_gmp_sets_pick_the_largest_with_position_tie_break(tmp_path: Path) -> None:
    with PlantedRun(tmp_path / "g.h5", run_id="g") as r:
        r.snap(epoch=1, round=0, values={"conv1": {5: 4.0, 6: 2.0}, "fc": {0: 3.0, 1: 2.0}})
    with open_run(tmp_path / "g.h5") as run:

        def chosen(k):
            sets = gmp_sets(run, 0, k)
            return [
                np.flatnonzero(np.unpackbits(p, count=s.n_weights)).tolist()
                for p, s in zip(sets, LAYERS, strict=True)
            ]

        assert chosen(2) == [[5], [0]]
        assert chosen(3) == [[5, 6], [0]]  # the tie at 2.0: conv1 comes first
        assert chosen(4) == [[5, 6], [0, 1]]
        assert chosen(5) == [[0, 5, 6], [0, 1]]  # then the 1.0 ties from the start
        assert chosen(0) == [[], []]


def test_overlap_between_runs(run, control) -> None:
    # final effective sets: run 41 (above); control 64 - 10 shed (conv1 0..7, fc {0, 4}) = 54,
    # which contains all 41 -> 41 / 54
    m = overlap_matrix([run, control])
    assert m.labels == ("pruned", "control")
    assert m.jaccard[0, 1] == 41 / 54 and m.jaccard[0, 0] == 1.0
    assert run_overlap(run, control, which="mask") == 56 / 64
    assert run_overlap(run, control, snapshot=0) == 1.0


def test_overlap_refuses_different_networks(run, tmp_path: Path) -> None:
    with PlantedRun(tmp_path / "o.h5", run_id="o", layers=[LayerSpec("x", (2, 2))]) as r:
        r.snap(epoch=1, round=0)
    with open_run(tmp_path / "o.h5") as other, pytest.raises(DataError, match="different layers"):
        overlap_matrix([run, other])
