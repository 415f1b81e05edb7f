"""Cascade summary per prune round: planted truth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from analysis_planted import iterative_run

from shedding.analysis import cascade_summary, channel_shedding, dead_channels
from tracking import open_run


@pytest.mark.parametrize(
    "rule,c", [("layer_relative", 0.01), ("absolute", 0.01), ("absolute", 0.005)]
)
def test_planted_cascade_round(run, rule: str, c: float) -> None:
    (r,) = cascade_summary(run, rule=rule, c=c)
    assert (r.round, r.method, r.epoch_prune) == (1, "gmp", 2.0)
    assert (r.snapshot_prune, r.snapshot_end) == (2, 4)
    assert (r.n_weights, r.pruned, r.kept) == (64, 8, 56)
    assert (r.shed_at_prune, r.shed_end) == (2, 15)
    assert r.cascade_ratio == 13 / 8
    # newly shed 0, 6, 13: > 1.3 first at epoch 3 (1 epoch after the prune), > 6.5 at epoch 4
    assert (r.onset_epochs, r.half_time_epochs) == (1.0, 2.0)
    assert r.revived == 1  # conv1 flat 9: shed at epoch 3, back above tau at epoch 4
    assert r.shed_fraction_end == 15 / 56
    assert r.sparsity == 8 / 64 and r.effective_sparsity == (8 + 15) / 64
    # conv1[0]: its 4 kept weights all shed; conv1[3]: BN gamma 1e-4; conv1[1]: 7/8 < 90%
    assert (r.dead_channels_at_prune, r.dead_channels_end, r.n_channels) == (0, 2, 6)
    assert r.test_acc == 0.85
    conv1, fc = r.layers
    assert (conv1.pruned, conv1.shed_at_prune, conv1.shed_end) == (4, 2, 11)
    assert conv1.cascade_ratio == 9 / 4 and fc.cascade_ratio == 4 / 4
    assert (conv1.dead_channels_end, fc.dead_channels_end) == (2, 0)


def test_threshold_below_the_planted_weights_sheds_nothing(run) -> None:
    (r,) = cascade_summary(run, rule="absolute", c=1e-4)
    assert (r.shed_at_prune, r.shed_end, r.cascade_ratio, r.revived) == (0, 0, 0.0, 0)
    assert math.isnan(r.onset_epochs) and math.isnan(r.half_time_epochs)
    assert r.dead_channels_end == 1  # only the BN one


def test_without_revivals_nothing_else_changes(run) -> None:
    a = cascade_summary(run)[0]
    b = cascade_summary(run, revivals=False)[0]
    assert b.revived is None
    assert {**a.to_dict(), "revived": None} == b.to_dict()


def test_control_run_has_no_ratio(control) -> None:
    (r,) = cascade_summary(control)
    assert r.pruned == 0 and math.isnan(r.cascade_ratio)
    assert (r.shed_at_prune, r.shed_end) == (2, 10)


@pytest.mark.parametrize("record_dense", [True, False])
def test_iterative_rounds(tmp_path: Path, record_dense: bool) -> None:
    with open_run(iterative_run(tmp_path / "it.h5", record_dense=record_dense)) as r:
        r1, r2 = cascade_summary(r)
    assert (r1.round, r1.pruned, r1.shed_at_prune, r1.shed_end) == (1, 8, 1, 6)
    assert r1.cascade_ratio == 5 / 8
    assert (r2.round, r2.pruned, r2.shed_at_prune, r2.shed_end) == (2, 8, 2, 12)
    assert r2.cascade_ratio == 10 / 8
    assert r2.sparsity == 16 / 64 and r2.effective_sparsity == (16 + 12) / 64
    assert r1.revived == 0 and r2.revived == 0


def test_dead_channel_rule() -> None:
    kept = np.array([10, 10, 10, 0, 5])
    shed = np.array([9, 8, 10, 0, 0])
    gamma = np.array([1.0, 1.0, 1.0, 0.0, -5e-4])
    assert dead_channels(kept, shed, None).tolist() == [True, False, True, False, False]
    assert dead_channels(kept, shed, gamma).tolist() == [True, False, True, False, True]
    assert not dead_channels(np.array([3]), np.array([0]), np.array([np.nan]))[0]


@pytest.mark.parametrize("rule", ["layer_relative", "absolute"])  # stored stats / streamed
def test_planted_channel_shedding(run, rule: str) -> None:
    # s4: conv1[0] has 4 kept (0..3 pruned), all 4 shed -> dead; conv1[1] 7 of 8 shed (not
    # dead, < 90%); fc[0] 4 of 12. 15 shed, 4 of them in the one dead channel. BN gamma of
    # conv1[3] is ignored here (weights only).
    ch = channel_shedding(run, rule=rule, c=0.01)
    assert (ch.snapshot, ch.kept, ch.shed) == (4, 56, 15)
    assert (ch.shed_in_dead_channels, ch.dead_channels, ch.n_channels) == (4, 1, 6)
    assert ch.share_in_dead_channels == 4 / 15
    assert ch.layers == (("conv1", 11, 4, 1), ("fc", 4, 0, 0))
    s3 = channel_shedding(run, snapshot=3, rule=rule, c=0.01)  # conv1 {4..9}, fc {4, 5}
    assert (s3.shed, s3.shed_in_dead_channels, s3.share_in_dead_channels) == (8, 4, 0.5)
    s0 = channel_shedding(run, snapshot=0, rule=rule, c=0.01)
    assert s0.shed == 0 and math.isnan(s0.share_in_dead_channels)
    assert s0.to_dict()["share_in_dead_channels"] is None
