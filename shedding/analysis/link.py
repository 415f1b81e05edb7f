"""``shedding link RUN CONTROL``: make CONTROL the unpruned control of RUN.

Only a real control is accepted: the same layers, nothing pruned, and the same prune
rounds as RUN (a control loop calls ``prune_event()`` where RUN prunes, pruning nothing),
so ``analyze``, ``compare``, the report and the dashboard can align the two.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from shedding.analysis.controls import check_pair
from shedding.errors import DataError
from tracking import open_run
from tracking.link import set_control


def link_control(run_path: str | os.PathLike[str], control_path: str | os.PathLike[str]) -> str:
    """Store CONTROL's run id as RUN's control; returns a short report (one or two lines).

    Raises:
        DataError: CONTROL is RUN itself, records other layers, prunes weights, or has
            other prune rounds than RUN.
        tracking.RunFileError: either file is unreadable, or RUN is still being written.
    """
    run_p, ctl_p = Path(run_path), Path(control_path)
    with open_run(run_p) as run, open_run(ctl_p) as ctl:
        if run_p.resolve() == ctl_p.resolve() or run.run_id == ctl.run_id:
            raise DataError(
                f"{ctl_p} has run id {ctl.run_id!r}, the same as {run_p}; a control is a "
                "separate run file: record the unpruned loop into its own file"
            )
        check_pair(run, ctl)
        pruned = sum(
            int(info.n_weights - ctl.stats(info.name).n_kept.min(initial=info.n_weights))
            for info in ctl.layers
        )
        if pruned:
            raise DataError(
                f"{ctl_p} prunes {pruned} weights; a control is the same loop without "
                "pruning: record it with no pruning (and the same prune_event() calls)"
            )
        mine, theirs = np.unique(run.index.round).tolist(), np.unique(ctl.index.round).tolist()
        if mine != theirs:
            raise DataError(
                f"{ctl_p} has prune rounds {theirs} but {run_p} has {mine}; fix: call "
                "tracker.prune_event() in the control loop where the pruned loop prunes"
            )
        control_id = ctl.run_id
    set_control(run_p, control_id)
    report = f"linked {run_p} -> control {control_id!r} ({ctl_p})"
    if run_p.resolve().parent != ctl_p.resolve().parent:
        report += (
            f"\nnote: the control is not in {run_p.parent}; compare, report and the "
            "dashboard find controls beside the run, analyze also takes --control"
        )
    return report
