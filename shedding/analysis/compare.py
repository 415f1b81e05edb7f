"""Compare many runs: one summary per run, grouped by config keys, with seeds pooled.

Each run is summarised at one threshold (raw cascade ratio, shed fraction, effective
sparsity, accuracy, and the control/excess figures when its control run is found).
Runs are grouped by dotted config keys (``prune.method``, ``retrain.protocol``); per
group and metric the mean and a 95% bootstrap interval over the runs (seeds) are given,
and every pair of groups is tested with Welch's t-test and the Mann-Whitney U test.
Files that cannot be read or analysed are reported as ``(path, reason)``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis.cascade import RoundSummary, cascade_summary
from shedding.analysis.controls import Attribution, ExcessRound, attribution, excess_summary
from shedding.analysis.runs import (
    BAD_FILE_ERRORS,
    PathsOrDir,
    describe_error,
    find_control,
    load_runs,
)
from shedding.analysis.shed import _jsonable
from shedding.analysis.stats import GroupTest, MeanCI, group_test, mean_ci
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE
from shedding.errors import ConfigError

if TYPE_CHECKING:
    from tracking.reader import Run

METRICS = (
    "test_acc",
    "sparsity",
    "effective_sparsity",
    "shed_fraction",
    "cascade_ratio",
    "control_ratio",
    "excess_cascade_ratio",
    "excess_dead_channels",
)
TEST_METRICS = ("test_acc", "effective_sparsity", "cascade_ratio", "excess_cascade_ratio")
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, rounds and excess rounds included."""
        out = {k: _jsonable(getattr(self, k)) for k in self.__dataclass_fields__}
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
) -> RunSummary:
    """Summarise one run (and its excess over ``control`` when given).

    ``revivals=True`` also counts revived weights per round (streams the magnitudes).

    Example:
        >>> s = summarize_run(run, control=control)
        >>> s.role, s.control_found
        ('pruned', True)
    """
    rounds = cascade_summary(run, rule=rule, c=c, revivals=revivals)
    excess = excess_summary(run, control, rule=rule, c=c) if control is not None else []
    pruned = sum(r.pruned for r in rounds)
    delta = sum(r.shed_end - r.shed_at_prune for r in rounds)
    c_delta = sum(x.control_shed_end - x.control_shed_at_prune for x in excess)
    last, xl = (rounds[-1] if rounds else None), (excess[-1] if excess else None)
    role = "dense" if not rounds else ("control" if pruned == 0 else "pruned")
    acc = run.metrics.get("test_acc", np.array([]))
    acc = acc[np.isfinite(acc)]
    ratio = (lambda num: num / pruned if pruned > 0 and excess else NAN)  # noqa: E731
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
    )


def summarize_runs(
    paths_or_dir: PathsOrDir,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    revivals: bool = False,
) -> tuple[list[RunSummary], list[tuple[str, str]]]:
    """Summaries of every readable run (controls looked up among them, then in each run's
    directory) and the bad files as ``(path, reason)``.

    Example:
        >>> summaries, bad = summarize_runs(run_dir)
        >>> all(isinstance(reason, str) for _, reason in bad)
        True
    """
    out: list[RunSummary] = []
    with load_runs(paths_or_dir) as rs:
        bad = list(rs.bad)
        for run in rs.runs:
            opened = None
            try:
                control, was_opened = find_control(run, among=rs.runs)
                opened = control if was_opened else None
                out.append(
                    summarize_run(run, rule=rule, c=c, control=control, revivals=revivals)
                )
            except BAD_FILE_ERRORS as e:
                bad.append((str(run.path), describe_error(e)))
            finally:
                if opened is not None:
                    opened.close()
    return out, bad


def group_key(summary: RunSummary, by: Sequence[str]) -> tuple[str, ...]:
    """The values of the ``by`` config keys as strings ("<missing>" when absent).

    Example:
        >>> group_key(summarize_run(run), ["prune.method"])
        ('gmp',)
    """

    def text(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v)

    return tuple(text(summary.config[k]) if k in summary.config else "<missing>" for k in by)


@dataclass(frozen=True)
class GroupStat:
    """Mean and 95% bootstrap interval of one metric over the runs of one group."""

    key: tuple[str, ...]
    metric: str
    stat: MeanCI


@dataclass(frozen=True)
class GroupPairTest:
    """Welch and Mann-Whitney tests of one metric between two groups."""

    metric: str
    a: tuple[str, ...]
    b: tuple[str, ...]
    test: GroupTest


