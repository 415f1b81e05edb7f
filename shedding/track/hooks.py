"""What the Lightning and Hugging Face callbacks share, independent of either trainer.

Both take the end-of-epoch snapshot at the epoch's last optimizer step, before any
epoch-end hook runs, so it holds the trained weights even when a pruning callback
(Lightning's ``ModelPruning``) prunes, or rewinds weights, at the end of the same epoch.
A prune is noticed at the next epoch boundary (torch.nn.utils.prune replaces the
``weight_mask`` buffers) and recorded as a prune event from that snapshot.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from shedding.track.tracker import RESERVED, Tracker


def numeric(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of a trainer's metrics dict that are real numbers (0-d tensors too)."""
    out = {}
    for key, value in values.items():
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[str(key)] = float(value)
    return out


class EpochHooks:
    """Opens a :class:`Tracker` at train start and feeds it from trainer events.

    Args:
        path: the run file to write.
        every_n_steps: also snapshot every N optimizer steps (None: once per epoch).
        method: pruner name stored in the prune events the hooks notice.
        prune_epochs: epochs (as recorded: 1 = after the first) at whose end a prune
            event is recorded even when nothing was pruned: the control's, which must
            have the pruned run's rounds. A pruned run's pruning is noticed without it.
        tracker_options: passed to :class:`Tracker` (control, config, layers, ...).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        every_n_steps: int | None,
        method: str,
        prune_epochs: Sequence[int] = (),
        tracker_options: Mapping[str, Any],
    ) -> None:
        self.path, self.every_n_steps, self.method = path, every_n_steps, method
        self.prune_epochs = {float(e) for e in prune_epochs}
        self._marked: set[float] = set()
        self.options = dict(tracker_options)
        self.tracker: Tracker | None = None

    def start(self, model: nn.Module) -> None:
        if self.tracker is None:
            self.tracker = Tracker(model, self.path, **self.options)

    def step_end(self, *, epoch: float, step: int, last_of_epoch: bool) -> None:
        if self.tracker is None:
            return
        periodic = self.every_n_steps and step % self.every_n_steps == 0
        if last_of_epoch or periodic:
            self.tracker.snapshot(epoch=epoch, step=step)

    def boundary(self, *, epoch: float) -> None:
        """Record a prune event if the masks changed since the last one, or if ``epoch``
        is one of ``prune_epochs`` (once)."""
        if self.tracker is None:
            return
        due = epoch in self.prune_epochs and epoch not in self._marked
        if self.tracker.masks_changed() or due:
            self.tracker.prune_event(epoch=epoch, method=self.method)
            self._marked.add(epoch)

    def metrics(self, *, epoch: float, values: Mapping[str, Any]) -> None:
        found = numeric(values)
        lr = found.pop("learning_rate", found.pop("lr", None))
        found = {k: v for k, v in found.items() if k not in RESERVED}
        if self.tracker is not None and found:
            self.tracker.log(epoch=epoch, lr=lr, **found)  # type: ignore[arg-type]  # no "phase"

    def end(self, status: str = "complete") -> None:
        if self.tracker is not None:
            self.tracker.close(status)


class TrackerCallbackBase:
    """The constructor and ``tracker`` property both trainer callbacks share.

    Args:
        path: the run file to write.
        every_n_steps: extra snapshots every N optimizer steps.
        method: pruner name for the prune events (e.g. "l1_unstructured").
        prune_epochs: in the control (which prunes nothing), the epochs after which the
            pruned run prunes, so both have the same rounds.
        tracker_options: passed to :class:`shedding.track.Tracker` (control, config,
            layers, filter, zeros_are_pruned, overwrite...).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        every_n_steps: int | None = None,
        method: str = "",
        prune_epochs: Sequence[int] = (),
        **tracker_options: Any,
    ) -> None:
        self.hooks = EpochHooks(
            path,
            every_n_steps=every_n_steps,
            method=method,
            prune_epochs=prune_epochs,
            tracker_options=tracker_options,
        )

    @property
    def tracker(self) -> Tracker | None:
        """The open :class:`shedding.track.Tracker` (None before training starts)."""
        return self.hooks.tracker
