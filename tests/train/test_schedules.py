"""LR schedules: pure functions of the step that hit their endpoints and milestones."""

from __future__ import annotations

import itertools
import math
import pickle

import pytest

from shedding.config import TrainConfig
from shedding.errors import ConfigError
from shedding.train.schedules import (
    SCHEDULES,
    Compressed,
    Linear,
    MultiStep,
    Shifted,
    build_schedule,
    with_warmup,
)

SPE = 10  # steps per epoch
NAMES = SCHEDULES.names()


def cfg(name: str, **kw) -> TrainConfig:
    base = {"epochs": 30, "lr": 0.1, "schedule": name, "milestones": (15, 23), "gamma": 0.1}
    return TrainConfig(**{**base, **kw})


def end_value(name: str) -> float:
    return {"constant": 0.1, "multistep": 0.1 * 0.1**2, "cosine": 0.0, "linear": 0.0}[name]


def test_registry_lists_the_schedules():
    assert {"constant", "multistep", "cosine", "linear"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_endpoints_and_monotone_decay(name):
    lr = build_schedule(cfg(name), SPE)
    total = 30 * SPE
    values = [lr(s) for s in range(total + 20)]
    assert values[0] == pytest.approx(0.1)
    assert lr(total) == pytest.approx(end_value(name), abs=1e-12)
    assert lr(total + 1000) == pytest.approx(end_value(name), abs=1e-12)  # held after the end
    assert all(b <= a + 1e-15 for a, b in itertools.pairwise(values))
    assert min(values) >= 0
    assert all(isinstance(v, float) for v in values[:3])


@pytest.mark.parametrize("name", NAMES)
def test_pure_and_picklable(name):
    lr = build_schedule(cfg(name, warmup_epochs=2), SPE)
    again = pickle.loads(pickle.dumps(lr))
    steps = [0, 7, 20, 150, 151, 299, 300]
    assert [lr(s) for s in steps] == [again(s) for s in steps] == [lr(s) for s in steps]


@pytest.mark.parametrize("name", NAMES)
def test_warmup_length_and_continuity(name):
    lr = build_schedule(cfg(name, warmup_epochs=1.5), SPE)
    w = 15  # 1.5 epochs of 10 steps
    ramp = [lr(s) for s in range(w + 1)]
    assert ramp[0] == pytest.approx(0.1 / (w + 1))  # never a wasted step at LR 0
    assert all(b > a for a, b in itertools.pairwise(ramp))
    assert lr(w) == pytest.approx(0.1)
    after = [lr(s) for s in range(w, 30 * SPE)]
    assert all(b <= a + 1e-15 for a, b in itertools.pairwise(after))
    assert lr(30 * SPE) == pytest.approx(end_value(name), abs=1e-12)


def test_multistep_milestones_are_epochs():
    lr = build_schedule(cfg("multistep"), SPE)
    assert lr(149) == pytest.approx(0.1)
    assert lr(150) == pytest.approx(0.01)
    assert lr(229) == pytest.approx(0.01)
    assert lr(230) == pytest.approx(0.001)


def test_multistep_milestones_stay_absolute_under_warmup():
    lr = build_schedule(cfg("multistep", warmup_epochs=5), SPE)
    assert lr(149) == pytest.approx(0.1) and lr(150) == pytest.approx(0.01)


def test_cosine_and_linear_decay_after_the_warmup():
    w, total = 20, 300
    cos = build_schedule(cfg("cosine", warmup_epochs=2), SPE)
    lin = build_schedule(cfg("linear", warmup_epochs=2), SPE)
    mid = (w + total) // 2
    assert cos(mid) == pytest.approx(0.05)
    assert lin(mid) == pytest.approx(0.05)
    assert lin(w + 70) == pytest.approx(0.1 * (1 - 70 / (total - w)))
    q = w + (total - w) // 4
    assert cos(q) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))


def test_building_blocks():
    base = MultiStep(1.0, (10,), 0.5)
    assert Shifted(base, 8)(1) == 1.0 and Shifted(base, 8)(2) == 0.5
    squeezed = Compressed(base, start=5, length=10, inner_total=20, scale=2.0)
    assert squeezed(0) == 2.0 and squeezed(9) == 2.0 and squeezed(10) == 1.0
    assert with_warmup(base, 0) is base
    assert Linear(1.0, 10)(5) == 0.5


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"schedule": "exp"}, "unknown schedule 'exp'; valid choices: constant"),
        ({"warmup_epochs": 30.0}, r"train.warmup_epochs=30.0 must be in \[0, train.epochs=30\)"),
        ({"warmup_epochs": -1.0}, "train.warmup_epochs=-1.0"),
        ({"lr": 0.0}, "train.lr=0.0 must be > 0"),
        ({"milestones": (23, 15)}, r"train.milestones=\[23, 15\] must be increasing"),
        ({"gamma": 0.0}, "train.gamma=0.0 must be > 0"),
        ({"epochs": 0}, "train.epochs=0 must be >= 1"),
    ],
)
def test_bad_settings_raise_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match):
        build_schedule(cfg(kw.pop("schedule", "multistep"), **kw), SPE)


def test_bad_steps_per_epoch():
    with pytest.raises(ConfigError, match="steps_per_epoch must be >= 1, got 0"):
        build_schedule(cfg("constant"), 0)
