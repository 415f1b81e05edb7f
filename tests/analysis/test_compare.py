"""Comparisons over many runs, bad files reported by name, CLI text/JSON, HTML report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from analysis_planted import simple_run

from shedding.analysis import analyze_text, compare, compare_text, load_runs, write_report
from shedding.analysis.stats import t_interval
from shedding.errors import ConfigError
from tracking import LayerSpec, RunWriter

GMP_EXCESS, RANDOM_EXCESS, CONTROL_SHED = [14, 15, 16], [2, 2, 4], 2
GMP_ACC, RANDOM_ACC = [0.90, 0.91, 0.92], [0.80, 0.81, 0.82]
BAD = ["damaged.h5", "empty.h5", "foreign.h5", "future.h5", "junk.h5", "truncated.h5"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gmp and random x 3 seeds, one control per seed shared by both, plus bad files."""
    d = tmp_path_factory.mktemp("sweep")
    for seed in range(3):
        simple_run(
            d / f"ctl{seed}.h5",
            run_id=f"ctl{seed}",
            shed_end=CONTROL_SHED,
            acc=0.95,
            seed=seed,
            is_control=True,
        )
        for method, excess, acc in (
            ("gmp", GMP_EXCESS, GMP_ACC),
            ("random", RANDOM_EXCESS, RANDOM_ACC),
        ):
            simple_run(
                d / f"{method}{seed}.h5",
                run_id=f"{method}{seed}",
                control=f"ctl{seed}",
                shed_end=excess[seed] + CONTROL_SHED,
                acc=acc[seed],
                method=method,
                seed=seed,
            )
    (d / "junk.h5").write_bytes(b"this is not HDF5")
    with h5py.File(d / "foreign.h5", "w") as f:
        f["weights"] = np.zeros(3)
    with h5py.File(d / "damaged.h5", "w") as f:  # says it is a run, has nothing else
        f.attrs["format"] = "cascade-shedding-run"
        f.attrs["format_version"] = 1
    with h5py.File(d / "future.h5", "w") as f:
        f.attrs["format"] = "cascade-shedding-run"
        f.attrs["format_version"] = 99
    good = (d / "gmp0.h5").read_bytes()
    (d / "truncated.h5").write_bytes(good[: len(good) // 2])  # a copy cut short
    RunWriter(d / "empty.h5", layers=[LayerSpec("x", (2, 2))], config={}, run_id="e").close()
    (d / "notes.txt").write_text("not a run file and not *.h5: ignored")
    return d


def test_bad_files_are_reported_by_name_and_the_rest_analysed(sweep: Path) -> None:
    cmp = compare([sweep, sweep / "missing.h5"], by=["prune.method"])
    names = sorted(Path(p).name for p, _ in cmp.bad)
    assert names == sorted([*BAD, "missing.h5"])
    reasons = dict((Path(p).name, why) for p, why in cmp.bad)
    assert reasons["junk.h5"].startswith("NotARunFile") and "not an HDF5" in reasons["junk.h5"]
    assert reasons["foreign.h5"].startswith("NotARunFile")
    assert reasons["damaged.h5"].startswith("DamagedRunFile")
    assert (
        reasons["truncated.h5"].startswith("DamagedRunFile")
        and "truncated" in reasons["truncated.h5"]
    )
    assert reasons["future.h5"].startswith("UnsupportedVersion")
    assert "no committed snapshots" in reasons["empty.h5"]
    assert reasons["missing.h5"].startswith("MissingRunFile")
    assert len(cmp.runs) == 9  # 6 pruned + 3 controls


def test_planted_group_statistics(sweep: Path) -> None:
    cmp = compare(sweep, by=["prune.method"])
    assert cmp.groups == (("gmp",), ("random",))
    roles = sorted(s.role for s in cmp.runs)
    assert roles == ["control"] * 3 + ["pruned"] * 6
    gmp = cmp.stat(("gmp",), "excess_cascade_ratio")
    assert gmp.n == 3 and gmp.mean == pytest.approx(np.mean(GMP_EXCESS) / 8)
    # 3 seeds: Student's t interval (a percentile bootstrap would just give [min, max])
    assert (gmp.ci_low, gmp.ci_high) == pytest.approx(t_interval(np.array(GMP_EXCESS) / 8))
    assert 1 < gmp.ci_low < 14 / 8 and gmp.ci_high > 16 / 8
    raw = cmp.stat(("random",), "cascade_ratio")
    assert raw.mean == pytest.approx((np.mean(RANDOM_EXCESS) + CONTROL_SHED) / 8)
    assert cmp.stat(("random",), "control_ratio").mean == CONTROL_SHED / 8
    assert cmp.stat(("gmp",), "test_acc").mean == pytest.approx(np.mean(GMP_ACC))
    a_gmp, a_random = cmp.attributions
    assert a_gmp.attributable and not a_random.attributable
    t = next(t for t in cmp.tests if t.metric == "test_acc")
    assert t.a == ("gmp",) and t.b == ("random",)
    assert t.test.welch_p < 0.001 and t.test.mannwhitney_p == pytest.approx(0.1)
    # the same values always give the same interval (fixed bootstrap seed)
    assert compare(sweep, by=["prune.method"]).stat(("gmp",), "excess_cascade_ratio") == gmp


def test_frontier_points(sweep: Path) -> None:
    pts = compare(sweep, by=["prune.method"]).frontier()
    assert len(pts) == 9
    assert sorted(p["run_id"] for p in pts if p["group"] == "controls") == ["ctl0", "ctl1", "ctl2"]
    p = next(p for p in pts if p["run_id"] == "gmp0")
    assert (p["sparsity"], p["test_acc"]) == (8 / 64, 0.90)
    assert p["effective_sparsity"] == (8 + GMP_EXCESS[0] + CONTROL_SHED) / 64


def test_group_by_several_keys_and_unknown_key(sweep: Path) -> None:
    cmp = compare(sweep, by=["prune.method", "retrain.protocol"])
    assert cmp.groups == (("gmp", "lrr"), ("random", "lrr"))
    with pytest.raises(ConfigError, match=r"prune\.metod"):
        compare(sweep, by=["prune.metod"])


def test_no_readable_run_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "junk.h5").write_bytes(b"x")
    with pytest.raises(ConfigError, match="no readable run file"):
        load_runs(tmp_path)


def test_analyze_text_and_json(sweep: Path) -> None:
    text = analyze_text([sweep / "gmp0.h5"])
    assert "control: ctl0" in text and "C_excess" in text
    header, row = [ln for ln in text.splitlines() if ln.startswith(("round", "1 "))][:2]
    cells = dict(zip(header.split(), row.split(), strict=False))
    c_raw, c_excess = (GMP_EXCESS[0] + CONTROL_SHED) / 8, GMP_EXCESS[0] / 8
    assert cells["C"] == f"{c_raw:.3f}" and cells["C_excess"] == f"{c_excess:.3f}"
    assert "verdict: one seed with a control" in text
    doc = json.loads(analyze_text([sweep / "gmp0.h5"], as_json=True))
    (r,) = doc["runs"]
    assert r["cascade_ratio"] == c_raw and r["excess_cascade_ratio"] == c_excess
    assert r["control_id"] == "ctl0" and r["excess"][0]["control_ratio"] == CONTROL_SHED / 8
    assert r["rounds"][0]["revived"] == 0


def test_analyze_says_when_there_is_no_control(tmp_path: Path) -> None:
    simple_run(tmp_path / "lone.h5", run_id="lone", shed_end=16, acc=0.5)
    text = analyze_text(tmp_path)
    assert "no control run recorded" in text and "NOT evidence" in text
    assert "verdict: no control run" in text


def test_compare_text_and_json(sweep: Path) -> None:
    text = compare_text([sweep], by=["prune.method"])
    assert "C_excess [95% CI]" in text and "Welch p" in text and "Mann-Whitney p" in text
    assert re.search(r"gmp: attributable to pruning", text)
    assert re.search(r"random: not attributable to pruning", text)
    for name in BAD:
        assert f"{name}: " in text
    doc = json.loads(compare_text([sweep], by=["prune.method"], as_json=True))
    g = doc["groups"][0]
    assert g["key"] == {"prune.method": "gmp"} and g["attribution"]["attributable"] is True
    assert g["stats"]["excess_cascade_ratio"]["n"] == 3
    assert sorted(Path(b["path"]).name for b in doc["bad_files"]) == BAD
    assert {"welch_p", "mannwhitney_p"} <= set(doc["tests"][0])


def test_report_is_one_offline_file(sweep: Path, tmp_path: Path) -> None:
    out = write_report(sweep, tmp_path / "report.html")
    page = out.read_text()
    assert not re.search(r"<script[^>]+src=", page)  # plotly.js inline, nothing fetched
    assert page.count("Plotly.newPlot") >= 8
    for section in (
        "Bad files",
        "Shed curves",
        "Cascade ratios",
        "Random vs GMP",
        "Protocols side by side",
        "Overlaps",
        "Accuracy frontier",
    ):
        assert section in page
    for name in BAD:
        assert name in page
    assert "control on its kept set" in page  # the control drawn as a reference curve
