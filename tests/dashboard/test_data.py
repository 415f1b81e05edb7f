"""What the pages compute, checked against planted truth and against shedding.analysis."""

from __future__ import annotations

import numpy as np
import pytest
from dash_runs import PRUNED, RUNS
from dashboard_synth import SMALL_LAYERS, Synth, _State, write_snapshots

from dashboard import data
from dashboard.store import CachedRun
from shedding.analysis.cascade import cascade_summary
from shedding.analysis.control_counts import control_counts
from shedding.analysis.controls import excess_curve
from shedding.analysis.fates import sample_fates
from shedding.analysis.shed import shed_curve
from shedding.analysis.thresholds import THRESHOLD_RULES, get_rule
from tracking import RunWriter, open_run


@pytest.fixture
def pruned(runs_dir):
    with open_run(runs_dir / "gmp_s0.h5") as run:
        yield CachedRun(run)


@pytest.fixture
def control(runs_dir):
    with open_run(runs_dir / "ctl_s0.h5") as run:
        yield CachedRun(run)


def test_sample_fates_match_the_planted_fates(pruned):
    truth = _State(PRUNED)
    for spec in SMALL_LAYERS:
        values, fates = sample_fates(pruned, spec.name, "layer_relative", 0.01)
        idx, _ = pruned.samples(spec.name)
        flat = {
            k: v.reshape(-1)[idx]
            for k, v in (
                ("mask", truth.mask[spec.name]),
                ("decay", truth.decay[spec.name]),
                ("revive", truth.revive[spec.name]),
            )
        }
        expected = np.where(
            ~flat["mask"],
            "pruned",
            np.where(flat["revive"], "revived", np.where(flat["decay"], "shed", "kept")),
        )
        assert values.shape == (PRUNED.n_snapshots, len(idx))
        np.testing.assert_array_equal(fates, expected, err_msg=spec.name)
    assert {"pruned", "revived", "shed", "kept"} <= set(
        np.concatenate(
            [sample_fates(pruned, s.name, "layer_relative", 0.01)[1] for s in SMALL_LAYERS]
        )
    )


def test_channel_fraction_dead_channels_fully_shed(pruned):
    truth = _State(PRUNED)
    for spec in SMALL_LAYERS:
        frac = data.channel_fraction(pruned, spec.name)  # (S, C)
        assert frac.shape == (PRUNED.n_snapshots, spec.n_channels)
        dead = truth.dead[spec.name] & truth.mask[spec.name].reshape(spec.n_channels, -1).any(1)
        np.testing.assert_array_equal(frac[-1, dead], 1.0)
        assert np.nanmax(frac[: PRUNED.n_dense]) < 0.05  # dense phase: almost nothing shed


