"""The verdict of a run or a group of seeds, in words and figures.

"Retraining shed X% of the kept weights (control: Y%); C = …, C_control = …,
C_excess = … [95% CI, n seeds]: attributable to pruning / not attributable / no control".
The call itself is :func:`shedding.analysis.controls.attribution`'s; this module only
gathers its inputs from the last prune round of each run and words the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dash import html

from dashboard.labels import EXPLAINER
from dashboard.views.common import fmt
from shedding.analysis.cascade import RoundSummary
from shedding.analysis.controls import Attribution, ExcessRound, attribution

NAN = float("nan")


@dataclass(frozen=True)
class RunFigures:
    """One run's last prune round: the verdict's inputs (NaN = no control figure)."""

    retrain_shed: float  # fraction of the kept weights shed during retraining
    control_shed: float  # the same for the control, on this run's kept set
    cascade_ratio: float
    control_ratio: float
    excess_cascade_ratio: float


def run_figures(raw: RoundSummary, excess: ExcessRound | None) -> RunFigures:
    """The verdict inputs of a run from its last round (``excess`` None: no control)."""
    kept = raw.kept or 0
    shed = (raw.shed_end - raw.shed_at_prune) / kept if kept else NAN
    if excess is None:
        return RunFigures(shed, NAN, raw.cascade_ratio, NAN, NAN)
    control = (excess.control_shed_end - excess.control_shed_at_prune) / kept if kept else NAN
    return RunFigures(
        shed, control, raw.cascade_ratio, excess.control_ratio, excess.excess_cascade_ratio
    )


def judge(runs: Sequence[RunFigures]) -> Attribution:
    """:func:`attribution` over the runs (one per seed)."""
    return attribution(
        cascade_ratio=[r.cascade_ratio for r in runs],
        excess_cascade_ratio=[r.excess_cascade_ratio for r in runs],
        control_ratio=[r.control_ratio for r in runs],
        control_shed_fraction=[r.control_shed for r in runs],
    )


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{max(x, 0.0) * 100:.2g}%" if x < 0.01 else f"{x:.1%}"


def verdict_word(a: Attribution) -> str:
    """``attributable to pruning``, ``not attributable to pruning`` or ``no control``."""
    if a.n_with_control == 0:
        return "no control"
    return "attributable to pruning" if a.attributable else "not attributable to pruning"


def verdict_line(runs: Sequence[RunFigures]) -> tuple[str, str, Attribution]:
    """(the figures sentence, the verdict word, the attribution) of a run or group."""
    a = judge(runs)
    finite = [r for r in runs if math.isfinite(r.retrain_shed)]
    shed = sum(r.retrain_shed for r in finite) / len(finite) if finite else NAN
    controlled = [r.control_shed for r in runs if math.isfinite(r.control_shed)]
    control = sum(controlled) / len(controlled) if controlled else NAN
    exc = a.excess_cascade_ratio
    if exc.n >= 2:
        interval = f" [95% CI {fmt(exc.ci_low, '.2f')}, {fmt(exc.ci_high, '.2f')}; {exc.n} seeds]"
    else:
        interval = f" [{exc.n} seed{'s' if exc.n != 1 else ''}: no interval]"
    text = (
        f"Retraining shed {_pct(shed)} of the kept weights (control: {_pct(control)}); "
        f"C = {fmt(a.cascade_ratio.mean, '.2f')}, C_control = {fmt(a.control_ratio.mean, '.2f')}, "
        f"C_excess = {fmt(exc.mean, '.2f')}{interval if a.n_with_control else ''}"
    )
    return text, verdict_word(a), a


def verdict_block(
    runs: Sequence[RunFigures], *, title: str = "", pending: bool = False
) -> html.Div:
    """The verdict as a box: the figures, the verdict badge and the analysis' sentence."""
    if not runs:
        return html.Div(html.P("No prune round recorded yet.", className="hint"))
    text, word, a = verdict_line(runs)
    if pending:
        word = "computing the control count…"
    css = {"attributable to pruning": "yes", "no control": "none"}.get(word, "no")
    return html.Div(
        [
            html.Span(title, className="verdict-title") if title else None,
            html.Span(f"{text}: "),
            html.Strong(word, className=f"verdict-word {css}"),
            html.Div(
                (a.verdict + ". " if not pending else "")
                + "Counted at the default rule (kept weight below 1% of its layer's RMS at the "
                "prune), whatever the threshold chosen for the figures.",
                className="hint",
            ),
        ],
        className="verdict",
        role="status",
    )


def explainer() -> html.Details:
    """ "What is cascade shedding?": the definitions, one click away."""
    return html.Details(
        [
            html.Summary("What is cascade shedding?"),
            html.Dl([x for term, text in EXPLAINER for x in (html.Dt(term), html.Dd(text))]),
        ],
        className="explainer",
    )
