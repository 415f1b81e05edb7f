"""Controls: excess over a control counted on the pruned run's kept set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from analysis_planted import PlantedRun, simple_run

from shedding.analysis import attribution, excess_curve, excess_summary, find_control
from shedding.errors import DataError
from tracking import open_run


def test_planted_excess_round(run, control) -> None:
    (x,) = excess_summary(run, control)
    assert (x.run_id, x.control_id, x.round, x.pruned, x.kept) == ("pruned", "control", 1, 8, 56)
    assert (x.shed_at_prune, x.shed_end) == (2, 15)
    assert (x.control_shed_at_prune, x.control_shed_end) == (2, 5)  # on the pruned kept set
    assert x.control_aligned_at_prune
    assert x.cascade_ratio == 13 / 8 and x.control_ratio == 3 / 8
    assert x.excess_cascade_ratio == 10 / 8
    assert x.excess_shed_fraction_end == (15 - 5) / 56
    assert (x.dead_channels_end, x.control_dead_channels_end, x.excess_dead_channels) == (2, 1, 1)
    conv1, fc = x.layers
    # conv1: pruned 9 more, control 2 more on the kept set (6 and 7); fc: 4 vs 1 (flat 4)
    assert conv1.excess_cascade_ratio == (9 - 2) / 4 and fc.excess_cascade_ratio == (4 - 1) / 4
    assert (conv1.excess_dead_channels, fc.excess_dead_channels) == (1, 0)


def test_planted_excess_curve(run, control) -> None:
    ex = excess_curve(run, control)
    assert ex.pruned.shed[:, 0].tolist() == [0, 0, 2, 8, 15]
    assert ex.control.shed[:, 0].tolist() == [0, 0, 2, 3, 5]
    np.testing.assert_allclose(ex.excess_fraction[:, 0], [0, 0, 0, 5 / 56, 10 / 56])
    per_layer = excess_curve(run, control, per="layer")
    assert per_layer.control.shed[4].tolist() == [4, 1]


def test_missing_control_snapshots_are_nan_not_guessed(run, tmp_path: Path) -> None:
    # a control with no snapshot at the prune and none at epoch 3
    with PlantedRun(tmp_path / "ctl.h5", run_id="ctl") as r:
        r.snap(epoch=1, round=0)
        r.snap(epoch=2, round=0)
        r.prune(round=1, epoch=2, pruned={})
        r.snap(epoch=4, round=1, small={"fc": [4, 5, 6]})
    with open_run(tmp_path / "ctl.h5") as ctl:
        ex = excess_curve(run, ctl)
        assert ex.control.defined[:, 0].tolist() == [True, True, False, False, True]
        assert np.isnan(ex.excess_fraction[2:4, 0]).all()
        (x,) = excess_summary(run, ctl)
    assert not x.control_aligned_at_prune
    assert x.control_shed_at_prune == 2  # taken equal to the pruned run's
    assert x.control_shed_end == 3
    assert x.excess_cascade_ratio == ((15 - 2) - (3 - 2)) / 8


def test_find_control_by_run_id_in_the_same_directory(run, planted_dir: Path) -> None:
    ctl, opened = find_control(run)
    try:
        assert ctl is not None and ctl.run_id == "control" and opened
    finally:
        if ctl is not None:
            ctl.close()
    with open_run(planted_dir / "control.h5") as c2:
        assert find_control(c2) == (None, False)  # a control names no control


def test_one_file_summarised_alone_equals_its_row_among_all(planted_dir: Path) -> None:
    """summarize_file: the control from the path given, or (a path naming another run, or
    none) looked up in the directory; the row is the one summarize_runs makes."""
    from shedding.analysis import summarize_file, summarize_runs

    rows, _ = summarize_runs(planted_dir)
    among = next(s for s in rows if s.run_id == "pruned").to_dict()
    pruned, control = planted_dir / "pruned.h5", planted_dir / "control.h5"
    for given in (control, pruned, planted_dir / "missing.h5", None):
        alone = summarize_file(pruned, control=given)
        assert alone.control_found and alone.to_dict() == {**among, "path": str(pruned)}


def _verdict_runs(d: Path, excess_per_seed: list[int], control_shed: int) -> list[float]:
    out = []
    for seed, k in enumerate(excess_per_seed):
        p = simple_run(
            d / f"p{seed}.h5",
            run_id=f"p{seed}",
            control=f"c{seed}",
            shed_end=k + control_shed,
            acc=0.9,
            seed=seed,
        )
        c = simple_run(
            d / f"c{seed}.h5",
            run_id=f"c{seed}",
            shed_end=control_shed,
            acc=0.9,
            seed=seed,
            is_control=True,
        )
        with open_run(p) as pr, open_run(c) as cr:
            (x,) = excess_summary(pr, cr)
        out.append(x)
    return out


@pytest.mark.parametrize(
    "excess,control_shed,attributable,start",
    [
        ([14, 15, 16], 2, True, "attributable to pruning"),  # C_excess 1.75, 1.875, 2.0
        ([10, 12, 14], 2, False, "not attributable"),  # 1.25..1.75: the t interval reaches < 1
        ([1, 1, 2], 14, False, "not attributable to pruning"),  # raw C ~1.9, control 1.75
    ],
)
def test_verdict_over_seeds(
    tmp_path: Path, excess: list[int], control_shed: int, attributable: bool, start: str
) -> None:
    xs = _verdict_runs(tmp_path, excess, control_shed)
    assert [x.excess_cascade_ratio for x in xs] == [k / 8 for k in excess]
    a = attribution(
        cascade_ratio=[x.cascade_ratio for x in xs],
        excess_cascade_ratio=[x.excess_cascade_ratio for x in xs],
        control_ratio=[x.control_ratio for x in xs],
        control_shed_fraction=[x.control_shed_fraction_end for x in xs],
    )
    assert a.attributable is attributable and a.verdict.startswith(start)
    assert a.n_with_control == 3
    assert a.excess_cascade_ratio.mean == pytest.approx(np.mean(excess) / 8)
    if not attributable and control_shed == 14:
        assert "control (same retraining, no pruning) sheds 1.75" in a.verdict
        assert "retraining alone" in a.verdict


def test_verdict_without_control_or_with_one_seed() -> None:
    none = attribution(
        cascade_ratio=[6.0, 8.0],
        excess_cascade_ratio=[np.nan, np.nan],
        control_ratio=[np.nan] * 2,
        control_shed_fraction=[np.nan] * 2,
    )
    assert not none.attributable and none.verdict.startswith("no control run")
    assert "C = 7.00" in none.verdict
    one = attribution(
        cascade_ratio=[6.0],
        excess_cascade_ratio=[5.0],
        control_ratio=[1.0],
        control_shed_fraction=[0.1],
    )
    assert not one.attributable and "no interval from one seed" in one.verdict


def test_explicit_control_path_pairs_a_run_without_control_attribute(tmp_path: Path) -> None:
    from shedding.analysis import analyze_text

    simple_run(tmp_path / "p.h5", run_id="p", shed_end=6, acc=0.9)  # names no control
    ctl = simple_run(tmp_path / "elsewhere.h5", run_id="c", shed_end=2, acc=0.9, is_control=True)
    doc = json.loads(analyze_text([tmp_path / "p.h5"], as_json=True, control=ctl))
    (r,) = doc["runs"]
    assert r["control_found"] and r["excess_cascade_ratio"] == (6 - 2) / 8


def test_a_control_of_another_network_is_refused(run, tmp_path: Path) -> None:
    from tracking import LayerSpec

    with PlantedRun(tmp_path / "x.h5", run_id="x", layers=[LayerSpec("x", (2, 2))]) as r:
        r.snap(epoch=1, round=0)
    with open_run(tmp_path / "x.h5") as other, pytest.raises(DataError, match="different layers"):
        excess_summary(run, other)
