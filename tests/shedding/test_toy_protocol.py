"""A new retraining protocol is one registration: no other module keeps a list of names."""

from __future__ import annotations

from tiny import tiny_config

from shedding.experiment import run_experiment
from shedding.retrain import PROTOCOLS, plan_retraining
from shedding.retrain.base import RetrainPlan, protocol
from shedding.runs import control_config, control_id
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
