"""Bad use of the tracker: one clear error each."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import shedding.track
from shedding.track import TrackerError
from tests.track.loops import tiny_model


def test_a_model_without_prunable_layers(tmp_path):
    model = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4))
    with pytest.raises(TrackerError, match=r"no prunable layer in Sequential.*layers=\[\.\.\.\]"):
        shedding.track.open(model, tmp_path / "a.h5")
    assert not (tmp_path / "a.h5").exists()
    with pytest.raises(TrackerError, match=r"\['nope'\] not modules with a weight"):
        shedding.track.open(model, tmp_path / "a.h5", layers=["nope"])


def test_a_mask_of_the_wrong_shape(tmp_path):
    with pytest.raises(TrackerError, match=r"mask for layer '4' has shape \(3, 3\).*\(16, 112\)"):
        shedding.track.open(tiny_model(), tmp_path / "m.h5", masks={"4": torch.ones(3, 3)})
    with pytest.raises(TrackerError, match=r"masks for unknown layers \['fc'\]"):
        shedding.track.open(tiny_model(), tmp_path / "m.h5", masks={"fc": torch.ones(3, 3)})


def test_snapshot_after_close(tmp_path):
    t = shedding.track.open(tiny_model(), tmp_path / "c.h5")
    t.close()
    t.close()  # idempotent
    with pytest.raises(TrackerError, match=r"snapshot\(\) after close\(\)"):
        t.snapshot(epoch=1)
    with pytest.raises(TrackerError, match=r"prune_event\(\) after close\(\)"):
        t.prune_event()


def test_two_trackers_on_one_path(tmp_path):
    with (
        shedding.track.open(tiny_model(), tmp_path / "p.h5"),
        pytest.raises(TrackerError, match="already being recorded by another Tracker"),
    ):
        shedding.track.open(tiny_model(), tmp_path / "p.h5", overwrite=True)
    with pytest.raises(TrackerError, match="already exists"):
        shedding.track.open(tiny_model(), tmp_path / "p.h5")
    shedding.track.open(tiny_model(), tmp_path / "p.h5", overwrite=True).close()


def test_a_non_numeric_metric(tmp_path):
    with shedding.track.open(tiny_model(), tmp_path / "n.h5") as t:
        with pytest.raises(TrackerError, match=r"metric 'acc' = 'high' is not a number"):
            t.snapshot(epoch=1, metrics={"acc": "high"})
        t.snapshot(epoch=2, metrics={"acc": torch.tensor(0.5)})  # a 0-d tensor is a number


def test_pruning_without_a_prune_event(tmp_path):
    model = tiny_model()
    with shedding.track.open(model, tmp_path / "e.h5") as t:
        t.snapshot(epoch=1)
        prune.l1_unstructured(model[4], "weight", amount=0.5)
        with pytest.raises(TrackerError, match=r"weight_mask of \['4'\] changed.*prune_event"):
            t.snapshot(epoch=2)
