"""The Hugging Face TrainerCallback on a tiny BERT built from code (nothing downloaded)."""

from __future__ import annotations

import os

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded: models from code
import transformers

from shedding.track.hf import ShedTrackerCallback
from tests.track.loops import analyze_json, load_example
from tracking import open_run

EXAMPLE = load_example("own_loop_hf")  # its tiny BERT, token data and pruning callback


def train(tmp_path, name: str, amount: float, **options) -> torch.nn.Module:
    model = EXAMPLE.tiny_bert()
    args = EXAMPLE.training_args(tmp_path / f"out-{name}", epochs=4, batch_size=8)
    callbacks = [
        EXAMPLE.PruneLinears(amount, after=2),
        ShedTrackerCallback(tmp_path / f"{name}.h5", method="l1_unstructured", **options),
    ]
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=EXAMPLE.Tokens(n=32), callbacks=callbacks
    )
    trainer.train()
    return model


def test_trainer_run_with_pruning_and_a_control(tmp_path):
    train(tmp_path, "control", 0.0, prune_epochs=[2])
    model = train(tmp_path, "pruned", 0.6, control=tmp_path / "control.h5")
    with open_run(tmp_path / "control.h5") as control:
        assert control.index.round.tolist() == [0, 0, 1, 1, 1]
    modules = dict(model.named_modules())
    with open_run(tmp_path / "pruned.h5") as run:
        assert all(isinstance(modules[i.name], torch.nn.Linear) for i in run.layers)
        idx = run.index
        assert idx.epoch.tolist() == [1, 2, 2, 3, 4] and idx.round.tolist() == [0, 0, 1, 1, 1]
        (event,) = run.events
        for info in run.layers:
            mask = modules[info.name].weight_mask
            np.testing.assert_array_equal(run.mask(info.name, 4), mask.numpy() != 0)
        assert np.isfinite(run.metrics["loss"]).sum() == 4  # the Trainer's per-epoch loss
    result = analyze_json(tmp_path / "pruned.h5")["runs"][0]
    layers = {x["layer"]: x["pruned"] for x in result["rounds"][0]["layers"]}
    assert layers == {n: int((modules[n].weight_mask == 0).sum()) for n in layers}
    assert layers == {n: int(d["pruned"]) for n, d in event["per_layer"].items()}
    assert result["control_found"] and np.isfinite(result["excess_cascade_ratio"])
