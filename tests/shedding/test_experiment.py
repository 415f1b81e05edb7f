"""Real end-to-end experiments on tiny MNIST-1D: dense → prune → retrain → run file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_config

from shedding.cli import main
from shedding.config import dense_hash
from shedding.engine.experiment import run_experiment
from shedding.engine.identity import control_config, control_id, run_id
from shedding.errors import CheckpointError, ConfigError
from tracking import open_run


def test_one_shot_gmp_lrr_writes_a_complete_run(data_root, tmp_path, capsys):
    cfg = tiny_config()
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    assert res.status == "complete" and res.path.exists()
    with open_run(res.path) as run:
        assert run.status == "complete" and run.run_id == run_id(cfg)
        assert run.control == control_id(cfg) != ""
        assert run.config["prune"]["method"] == "gmp"
        idx = run.index
        # dense epochs 0..3 replayed, then the after-prune snapshot and 2 retraining epochs
        assert list(idx.round) == [0, 0, 0, 0, 1, 1, 1]
        assert list(idx.epoch) == [0, 1, 2, 3, 3, 4, 5]
        assert len(run.events) == 1 and run.events[0]["method"] == "gmp"
        total = sum(li.n_weights for li in run.layers)
        kept = sum(int(run.mask(li.name, len(run) - 1).sum()) for li in run.layers)
        assert abs((total - kept) - round(0.5 * total)) <= 1
        for li in run.layers:  # pruned weights are recorded as exactly zero, every snapshot
            for s in range(4, len(run)):
                m = run.mask(li.name, s)
                assert not run.magnitudes(li.name, s)[~m].any()
        assert len(run.metrics["test_acc"]) == 3 + 2
    assert 0.0 <= res.test_acc <= 1.0 and res.dense_test_acc > 0.2
    assert main(["inspect", str(res.path)]) == 0  # what the file holds, start LR included
    shown = capsys.readouterr().out
    with open_run(res.path) as run:
        start_lr, first_layer = run.events[0]["start_lr"], run.layers[0].name
    assert "complete" in shown and first_layer in shown
    assert '"method": "gmp"' in shown and f'"start_lr": {start_lr}' in shown and start_lr > 0


def test_dense_phase_is_cached_and_shared(data_root, tmp_path):
    a = run_experiment(tiny_config(), data_root=data_root, runs_dir=tmp_path / "a", progress=False)
    cache = sorted((data_root / "cache" / "dense").glob("*/states/*.pt"))
    assert cache and not list((data_root / "cache" / "dense").glob("*/checkpoint.pt"))
    stamp = {p: p.stat().st_mtime_ns for p in cache}
    b = run_experiment(
        tiny_config("prune.method=random"),
        data_root=data_root,
        runs_dir=tmp_path / "b",
        progress=False,
    )
    assert {p: p.stat().st_mtime_ns for p in cache} == stamp  # reused, not retrained
    assert a.dense_test_acc == b.dense_test_acc
    with open_run(a.path) as ra, open_run(b.path) as rb:
        name = ra.layers[0].name
        np.testing.assert_array_equal(ra.magnitudes(name, 3), rb.magnitudes(name, 3))


def test_existing_run_needs_resume_or_overwrite(data_root, tmp_path):
    cfg = tiny_config("prune.sparsity=0.3")
    run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="--resume"):
        run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="already complete"):
        run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, resume=True, progress=False)
    res = run_experiment(
        cfg, data_root=data_root, runs_dir=tmp_path, overwrite=True, progress=False
    )
    assert res.status == "complete"


def test_control_run_prunes_nothing_and_shares_data_order(data_root, tmp_path):
    cfg = tiny_config("prune.sparsity=0.0")
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    with open_run(res.path) as run:
        assert run.control == ""
        for li in run.layers:
            assert run.mask(li.name, len(run) - 1).all()
    assert res.sparsity == 0.0


def test_an_iterative_runs_control_retrains_every_round_like_for_like(data_root, tmp_path):
    """The control replays each round's retraining (LRR restarts the LR every round), so
    every round's excess has a control snapshot aligned by (round, phase, epoch)."""
    from shedding.analysis import excess_summary

    cfg = tiny_config("prune.mode=iterative", "prune.rate=0.5", "prune.sparsity=0.75")
    ctl = control_config(cfg)
    assert ctl.prune.rounds == 2 and ctl.prune.sparsity == 0 and control_id(cfg) == run_id(ctl)
    assert control_config(tiny_config()).prune.rounds is None  # one-shot: one shared control
    pruned = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    control = run_experiment(ctl, data_root=data_root, runs_dir=tmp_path, progress=False)
    with open_run(pruned.path) as run, open_run(control.path) as crun:
        assert run.control == crun.run_id
        assert list(crun.index.round) == list(run.index.round) == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
        assert list(crun.index.epoch) == list(run.index.epoch)
        assert [e["round"] for e in crun.events] == [1, 2]
        assert all(crun.mask(li.name, len(crun) - 1).all() for li in crun.layers)
        rounds = excess_summary(run, crun)
    assert len(rounds) == 2 and all(np.isfinite(r.control_ratio) for r in rounds)


