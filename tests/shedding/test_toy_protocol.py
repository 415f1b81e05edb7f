"""A new retraining protocol or pruner is one registration: no other module keeps a list
of names."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_config

from shedding.engine.experiment import run_experiment, validate
from shedding.engine.identity import control_config, control_id
from shedding.errors import ConfigError
from shedding.pruning import PRUNERS
from shedding.pruning.base import pruner
from shedding.retrain import PROTOCOLS, plan_retraining
from shedding.retrain.base import RetrainPlan, protocol
from shedding.train.schedules import Constant
from tracking import open_run


def test_a_toy_protocol_needs_one_registration(monkeypatch, data_root, tmp_path):
    monkeypatch.setattr(PROTOCOLS, "_entries", dict(PROTOCOLS._entries))  # undone after

    @protocol("toy", init="final")
    def toy(ctx):
        return RetrainPlan("toy", ctx.epochs, "final", None, Constant(0.02), 0.02)

    cfg = tiny_config("retrain.protocol=toy")
    plan = plan_retraining(cfg, steps_per_epoch=4, round_fraction=0.5, norm_ratio=0.7)
    assert plan.protocol == "toy" and plan.lr(3) == 0.02
    assert control_config(cfg).retrain.protocol == "toy"  # it has a control, by its traits
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    with open_run(res.path) as run:
        assert run.status == "complete" and run.control == control_id(cfg)
        assert run.events[0]["protocol"] == "toy" and run.events[0]["start_lr"] == 0.02


def test_a_toy_pruner_needs_one_registration(monkeypatch, data_root, tmp_path):
    monkeypatch.setattr(PRUNERS, "_entries", dict(PRUNERS._entries))  # undone after

    def refuse_dense_targets(cfg, shapes):
        if cfg.sparsity > 0.6:
            raise ConfigError("toy_first prunes at most 60%")
        if shapes is not None:
            assert all(len(s) >= 2 for s in shapes.values())  # layer shapes reach the check

    @pruner("toy_first", cumulative_target=False, check=refuse_dense_targets)
    def toy_first(weights, masks, *, amount, cfg, generator):
        # Removes the first round(amount · kept) kept weights of each layer, by position.
        out = {}
        for name, m in masks.items():
            flat = m.flatten().clone()
            kept = flat.nonzero().flatten()
            flat[kept[: round(amount * len(kept))]] = False
            out[name] = flat.reshape(m.shape)
        return out

    with pytest.raises(ConfigError, match="at most 60%"):
        validate(tiny_config("prune.method=toy_first", "prune.sparsity=0.7"))
    cfg = tiny_config("prune.method=toy_first", "prune.sparsity=0.5")
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    masks = torch.load(res.path.with_suffix(".final.pt"), weights_only=False)["masks"]["masks"]
    with open_run(res.path) as run:
        assert run.status == "complete" and run.events[0]["method"] == "toy_first"
        assert set(masks) == {layer.name for layer in run.layers}
        for name, mask in masks.items():
            m, n_off = mask.flatten(), round(0.5 * mask.numel())
            assert not m[:n_off].any() and m[n_off:].all(), name
