"""Retraining protocols checked numerically against the formulas of docs/definitions.md."""

from __future__ import annotations

import math
import pickle

import pytest

from shedding.config import ExperimentConfig, RetrainConfig, TrainConfig
from shedding.errors import ConfigError
from shedding.retrain import PROTOCOLS, plan_retraining, retrain_epochs, rewind_epoch
from shedding.train.schedules import build_schedule

SPE = 10
T, R = 30, 10
TRAIN = TrainConfig(epochs=T, lr=0.1, schedule="multistep", milestones=(15, 23), gamma=0.1)
DENSE = build_schedule(TRAIN, SPE)


def plan(protocol: str, *, s: float = 0.5, d: float = 0.3, train=TRAIN, **retrain):
    retrain = {"epochs": R, **retrain}
    cfg = ExperimentConfig(train=train, retrain=RetrainConfig(protocol=protocol, **retrain))
    return plan_retraining(cfg, steps_per_epoch=SPE, round_fraction=s, norm_ratio=d)


def test_registry_has_every_protocol():
    assert set(PROTOCOLS.names()) == {
        "ft",
        "wr",
        "lrr",
        "llr",
        "allr",
        "slr",
        "clr",
        "scratch",
        "reduced",
    }


@pytest.mark.parametrize("protocol", PROTOCOLS.names())
def test_every_plan_is_well_formed(protocol):
    p = plan(protocol)
    assert p.protocol == protocol
    assert p.init in ("final", "rewind", "reinit", "reduced")
    steps = p.epochs * SPE
    values = [p.lr(k) for k in range(steps)]
    assert all(math.isfinite(v) and v >= 0 for v in values)
    assert max(values) <= 0.1 + 1e-12
    assert max(values) == pytest.approx(p.start_lr) or p.lr(0) == pytest.approx(p.start_lr)
    again = pickle.loads(pickle.dumps(p))
    assert [again.lr(k) for k in range(0, steps, 7)] == values[::7]


def test_ft_constant_final_lr_and_override():
    p = plan("ft")
    assert (p.init, p.epochs, p.rewind_epoch) == ("final", R, None)
    assert {p.lr(k) for k in range(R * SPE)} == {DENSE((T - 1) * SPE)}
    assert p.start_lr == pytest.approx(0.001)
    assert {plan("ft", ft_lr=0.003).lr(k) for k in (0, 50, 99)} == {0.003}


def test_lrr_replays_the_tail_of_the_schedule():
    p = plan("lrr")
    assert p.init == "final" and p.epochs == R
    assert all(p.lr(t) == DENSE((T - R) * SPE + t) for t in range(R * SPE))
    full = plan("lrr", epochs=T)  # R = T: the whole original schedule
    assert all(full.lr(t) == DENSE(t) for t in range(T * SPE))


def test_wr_rewinds_weights_and_schedule():
    p = plan("wr")
    assert (p.init, p.rewind_epoch, p.epochs) == ("rewind", T - R, R)
    assert all(p.lr(t) == DENSE((T - R) * SPE + t) for t in range(R * SPE))
    early = plan("wr", epochs=None, rewind_epoch=2)  # Renda: retrain for the rest, T - e
    assert (early.rewind_epoch, early.epochs) == (2, T - 2)
    assert early.lr(0) == DENSE(2 * SPE) and early.lr(13 * SPE) == DENSE(15 * SPE)
    frac = plan("wr", rewind_fraction=0.5)
    assert frac.rewind_epoch == 15 and frac.epochs == R


@pytest.mark.parametrize(
    "retrain,match",
    [
        (
            {"rewind_epoch": -1},
            r"wr rewinds to epoch -1, outside the dense run \[0, train.epochs=30\]",
        ),
        ({"rewind_epoch": 31}, "wr rewinds to epoch 31"),
        ({"epochs": 40}, "wr rewinds to epoch -10"),
        ({"rewind_fraction": 1.5}, r"retrain.rewind_fraction=1.5 must be in \[0, 1\]"),
        ({"epochs": None, "rewind_epoch": 30}, "retraining would last 0 epochs"),
    ],
)
def test_wr_rewind_outside_the_dense_run_fails_before_training(retrain, match):
    with pytest.raises(ConfigError, match=match):
        plan("wr", **retrain)


def test_rewind_epoch_helper_for_the_dense_phase():
    cfg = ExperimentConfig(train=TRAIN, retrain=RetrainConfig(protocol="wr", epochs=12))
    assert rewind_epoch(cfg) == 18
    assert rewind_epoch(cfg.replace(**{"retrain.protocol": "lrr"})) is None
    assert retrain_epochs(cfg.replace(**{"retrain.protocol": "scratch"})) == T