@pytest.mark.parametrize(
    "protocol", ["ft", "wr", "lrr", "llr", "allr", "slr", "clr", "scratch", "reduced"]
)
def test_every_protocol_runs_end_to_end(protocol, data_root, tmp_path):
    cfg = tiny_config(f"retrain.protocol={protocol}", "prune.sparsity=0.6", "record.enabled=false")
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    assert res.status == "complete"
    final = torch.load(res.path.with_suffix(".final.pt"), weights_only=False)
    if protocol == "reduced":
        assert final["masks"] is None
    else:
        masks = final["masks"]["masks"]
        kept = sum(int(m.sum()) for m in masks.values())
        total = sum(m.numel() for m in masks.values())
        assert abs((total - kept) - round(0.6 * total)) <= 1


@pytest.mark.parametrize(
    "method",
    ["gmp", "layerwise", "random", "random_layerwise", "random_matched", "l1_filter", "nm"],
)
def test_every_pruner_runs_end_to_end(method, data_root, tmp_path):
    cfg = tiny_config(
        f"prune.method={method}",
        "record.enabled=false",
        "retrain.epochs=1",
        *(["prune.prune_first=false"] if method == "nm" else []),
    )
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    assert res.status == "complete" and res.sparsity > 0.2


def test_iterative_rounds_reach_the_target(data_root, tmp_path):
    cfg = tiny_config(
        "prune.mode=iterative", "prune.sparsity=0.5", "prune.rate=0.2", "retrain.epochs=1"
    )
    res = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    with open_run(res.path) as run:
        assert [e["round"] for e in run.events] == [1, 2, 3, 4]
        assert abs(run.events[-1]["sparsity"] - 0.5) < 1e-3
        assert sorted(set(run.index.round.tolist())) == [0, 1, 2, 3, 4]


def test_dense_cache_writes_each_state_once_and_reads_the_earlier_layout(data_root, tmp_path):
    import json

    import torch

    from shedding.config import dense_hash
    from shedding.engine.dense import cached_dense, state_path

    cfg = tiny_config("seed=7")
    run_experiment(cfg, data_root=data_root, runs_dir=tmp_path / "a", progress=False)
    d = data_root / "cache" / "dense" / dense_hash(cfg)
    info = json.loads((d / "done.json").read_text())
    assert [e["epoch"] for e in info["entries"]] == [0, 1, 2, 3]  # every epoch: small model
    assert all(state_path(d, e).is_file() for e in range(4))
    assert not (d / "checkpoint.pt").exists() and not (d / "states.pt").exists()
    phase = cached_dense(d, cfg)
    assert [s["epoch"] for s in phase.states()] == [0, 1, 2, 3]

    # a cache of the earlier layout: every state in one states.pt, done.json without entries
    old = tmp_path / "old"
    old.mkdir()
    states = [
        {"step": 16 * e, "epoch": e, "lr": 0.1, "state": {"w": torch.full((2,), float(e))}}
        for e in range(4)
    ]
    torch.save(states, old / "states.pt")
    (old / "done.json").write_text(json.dumps({"metrics": info["metrics"], "seconds": 1.0}))
    legacy = cached_dense(old, cfg)
    assert legacy is not None and legacy.final["state"]["w"][0] == 3.0
    assert legacy.state_at_epoch(1)["w"][0] == 1.0
    (old / "done.json").write_text(json.dumps({"metrics": [], "seconds": 1.0}))
    torch.save(states[:1], old / "states.pt")  # lacks the final epoch: not usable
    assert cached_dense(old, cfg) is None


def test_an_evaluation_cadence_changes_only_the_skipped_test_metrics(data_root, tmp_path):
    """train.eval_every = 2 evaluates after epochs 2, 4, ... and every phase's last epoch;
    the weights, masks, statistics and training metrics equal those of evaluating always."""
    every = tiny_config("train.epochs=4", "retrain.epochs=3")
    sparse = tiny_config("train.epochs=4", "retrain.epochs=3", "train.eval_every=2")
    assert run_id(every) != run_id(sparse)  # a different file, so a different id
    a = run_experiment(every, data_root=data_root, runs_dir=tmp_path / "a", progress=False)
    b = run_experiment(sparse, data_root=data_root, runs_dir=tmp_path / "b", progress=False)
    assert a.test_acc == b.test_acc and a.dense_test_acc == b.dense_test_acc
    with open_run(a.path) as ra, open_run(b.path) as rb:
        assert len(ra) == len(rb) == 5 + 1 + 3
        for li in ra.layers:
            for s in range(len(ra)):
                np.testing.assert_array_equal(ra.magnitudes(li.name, s), rb.magnitudes(li.name, s))
                np.testing.assert_array_equal(ra.mask(li.name, s), rb.mask(li.name, s))
        ma, mb = ra.metrics, rb.metrics
        for key in ("train_loss", "train_acc", "lr", "epoch", "round"):
            np.testing.assert_array_equal(ma[key], mb[key])
        # dense epochs 1..4, then retraining epochs 1..3 (file epochs 5..7)
        assert list(mb["epoch"]) == [1, 2, 3, 4, 5, 6, 7]
        evaluated = np.isfinite(mb["test_acc"])
        assert list(evaluated) == [False, True, False, True, False, True, True]
        assert np.isfinite(ma["test_acc"]).all()
        for key in ("test_acc", "test_loss"):
            np.testing.assert_array_equal(ma[key][evaluated], mb[key][evaluated])
            assert np.isnan(mb[key][~evaluated]).all()


