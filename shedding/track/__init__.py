"""Record your own PyTorch training loop into a run file (see docs/own-loop.md).

    import shedding.track

    with shedding.track.open(model, "runs/pruned.h5", control="runs/control.h5") as t:
        ...
        t.snapshot(epoch=epoch, metrics={"test_acc": acc})
        ...
        t.prune_event(method="l1_unstructured")

Callbacks for PyTorch Lightning and Hugging Face ``Trainer`` live in
:mod:`shedding.track.lightning` and :mod:`shedding.track.hf` (optional extras).
"""

from shedding.track.errors import TrackerError
from shedding.track.tracker import Tracker, control_id, open

__all__ = ["Tracker", "TrackerError", "control_id", "open"]
