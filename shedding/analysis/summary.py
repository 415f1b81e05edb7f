"""Per-run summary at one threshold: the row every comparison, table and report uses.

Totals over prune rounds: ``cascade_ratio = sum(shed_end - shed_at_prune) / sum(pruned)``
(one-shot: round 1's C), and likewise the control and excess ratios when the run's
control is found (by run_id among the runs given, then in the run's directory).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis.cascade import DEFAULT_DEAD, DeadCut, RoundSummary, cascade_summary
from shedding.analysis.controls import ExcessRound, excess_summary
from shedding.analysis.runs import (
    BAD_FILE_ERRORS,
    PathsOrDir,
    RunSet,
    describe_error,
    find_control,
    load_runs,
)
from shedding.analysis.serialize import jsonable
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE
from shedding.errors import DataError
from tracking import open_run

if TYPE_CHECKING:
    from tracking.reader import Run

NAN = float("nan")


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config dict to dotted keys.

    Example:
        >>> flatten_config({"prune": {"method": "gmp"}, "seed": 0})
        {'prune.method': 'gmp', 'seed': 0}
    """
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_config(v, f"{key}."))
        else:
            out[key] = v
    return out


@dataclass(frozen=True, eq=False)
class RunSummary:
    """One run at one threshold. Totals over rounds: ``cascade_ratio`` = sum of
    (shed_end - shed_at_prune) / sum of pruned (one-shot: round 1's C); the control
    figures likewise; NaN when undefined (no round, no control).

    ``role``: "pruned", "control" (rounds but nothing pruned) or "dense" (no round).
    """

    path: str
    run_id: str
    role: str
    status: str
    config: dict[str, Any]
    n_snapshots: int
    n_rounds: int
    method: str
    test_acc: float
    sparsity: float
    effective_sparsity: float
    shed_fraction: float
    pruned: int
    cascade_ratio: float
    dead_channels: int
    n_channels: int
    control_id: str
    control_found: bool
    control_ratio: float
    excess_cascade_ratio: float
    control_shed_fraction: float
    excess_shed_fraction: float
    excess_dead_channels: float
    rounds: tuple[RoundSummary, ...] = field(default=())
    excess: tuple[ExcessRound, ...] = field(default=())
    dead_by_gamma: int = 0
    dead_by_shed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, rounds and excess rounds included."""
        out = {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
        out["rounds"] = [r.to_dict() for r in self.rounds]
        out["excess"] = [x.to_dict() for x in self.excess]
        return out


def summarize_run(
    run: Run,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    control: Run | None = None,
    revivals: bool = False,
    dead: DeadCut = DEFAULT_DEAD,
) -> RunSummary:
    """Summarise one run (and its excess over ``control`` when given).

    ``revivals=True`` also counts revived weights per round (streams the magnitudes).

    Example:
        >>> s = summarize_run(run, control=control)
        >>> s.role, s.control_found
        ('pruned', True)
    """
    if len(run) == 0:
        raise DataError(
            f"{run.path} has no committed snapshots yet (status {run.status}); nothing to "
            "analyse until the writer records one"
        )
    rounds = cascade_summary(run, rule=rule, c=c, revivals=revivals, dead=dead)
    excess = excess_summary(run, control, rule=rule, c=c, dead=dead) if control is not None else []
    pruned = sum(r.pruned for r in rounds)
    delta = sum(r.shed_end - r.shed_at_prune for r in rounds)
    c_delta = sum(x.control_shed_end - x.control_shed_at_prune for x in excess)
    last, xl = (rounds[-1] if rounds else None), (excess[-1] if excess else None)
    role = "dense" if not rounds else ("control" if pruned == 0 else "pruned")
    acc = run.metrics.get("test_acc", np.array([]))
    acc = acc[np.isfinite(acc)]
    ratio = lambda num: num / pruned if pruned > 0 and excess else NAN  # noqa: E731
    return RunSummary(
        path=str(run.path),
        run_id=run.run_id,
        role=role,
        status=run.status,
        config=flatten_config(run.config),
        n_snapshots=len(run),
        n_rounds=len(rounds),
        method=last.method if last else "",
        test_acc=float(acc[-1]) if len(acc) else NAN,
        sparsity=last.sparsity if last else NAN,
        effective_sparsity=last.effective_sparsity if last else NAN,
        shed_fraction=last.shed_fraction_end if last else NAN,
        pruned=pruned,
        cascade_ratio=delta / pruned if pruned > 0 else NAN,
        dead_channels=last.dead_channels_end if last else 0,
        n_channels=last.n_channels if last else 0,
        control_id=run.control,
        control_found=control is not None,
        control_ratio=ratio(c_delta),
        excess_cascade_ratio=ratio(delta - c_delta),
        control_shed_fraction=xl.control_shed_fraction_end if xl else NAN,
        excess_shed_fraction=xl.excess_shed_fraction_end if xl else NAN,
        excess_dead_channels=xl.excess_dead_channels if xl else NAN,
        rounds=tuple(rounds),
        excess=tuple(excess),
        dead_by_gamma=last.dead_by_gamma_end if last else 0,
        dead_by_shed=last.dead_by_shed_end if last else 0,
    )


def summarize_runs(
    paths_or_dir: PathsOrDir,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    revivals: bool = False,
    control: str | os.PathLike[str] | None = None,
    dead: DeadCut = DEFAULT_DEAD,
) -> tuple[list[RunSummary], list[tuple[str, str]]]:
    """Summaries of every readable run and the bad files as ``(path, reason)``.

    Each run's control is the run named by its ``control`` attribute, looked up among the
    runs given, then in the run's directory; ``control`` (a path) overrides that for
    every pruned run (the control file itself is then not summarised as a run).

    Example:
        >>> summaries, bad = summarize_runs(run_dir)
        >>> all(isinstance(reason, str) for _, reason in bad)
        True
    """
    with load_runs(paths_or_dir) as rs:
        if control is None:
            return summarize_loaded(rs, rule=rule, c=c, revivals=revivals, dead=dead)
        with open_run(control) as ctl:
            rs.runs = [r for r in rs.runs if Path(r.path).resolve() != Path(ctl.path).resolve()]
            return summarize_loaded(rs, rule=rule, c=c, revivals=revivals, control=ctl, dead=dead)


def summarize_file(
    path: str | os.PathLike[str],
    *,
    control: str | os.PathLike[str] | None = None,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    dead: DeadCut = DEFAULT_DEAD,
) -> RunSummary:
    """:func:`summarize_runs` of one run file: its control read from ``control`` when that
    file is the run's control (the run id it names), else looked up in the run's directory.

    Raises what :func:`tracking.open_run` raises on an unreadable run file; an unreadable
    control is skipped, as :func:`summarize_runs` skips it.

    Example:
        >>> s = summarize_file(run_dir / "pruned.h5", control=run_dir / "control.h5")
        >>> s.role, s.control_found
        ('pruned', True)
    """
    with open_run(path) as run:
        ctl: Run | None = None
        if control is not None and Path(control).is_file():
            try:
                ctl = open_run(control)
            except BAD_FILE_ERRORS:
                ctl = None
            if ctl is not None and ctl.run_id != run.control:
                ctl.close()
                ctl = None
        if ctl is None:
            ctl, _ = find_control(run)
        try:
            return summarize_run(run, rule=rule, c=c, control=ctl, dead=dead)
        finally:
            if ctl is not None:
                ctl.close()


def summarize_loaded(
    rs: RunSet,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    revivals: bool = False,
    control: Run | None = None,
    dead: DeadCut = DEFAULT_DEAD,
) -> tuple[list[RunSummary], list[tuple[str, str]]]:
    """:func:`summarize_runs` on runs already open; runs that fail join the bad files.

    Example:
        >>> with load_runs(run_dir) as rs:
        ...     summaries, bad = summarize_loaded(rs)
        >>> len(summaries) >= 1
        True
    """
    out: list[RunSummary] = []
    bad = list(rs.bad)
    for run in rs.runs:
        opened = None
        try:
            ctl: Run | None = control
            if ctl is None:
                ctl, was_opened = find_control(run, among=rs.runs)
                opened = ctl if was_opened else None
            out.append(
                summarize_run(run, rule=rule, c=c, control=ctl, revivals=revivals, dead=dead)
            )
        except BAD_FILE_ERRORS as e:
            bad.append((str(run.path), describe_error(e)))
        finally:
            if opened is not None:
                opened.close()
    return out, bad