def _check_llr_shape(p, peak: float) -> None:
    w, total = round(0.1 * R * SPE), R * SPE
    assert p.warmup_steps == w == 10
    assert p.lr(0) == pytest.approx(peak / (w + 1))
    assert all(p.lr(k + 1) > p.lr(k) for k in range(w))  # warm-up rises for exactly w steps
    assert p.lr(w) == pytest.approx(peak) and p.start_lr == pytest.approx(peak)
    assert p.lr(w + 1) < p.lr(w)
    assert p.lr(w + (total - w) // 2) == pytest.approx(peak / 2)
    assert p.lr(total - 1) == pytest.approx(peak / (total - w))
    assert p.lr(total) == 0.0


def test_llr_warmup_then_linear_to_zero():
    _check_llr_shape(plan("llr"), 0.1)
    _check_llr_shape(plan("llr", max_lr=0.4), 0.4)


@pytest.mark.parametrize(
    "s,d,expected",
    [
        (0.5, 0.3, 0.1 * 0.3 / math.sqrt(0.5)),  # inside the interval: the formula
        (0.04, 0.5, 0.1),  # d/√s = 2.5 -> clipped to η_max
        (0.5, 0.01, 0.1 * R / T),  # tiny -> clipped to min(R/T, 1)·η_max
        (0.0, 0.0, 0.1 * R / T),  # control round (s = 0): the lower bound
    ],
)
def test_allr_start_lr_and_its_clipping(s, d, expected):
    p = plan("allr", s=s, d=d)
    assert p.start_lr == pytest.approx(expected)
    _check_llr_shape(p, expected)


def test_allr_lower_bound_caps_at_eta_max_when_retraining_is_long():
    p = plan("allr", s=0.5, d=0.01, epochs=2 * T)
    assert p.start_lr == pytest.approx(0.1)  # min(R/T, 1) = 1


def test_slr_warmup_then_compressed_schedule():
    p = plan("slr")
    w, total = 10, R * SPE
    assert p.lr(w) == pytest.approx(0.1) and p.lr(0) == pytest.approx(0.1 / (w + 1))
    # the dense milestone at epoch 15 of 30 lands halfway through the post-warm-up steps:
    # dense step (k - w) · 300 / 90 reaches 150 at k = w + 45
    assert p.lr(w + 44) == pytest.approx(0.1) and p.lr(w + 45) == pytest.approx(0.01)
    # epoch 23 -> dense step 230 = 69 · 300 / 90 exactly
    assert p.lr(w + 68) == pytest.approx(0.01) and p.lr(w + 69) == pytest.approx(0.001)
    assert p.lr(total - 1) == pytest.approx(0.001)
    scaled = plan("slr", max_lr=0.2)
    assert scaled.lr(w) == pytest.approx(0.2) and scaled.lr(total - 1) == pytest.approx(0.002)


def test_clr_warmup_then_cosine_to_zero():
    p = plan("clr")
    w, total = 10, R * SPE
    assert p.lr(0) == pytest.approx(0.1 / (w + 1)) and p.lr(w) == pytest.approx(0.1)
    assert p.lr(w + (total - w) // 2) == pytest.approx(0.05)
    assert p.lr(total - 1) < 1e-4 and p.lr(total) == 0.0


@pytest.mark.parametrize("protocol,init", [("scratch", "reinit"), ("reduced", "reduced")])
def test_scratch_and_reduced_train_with_the_full_dense_schedule(protocol, init):
    train = TRAIN.__class__(**{**TRAIN.__dict__, "warmup_epochs": 1.0})
    p = plan(protocol, train=train)
    dense = build_schedule(train, SPE)
    assert (p.init, p.epochs, p.warmup_steps) == (init, T, SPE)
    assert all(p.lr(t) == dense(t) for t in range(T * SPE))


@pytest.mark.parametrize(
    "protocol,retrain,match",
    [
        ("nope", {}, "unknown protocol 'nope'; valid choices: allr, clr"),
        ("lrr", {"epochs": 40}, "retrain.epochs=40 must be <= train.epochs=30"),
        ("llr", {"warmup_fraction": 1.0}, r"warmup_fraction=1.0 must be in \[0, 1\)"),
        ("ft", {"ft_lr": 0.0}, "retrain.ft_lr=0.0 must be > 0"),
        ("llr", {"epochs": 0}, "retraining would last 0 epochs"),
    ],
)
def test_bad_retrain_settings(protocol, retrain, match):
    with pytest.raises(ConfigError, match=match):
        plan(protocol, **retrain)


def test_no_warmup_when_the_fraction_is_zero():
    p = plan("llr", warmup_fraction=0.0)
    assert p.warmup_steps == 0 and p.lr(0) == pytest.approx(0.1)
    assert p.lr(R * SPE // 2) == pytest.approx(0.05)
