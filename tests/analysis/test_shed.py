"""Shed curves: planted counts, and stored statistics == streamed magnitudes at grid points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from analysis_planted import N

from shedding.analysis import THRESHOLD_RULES, shed_curve
from shedding.analysis.thresholds import get_rule, layer_thresholds
from shedding.errors import ConfigError
from tracking import LayerSpec, RunWriter, open_run

# planted in analysis_planted.cascade_run: snapshots s0..s4
KEPT = [64, 64, 56, 56, 56]
SHED = [0, 0, 2, 8, 15]
SHED_PER_LAYER = [[0, 0], [0, 0], [2, 0], [6, 2], [11, 4]]


@pytest.mark.parametrize("method", ["auto", "stream"])
def test_planted_global_and_layer_counts(run, method: str) -> None:
    g = shed_curve(run, method=method)
    assert g.source == ("stats" if method == "auto" else "stream")
    assert g.labels == ("all",)
    assert g.kept[:, 0].tolist() == KEPT
    assert g.shed[:, 0].tolist() == SHED
    np.testing.assert_allclose(g.shed_fraction[:, 0], np.array(SHED) / np.array(KEPT))
    np.testing.assert_allclose(g.effective_sparsity[:, 0], (N - np.array(KEPT) + SHED) / N)
    layer = shed_curve(run, per="layer", method=method)
    assert layer.labels == ("conv1", "fc")
    assert layer.shed.tolist() == SHED_PER_LAYER


@pytest.mark.parametrize("method", ["auto", "stream"])
def test_planted_channel_counts(run, method: str) -> None:
    ch = shed_curve(run, per="channel", method=method)
    assert ch.labels[:2] == ("conv1[0]", "conv1[1]")
    # s4: conv1 ch0 kept {4..7} all shed, ch1 {8, 10..15} shed; fc ch0 {4..7}
    assert ch.kept[4].tolist() == [4, 8, 8, 8, 12, 16]
    assert ch.shed[4].tolist() == [4, 7, 0, 0, 4, 0]


def test_gmp_relative_is_undefined_before_the_first_prune(run) -> None:
    g = shed_curve(run, rule="gmp_relative", c=0.01)  # tau = 0.005: SMALL is shed
    assert g.defined[:, 0].tolist() == [False, False, True, True, True]
    assert np.isnan(g.shed_fraction[:2, 0]).all()
    assert g.shed[2:, 0].tolist() == SHED[2:]


def test_off_grid_threshold_streams_and_counts_exactly(run) -> None:
    # c = 2e-4 of RMS 1.0 is below SMALL (0.001): nothing shed after the prune
    g = shed_curve(run, c=2e-4)
    assert g.source == "stream"
    assert g.shed[2:, 0].tolist() == [0, 0, 0]
    with pytest.raises(ConfigError, match="use method='stream'"):
        shed_curve(run, c=2e-4, method="stats")


def test_kept_from_counts_the_other_runs_kept_set(run, control) -> None:
    own = shed_curve(control)
    like = shed_curve(control, kept_from=run)
    assert own.shed[:, 0].tolist() == [0, 0, 2, 5, 10]
    assert like.shed[:, 0].tolist() == [0, 0, 2, 3, 5]  # see control_run's docstring
    assert like.kept[:, 0].tolist() == KEPT
    assert like.source == "stream" and like.kept_from == "pruned"


def test_bad_arguments_name_the_fix(run) -> None:
    with pytest.raises(ConfigError, match="per='row'"):
        shed_curve(run, per="row")
    with pytest.raises(ConfigError, match="unknown threshold rule"):
        shed_curve(run, rule="nope")


@pytest.fixture(scope="module")
def random_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Magnitudes log-uniform over 1e-9..10 so every grid point cuts somewhere; layers
    whose fan-in is and is not a multiple of 8; a dense phase without any reference."""
    path = tmp_path_factory.mktemp("rand") / "rand.h5"
    layers = [LayerSpec("a", (3, 5), bn="bn"), LayerSpec("b", (4, 16)), LayerSpec("c", (7, 3, 3))]
    rng = np.random.default_rng(1)
    masks = {s.name: np.ones(s.shape, bool) for s in layers}
    with RunWriter(path, layers=layers, config={"seed": 1}, run_id="rand") as w:
        for t in range(8):
            if t in (2, 5):  # prune events with a reference
                for s in layers:
                    masks[s.name] &= rng.random(s.shape) > 0.3
                w.set_reference(
                    layer_rms={s.name: float(rng.uniform(0.01, 2)) for s in layers},
                    gmp_threshold=float(rng.uniform(1e-4, 1)),
                )
            weights = {
                s.name: (
                    10 ** rng.uniform(-9, 1, s.shape) * rng.choice([-1, 1], s.shape) * masks[s.name]
                ).astype(np.float32)
                for s in layers
            }
            w.record(
                step=t,
                epoch=t,
                phase="dense" if t < 2 else "retrain",
                round=0 if t < 2 else (1 if t < 5 else 2),
                lr=0.1,
                weights=weights,
                masks=masks,
            )
    return path


@pytest.mark.parametrize("rule", THRESHOLD_RULES.names())
def test_stats_and_stream_identical_at_every_grid_point(random_run: Path, rule: str) -> None:
    with open_run(random_run) as r:
        stored = {
            (li, s): (r.magnitudes(i.name, s).astype(np.float64), r.mask(i.name, s))
            for li, i in enumerate(r.layers)
            for s in range(len(r))
        }
        for c in r.grids[get_rule(rule).grid]:
            a = shed_curve(r, rule=rule, c=float(c), per="layer", method="stats")
            b = shed_curve(r, rule=rule, c=float(c), per="layer", method="stream")
            np.testing.assert_array_equal(a.kept, b.kept)
            np.testing.assert_array_equal(a.shed, b.shed)
            np.testing.assert_array_equal(a.defined, b.defined)
            # and both equal a direct float comparison of the stored magnitudes
            tau = layer_thresholds(r, rule=rule, c=float(c))
            for (li, s), (m, mask) in stored.items():
                assert b.shed[s, li] == np.count_nonzero(mask & (m < np.float64(tau[s, li])))


def test_stats_and_stream_identical_per_channel(random_run: Path) -> None:
    with open_run(random_run) as r:
        a = shed_curve(r, per="channel", method="stats")
        b = shed_curve(r, per="channel", method="stream")
        np.testing.assert_array_equal(a.kept, b.kept)
        np.testing.assert_array_equal(a.shed, b.shed)
        assert a.labels == b.labels and len(a.labels) == 3 + 4 + 7


def test_tables_and_dicts(run) -> None:
    import json

    g = shed_curve(run)
    rows = g.to_table()
    assert len(rows) == len(run) and rows[-1]["shed"] == 15
    d = json.loads(json.dumps(g.to_dict(), allow_nan=False))
    assert d["shed"] == [[s] for s in SHED]
    assert g.aggregate("global") is g
    with pytest.raises(ConfigError, match="cannot refine"):
        g.aggregate("layer")
