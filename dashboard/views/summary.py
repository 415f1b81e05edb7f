"""Cascade summary of a run next to its control's, shared by two pages.

The raw numbers come from stored statistics at once; the excess over the control needs a
pass over the control's magnitudes, which runs on the store's background thread and is
shown once it lands (the live tick notices).
"""

from __future__ import annotations

import functools
from typing import Any

from dash import html

from dashboard.data import excess_job
from dashboard.labels import TOOLTIPS
from dashboard.store import RunStore
from dashboard.views.common import fmt
from dashboard.views.verdict import RunFigures, explainer, run_figures, verdict_block
from shedding.analysis.cascade import RoundSummary, cascade_summary
from shedding.analysis.controls import ExcessRound
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE


def excess_rounds(store: RunStore, rid: str) -> tuple[str, Any]:
    """State of the excess summary of ``rid`` against its control, at the default rule.

    Returns:
        ``("no control", None)`` when the file names none, ``("missing", control_run_id)``
        when it is not in the directory, ``("pending", None)``, ``("failed", reason)`` or
        ``("done", list[ExcessRound])``.
    """
    with store.open(rid) as run:  # one lock at a time: no lock-order deadlock
        version, control_id = run.version, run.control
    if not control_id:
        return "no control", None
    crid = store.find(control_id)
    rf, crf = store.catalog.get(rid), store.catalog.get(crid)
    if crid is None or rf is None or crf is None:
        return "missing", control_id
    cversion = store.poll(crid)
    job = functools.partial(excess_job, rf.path, crf.path, rule=DEFAULT_RULE, c=DEFAULT_C)
    return store.jobs.get(("excess", rid, version, crid, cversion), job, group=("excess", rid))


def run_verdict_figures(store: RunStore, rid: str) -> tuple[RunFigures | None, bool]:
    """(the verdict inputs of a pruned run's last round or None when it has no round or
    is a control, whether the control count is still pending)."""
    with store.open(rid) as run:
        rounds = run.memo("cascade", lambda: cascade_summary(run, revivals=False))
        is_control = run.config.get("prune", {}).get("sparsity") == 0
    if not rounds or is_control:
        return None, False
    state, value = excess_rounds(store, rid)
    last = rounds[-1]
    excess = next((x for x in value if x.round == last.round), None) if state == "done" else None
    return run_figures(last, excess), state == "pending"


#: Columns of the summary table, one row per prune round.
HEAD = [
    "round",
    "method",
    "pruned",
    "shed at prune",
    "shed at end",
    "C (raw)",
    "C control",
    "C excess",
    "onset (ep)",
    "half-time (ep)",
    "effective sparsity",
    "dead channels",
    "dead: γ / shed",
    "dead (excess)",
    "‖w‖ end / prune",
    "max η/‖w‖²",
    "test acc",
]


def summary_table(store: RunStore, rid: str) -> html.Div:
    """One row per prune round: raw cascade, control and excess side by side."""
    with store.open(rid) as run:
        rounds = run.memo("cascade", lambda: cascade_summary(run, revivals=False))
        is_control = run.config.get("prune", {}).get("sparsity") == 0
    if not rounds:
        return html.Div(html.P("No prune round recorded yet.", className="hint"))
    state, value = excess_rounds(store, rid)
    excess: dict[int, ExcessRound] = {x.round: x for x in value} if state == "done" else {}
    return html.Div(
        [
            _verdict(rounds, excess, is_control=is_control, pending=state == "pending"),
            explainer(),
            html.Table(
                [
                    html.Thead(
                        html.Tr([html.Th(h, title=TOOLTIPS.get(h), scope="col") for h in HEAD])
                    ),
                    html.Tbody(
                        [
                            html.Tr([html.Td(c) for c in round_cells(r, excess.get(r.round))])
                            for r in rounds
                        ]
                    ),
                ],
                className="summary",
            ),
            html.P(
                "Default rule: shed = kept weight below 1% of its layer's RMS at the prune. "
                + control_note(state, value, is_control=is_control),
                className="hint",
            ),
        ]
    )


def control_note(state: str, value: Any, *, is_control: bool) -> str:
    """What the table's control columns are, or why they are empty (``state`` and
    ``value`` as :func:`excess_rounds` returns them)."""
    if is_control:
        return "This run is a control (no pruning): C is undefined; its shedding is the baseline."
    if state == "no control":
        return (
            "No control run: the raw C cannot be attributed to pruning "
            "(retraining alone may shed as much)."
        )
    if state == "missing":
        return f"Control run {value!r} is not in this directory: excess unavailable."
    if state == "pending":
        return "Counting the control run on this run's kept set…"
    if state == "failed":
        return f"Control comparison failed: {value}"
    return "Control: the same retraining without pruning, counted on this run's kept set."


def _verdict(
    rounds: list[RoundSummary],
    excess: dict[int, ExcessRound],
    *,
    is_control: bool,
    pending: bool,
) -> html.Div:
    """The verdict box of the last round; a control run states its baseline instead."""
    last = rounds[-1]
    if not is_control:
        return verdict_block([run_figures(last, excess.get(last.round))], pending=pending)
    shed = (last.shed_end - last.shed_at_prune) / last.kept if last.kept else float("nan")
    return html.Div(
        f"Control run (no pruning): retraining alone shed {fmt(shed, '.2%')} of the "
        "weights; pruned runs are measured against this baseline.",
        className="verdict",
        role="status",
    )


def round_cells(r: RoundSummary, x: ExcessRound | None) -> list[Any]:
    """The table cells of one prune round (``x``: its excess over the control, if any)."""
    return [
        r.round,
        r.method or "—",
        f"{r.pruned:,}",
        f"{r.shed_at_prune:,}",
        f"{r.shed_end:,}",
        fmt(r.cascade_ratio),
        fmt(x.control_ratio) if x else "—",
        fmt(x.excess_cascade_ratio) if x else "—",
        fmt(r.onset_epochs, ".2f"),
        fmt(r.half_time_epochs, ".2f"),
        fmt(r.effective_sparsity, ".2%"),
        f"{r.dead_channels_end}/{r.n_channels}",
        f"{r.dead_by_gamma_end} / {r.dead_by_shed_end}",
        fmt(x.excess_dead_channels, ".0f") if x else "—",
        fmt(r.kept_norm_ratio, ".3f"),
        fmt(r.effective_step_peak, ".3g"),
        fmt(r.test_acc, ".4f"),
    ]
