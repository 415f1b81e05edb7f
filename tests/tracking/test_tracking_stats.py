"""Statistics against brute-force numpy, planted transitions, and fp16 streaming consistency."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tracking import tracking_fakes as fakes
from tracking import format as fmt
from tracking import open_run
from tracking.stats import compute_layer_snapshot, threshold_f32


def below(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Brute force: #values < t for every float32 threshold t."""
    return np.array([np.count_nonzero(values < t) for t in thresholds], dtype=np.int64)


def random_layer(seed: int, shape=(12, 7, 5), density=0.6):
    rng = np.random.default_rng(seed)
    mags = np.exp(rng.uniform(np.log(1e-9), np.log(20.0), size=shape))
    w = (mags * rng.choice([-1, 1], size=shape)).astype(np.float32)
    w.reshape(-1)[:20] = 0.0  # exact zeros
    # values exactly on grid thresholds: strict < must exclude them
    w.reshape(-1)[20:53] = threshold_f32(fmt.ABS_GRID)
    mask = rng.random(shape) < density
    return w, mask


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ref", [None, 0.37])
def test_stats_match_brute_force(seed, ref):
    w, mask = random_layer(seed)
    gmp = 0.021
    snap = compute_layer_snapshot(w, mask, ref_rms=ref, gmp_threshold=gmp)
    st = snap.stats
    m = np.abs(w).astype(np.float16).astype(np.float32)  # what the file stores
    k = m[mask]
    rms = np.sqrt(np.mean(k.astype(np.float64) ** 2))
    assert st.n_kept == mask.sum()
    assert st.rms_kept == pytest.approx(rms, rel=1e-6)
    ref32 = np.float32(rms if ref is None else ref)
    assert st.ref_rms == ref32 and st.ref_source == (ref is not None)
    np.testing.assert_allclose(
        st.percentiles, np.percentile(k.astype(np.float64), fmt.PERCENTILE_Q), rtol=1e-6
    )
    np.testing.assert_array_equal(st.below_abs, below(k, fmt.ABS_GRID.astype(np.float32)))
    rel_thr = (fmt.REL_GRID * np.float64(ref32)).astype(np.float32)
    np.testing.assert_array_equal(st.below_rel, below(k, rel_thr))
    gmp_thr = (fmt.GMP_GRID * np.float64(np.float32(gmp))).astype(np.float32)
    np.testing.assert_array_equal(st.below_gmp, below(k, gmp_thr))
    assert st.gmp_threshold == np.float32(gmp)
    # histogram: edges[b] <= m < edges[b+1]; the last bin also holds m >= its right edge
    edges = fmt.HIST_EDGES.astype(np.float32)
    hist = [np.count_nonzero((k >= edges[b]) & (k < edges[b + 1])) for b in range(len(edges) - 1)]
    hist[-1] += np.count_nonzero(k >= edges[-1])
    np.testing.assert_array_equal(st.hist, hist)
    assert st.hist.sum() == st.n_kept and np.count_nonzero(k >= 10) > 0
    # default rule: shed = kept & m < float32(0.01 * ref)
    tau = np.float32(0.01 * np.float64(ref32))
    shed = mask & (m < tau)
    np.testing.assert_array_equal(st.channel_kept, mask.reshape(12, -1).sum(1))
    np.testing.assert_array_equal(st.channel_shed, shed.reshape(12, -1).sum(1))
    assert shed.sum() > 0
    np.testing.assert_array_equal(snap.kept, np.packbits(mask & ~shed))
    np.testing.assert_array_equal(snap.mask, np.packbits(mask))
    assert st.below_rel[fmt.DEFAULT_REL_INDEX] == shed.sum()
    assert (st.newly_shed, st.revived) == (0, 0)


def test_grid_boundaries_are_strict():
    w = threshold_f32(fmt.ABS_GRID).reshape(1, -1)  # one weight exactly at every threshold
    st = compute_layer_snapshot(w, np.ones_like(w, bool), ref_rms=None, gmp_threshold=None).stats
    fp16 = np.sort(np.abs(w).astype(np.float16).astype(np.float32).ravel())
    np.testing.assert_array_equal(st.below_abs, below(fp16, fmt.ABS_GRID.astype(np.float32)))
    assert (st.below_gmp == -1).all() and np.isnan(st.gmp_threshold)


def test_no_kept_weights():
    w = np.ones((4, 3), np.float32)
    st = compute_layer_snapshot(w, np.zeros((4, 3), bool), ref_rms=None, gmp_threshold=1.0).stats
    assert st.n_kept == 0 and np.isnan(st.rms_kept) and np.isnan(st.percentiles).all()
    assert st.below_abs.sum() == st.below_rel.sum() == st.hist.sum() == 0
    assert (st.below_gmp == 0).all() and st.channel_shed.sum() == 0


def test_newly_shed_and_revived_on_planted_transitions():
    n = 64
    mask0, mask1 = np.ones(n, bool), np.ones(n, bool)
    w0, w1 = np.ones(n, np.float32), np.ones(n, np.float32)  # ref 1.0 -> tau = 0.01
    w0[0:5] = 1e-4  # shed at t0 ...
    w1[0:3] = 1e-4  # ... still shed at t1 (0..2), revived at t1 (3, 4)
    w1[10:17] = 1e-3  # newly shed (7)
    mask1[20:24] = False  # pruned at t1 while shed at t0: not a transition
    w0[20:24] = 1e-4
    w1[20:24] = 0.0
    mask1[30:32] = False  # pruned at t1 while kept: neither
    w1[30:32] = 0.0
    mask0[40] = False  # pruned at t0 (a mask that revives is not a shedding transition)
    w0[40] = 0.0
    s0 = compute_layer_snapshot(
        w0.reshape(8, 8), mask0.reshape(8, 8), ref_rms=1.0, gmp_threshold=None
    )
    s1 = compute_layer_snapshot(
        w1.reshape(8, 8),
        mask1.reshape(8, 8),
        ref_rms=1.0,
        gmp_threshold=None,
        prev_mask=s0.mask,
        prev_kept=s0.kept,
    )
    assert (s1.stats.newly_shed, s1.stats.revived) == (7, 2)
    assert s1.stats.channel_shed.sum() == 3 + 7


def test_streaming_stored_magnitudes_reproduces_stored_counts(tmp_path):
    """The consistency contract: counts from streamed fp16 magnitudes == stored counts."""
    from tracking import RunWriter

    path = tmp_path / "c.h5"
    with RunWriter(path, layers=fakes.LAYERS, config={}) as w:
        fakes.write(w, 0, 7)
    with open_run(path) as run:
        for name in ("conv1", "fc"):
            st = run.stats(name)
            for s, arrays in run.iter_snapshots([name]):
                m = arrays[name].astype(np.float32)
                k = m[run.mask(name, s)]
                np.testing.assert_array_equal(
                    st.below_abs[s], below(k, threshold_f32(run.grids["abs_grid"]))
                )
                np.testing.assert_array_equal(
                    st.below_rel[s], below(k, threshold_f32(run.grids["rel_grid"], st.ref_rms[s]))
                )
                if not np.isnan(st.gmp_threshold[s]):
                    thr = threshold_f32(run.grids["gmp_grid"], st.gmp_threshold[s])
                    np.testing.assert_array_equal(st.below_gmp[s], below(k, thr))
                tau = threshold_f32(0.01, st.ref_rms[s])
                np.testing.assert_array_equal(run.kept(name, s), run.mask(name, s) & (m >= tau))
