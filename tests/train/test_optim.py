"""Optimisers from the config: the registry, weight-decay grouping, L2 vs decoupled decay."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shedding.config import TrainConfig
from shedding.errors import ConfigError
from shedding.train.optim import OPTIMIZERS, build_optimizer, param_groups, set_lr

torch.set_num_threads(1)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(8, 3))


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_builds_and_steps(name):
    model = net()
    opt = build_optimizer(model, TrainConfig(optimizer=name, lr=0.05, weight_decay=1e-3))
    assert opt.param_groups[0]["lr"] == 0.05
    assert opt.param_groups[0]["weight_decay"] == 1e-3
    model(torch.randn(5, 2, 4)).sum().backward()
    before = [p.detach().clone() for p in model.parameters()]
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    set_lr(opt, 0.5)
    assert all(g["lr"] == 0.5 for g in opt.param_groups)
    assert build_optimizer(model, TrainConfig(optimizer=name), lr=0.3).param_groups[0]["lr"] == 0.3


def test_expected_types_and_settings():
    model = net()
    sgd = build_optimizer(model, TrainConfig(optimizer="sgd", momentum=0.8, nesterov=True))
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["momentum"] == 0.8 and sgd.defaults["nesterov"]
    assert type(build_optimizer(model, TrainConfig(optimizer="adam"))) is torch.optim.Adam
    adamw = build_optimizer(model, TrainConfig(optimizer="adamw", betas=(0.8, 0.99)))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["betas"] == (0.8, 0.99)


def test_decay_bn_bias_false_exempts_bn_and_biases():
    model = net()
    groups = param_groups(model, decay_bn_bias=False)
    decay, no_decay = groups
    assert decay["name"] == "decay" and no_decay["weight_decay"] == 0.0
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(decay["params"]) == {id(model[0].weight), id(model[3].weight)}
    assert ids(no_decay["params"]) == {
        id(model[0].bias),
        id(model[1].weight),
        id(model[1].bias),
        id(model[3].bias),
    }
    opt = build_optimizer(model, TrainConfig(decay_bn_bias=False, weight_decay=0.1))
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert len(build_optimizer(model, TrainConfig()).param_groups) == 1


def test_adam_is_l2_and_adamw_is_decoupled():
    # zero loss gradient: only weight decay acts. Adam's L2 term passes through the
    # adaptive scaling (first step moves every weight by ~lr); AdamW shrinks by lr·wd·w.
    moved = {}
    for name in ("adam", "adamw"):
        p = nn.Parameter(torch.full((3,), 2.0))
        model = nn.Module()
        model.p = p
        opt = build_optimizer(model, TrainConfig(optimizer=name, lr=0.01, weight_decay=0.1))
        p.grad = torch.zeros_like(p)
        opt.step()
        moved[name] = float(2.0 - p.detach()[0])
    assert moved["adam"] == pytest.approx(0.01, rel=1e-3)
    assert moved["adamw"] == pytest.approx(0.01 * 0.1 * 2.0, rel=1e-3)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'; valid choices: adam, adamw"),
        ({"nesterov": True, "momentum": 0.0}, "nesterov=true needs momentum > 0"),
        ({"optimizer": "adam", "nesterov": True}, "applies to sgd only, not 'adam'"),
        ({"momentum": 1.0}, r"train.momentum=1.0 must be in \[0, 1\)"),
        ({"optimizer": "adamw", "betas": (0.9, 1.0)}, "train.betas"),
        ({"weight_decay": -1.0}, "train.weight_decay=-1.0 must be >= 0"),
        ({"lr": -0.1}, "learning rate -0.1 must be > 0"),
    ],
)
def test_bad_combinations_raise_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match):
        build_optimizer(net(), TrainConfig(**kw))


def test_model_without_parameters_is_rejected():
    with pytest.raises(ConfigError, match="no trainable parameters"):
        build_optimizer(nn.ReLU(), TrainConfig())
