"""Record a PyTorch Lightning run that prunes with Lightning's own ModelPruning callback.

    pip install 'cascade-shedding[lightning]'
    python examples/own_loop_lightning.py --out runs/lightning
    shedding analyze runs/lightning/pruned.h5

The model and data of ``own_loop.py``; ``ModelPruning`` prunes 80% globally (L1) after
half the epochs, then Lightning retrains. ``ShedTracker`` records; the control runs the
same Trainer with nothing pruned and ``prune_epochs`` marking the same round.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelPruning
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from own_loop import accuracy, main, make_data, make_model

from shedding.track.lightning import ShedTracker


class Classifier(pl.LightningModule):
    def __init__(self, test: tuple[torch.Tensor, torch.Tensor]) -> None:
        super().__init__()
        self.net, self.test = make_model(), test

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("test_acc", accuracy(self.net, *self.test))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)


def train(path: Path, *, amount: float, epochs: int, control: Path | str = "") -> Classifier:
    x, y, x_test, y_test = make_data()
    model = Classifier((x_test, y_test))
    layers = [m for m in model.net.modules() if isinstance(m, nn.Conv1d | nn.Linear)]
    prune_after = epochs // 2  # ModelPruning counts epochs from 0
    pruning = ModelPruning(
        "l1_unstructured",
        parameters_to_prune=[(m, "weight") for m in layers],
        amount=lambda epoch: amount if epoch == prune_after - 1 else 0.0,
        use_lottery_ticket_hypothesis=False,
        verbose=0,
    )
    tracker = ShedTracker(
        path,
        method="l1_unstructured",
        prune_epochs=[prune_after],  # marks the round in the control, which prunes nothing
        control=control,
        overwrite=True,
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        callbacks=[pruning, tracker],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
    trainer.fit(model, loader)
    return model


def run(out: Path, *, epochs: int = 20, amount: float = 0.8) -> Classifier:
    """Write ``out/control.h5`` and ``out/pruned.h5`` (linked to it); returns the pruned model."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    train(out / "control.h5", amount=0.0, epochs=epochs)
    torch.manual_seed(0)
    return train(out / "pruned.h5", amount=amount, epochs=epochs, control=out / "control.h5")


if __name__ == "__main__":
    main(run, __doc__, epochs=20, amount=0.8)
