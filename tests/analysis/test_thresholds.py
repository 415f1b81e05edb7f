"""Threshold rules: registry, rounding as the writer rounds, exact float16 code bounds."""

from __future__ import annotations

import numpy as np
import pytest

from shedding.analysis.thresholds import (
    DEFAULT_C,
    DEFAULT_RULE,
    THRESHOLD_RULES,
    check_c,
    get_rule,
    grid_index,
    layer_thresholds,
    tau_f32,
    threshold_codes,
)
from shedding.errors import ConfigError
from tracking import stats as writer_stats


def test_the_three_rules_exist_and_default_is_on_its_grid(run) -> None:
    assert THRESHOLD_RULES.names() == ["absolute", "gmp_relative", "layer_relative"]
    assert (DEFAULT_RULE, DEFAULT_C) == ("layer_relative", 0.01)
    assert grid_index(run, DEFAULT_RULE, DEFAULT_C) is not None


def test_unknown_rule_and_bad_c_raise_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="valid choices: absolute, gmp_relative"):
        get_rule("relative")
    with pytest.raises(ConfigError, match=r"c=-1\.0"):
        check_c(-1)


@pytest.mark.parametrize("rule", THRESHOLD_RULES.names())
def test_tau_matches_the_writers_rounding_at_every_grid_point(run, rule: str) -> None:
    spec = get_rule(rule)
    grid = run.grids[spec.grid]
    for layer_i, info in enumerate(run.layers):
        scale = spec.scale(run.stats(info.name))
        for c in grid:
            tau = layer_thresholds(run, rule=rule, c=float(c))[:, layer_i]
            want = [writer_stats.threshold_f32(c, None if rule == "absolute" else r) for r in scale]
            np.testing.assert_array_equal(tau, np.array(want, dtype=np.float32))


def test_code_bounds_agree_with_float_comparison_for_every_float16() -> None:
    codes = np.arange(0x10000, dtype=np.uint32).astype(np.uint16)
    values = codes.view(np.float16).astype(np.float64)
    nonneg = codes <= 0x7C00  # +0 .. +inf; the rest are negative or NaN
    rng = np.random.default_rng(0)
    exact = values[nonneg][rng.integers(0, nonneg.sum(), 200)]  # tau exactly on a value
    taus = np.concatenate([exact, np.nextafter(exact, np.inf), 10 ** rng.uniform(-9, 5, 200)])
    taus = np.concatenate([taus, [0.0, np.inf]]).astype(np.float32)
    keys = threshold_codes(taus)
    for tau, key in zip(taus, keys, strict=True):
        got = codes[nonneg] < key
        want = values[nonneg] < np.float64(tau)
        np.testing.assert_array_equal(got, want)
    assert threshold_codes(np.array([np.nan], np.float32))[0] == 0  # unknown: nothing shed


def test_tau_f32_is_float32_product_of_float32_scale() -> None:
    got = tau_f32(0.01, np.array([0.3], dtype=np.float64))
    assert got.dtype == np.float32
    assert got[0] == np.float32(0.01 * float(np.float32(0.3)))
