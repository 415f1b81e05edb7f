"""Log a run's shedding to TensorBoard: one scalar per layer and prune round.

Tags (the step is the prune round): ``shed_fraction/<layer>``, ``effective_sparsity/<layer>``,
``C/<layer>`` and, when the run's control is found, ``C_excess/<layer>``, each also for
``all`` layers; plus ``test_acc/all``. Written with tensorboard's own event writer (no
torch, no TensorFlow); needs ``pip install tensorboard``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shedding.analysis.cascade import cascade_summary
from shedding.analysis.controls import excess_summary
from shedding.analysis.runs import find_control
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE
from shedding.errors import ConfigError

if TYPE_CHECKING:
    from tracking.reader import Run

ALL = "all"


def _frac(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def round_scalars(
    run: Run, control: Run | None = None, *, rule: str = DEFAULT_RULE, c: float = DEFAULT_C
) -> dict[int, dict[str, float]]:
    """round -> {tag: value}: the scalars :func:`log_run` writes (NaN where undefined).

    Example:
        >>> scalars = round_scalars(run, control)
        >>> s = scalars[1]
        >>> s["C/all"] == cascade_summary(run)[0].cascade_ratio and "C_excess/all" in s
        True
    """
    sizes = {info.name: info.n_weights for info in run.layers}
    out: dict[int, dict[str, float]] = {}
    for r in cascade_summary(run, rule=rule, c=c, revivals=False):
        tags = {
            f"shed_fraction/{ALL}": r.shed_fraction_end,
            f"effective_sparsity/{ALL}": r.effective_sparsity,
            f"C/{ALL}": r.cascade_ratio,
            f"test_acc/{ALL}": r.test_acc,
        }
        for lr in r.layers:
            tags[f"shed_fraction/{lr.layer}"] = _frac(lr.shed_end, lr.kept)
            tags[f"effective_sparsity/{lr.layer}"] = 1 - _frac(
                lr.kept - lr.shed_end, sizes[lr.layer]
            )
            tags[f"C/{lr.layer}"] = lr.cascade_ratio
        out[r.round] = tags
    if control is not None:
        for x in excess_summary(run, control, rule=rule, c=c):
            out[x.round][f"C_excess/{ALL}"] = x.excess_cascade_ratio
            for xl in x.layers:
                out[x.round][f"C_excess/{xl.layer}"] = xl.excess_cascade_ratio
    return out


def _event_writer(logdir: Path) -> Any:
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ConfigError(
            "logging to TensorBoard needs tensorboard; fix: pip install tensorboard"
        ) from None
    return EventFileWriter(str(logdir)), event_pb2, summary_pb2


def log_run(
    run: Run,
    logdir: str | os.PathLike[str],
    *,
    control: Run | None = None,
    find: bool = True,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
) -> Path:
    """Write ``run``'s per-round scalars under ``logdir/<run_id>``; returns that folder.

    ``control`` defaults to the run's control found beside it (``find=False``: none).
    NaN values (e.g. C of a control run) are left out.

    Example:
        >>> folder = log_run(run, tmp_path / "tb")
        >>> folder.name == run.run_id and any(folder.glob("events.out.tfevents.*"))
        True
    """
    opened = None
    if control is None and find:
        control, was_opened = find_control(run)
        opened = control if was_opened else None
    try:
        scalars = round_scalars(run, control, rule=rule, c=c)
    finally:
        if opened is not None:
            opened.close()
    folder = Path(logdir) / (run.run_id or Path(run.path).stem)
    writer, event_pb2, summary_pb2 = _event_writer(folder)
    try:
        for step, tags in sorted(scalars.items()):
            values = [
                summary_pb2.Summary.Value(tag=tag, simple_value=float(v))
                for tag, v in tags.items()
                if math.isfinite(v)
            ]
            summary = summary_pb2.Summary(value=values)
            writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
    finally:
        writer.close()
    return folder
