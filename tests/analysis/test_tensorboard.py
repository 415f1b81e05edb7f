"""The TensorBoard bridge: scalars per layer and round, read back with TensorBoard's reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from shedding.analysis import cascade_summary, excess_summary
from shedding.analysis.to_tensorboard import log_run, round_scalars
from shedding.cli import main
from tracking import open_run

accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(folder: Path) -> dict[str, list[tuple[int, float]]]:
    acc = accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def test_scalars_per_layer_and_round_match_the_analysis(run, control, tmp_path):
    folder = log_run(run, tmp_path / "tb")  # the control is found beside the run
    got = _read(folder)
    rounds = cascade_summary(run)
    excess = excess_summary(run, control)
    for r, x in zip(rounds, excess, strict=True):
        assert got["C/all"] == [(r.round, pytest.approx(r.cascade_ratio))]
        assert got["C_excess/all"] == [(x.round, pytest.approx(x.excess_cascade_ratio))]
        assert got["effective_sparsity/all"][0][1] == pytest.approx(r.effective_sparsity)
        for lr in r.layers:
            assert got[f"C/{lr.layer}"][0][1] == pytest.approx(lr.cascade_ratio)
            frac = lr.shed_end / lr.kept
            assert got[f"shed_fraction/{lr.layer}"][0][1] == pytest.approx(frac)
    layers = {info.name for info in run.layers}
    assert {t.split("/", 1)[1] for t in got} == layers | {"all"}


def test_without_a_control_there_is_no_excess(run, tmp_path):
    scalars = round_scalars(run)
    assert scalars and not any(t.startswith("C_excess") for s in scalars.values() for t in s)
    folder = log_run(run, tmp_path, find=False)
    assert not any(t.startswith("C_excess") for t in _read(folder))


def test_cli_writes_one_folder_per_run(planted_dir, tmp_path, capsys):
    assert main(["tensorboard", str(planted_dir), "--logdir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote") == 2
    with open_run(planted_dir / "control.h5") as ctl:
        got = _read(tmp_path / ctl.run_id)
    assert "shed_fraction/all" in got and "C/all" not in got  # a control prunes nothing
