"""The mechanism statistics on a planted run whose norms are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_planted import PlantedRun

from shedding.analysis import cascade_summary, dead_causes, mechanism
from tracking import open_run


def test_kept_norm_and_effective_step_on_a_known_norm(tmp_path):
    path = tmp_path / "known.h5"
    half = {"conv1": dict.fromkeys(range(32), 0.5)}  # every conv1 weight 0.5: float16-exact
    with PlantedRun(path, run_id="known") as p:
        p.snap(epoch=0, round=0, values=half)
        p.snap(epoch=1, round=0, values=half)
        p.prune(round=1, epoch=1, pruned={"conv1": range(8), "fc": range(4)})
        p.snap(epoch=1, round=1, values=half)
        p.snap(epoch=2, round=1, values=half)
    with open_run(path) as run:
        m = mechanism(run)
        assert m.layers == ("conv1", "fc") and m.scale_invariant.tolist() == [True, False]
        # conv1: 32 (then 24 kept) weights of 0.5 -> |w|^2 = 8 (then 6); fc: 32 (28) of 1.0
        assert m.kept_norm[:, 0].tolist() == pytest.approx([math.sqrt(8)] * 2 + [math.sqrt(6)] * 2)
        assert m.kept_norm[:, 1].tolist() == pytest.approx(
            [math.sqrt(32)] * 2 + [math.sqrt(28)] * 2
        )
        # planted LR 0.1 at every snapshot: eta / |w|^2 for the BatchNorm-followed layer only
        assert m.effective_step[:, 0].tolist() == pytest.approx([0.1 / 8] * 2 + [0.1 / 6] * 2)
        assert np.isnan(m.effective_step[:, 1]).all()
        assert m.total_norm(3) == pytest.approx(math.sqrt(6 + 28))
        (r,) = cascade_summary(run)
        assert r.kept_norm_prune == pytest.approx(math.sqrt(34))
        assert r.kept_norm_ratio == pytest.approx(1.0)  # the planted round keeps its weights
        assert r.effective_step_peak == pytest.approx(0.1 / 6)
        assert m.to_dict()["effective_step"][0][1] is None


def test_dead_channels_split_by_cause_with_configurable_cutoffs():
    kept = np.array([10, 10, 10, 0])
    shed = np.array([9, 5, 9, 0])
    gamma = np.array([1.0, 1e-4, 1e-4, 1e-9])
    by_gamma, by_shed = dead_causes(kept, shed, gamma)
    assert by_gamma.tolist() == [False, True, True, False]  # no kept weight: pruned, not dead
    assert by_shed.tolist() == [True, False, True, False]
    by_gamma, by_shed = dead_causes(kept, shed, gamma, dead_shed=0.5, dead_gamma=1e-5)
    assert by_gamma.tolist() == [False, False, False, False]
    assert by_shed.tolist() == [True, True, True, False]
