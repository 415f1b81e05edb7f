"""The public tracker on a plain loop: masks, prune events, references, metrics, controls."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import shedding.track
from shedding.analysis import excess_summary, find_control
from shedding.cli import main
from tests.track.loops import analyze_json, parameters_to_prune, record_loop, tiny_model
from tracking import open_run

LAYERS = ["0", "4", "6"]


def test_global_unstructured_masks_counts_and_reference(tmp_path):
    path = tmp_path / "pruned.h5"
    model = record_loop(path, prune_amount=0.6)
    masks = {n: dict(model.named_modules())[n].weight_mask for n in LAYERS}
    with open_run(path) as run:
        assert [i.name for i in run.layers] == LAYERS and run.layers[0].bn == "1"
        assert run.index.round.tolist() == [0, 0, 1, 1, 1]
        assert run.index.phase.tolist() == ["dense", "dense", "retrain", "retrain", "retrain"]
        assert run.index.epoch.tolist() == [1, 2, 2, 3, 4]
        for n in LAYERS:
            np.testing.assert_array_equal(run.mask(n, 4), masks[n].numpy() != 0)
            assert run.mask(n, 1).all()
        (event,) = run.events
        assert event["round"] == 1 and event["method"] == "l1_unstructured"
        assert event["n_snapshots"] == 2 and abs(event["sparsity"] - 0.6) < 1e-3
        # the reference, computed independently from the stored pre-prune magnitudes
        before = {n: run.magnitudes(n, 1).astype(np.float32) for n in LAYERS}
        removed = np.concatenate([before[n][masks[n].numpy() == 0] for n in LAYERS])
        assert event["gmp_threshold"] == pytest.approx(float(removed.max()), rel=1e-3)
        for n in LAYERS:
            m = masks[n].numpy() != 0
            info = event["per_layer"][n]
            assert info["pruned"] == int((~m).sum()) and info["kept"] == int(m.sum())
            rms = float(np.sqrt(np.mean(before[n][m].astype(np.float64) ** 2)))
            assert info["rms_kept"] == pytest.approx(rms, rel=2e-3)
            stats = run.stats(n)
            assert stats.ref_source.tolist() == [0, 0, 1, 1, 1]
            assert stats.ref_rms[2] == np.float32(info["rms_kept"])
            assert stats.gmp_threshold[2] == np.float32(event["gmp_threshold"])
        assert run.metrics["top5"].tolist() == [1.0] * 4
        assert run.index.lr.tolist() == [0.05] * 5
    result = analyze_json(path)
    layers = {x["layer"]: x["pruned"] for x in result["runs"][0]["rounds"][0]["layers"]}
    assert layers == {n: int((masks[n] == 0).sum()) for n in LAYERS}
    assert main(["inspect", str(path)]) == 0  # a file of one's own loop inspects like any


def test_linked_control_gives_excess_cascade_ratio(tmp_path):
    record_loop(tmp_path / "control.h5", prune_amount=0.0)
    record_loop(tmp_path / "pruned.h5", prune_amount=0.6, control=tmp_path / "control.h5")
    with open_run(tmp_path / "pruned.h5") as run:
        assert run.control == "control"
        control, opened = find_control(run)
        assert control is not None and opened and control.run_id == "control"
        (x,) = excess_summary(run, control)
        assert x.control_aligned_at_prune and np.isfinite(x.excess_cascade_ratio)
        assert x.excess_cascade_ratio == pytest.approx(x.cascade_ratio - x.control_ratio)
        control.close()
    result = analyze_json(tmp_path / "pruned.h5")["runs"][0]
    assert result["control_found"] and np.isfinite(result["excess_cascade_ratio"])


def test_after_prune_remove_the_last_mask_stays(tmp_path):
    model = tiny_model()
    prune.global_unstructured(
        parameters_to_prune(model), pruning_method=prune.L1Unstructured, amount=0.5
    )
    with shedding.track.open(model, tmp_path / "r.h5") as t:
        t.snapshot(epoch=0)
        masks = {n: dict(model.named_modules())[n].weight_mask.clone() for n in LAYERS}
        for m, name in parameters_to_prune(model):
            prune.remove(m, name)
        with torch.no_grad():
            model[6].weight.add_(1.0)  # pruned weights move again; the mask stays the record
        t.snapshot(epoch=1)
    with open_run(tmp_path / "r.h5") as run:
        for n in LAYERS:
            np.testing.assert_array_equal(run.mask(n, 1), masks[n].numpy() != 0)


def test_zeros_are_pruned_reads_a_permanently_pruned_model(tmp_path):
    model = tiny_model()
    prune.global_unstructured(
        parameters_to_prune(model), pruning_method=prune.L1Unstructured, amount=0.5
    )
    for m, name in parameters_to_prune(model):
        prune.remove(m, name)
    with shedding.track.open(model, tmp_path / "z.h5", zeros_are_pruned=True) as t:
        t.snapshot(epoch=0)
    with shedding.track.open(model, tmp_path / "dense.h5") as t:
        t.snapshot(epoch=0)
    with open_run(tmp_path / "z.h5") as run, open_run(tmp_path / "dense.h5") as dense:
        for n in LAYERS:
            w = dict(model.named_modules())[n].weight.detach().numpy()
            np.testing.assert_array_equal(run.mask(n, 0), w != 0)
            assert dense.mask(n, 0).all()


def test_explicit_masks_and_a_named_layer_subset(tmp_path):
    model = tiny_model()
    m4 = torch.rand(16, 112) > 0.3
    with shedding.track.open(model, tmp_path / "x.h5", layers=["4"], masks={"4": m4}) as t:
        t.snapshot(epoch=0, phase="warmup")
        m4b = m4 & (torch.rand(16, 112) > 0.5)
        event = t.prune_event(masks={"4": m4b.int()}, method="mine", schedule="cubic")
    assert event["per_layer"]["4"]["pruned"] == int((m4 & ~m4b).sum())
    with open_run(tmp_path / "x.h5") as run:
        assert [i.name for i in run.layers] == ["4"]
        assert run.index.phase.tolist() == ["warmup", "retrain"]
        np.testing.assert_array_equal(run.mask("4", 0), m4.numpy())
        np.testing.assert_array_equal(run.mask("4", 1), m4b.numpy())
        w = model[4].weight.detach().numpy() * m4b.numpy()
        np.testing.assert_array_equal(run.magnitudes("4", 1), np.abs(w).astype(np.float16))
        assert run.events[0]["schedule"] == "cubic"


def test_filter_picks_layers(tmp_path):
    model = tiny_model()
    with shedding.track.open(
        model, tmp_path / "f.h5", filter=lambda name, m: isinstance(m, nn.Linear)
    ) as t:
        assert list(t.layers) == ["4", "6"]


def test_a_weight_mask_changed_in_place_is_recorded_as_it_is(tmp_path):
    model = tiny_model()
    prune.l1_unstructured(model[6], "weight", amount=0.5)
    with shedding.track.open(model, tmp_path / "i.h5", layers=["6"]) as t:
        t.snapshot(epoch=0)
        with torch.no_grad():
            model[6].weight_mask[0] = 0  # the same buffer, edited
        t.snapshot(epoch=1)
    with open_run(tmp_path / "i.h5") as run:
        np.testing.assert_array_equal(run.mask("6", 1), model[6].weight_mask.numpy() != 0)
        assert run.stats("6").n_kept[1] < run.stats("6").n_kept[0]