@dataclass(frozen=True, eq=False)
class Comparison:
    """Grouped comparison of many runs (see :func:`compare`)."""

    by: tuple[str, ...]
    rule: str
    c: float
    runs: tuple[RunSummary, ...]
    groups: tuple[tuple[str, ...], ...]
    stats: tuple[GroupStat, ...]
    tests: tuple[GroupPairTest, ...]
    attributions: tuple[Attribution, ...]  # one per group, same order as ``groups``
    bad: tuple[tuple[str, str], ...]

    def stat(self, key: tuple[str, ...], metric: str) -> MeanCI:
        """The statistic of ``metric`` in group ``key``."""
        for s in self.stats:
            if s.key == key and s.metric == metric:
                return s.stat
        raise ConfigError(f"no group {key} / metric {metric!r}; groups: {list(self.groups)}")

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per group: the key values, n, and mean/CI per metric (flat columns)."""
        rows = []
        for gi, key in enumerate(self.groups):
            row: dict[str, Any] = dict(zip(self.by, key, strict=True))
            row["n"] = self.stat(key, METRICS[0]).n
            for s in self.stats:
                if s.key == key:
                    row[s.metric] = s.stat.mean
                    row[f"{s.metric}_ci"] = (s.stat.ci_low, s.stat.ci_high)
            row["verdict"] = self.attributions[gi].verdict
            rows.append(row)
        return rows

    def frontier(self) -> list[dict[str, Any]]:
        """Accuracy vs sparsity and vs effective sparsity: one point per run and round."""
        pts = []
        for s in self.runs:
            key = group_key(s, self.by)
            for r in s.rounds:
                pts.append(
                    {
                        "group": " / ".join(key),
                        "run_id": s.run_id,
                        "round": r.round,
                        "sparsity": r.sparsity,
                        "effective_sparsity": r.effective_sparsity,
                        "test_acc": r.test_acc,
                    }
                )
        return pts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the same fields as the text output."""
        return {
            "by": list(self.by),
            "rule": self.rule,
            "c": self.c,
            "groups": [
                {
                    "key": dict(zip(self.by, key, strict=True)),
                    "stats": {s.metric: s.stat.to_dict() for s in self.stats if s.key == key},
                    "attribution": self.attributions[gi].to_dict(),
                }
                for gi, key in enumerate(self.groups)
            ],
            "tests": [
                {"metric": t.metric, "a": list(t.a), "b": list(t.b), **t.test.to_dict()}
                for t in self.tests
            ],
            "runs": [s.to_dict() for s in self.runs],
            "frontier": [{k: _jsonable(v) for k, v in p.items()} for p in self.frontier()],
            "bad_files": [{"path": p, "reason": why} for p, why in self.bad],
        }


def compare(
    paths_or_dir: PathsOrDir,
    *,
    by: Sequence[str] = ("prune.method", "retrain.protocol"),
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    include_controls: bool = False,
    test_metrics: Sequence[str] = TEST_METRICS,
) -> Comparison:
    """Group runs by config keys and compare them over seeds.

    Args:
        paths_or_dir: a directory of run files, or a list of files / directories.
        by: dotted config keys to group by.
        rule, c: threshold (see :func:`shed_curve`).
        include_controls: also put control and dense-only runs into the groups.
        test_metrics: metrics tested between every pair of groups.

    Example:
        >>> cmp = compare(run_dir, by=["prune.method"])
        >>> cmp.by
        ('prune.method',)
    """
    summaries, bad = summarize_runs(paths_or_dir, rule=rule, c=c)
    by = tuple(by)
    known = set().union(*(s.config for s in summaries)) if summaries else set()
    unknown = [k for k in by if k not in known]
    if summaries and unknown:
        raise ConfigError(
            f"config key(s) {unknown} appear in no run; available keys: {sorted(known)}"
        )
    for m in test_metrics:
        if m not in METRICS:
            raise ConfigError(f"test metric {m!r} is not one of {list(METRICS)}")
    chosen = [s for s in summaries if include_controls or s.role == "pruned"]
    groups: dict[tuple[str, ...], list[RunSummary]] = {}
    for s in chosen:
        groups.setdefault(group_key(s, by), []).append(s)
    keys = tuple(sorted(groups))
    stats = tuple(
        GroupStat(k, m, mean_ci([getattr(s, m) for s in groups[k]])) for k in keys for m in METRICS
    )
    tests = tuple(
        GroupPairTest(
            m, a, b, group_test([getattr(s, m) for s in groups[a]], [getattr(s, m) for s in groups[b]])
        )
        for m in test_metrics
        for a, b in itertools.combinations(keys, 2)
    )
    attrs = tuple(
        attribution(
            cascade_ratio=[s.cascade_ratio for s in groups[k]],
            excess_cascade_ratio=[s.excess_cascade_ratio for s in groups[k]],
            control_ratio=[s.control_ratio for s in groups[k]],
            control_shed_fraction=[s.control_shed_fraction for s in groups[k]],
        )
        for k in keys
    )
    return Comparison(by, rule, float(c), tuple(summaries), keys, stats, tests, attrs, tuple(bad))
