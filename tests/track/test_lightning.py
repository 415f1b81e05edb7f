"""The Lightning callback with Lightning's own ModelPruning, on a tiny model."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelPruning
from torch.utils.data import DataLoader, TensorDataset

from shedding.track.lightning import ShedTracker
from tests.track.loops import analyze_json, batches, parameters_to_prune, tiny_model
from tracking import open_run


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_model()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        self.log("top1", (self(x).argmax(1) == y).float().mean(), on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


def fit(path, *, amount: float, tracker_first: bool, **options) -> Tiny:
    model = Tiny()
    pruning = ModelPruning(
        "l1_unstructured",
        parameters_to_prune=parameters_to_prune(model.net),
        amount=lambda epoch: amount if epoch == 1 else 0.0,
        use_global_unstructured=True,
        verbose=0,
    )
    tracker = ShedTracker(path, method="l1_unstructured", **options)
    trainer = pl.Trainer(
        max_epochs=4,
        accelerator="cpu",
        devices=1,
        callbacks=[tracker, pruning] if tracker_first else [pruning, tracker],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    x, y = batches()
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=16))
    return model


@pytest.mark.parametrize("tracker_first", [True, False])
def test_model_pruning_is_recorded_as_a_prune_event(tmp_path, tracker_first):
    path = tmp_path / "pruned.h5"
    fit(tmp_path / "control.h5", amount=0.0, tracker_first=tracker_first, prune_epochs=[2])
    with open_run(tmp_path / "control.h5") as control:
        assert control.index.round.tolist() == [0, 0, 1, 1, 1]
        assert control.events[0]["amount"] == 0.0
    model = fit(path, amount=0.7, tracker_first=tracker_first, control=tmp_path / "control.h5")
    modules = dict(model.named_modules())
    with open_run(path) as run:
        idx = run.index
        assert idx.epoch.tolist() == [1, 2, 2, 3, 4] and idx.round.tolist() == [0, 0, 1, 1, 1]
        (event,) = run.events
        assert event["epoch"] == 2.0 and event["method"] == "l1_unstructured"
        # make_pruning_permanent removed weight_mask at the end: pruned weights are zero
        for info in run.layers:
            w = modules[info.name].weight.detach().numpy()
            np.testing.assert_array_equal(run.mask(info.name, 4), w != 0)
            assert event["per_layer"][info.name]["pruned"] == int((w == 0).sum())
        assert np.isfinite(run.metrics["top1"]).all() and len(run.metrics["top1"]) == 4
    result = analyze_json(path)["runs"][0]
    assert result["control_found"] and np.isfinite(result["excess_cascade_ratio"])
    layers = {x["layer"]: x["pruned"] for x in result["rounds"][0]["layers"]}
    assert layers == {n: int((modules[n].weight == 0).sum()) for n in layers}
    assert sum(layers.values()) == round(
        0.7 * sum(m.weight.numel() for m, _ in parameters_to_prune(model.net))
    )
