"""Record a Hugging Face Trainer run (a tiny BERT built from code: nothing is downloaded).

    pip install 'cascade-shedding[hf]'
    python examples/own_loop_hf.py --out runs/hf
    shedding analyze runs/hf/pruned.h5

A two-class task on random token sequences (the label is whether the first token is in
the upper half of the vocabulary). A small callback of your own prunes every ``Linear``
globally (L1, torch.nn.utils.prune) after half the epochs; ``ShedTrackerCallback``
notices it and records the prune event. The control runs the same Trainer without
pruning, ``prune_epochs`` marking the same round.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils import prune

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is built from a config, offline
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from own_loop import main

from shedding.track.hf import ShedTrackerCallback


def tiny_bert(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(cfg)


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int = 256, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 64, (n, 16), generator=g)
        self.labels = (self.ids[:, 0] >= 32).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


class PruneLinears(transformers.TrainerCallback):
    """Your own pruning: global L1 over every Linear weight at the end of one epoch."""

    def __init__(self, amount: float, after: int) -> None:
        self.amount, self.after = amount, after

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any):
        if self.amount and round(state.epoch) == self.after:
            params = [(m, "weight") for m in model.modules() if isinstance(m, torch.nn.Linear)]
            prune.global_unstructured(
                params, pruning_method=prune.L1Unstructured, amount=self.amount
            )


def training_args(output_dir: Path, *, epochs: int, batch_size: int = 32) -> Any:
    """CPU training, a log line per epoch, no checkpoints, no reporting services."""
    return transformers.TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=2e-3,
        logging_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )


def train(path: Path, *, amount: float, epochs: int, control: Path | str = "") -> torch.nn.Module:
    model = tiny_bert()
    args = training_args(path.with_name(path.stem + "-trainer"), epochs=epochs)
    prune_after = epochs // 2
    callbacks = [
        PruneLinears(amount, after=prune_after),
        ShedTrackerCallback(
            path,
            method="l1_unstructured",
            prune_epochs=[prune_after],
            control=control,
            overwrite=True,
        ),
    ]
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Tokens(), callbacks=callbacks
    )
    trainer.train()
    return model


def run(out: Path, *, epochs: int = 8, amount: float = 0.6) -> torch.nn.Module:
    """Write ``out/control.h5`` and ``out/pruned.h5`` (linked to it); returns the pruned model."""
    out.mkdir(parents=True, exist_ok=True)
    train(out / "control.h5", amount=0.0, epochs=epochs)
    return train(out / "pruned.h5", amount=amount, epochs=epochs, control=out / "control.h5")


if __name__ == "__main__":
    main(run, __doc__, epochs=8, amount=0.6)
