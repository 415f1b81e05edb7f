"""Recording that scales, in real tiny runs: every k epochs / steps, some layers only, and
the statistics-only mode (the analysis refuses in one line only what needs magnitudes)."""

from __future__ import annotations

import numpy as np
import pytest
from tiny import tiny_config

from shedding.analysis import cascade_summary, shed_curve
from shedding.cli import main
from shedding.engine.experiment import run_experiment
from shedding.errors import ConfigError
from tracking import NoMagnitudes, open_run


@pytest.fixture(scope="module")
def stats_and_full(data_root, tmp_path_factory):
    """The same tiny run recorded "full" and "stats" (every_steps adds retraining snapshots)."""
    d = tmp_path_factory.mktemp("modes")
    extra = ("train.epochs=4", "train.milestones=[3]", "record.every_steps=3")
    full = run_experiment(tiny_config(*extra), data_root=data_root, runs_dir=d, progress=False)
    stats = run_experiment(
        tiny_config(*extra, "record.mode=stats"), data_root=data_root, runs_dir=d, progress=False
    )
    return full.path, stats.path


def test_stats_mode_stores_the_same_statistics_in_a_fraction_of_the_bytes(stats_and_full):
    full_path, stats_path = stats_and_full
    with open_run(full_path) as full, open_run(stats_path) as stats:
        assert stats.record_mode == "stats" and len(stats) == len(full)
        for info in full.layers:
            np.testing.assert_array_equal(
                stats.stats(info.name).n_kept, full.stats(info.name).n_kept
            )
            np.testing.assert_array_equal(
                stats.stats(info.name).below_rel, full.stats(info.name).below_rel
            )
        a = cascade_summary(full)
        b = cascade_summary(stats)  # at the default rule: from the stored counts
        assert [r.shed_end for r in a] == [r.shed_end for r in b]
        with pytest.raises(NoMagnitudes, match="statistics-only"):
            shed_curve(stats, rule="layer_relative", c=0.0123, method="auto")
    assert stats_path.stat().st_size < full_path.stat().st_size


def test_every_steps_adds_retraining_snapshots(stats_and_full):
    with open_run(stats_and_full[0]) as run:
        retrain = run.index.step[run.index.phase == "retrain"]
        # steps 3, 6, ... within each retraining epoch, besides the epoch ends
        assert any(s % 3 == 0 and s > 0 for s in retrain)
        assert len(retrain) > 1 + 2  # after-prune snapshot + 2 epoch ends, plus step ones


def test_off_grid_threshold_on_a_stats_run_is_one_line(stats_and_full, capsys):
    assert main(["analyze", str(stats_and_full[1]), "--threshold", "0.0123"]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if "NoMagnitudes" in x]
    assert "statistics-only" in line and "off the stored grid" in line and "fix:" in line
    assert main(["analyze", str(stats_and_full[1])]) == 0  # the default rule: stored counts
    assert "NoMagnitudes" not in capsys.readouterr().out


def test_every_epochs_and_some_layers(data_root, tmp_path):
    cfg = tiny_config(
        "train.epochs=4", "train.milestones=[3]", "record.every_epochs=2", 'record.layers=["fc"]'
    )
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    with open_run(res.path) as run:
        assert [i.name for i in run.layers] == ["fc"]
        dense = run.index.epoch[run.index.phase == "dense"]
        assert dense.tolist() == [0.0, 2.0, 4.0]  # init, every 2nd epoch, the last one
        assert len(run.metrics["epoch"]) >= 4 + 2  # metrics stay per epoch
        assert cascade_summary(run)[0].pruned > 0


def test_a_layer_pattern_matching_nothing_is_one_clear_error(data_root, tmp_path):
    cfg = tiny_config('record.layers=["nosuch*"]')
    with pytest.raises(ConfigError, match=r"record.layers \['nosuch\*'\] match no prunable"):
        run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("record.mode=tiny", "record.mode='tiny' must be 'full' or 'stats'"),
        ("record.every_epochs=0", "record.every_epochs=0 must be >= 1"),
        ("record.every_steps=-1", "record.every_steps=-1 must be >= 0"),
    ],
)
def test_bad_recording_fields_fail_before_training(data_root, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        run_experiment(tiny_config(override), data_root=data_root, runs_dir=tmp_path)


def test_the_engine_logs_the_finished_run_to_tensorboard(data_root, tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    logdir = tmp_path / "tb"
    cfg = tiny_config(f'record.tensorboard="{logdir}"', "prune.sparsity=0.4")
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    acc = accumulator.EventAccumulator(str(logdir / res.path.stem))
    acc.Reload()
    with open_run(res.path) as run:
        (r,) = cascade_summary(run)
        assert [e.value for e in acc.Scalars("C/all")] == [pytest.approx(r.cascade_ratio)]
        assert {f"C/{i.name}" for i in run.layers} <= set(acc.Tags()["scalars"])
