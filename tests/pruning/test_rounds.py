"""How much each round removes: one-shot, iterative with an exact last round, budgets."""

from __future__ import annotations

import math

import pytest
import torch

from shedding.config import ExperimentConfig, PruneConfig, RetrainConfig
from shedding.errors import ConfigError
from shedding.pruning import amount_to_reach, round_amounts, round_targets, split_budget


def test_oneshot_is_one_round_of_the_target():
    assert round_amounts(PruneConfig(sparsity=0.9)) == [0.9]


@pytest.mark.parametrize("mode", ["oneshot", "iterative"])
def test_sparsity_zero_is_a_control_round_that_prunes_nothing(mode):
    assert round_amounts(PruneConfig(sparsity=0.0, mode=mode)) == [0.0]


def test_a_control_repeats_as_many_rounds_as_the_run_it_controls():
    assert round_amounts(PruneConfig(sparsity=0.0, rounds=4)) == [0.0] * 4
    iterative = ExperimentConfig(
        prune=PruneConfig(sparsity=0.9, mode="iterative", rate=0.5, budget_epochs=20),
        retrain=RetrainConfig(epochs=2),
    )
    control = PruneConfig(sparsity=0.0, rounds=4, budget_epochs=20)
    assert split_budget(ExperimentConfig(prune=control, retrain=RetrainConfig(epochs=2))) == (
        split_budget(iterative)
    )
    for bad in (PruneConfig(sparsity=0.5, rounds=2), PruneConfig(sparsity=0.0, rounds=0)):
        with pytest.raises(ConfigError, match=r"prune.rounds=\d is for control runs only"):
            round_amounts(bad)


@pytest.mark.parametrize(
    "sparsity,rate,rounds",
    [(0.36, 0.2, 2), (0.5, 0.2, 4), (0.8926, 0.2, 10), (0.1, 0.2, 1), (0.99, 0.5, 7)],
)
def test_iterative_rounds_reach_the_target_exactly(sparsity, rate, rounds):
    amounts = round_amounts(PruneConfig(sparsity=sparsity, mode="iterative", rate=rate))
    assert len(amounts) == rounds
    assert all(a == rate for a in amounts[:-1])
    assert 0 < amounts[-1] <= rate + 1e-12
    assert 1 - math.prod(1 - a for a in amounts) == pytest.approx(sparsity, abs=1e-12)
    targets = round_targets(PruneConfig(sparsity=sparsity, mode="iterative", rate=rate))
    assert targets[-1] == sparsity and targets == sorted(targets)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.2])
def test_sparsity_outside_unit_interval_is_rejected(bad):
    with pytest.raises(ConfigError, match=rf"prune.sparsity={bad} must be in \[0, 1\)"):
        round_amounts(PruneConfig(sparsity=bad))


def test_bad_mode_and_rate_are_rejected():
    with pytest.raises(ConfigError, match=r"prune\.mode='gradual' is unknown; valid: oneshot"):
        round_amounts(PruneConfig(mode="gradual"))
    with pytest.raises(ConfigError, match=r"prune.rate=0.0 must be in \(0, 1\)"):
        round_amounts(PruneConfig(mode="iterative", rate=0.0))


def test_amount_to_reach_lands_within_one_weight():
    masks = {"a": torch.ones(7, 13, dtype=torch.bool), "b": torch.ones(29, dtype=torch.bool)}
    masks["a"][0, :5] = False
    total, kept = 120, 115
    a = amount_to_reach(masks, 0.5)
    assert round(a * kept) == kept - 60
    assert amount_to_reach(masks, 0.0) == 0.0  # already sparser than the target
    assert total == sum(m.numel() for m in masks.values())


def test_split_budget():
    cfg = ExperimentConfig(
        prune=PruneConfig(sparsity=0.36, mode="iterative", budget_epochs=30),
        retrain=RetrainConfig(epochs=5),
    )
    assert split_budget(cfg) == (20, 5)
    cfg = ExperimentConfig(prune=PruneConfig(sparsity=0.36, mode="iterative", budget_epochs=30))
    assert split_budget(cfg) == (16, 7)
    with pytest.raises(ConfigError, match="leaves no dense epoch"):
        split_budget(cfg.replace(**{"retrain.epochs": 15}))
    with pytest.raises(ConfigError, match="budget_epochs is not set"):
        split_budget(ExperimentConfig())
