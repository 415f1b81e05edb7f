"""Compare many runs: one summary per run, grouped by config keys, with seeds pooled.

Each run is summarised at one threshold (:mod:`.summary`: raw cascade ratio, shed
fraction, effective sparsity, accuracy, and the control/excess figures when its control
run is found). Runs are grouped by dotted config keys (``prune.method``, ``retrain.protocol``); per
group and metric the mean and a 95% bootstrap interval over the runs (seeds) are given,
and every pair of groups is tested with Welch's t-test and the Mann-Whitney U test.
Files that cannot be read or analysed are reported as ``(path, reason)``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shedding.analysis.controls import Attribution, attribution
from shedding.analysis.runs import PathsOrDir
from shedding.analysis.serialize import jsonable
from shedding.analysis.stats import GroupTest, MeanCI, group_test, mean_ci
from shedding.analysis.summary import (
    RunSummary,
    flatten_config,
    summarize_file,
    summarize_loaded,
    summarize_run,
    summarize_runs,
)
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE
from shedding.errors import ConfigError

__all__ = [
    "METRICS",
    "Comparison",
    "GroupPairTest",
    "GroupStat",
    "RunSummary",
    "compare",
    "compare_summaries",
    "flatten_config",
    "group_key",
    "summarize_file",
    "summarize_loaded",
    "summarize_run",
    "summarize_runs",
]

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
        """Accuracy vs sparsity and vs effective sparsity: one point per run and round;
        control runs (nothing pruned) form the group "controls", a reference at sparsity 0."""
        pts = []
        for s in self.runs:
            group = " / ".join(group_key(s, self.by)) if s.role == "pruned" else "controls"
            for r in s.rounds:
                pts.append(
                    {
                        "group": group,
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
            "frontier": [{k: jsonable(v) for k, v in p.items()} for p in self.frontier()],
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
    return compare_summaries(
        summaries,
        bad,
        by=by,
        rule=rule,
        c=c,
        include_controls=include_controls,
        test_metrics=test_metrics,
    )


def compare_summaries(
    summaries: Sequence[RunSummary],
    bad: Sequence[tuple[str, str]] = (),
    *,
    by: Sequence[str] = ("prune.method", "retrain.protocol"),
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    include_controls: bool = False,
    test_metrics: Sequence[str] = TEST_METRICS,
) -> Comparison:
    """:func:`compare` on summaries already made (``rule`` and ``c`` are labels here).

    Example:
        >>> cmp = compare_summaries([summarize_run(run)], by=["seed"])
        >>> len(cmp.groups)
        1
    """
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
            m,
            a,
            b,
            group_test([getattr(s, m) for s in groups[a]], [getattr(s, m) for s in groups[b]]),
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