def test_shed_series_is_analysis_shed_curve(pruned):
    for rule in THRESHOLD_RULES.names():
        grid = data.rule_grid(pruned, rule)
        for c in grid[:: max(1, len(grid) // 4)]:
            x, y = data.shed_series(pruned, rule, float(c))
            ref = shed_curve(pruned, rule=rule, c=float(c))
            np.testing.assert_array_equal(x, ref.epoch)
            np.testing.assert_array_equal(y, ref.shed_fraction[:, 0])
            _, y_fc = data.shed_series(pruned, rule, float(c), "fc")
            lay = shed_curve(pruned, rule=rule, c=float(c), per="layer")
            np.testing.assert_array_equal(y_fc, lay.shed_fraction[:, lay.column("fc")])


def test_flow_sums_layers_and_starts_at_zero(pruned):
    shed, rev = data.flow(pruned)
    per = [data.flow(pruned, s.name) for s in SMALL_LAYERS]
    np.testing.assert_array_equal(shed, sum(p[0] for p in per))
    np.testing.assert_array_equal(rev, sum(p[1] for p in per))
    assert shed[0] == 0 and rev[0] == 0 and shed.sum() > 0 and rev.sum() > 0


@pytest.mark.parametrize("rule", THRESHOLD_RULES.names())
def test_control_counts_equal_excess_curve_at_every_grid_point(pruned, control, rule):
    counts = control_counts(pruned, control)
    grid = np.asarray(pruned.grids[get_rule(rule).grid])
    for gi, c in enumerate(grid):
        ex = excess_curve(pruned, control, rule=rule, c=float(c), per="layer")
        ok = ex.control.defined
        np.testing.assert_array_equal(counts.shed[rule][:, :, gi][ok], ex.control.shed[ok])
        g = ex.control.aggregate("global").shed_fraction[:, 0]
        np.testing.assert_allclose(counts.fraction(rule, gi), g, equal_nan=True)
        for spec in SMALL_LAYERS:
            col = ex.control.column(spec.name)
            np.testing.assert_allclose(
                counts.fraction(rule, gi, spec.name),
                ex.control.shed_fraction[:, col],
                equal_nan=True,
            )


def test_control_counts_refuse_a_different_network(pruned, tmp_path):
    other = Synth(run_id="other", layers=SMALL_LAYERS[:2])
    from dashboard_synth import write_run

    with (
        open_run(write_run(tmp_path / "o.h5", other)) as o,
        pytest.raises(ValueError, match="not its control"),
    ):
        control_counts(pruned, o)


def test_run_info_fields(pruned, control):
    info = data.run_info(pruned, "gmp_s0")
    last = cascade_summary(pruned, revivals=False)[-1]
    assert (info.model, info.pruner, info.protocol, info.sparsity, info.seed) == (
        "resnet1d",
        "gmp",
        "lrr",
        0.2,
        0,
    )
    assert info.cascade_ratio == pytest.approx(last.cascade_ratio) and info.cascade_ratio > 1
    assert info.effective_sparsity == pytest.approx(last.effective_sparsity)
    assert info.final_acc == pytest.approx(float(pruned.metrics["test_acc"][-1]))
    assert info.control == "ctl0" and not info.is_control and info.status == "complete"
    assert (info.name, info.file) == ("gmp 20% · lrr · seed 0", "gmp_s0")
    cinfo = data.run_info(control, "ctl_s0")
    assert cinfo.is_control and cinfo.cascade_ratio is None
    assert cinfo.name == "control · lrr · seed 0"


def test_run_label_from_the_config():
    from dashboard.labels import run_label

    cfg = {"prune": {"method": "gmp", "sparsity": 0.925}, "retrain": {"protocol": "ft"}}
    assert run_label({**cfg, "seed": 3}, "f") == "gmp 92.5% · ft · seed 3"
    assert run_label({"prune": {"method": "gmp", "sparsity": 0}, "seed": 0}, "f") == (
        "control · seed 0"
    )
    assert run_label({}, "file-name") == "file-name"  # nothing to build a name from


def test_default_slider_position_is_the_default_threshold():
    grid = data.rule_grid(None, "layer_relative")
    assert grid[data.default_value_index("layer_relative", grid)] == pytest.approx(0.01)
    assert data.default_value_index("absolute", data.rule_grid(None, "absolute")) == 16


def test_cached_run_memo_follows_new_snapshots(tmp_path):
    p = Synth(run_id="live")
    w = RunWriter(
        tmp_path / "live.h5",
        layers=list(p.layers),
        config=p.config(),
        run_id="live",
        background=False,
    )
    try:
        write_snapshots(w, p, stop=2)
        run = CachedRun(open_run(tmp_path / "live.h5"))
        assert run.version[:1] == (2,) and run.status == "running"
        assert len(run.stats("fc").n_kept) == 2
        assert run.poll() == run.version  # nothing new: memo kept
        write_snapshots(w, p, start=2, stop=3)
        assert run.poll()[0] == 3
        assert (
            len(run.stats("fc").n_kept) == 3
            and len(data.shed_series(run, "absolute", 1e-3)[1]) == 3
        )
    finally:
        w.close()
    assert run.poll()[2] == "complete"
    run.close()


def test_all_fixture_runs_open(runs_dir):
    for rel in RUNS:
        with open_run(runs_dir / rel) as r:
            assert len(r) == RUNS[rel].n_snapshots
