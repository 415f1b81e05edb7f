"""The Hugging Face TrainerCallback on a tiny BERT built from code (nothing downloaded)."""

from __future__ import annotations

import os

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded: models from code
import transformers
from torch.nn.utils import prune

from shedding.track.hf import ShedTrackerCallback
from tests.track.loops import analyze_json
from tracking import open_run


def tiny_bert() -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=32,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(cfg)


class Tokens(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 32, (32, 8), generator=g)
        self.labels = (self.ids[:, 0] > 15).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


class PruneAfterEpoch(transformers.TrainerCallback):
    """The user's own pruning: global L1 over every Linear after the given epoch."""

    def __init__(self, amount: float, after: int = 2) -> None:
        self.amount, self.after = amount, after

    def on_epoch_end(self, args, state, control, model=None, **kw):
        if self.amount and round(state.epoch) == self.after:
            params = [(m, "weight") for m in model.modules() if isinstance(m, torch.nn.Linear)]
            prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.6)


def train(tmp_path, name: str, amount: float, **options) -> torch.nn.Module:
    model = tiny_bert()
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / f"out-{name}"),
        num_train_epochs=4,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        logging_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    callbacks = [
        PruneAfterEpoch(amount),
        ShedTrackerCallback(tmp_path / f"{name}.h5", method="l1_unstructured", **options),
    ]
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Tokens(), callbacks=callbacks
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
