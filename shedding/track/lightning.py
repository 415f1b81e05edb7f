"""A PyTorch Lightning callback that records training into a run file.

    pip install 'cascade-shedding[lightning]'

    from lightning.pytorch.callbacks import ModelPruning
    from shedding.track.lightning import ShedTracker

    trainer = Trainer(callbacks=[
        ModelPruning("l1_unstructured", amount=prune_schedule, parameter_names=["weight"]),
        ShedTracker("runs/pruned.h5", control="runs/control.h5"),
    ])

Works with Lightning's own ``ModelPruning`` in any callback order, including its lottery
ticket rewinding and ``make_pruning_permanent``. Only the global-zero process records.
"""

from __future__ import annotations

from typing import Any

try:
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "shedding.track.lightning needs PyTorch Lightning: pip install "
        "'cascade-shedding[lightning]'"
    ) from e

from shedding.track.hooks import TrackerCallbackBase


class ShedTracker(TrackerCallbackBase, Callback):
    """Snapshot at the end of every epoch (and every ``every_n_steps`` steps), prune events
    when ``ModelPruning`` (or any torch.nn.utils.prune call) prunes, and the logged metrics.

    Takes the arguments of :class:`shedding.track.hooks.TrackerCallbackBase`: ``path``,
    ``every_n_steps``, ``method``, ``prune_epochs`` and any :class:`~shedding.track.Tracker`
    option (control, config, layers, ...).
    """

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self.hooks.start(pl_module)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.hooks.boundary(epoch=float(trainer.current_epoch))

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        n = trainer.num_training_batches
        last = idx + 1 == n
        epoch = (
            trainer.current_epoch + (idx + 1) / n if n != float("inf") else trainer.current_epoch
        )
        self.hooks.step_end(epoch=float(epoch), step=trainer.global_step, last_of_epoch=last)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch = float(trainer.current_epoch + 1)
        self.hooks.boundary(epoch=epoch)  # ModelPruning placed before this callback
        self.hooks.metrics(epoch=epoch, values=trainer.callback_metrics)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.hooks.end("complete")

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        self.hooks.end("interrupted" if isinstance(exception, KeyboardInterrupt) else "crashed")