def test_a_negative_checkpoint_cadence_is_refused(data_root, tmp_path):
    cfg = tiny_config("record.checkpoint_every_s=-1")
    with pytest.raises(ConfigError, match=r"record.checkpoint_every_s=-1.0 must be >= 0"):
        run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())  # refused before anything is written


def test_an_evaluation_cadence_below_one_is_refused():
    with pytest.raises(ConfigError, match=r"train.eval_every=0 must be >= 1"):
        tiny_config("train.eval_every=0")


def _contents(path):
    """Every dataset's values and every attribute of a run file, except what records the
    time of writing (creation date, wall-clock columns) and the host."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            for key, value in obj.attrs.items():
                if key not in ("created", "environment", "DIMENSION_LIST", "REFERENCE_LIST"):
                    out[f"{name}@{key}"] = np.asarray(value)
            if isinstance(obj, h5py.Dataset) and not name.endswith("wall_time"):
                out[name] = np.asarray(obj[()])

        f.visititems(visit)
        visit("/", f)
    return out


def _assert_same_contents(got, expected):
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_run_files_started_from_the_dense_template_equal_recorded_ones(
    data_root, tmp_path, monkeypatch
):
    """A new run file copies the dense phase's template instead of recording the dense
    trajectory again; every stored value equals the snapshot-by-snapshot path's."""
    from shedding.engine import recording

    cfg = tiny_config("record.every_epochs=2")  # replays epochs 0, 2, 3 of 3
    monkeypatch.setattr(recording, "TEMPLATES", False)
    ref = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path / "ref", progress=False)
    monkeypatch.setattr(recording, "TEMPLATES", True)
    directory = data_root / "cache" / "dense" / dense_hash(cfg)
    for old in directory.glob("run-template-*.h5"):  # left by other tests
        old.unlink()
    cold = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path / "cold", progress=False)
    templates = list(directory.glob("run-template-*.h5"))
    assert len(templates) == 1
    stamp = templates[0].stat().st_mtime_ns
    warm = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path / "warm", progress=False)
    assert templates[0].stat().st_mtime_ns == stamp  # copied, not rebuilt
    expected = _contents(ref.path)
    # dense epochs 0, 2, 3 (from the template), then the prune event and retraining epoch 2
    assert len(expected) > 100 and list(expected["index/epoch"]) == [0, 2, 3, 3, 5]
    for res in (cold, warm):
        _assert_same_contents(_contents(res.path), expected)
        with open_run(res.path) as run:  # the copied rows carry this run's time and identity
            assert run.status == "complete" and run.run_id == run_id(cfg)
            assert run.index.wall_time[0] >= templates[0].stat().st_mtime - 1


def test_a_damaged_dense_template_is_replaced_by_recording_the_rows(data_root, tmp_path):
    cfg = tiny_config()
    directory = data_root / "cache" / "dense" / dense_hash(cfg)
    for old in directory.glob("run-template-*.h5"):  # left by other tests
        old.unlink()
    first = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path / "a", progress=False)
    (template,) = directory.glob("run-template-*.h5")
    template.write_bytes(b"not hdf5")
    again = run_experiment(cfg, data_root=data_root, runs_dir=tmp_path / "b", progress=False)
    assert not template.exists()  # dropped; the next run builds it again
    _assert_same_contents(_contents(again.path), _contents(first.path))


def test_runs_are_the_same_whether_or_not_new_memory_is_filled(tmp_path, monkeypatch):
    """Deterministic mode's NaN fill of new tensors is off (it costs ~5% of a CPU step);
    no op of a run reads memory it did not write, so a run with the fill on, its dense
    phase included, records the same values and ends with the same weights."""
    import torch.utils.deterministic

    from shedding.train import checkpoint as ckpt

    seed = ckpt.seed_everything
    cfg = tiny_config("prune.method=random", "retrain.protocol=lrr")
    got = {}
    for fill in (False, True):

        def seeded(s, fill=fill):
            seed(s)
            torch.utils.deterministic.fill_uninitialized_memory = fill

        monkeypatch.setattr(ckpt, "seed_everything", seeded)
        root = tmp_path / f"fill-{fill}"  # its own data root: the dense phase trains too
        got[fill] = run_experiment(cfg, data_root=root, runs_dir=root / "runs", progress=False)
        assert torch.empty(8).isnan().all() == fill  # the run's setting, still in force
    expected = _contents(got[True].path)
    assert len(expected) > 100
    _assert_same_contents(_contents(got[False].path), expected)
    a, b = (torch.load(got[f].path.with_suffix(".final.pt")) for f in (False, True))
    assert a["model"].keys() == b["model"].keys()
    for key, value in b["model"].items():
        assert torch.equal(a["model"][key], value), key
