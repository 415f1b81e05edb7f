"""A Hugging Face ``transformers.TrainerCallback`` that records training into a run file.

    pip install 'cascade-shedding[hf]'

    from shedding.track.hf import ShedTrackerCallback

    trainer = Trainer(model=model, args=args, train_dataset=ds,
                      callbacks=[ShedTrackerCallback("runs/pruned.h5")])

It snapshots at the end of every epoch (and every ``every_n_steps`` steps), logs every
numeric value the Trainer logs (loss, learning_rate, eval_*), and records a prune event
when torch.nn.utils.prune pruned the model since the last epoch boundary (e.g. from your
own callback's ``on_epoch_end``). With other masks, call
``callback.tracker.prune_event(masks=...)`` yourself. Only the main process records.
"""

from __future__ import annotations

from typing import Any

try:
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "shedding.track.hf needs Hugging Face transformers: pip install 'cascade-shedding[hf]'"
    ) from e

from shedding.track.hooks import TrackerCallbackBase


class ShedTrackerCallback(TrackerCallbackBase, TrainerCallback):
    """Records a ``transformers.Trainer`` run (see the module docstring).

    Takes the arguments of :class:`shedding.track.hooks.TrackerCallbackBase`: ``path``,
    ``every_n_steps``, ``method``, ``prune_epochs`` and any :class:`~shedding.track.Tracker`
    option (control, config, layers, ...).
    """

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if state.is_world_process_zero:
            self.hooks.start(kw["model"])

    def on_epoch_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.hooks.boundary(epoch=float(state.epoch or 0.0))

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        epoch = float(state.epoch or 0.0)
        # the Trainer sets epoch = e + (step + 1) / steps_in_epoch: a whole number at the
        # epoch's last optimizer step
        last = epoch > 0 and epoch == round(epoch)
        self.hooks.step_end(epoch=epoch, step=state.global_step, last_of_epoch=last)

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.hooks.boundary(epoch=float(state.epoch or 0.0))

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        self.hooks.metrics(epoch=float(state.epoch or 0.0), values=logs or {})

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.hooks.boundary(epoch=float(state.epoch or 0.0))
        self.hooks.end("complete")
