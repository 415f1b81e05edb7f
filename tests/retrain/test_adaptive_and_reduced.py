"""ALLR's norm ratio and Crowley's width matching."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from shedding.errors import ConfigError
from shedding.retrain import match_width, norm_ratio, prunable_count


def test_norm_ratio_known_values():
    before = {"w": torch.tensor([3.0, 4.0]), "b": torch.tensor([0.0])}
    after = {"w": torch.tensor([0.0, 4.0]), "b": torch.tensor([0.0])}
    assert norm_ratio(before, after) == pytest.approx(3 / 5)
    assert norm_ratio(list(before.values()), list(after.values())) == pytest.approx(0.6)
    assert norm_ratio(before, before) == 0.0
    zero = {"w": torch.zeros(2), "b": torch.zeros(1)}
    assert norm_ratio(zero, zero) == 0.0


def test_norm_ratio_is_exact_at_low_sparsity():
    # one weight of 1e-3 pruned among a million ones: float32 sums would lose it
    big = torch.ones(1_000_000)
    big[0] = 1e-3
    after = big.clone()
    after[0] = 0.0
    pruned = float(big[0].double())  # float32 1e-3
    want = pruned / math.sqrt(999_999 + pruned**2)
    assert norm_ratio([big], [after]) == pytest.approx(want, rel=1e-9)


def test_norm_ratio_rejects_mismatched_sides():
    with pytest.raises(ValueError, match="different parameters"):
        norm_ratio({"a": torch.ones(1)}, {"b": torch.ones(1)})
    with pytest.raises(ValueError, match="shapes"):
        norm_ratio([torch.ones(2)], [torch.ones(3)])


def mlp(width: float) -> nn.Module:
    h = max(1, round(64 * width))
    return nn.Sequential(nn.Linear(10, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 3))


def test_match_width_hits_an_exact_count():
    target = prunable_count(mlp(0.5))
    w = match_width(mlp, target)
    assert prunable_count(mlp(w)) == target
    assert abs(w - 0.5) < 1 / 64


def test_match_width_returns_the_closest_when_no_exact_width_exists():
    target = prunable_count(mlp(0.25)) + 7  # between two channel counts
    w = match_width(mlp, target)
    got = prunable_count(mlp(w))
    h = round(64 * w)
    neighbours = [prunable_count(mlp(k / 64)) for k in (h - 1, h + 1)]
    assert all(abs(got - target) <= abs(n - target) for n in neighbours)


def test_match_width_grows_beyond_one_and_rejects_bad_targets():
    target = prunable_count(mlp(2.0))
    assert prunable_count(mlp(match_width(mlp, target))) == target
    with pytest.raises(ConfigError, match="target_params=0 must be >= 1"):
        match_width(mlp, 0)
    with pytest.raises(ConfigError, match="no width up to 4"):
        match_width(mlp, 10**9, max_width=4.0)
