"""Intervals over seeds: Student's t and the percentile bootstrap (scipy.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from shedding.analysis.stats import (
    T_INTERVAL_BELOW,
    bootstrap_ci,
    mean_ci,
    t_interval,
)


@pytest.mark.parametrize("n", [2, 3, 5, 9, 30])
def test_t_interval_is_the_mean_plus_minus_t_times_the_standard_error(n: int) -> None:
    v = np.random.default_rng(n).normal(3.0, 2.0, size=n)
    half = stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n)
    assert t_interval(v) == (v.mean() - half, v.mean() + half)  # to the last bit


def test_degenerate_intervals() -> None:
    assert t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)  # no spread
    assert all(math.isnan(x) for x in t_interval([1.0, float("nan")]))  # one finite value
    assert bootstrap_ci([3.0] * 12) == (3.0, 3.0)
    assert bootstrap_ci([5.0]) == (5.0, 5.0)
    assert all(math.isnan(x) for x in bootstrap_ci([]))


def test_bootstrap_is_the_percentile_interval_of_resampled_means() -> None:
    v = np.random.default_rng(7).exponential(size=15)
    rng = np.random.default_rng(0)  # the same resamples as the default seed
    means = v[rng.integers(0, len(v), size=(10_000, len(v)))].mean(axis=1)
    assert bootstrap_ci(v) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])), rel=1e-12)
    assert bootstrap_ci(v) == bootstrap_ci(v)  # fixed seed: the same interval every time
    assert bootstrap_ci(v, seed=1) != bootstrap_ci(v)


def test_bootstrap_covers_the_true_mean_about_as_often_as_it_says() -> None:
    rng = np.random.default_rng(11)
    trials = 200
    covered = 0
    for i in range(trials):
        lo, hi = bootstrap_ci(rng.normal(1.0, 1.0, size=20), n_boot=2000, seed=i)
        covered += lo <= 1.0 <= hi
    assert 0.88 <= covered / trials <= 0.99


def test_mean_ci_takes_t_below_the_cut_and_the_bootstrap_from_it() -> None:
    few = np.arange(T_INTERVAL_BELOW - 1, dtype=float)
    many = np.arange(T_INTERVAL_BELOW, dtype=float)
    assert (mean_ci(few).ci_low, mean_ci(few).ci_high) == t_interval(few)
    assert (mean_ci(many).ci_low, mean_ci(many).ci_high) == bootstrap_ci(many)
    assert mean_ci(many).to_dict()["n"] == T_INTERVAL_BELOW
    assert mean_ci([]).to_dict() == {"n": 0, "mean": None, "ci_low": None, "ci_high": None}
