"""Retraining regimes of their own: optimizer overrides, ALLR's norm ratio, FT's final LR,
the shedding reference after a rewind, harvesting, data order, MNIST-1D sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny import tiny_config
from torch import nn

from shedding.config import load_config
from shedding.data import load_dataset
from shedding.engine.experiment import run_experiment
from shedding.engine.prune_round import norm_params
from shedding.errors import ConfigError
from shedding.pruning.masks import MaskSet
from shedding.retrain import norm_ratio, plan_retraining, validate_retrain_config
from shedding.retrain.optimizer import build_retrain_optimizer, retrain_train_config
from shedding.train.optim import build_optimizer
from tracking import open_run


def _kept_norm(run, snapshot: int) -> float:
    return math.sqrt(
        sum(
            float((run.magnitudes(li.name, snapshot).astype(np.float64) ** 2).sum())
            for li in run.layers
        )
    )


def test_retrain_weight_decay_trains_retraining_only(data_root, tmp_path):
    base = run_experiment(
        tiny_config(), data_root=data_root, runs_dir=tmp_path / "a", progress=False
    )
    strong = run_experiment(
        tiny_config("retrain.weight_decay=0.3"),
        data_root=data_root,
        runs_dir=tmp_path / "b",
        progress=False,
    )
    with open_run(base.path) as a, open_run(strong.path) as b:
        dense = [i for i, r in enumerate(a.index.round) if r == 0]
        for li in a.layers:  # the dense phase is the same one (shared, untouched)
            for s in dense:
                assert np.array_equal(a.magnitudes(li.name, s), b.magnitudes(li.name, s))
        first = len(dense)  # the after-prune snapshot: the same pruned weights
        assert _kept_norm(a, first) == _kept_norm(b, first)
        # 16 steps at lr <= 0.1 with weight decay 0.3 shrink the weights by >= 20% more
        assert _kept_norm(b, len(b) - 1) < 0.8 * _kept_norm(a, len(a) - 1)
        assert (
            b.config["retrain"]["weight_decay"] == 0.3 and b.config["train"]["weight_decay"] == 5e-4
        )


def test_optimizer_overrides_inherit_when_unset_and_apply_when_set():
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(152, 10))
    plain = load_config("mnist1d-demo")
    assert retrain_train_config(plain) == plain.train  # nothing set: exactly train's
    cfg = load_config(
        "mnist1d-demo",
        [
            "retrain.optimizer=adam",
            "retrain.lr=0.001",
            "retrain.weight_decay=5e-3",
            "retrain.decay_bn_bias=false",
            "retrain.betas=[0.8, 0.99]",
        ],
    )
    opt = build_retrain_optimizer(model, cfg, lr=0.001)
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["betas"] == (0.8, 0.99)
    groups = {g["name"]: g for g in opt.param_groups}
    assert groups["decay"]["weight_decay"] == 5e-3 and groups["no_decay"]["weight_decay"] == 0.0
    dense = build_optimizer(model, cfg.train)  # the dense phase keeps train's settings
    assert isinstance(dense, torch.optim.SGD) and len(dense.param_groups) == 1
    assert dense.param_groups[0]["weight_decay"] == 5e-4


@pytest.mark.parametrize("protocol", ["ft", "lrr", "wr", "llr", "clr", "slr"])
def test_retrain_lr_rescales_the_reference_schedule(protocol):
    base = load_config("mnist1d-demo", [f"retrain.protocol={protocol}"])
    scaled = base.replace(**{"retrain.lr": 0.01})  # train.lr = 0.1: a tenth
    a = plan_retraining(base, steps_per_epoch=8, round_fraction=0.5, norm_ratio=0.7)
    b = plan_retraining(scaled, steps_per_epoch=8, round_fraction=0.5, norm_ratio=0.7)
    for step in (0, 3, 17, 40, 79):
        assert b.lr(step) == pytest.approx(0.1 * a.lr(step), rel=1e-12, abs=1e-15)


def test_bad_overrides_name_the_retrain_key():
    for override, match in [
        ("retrain.optimizer=lion", "unknown optimizer 'lion'"),
        ("retrain.weight_decay=-1", "retrain.weight_decay=-1"),
        ("retrain.momentum=1.5", "retrain.momentum=1.5"),
        ("retrain.lr=0", "retrain.lr=0"),
        ("retrain.allr_norm=some", "retrain.allr_norm='some'"),
    ]:
        with pytest.raises(ConfigError, match=match):
            validate_retrain_config(load_config("mnist1d-demo", [override]))
    with pytest.raises(ConfigError, match=r"retrain\.nesterov=false"):
        validate_retrain_config(
            load_config("mnist1d-demo", ["train.nesterov=true", "retrain.optimizer=adam"])
        )


def test_allr_norm_ratio_on_a_planted_model():
    # 100 prunable weights of magnitude 1, a bias of 10 entries of 5, a BatchNorm (γ = 1,
    # β = 0): pruning 36 weights removes exactly sqrt(36/100) of the weights' norm.
    model = nn.Sequential(nn.Linear(10, 10), nn.BatchNorm1d(10))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(5.0)
    new = torch.ones(10, 10, dtype=torch.bool)
    new.view(-1)[torch.randperm(100, generator=torch.Generator().manual_seed(0))[:36]] = False
    for norm, expected in [("prunable", 0.6), ("all", 6 / math.sqrt(100 + 10 * 25 + 10))]:
        cfg = load_config("mnist1d-demo", [f"retrain.allr_norm={norm}"])
        with torch.no_grad():
            model[0].weight.fill_(1.0)
        masks = MaskSet(model, ["0"])
        before = norm_params(model, masks, cfg)
        masks.update_({"0": new})
        masks.apply_()
        assert norm_ratio(before, norm_params(model, masks, cfg)) == pytest.approx(expected)
    # random pruning of s: d = sqrt(s) over the prunable weights, so ALLR starts at η_max
    cfg = load_config("mnist1d-demo", ["retrain.protocol=allr", "retrain.epochs=5"])
    plan = plan_retraining(cfg, steps_per_epoch=4, round_fraction=0.36, norm_ratio=0.6)
    assert plan.start_lr == pytest.approx(cfg.train.lr)


def test_ft_uses_the_lr_of_the_last_dense_step():
    cfg = load_config("mnist1d-demo", ["retrain.protocol=ft", "train.schedule=cosine"])
    plan = plan_retraining(cfg, steps_per_epoch=10, round_fraction=0.5, norm_ratio=0.5)
    from shedding.train.schedules import build_schedule

    dense = build_schedule(cfg.train, 10)
    last = dense(cfg.train.epochs * 10 - 1)
    assert plan.start_lr == last and plan.lr(123) == last
    assert last < dense((cfg.train.epochs - 1) * 10)  # not the LR of the last epoch's start
    step = load_config("mnist1d-demo", ["retrain.protocol=ft"])  # multistep: unchanged
    plan = plan_retraining(step, steps_per_epoch=10, round_fraction=0.5, norm_ratio=0.5)
    assert plan.start_lr == pytest.approx(0.1 * 0.1 * 0.1)


def test_wr_reference_is_the_rewound_kept_weights(data_root, tmp_path):
    res = run_experiment(
        tiny_config("retrain.protocol=wr", "retrain.rewind_epoch=1"),
        data_root=data_root,
        runs_dir=tmp_path,
        progress=False,
    )
    with open_run(res.path) as run:
        ev = run.events[0]
        first = int(np.flatnonzero(run.index.round == 1)[0])
        dense_end = first - 1
        for li in run.layers:
            m = run.mask(li.name, first)
            start = run.magnitudes(li.name, first)[m].astype(np.float64)
            final = run.magnitudes(li.name, dense_end)[m].astype(np.float64)
            ref = ev["per_layer"][li.name]["rms_kept"]
            assert ref == pytest.approx(math.sqrt((start**2).mean()), rel=2e-3)
            assert run.stats(li.name).ref_rms[first] == pytest.approx(ref, rel=1e-6)
            assert abs(math.sqrt((final**2).mean()) - ref) > 0.01 * ref  # not θ_T's


def test_harvest_prunes_exactly_what_was_shed_and_may_stop_early(data_root, tmp_path):
    cfg = tiny_config(
        "prune.mode=iterative",
        "prune.sparsity=0.6",
        "prune.rate=0.4",
        "prune.harvest=true",
        "retrain.weight_decay=0.5",
        "retrain.epochs=2",
        "train.epochs=3",
    )
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    with open_run(res.path) as run:
        events = run.events
        assert len(events) >= 2
        idx = run.index
        for ev in events[1:]:
            k = ev["round"]
            last = int(np.flatnonzero(idx.round == k - 1)[-1])  # end of the previous round
            shed = {
                li.name: int((run.mask(li.name, last) & ~run.kept(li.name, last)).sum())
                for li in run.layers
            }
            got = {n: v["harvested"] for n, v in ev["per_layer"].items()}
            assert got == shed  # exactly the weights the file counted as shed
        assert sum(v["harvested"] for v in events[1]["per_layer"].values()) > 0
        total = sum(li.n_weights for li in run.layers)
        kept = sum(int(run.mask(li.name, len(run) - 1).sum()) for li in run.layers)
        assert abs((total - kept) - round(0.6 * total)) <= 1
        assert len(events) <= 2  # plain iterative at 40% needs 2 rounds too; never more


def test_data_order_changes_only_the_retraining_batches(data_root, tmp_path):
    a = run_experiment(
        tiny_config("prune.sparsity=0"), data_root=data_root, runs_dir=tmp_path, progress=False
    )
    b = run_experiment(
        tiny_config("prune.sparsity=0", "retrain.data_order=1"),
        data_root=data_root,
        runs_dir=tmp_path,
        progress=False,
    )
    assert a.run_id != b.run_id and a.dense_test_acc == b.dense_test_acc
    with open_run(a.path) as ra, open_run(b.path) as rb:
        name, last = ra.layers[0].name, len(ra) - 1
        assert not np.array_equal(ra.magnitudes(name, last), rb.magnitudes(name, last))


def test_mnist1d_sizes(data_root):
    cfg = load_config("mnist1d-demo", ["data.num_train=1234", "data.num_test=321"]).data
    bundle = load_dataset(cfg, root=data_root)
    assert len(bundle.train) == 1234 and len(bundle.test) == 321
    from shedding.data import DATASETS
    from shedding.data.base import tensor_bundle

    def fixed(cfg, *, root, seed=0):  # a data set without a generator
        x, y = torch.zeros(4, 1, 8), torch.zeros(4, dtype=torch.int64)
        return tensor_bundle(
            "fixed", train=(x, y), test=(x, y), num_classes=2, augment=None, meta={}
        )

    DATASETS.add("fixed_for_test", fixed)
    try:
        sized = load_config(None, ["data.name=fixed_for_test", "data.num_train=2"]).data
        with pytest.raises(ConfigError, match="fixed data set"):
            load_dataset(sized, root=data_root)
    finally:
        DATASETS._entries.pop("fixed_for_test")
