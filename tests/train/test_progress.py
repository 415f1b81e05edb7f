"""The progress bar shows the last evaluated test accuracy, never "nan"."""

from __future__ import annotations

import math

import torch

from shedding.train.callbacks import TrainContext
from shedding.train.progress import ProgressBar


def test_the_bar_keeps_the_last_evaluated_accuracy_between_evaluations(capsys):
    bar = ProgressBar(every=1)
    ctx = TrainContext(None, None, "retrain", 1, 3, 2, loss=torch.tensor(0.5))
    bar.on_phase_start(ctx)
    shown = []
    for epoch, acc in enumerate((math.nan, 0.875, math.nan), start=1):
        for _ in range(2):
            ctx.step += 1
            bar.on_step_end(ctx)
        ctx.epoch, ctx.metrics = epoch, {"train_loss": 0.5, "test_acc": acc}
        bar.on_epoch_end(ctx)
        shown.append(bar.acc)
    bar.on_phase_end(ctx)
    assert shown == ["-", "0.875", "0.875"]
    err = capsys.readouterr().err
    assert "acc=0.875" in err and "nan" not in err
