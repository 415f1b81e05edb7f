"""Text and JSON output of ``shedding analyze`` and ``shedding compare``: one call each.

The CLI stays a thin shell: it parses arguments, calls :func:`analyze_text` or
:func:`compare_text`, prints the string and turns errors into one line. Text and JSON
carry the same fields, the control and excess figures included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from shedding.analysis._table import ci, format_table, num, text
from shedding.analysis.cascade import DEFAULT_DEAD, DeadCut
from shedding.analysis.compare import RunSummary, compare, summarize_runs
from shedding.analysis.controls import attribution
from shedding.analysis.runs import PathsOrDir
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE, check_c, get_rule

ROUND_COLUMNS = [
    ("round", "round", text),
    ("method", "method", text),
    ("pruned", "pruned", num("{:d}")),
    ("shed_at_prune", "shed@prune", num("{:d}")),
    ("shed_end", "shed@end", num("{:d}")),
    ("cascade_ratio", "C", num("{:.3f}")),
    ("control_ratio", "C_control", num("{:.3f}")),
    ("excess_cascade_ratio", "C_excess", num("{:.3f}")),
    ("onset_epochs", "onset", num("{:.2f}")),
    ("half_time_epochs", "half", num("{:.2f}")),
    ("revived", "revived", num("{:d}")),
    ("effective_sparsity", "eff.sparsity", num("{:.4f}")),
    ("control_shed_fraction_end", "ctrl shed", num("{:.4f}")),
    ("dead", "dead ch (γ/shed)", text),
    ("norm_ratio", "‖w‖ end/prune", num("{:.3f}")),
    ("effective_step_peak", "max η/‖w‖²", num("{:.3g}")),
    ("excess_dead_channels", "excess dead", num("{:.0f}")),
    ("test_acc", "test acc", num("{:.4f}")),
]
GROUP_METRICS = (
    "test_acc",
    "effective_sparsity",
    "cascade_ratio",
    "control_ratio",
    "excess_cascade_ratio",
)


def _control_line(s: RunSummary) -> str:
    if s.role == "control":
        return "this is a control run (nothing pruned): cascade ratios are undefined"
    if s.control_found:
        return f"control: {s.control_id} (counted on this run's kept set)"
    if not s.control_id:
        return (
            "no control run recorded: the cascade ratio C is raw and NOT evidence that pruning "
            "caused the shedding (record a control: same retraining, no pruning)"
        )
    return (
        f"control {s.control_id!r} not found next to the run: C is raw and NOT evidence that "
        "pruning caused the shedding; put the control's file in the same directory"
    )


def _round_rows(s: RunSummary) -> list[dict[str, Any]]:
    excess = {x.round: x for x in s.excess}
    rows = []
    for r in s.rounds:
        x = excess.get(r.round)
        rows.append(
            {
                **r.to_dict(),
                "dead": (
                    f"{r.dead_channels_end}/{r.n_channels} "
                    f"({r.dead_by_gamma_end}/{r.dead_by_shed_end})"
                ),
                "norm_ratio": r.kept_norm_ratio,
                "control_ratio": x.control_ratio if x else None,
                "excess_cascade_ratio": x.excess_cascade_ratio if x else None,
                "control_shed_fraction_end": x.control_shed_fraction_end if x else None,
                "excess_dead_channels": x.excess_dead_channels if x else None,
            }
        )
    return rows


def _verdict(s: RunSummary) -> str:
    if s.role != "pruned":
        return ""
    return attribution(
        cascade_ratio=[s.cascade_ratio],
        excess_cascade_ratio=[s.excess_cascade_ratio],
        control_ratio=[s.control_ratio],
        control_shed_fraction=[s.control_shed_fraction],
    ).verdict


def _bad_lines(bad: Sequence[tuple[str, str]]) -> list[str]:
    """One block listing every skipped file by name with its reason ([] when none)."""
    if not bad:
        return []
    return [f"bad files ({len(bad)}, skipped):\n" + "\n".join(f"  {p}: {why}" for p, why in bad)]


def analyze_text(
    paths: PathsOrDir | Sequence[str | os.PathLike[str]],
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    as_json: bool = False,
    control: str | os.PathLike[str] | None = None,
    dead: DeadCut = DEFAULT_DEAD,
) -> str:
    """The cascade summary of every run (one table of rounds per run), or JSON.

    Args:
        paths: run files and/or directories of run files.
        rule, c: threshold rule and multiplier.
        as_json: return JSON (same fields) instead of tables.
        control: a control run file to use for every pruned run (default: each run's own
            ``control`` attribute, looked up among ``paths`` and in the run's directory).
        dead: the dead-channel cut-offs.

    Example:
        >>> out = analyze_text([run.path])
        >>> "C_excess" in out
        True
    """
    get_rule(rule)
    check_c(c)
    summaries, bad = summarize_runs(
        paths, rule=rule, c=c, revivals=True, control=control, dead=dead
    )
    if as_json:
        runs = []
        for s in summaries:
            d = s.to_dict()
            d["control_note"] = _control_line(s)
            d["verdict"] = _verdict(s)
            runs.append(d)
        doc = {
            "rule": rule,
            "c": c,
            "dead_cut": {"shed": dead.shed, "gamma": dead.gamma},
            "runs": runs,
            "bad_files": _bad_json(bad),
        }
        return json.dumps(_finite(doc), indent=2, allow_nan=False)
    blocks = []
    for s in summaries:
        head = (
            f"run {s.run_id or '(no id)'}  {s.path}  status={s.status}  "
            f"snapshots={s.n_snapshots}  rule={rule} c={c:g}"
        )
        lines = [head, _control_line(s)]
        if s.rounds:
            lines.append(format_table(_round_rows(s), ROUND_COLUMNS))
        else:
            lines.append("no prune round recorded")
        verdict = _verdict(s)
        if verdict:
            lines.append(f"verdict: {verdict}")
        blocks.append("\n".join(lines))
    blocks.extend(_bad_lines(bad))
    return "\n\n".join(blocks)


def _bad_json(bad: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"path": p, "reason": why} for p, why in bad]


def compare_text(
    paths: PathsOrDir | Sequence[str | os.PathLike[str]],
    *,
    by: Sequence[str] = ("prune.method", "retrain.protocol"),
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    as_json: bool = False,
) -> str:
    """The grouped comparison (means, 95% CIs over seeds, tests, verdicts), or JSON.

    Example:
        >>> out = compare_text([run_dir], by=["prune.method"])
        >>> "C_excess [95% CI]" in out
        True
    """
    get_rule(rule)
    check_c(c)
    cmp = compare(paths, by=by, rule=rule, c=c)
    if as_json:
        return json.dumps(_finite(cmp.to_dict()), indent=2, allow_nan=False)
    rows = []
    for gi, key in enumerate(cmp.groups):
        row: dict[str, Any] = dict(zip(cmp.by, key, strict=True))
        for m in GROUP_METRICS:
            st = cmp.stat(key, m)
            row[m] = (st.mean, st.ci_low, st.ci_high)
        row["n"] = cmp.stat(key, "test_acc").n
        row["n_control"] = cmp.attributions[gi].n_with_control
        rows.append(row)
    cols = [(k, k, text) for k in cmp.by] + [
        ("n", "n", num("{:d}")),
        ("n_control", "with control", num("{:d}")),
        ("test_acc", "test acc [95% CI]", ci("{:.4f}")),
        ("effective_sparsity", "eff.sparsity [95% CI]", ci("{:.3f}")),
        ("cascade_ratio", "C raw [95% CI]", ci()),
        ("control_ratio", "C_control [95% CI]", ci()),
        ("excess_cascade_ratio", "C_excess [95% CI]", ci()),
    ]
    out = [f"compare by {', '.join(cmp.by)}  rule={rule} c={c:g}  runs={len(cmp.runs)}"]
    out.append(format_table(rows, cols) if rows else "no pruned run to compare")
    for gi, key in enumerate(cmp.groups):
        out.append(f"{' / '.join(key)}: {cmp.attributions[gi].verdict}")
    if cmp.tests:
        tests = [
            {
                "metric": t.metric,
                "a": " / ".join(t.a),
                "b": " / ".join(t.b),
                "welch": t.test.welch_p,
                "mw": t.test.mannwhitney_p,
            }
            for t in cmp.tests
        ]
        out.append(
            "tests between groups (two-sided; Welch t-test = unequal variances, "
            "Mann-Whitney U = rank test):"
        )
        out.append(
            format_table(
                tests,
                [
                    ("metric", "metric", text),
                    ("a", "group a", text),
                    ("b", "group b", text),
                    ("welch", "Welch p", num("{:.4f}")),
                    ("mw", "Mann-Whitney p", num("{:.4f}")),
                ],
            )
        )
    out.extend(_bad_lines(cmp.bad))
    return "\n\n".join(out)


def _finite(x: Any) -> Any:
    """Replace non-finite floats (left in nested tuples) by None for strict JSON."""
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x
