"""Plotly figures of the analysis results for the HTML report: results in, figure out.

The plots the dashboard draws too (shed curves, the overlap matrix) are the builders of
:mod:`shedding.figures`, fed the arrays of the results here; the others are the report's
own. Controls are drawn as dashed reference curves in the colour of their run; runs
without a control are labelled so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from shedding import figures as shared
from shedding.analysis.compare import Comparison, RunSummary
from shedding.analysis.controls import ExcessCurve
from shedding.analysis.mechanism import Mechanism
from shedding.analysis.overlap import GmpOverlap, OverlapMatrix
from shedding.analysis.shed import ShedCurve
from shedding.figures.style import BASE_BELOW

PALETTE = shared.PALETTE


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def shed_curves_figure(
    curves: Sequence[tuple[str, ShedCurve, ExcessCurve | None]], *, title: str
) -> go.Figure:
    """Shed fraction vs epoch per run (solid) with its control on the same kept set
    (dashed, same colour): :func:`shedding.figures.shed_figure` of the global curves.

    Example:
        >>> fig = shed_curves_figure([("run", shed_curve(run), None)], title="shed")
        >>> len(fig.data)
        1
    """
    drawn = []
    for i, (label, curve, excess) in enumerate(curves):
        color = shared.PALETTE[i % len(shared.PALETTE)]
        name = label if excess is not None else f"{label} (no control)"
        drawn.append(shared.Curve(name, curve.epoch, curve.shed_fraction[:, 0], color=color))
        if excess is not None:
            control = excess.control
            drawn.append(
                shared.Curve(
                    f"{label}: control on its kept set",
                    control.epoch,
                    control.shed_fraction[:, 0],
                    dash="dash",
                    color=color,
                )
            )
    return shared.shed_figure(drawn, title=title)


def cascade_ratio_figure(summaries: Sequence[RunSummary]) -> go.Figure:
    """Raw cascade ratio, control ratio and excess ratio per pruned run; C = 1 marked.

    Example:
        >>> len(cascade_ratio_figure([summarize_run(run)]).data)
        3
    """
    runs = [s for s in summaries if s.role == "pruned"]
    names = [s.run_id + ("" if s.control_found else " (no control)") for s in runs]
    fig = go.Figure()
    for field, label in (
        ("cascade_ratio", "C raw"),
        ("control_ratio", "C control"),
        ("excess_cascade_ratio", "C excess"),
    ):
        fig.add_trace(go.Bar(x=names, y=[getattr(s, field) for s in runs], name=label))
    fig.add_hline(y=1.0, line_dash="dot", annotation_text="C = 1")
    fig.update_layout(
        **BASE_BELOW, barmode="group", title="Cascade ratio per run (raw, control, excess)"
    )
    return fig


def group_bars_figure(cmp: Comparison, metrics: Sequence[str], *, title: str) -> go.Figure:
    """Mean with 95% bootstrap interval of each metric per group (e.g. random vs GMP).

    Example:
        >>> cmp = compare_summaries([summarize_run(run)], by=["prune.method"])
        >>> len(group_bars_figure(cmp, ["cascade_ratio"], title="t").data)
        1
    """
    fig = go.Figure()
    labels = [" / ".join(k) for k in cmp.groups]
    for m in metrics:
        st = [cmp.stat(k, m) for k in cmp.groups]
        mean = np.array([s.mean for s in st])
        fig.add_trace(
            go.Bar(
                x=labels,
                y=mean,
                name=m,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": np.array([s.ci_high for s in st]) - mean,
                    "arrayminus": mean - np.array([s.ci_low for s in st]),
                },
                text=[f"n={s.n}" for s in st],
            )
        )
    fig.update_layout(**BASE_BELOW, barmode="group", title=title, xaxis_title=", ".join(cmp.by))
    return fig


def frontier_figure(cmp: Comparison) -> go.Figure:
    """Test accuracy vs sparsity (left) and vs effective sparsity (right), per group.

    Example:
        >>> cmp = compare_summaries([summarize_run(run)], by=["prune.method"])
        >>> len(frontier_figure(cmp).data)
        2
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("vs sparsity", "vs effective sparsity"))
    pts = cmp.frontier()
    for i, group in enumerate(dict.fromkeys(p["group"] for p in pts)):
        mine = [p for p in pts if p["group"] == group]
        for col, x in ((1, "sparsity"), (2, "effective_sparsity")):
            fig.add_trace(
                go.Scatter(
                    x=[p[x] for p in mine],
                    y=[p["test_acc"] for p in mine],
                    mode="markers",
                    name=group,
                    legendgroup=group,
                    showlegend=col == 1,
                    marker={"color": _color(i)},
                    text=[f"{p['run_id']} round {p['round']}" for p in mine],
                ),
                row=1,
                col=col,
            )
    fig.update_layout(**BASE_BELOW, title="Accuracy frontier", yaxis_title="test accuracy")
    return fig


def overlap_figure(matrix: OverlapMatrix, *, title: str) -> go.Figure:
    """Heatmap of pairwise Jaccard similarities (:func:`shedding.figures.overlap_figure`).

    Example:
        >>> len(overlap_figure(overlap_matrix([run, run]), title="t").data)
        1
    """
    return shared.overlap_figure(list(matrix.labels), matrix.jaccard, title=title)


def gmp_overlap_figure(overlaps: Sequence[GmpOverlap]) -> go.Figure:
    """Jaccard of each run's final effective kept set with GMP (dense / final weights).

    Example:
        >>> len(gmp_overlap_figure([gmp_overlap(run)]).data)
        2
    """
    names = [o.run_id for o in overlaps]
    fig = go.Figure(
        [
            go.Bar(x=names, y=[o.jaccard_dense for o in overlaps], name="GMP on dense weights"),
            go.Bar(x=names, y=[o.jaccard_final for o in overlaps], name="GMP on final weights"),
        ]
    )
    fig.update_layout(
        **BASE_BELOW,
        barmode="group",
        title="Overlap of the final effective kept set with GMP at the same sparsity",
        yaxis={"title": "Jaccard", "range": [0, 1]},
    )
    return fig


def mechanism_figure(mechs: Sequence[Mechanism]) -> go.Figure:
    """Per run: the kept-weight norm over all layers (left) and the mean effective step
    η / ‖w‖² of the BatchNorm-followed layers (right, log scale), against the epoch."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("kept-weight norm ‖m⊙w‖", "effective step η / ‖w‖² (BN layers)"),
    )
    for i, m in enumerate(mechs):
        snaps = range(len(m.epoch))
        color = _color(i)
        common = {"x": m.epoch, "mode": "lines", "line": {"color": color}, "name": m.run_id}
        fig.add_trace(
            go.Scatter(y=[m.total_norm(t) for t in snaps], legendgroup=m.run_id, **common),
            row=1,
            col=1,
        )
        steps = [m.mean_effective_step(t) for t in snaps]
        fig.add_trace(
            go.Scatter(y=steps, legendgroup=m.run_id, showlegend=False, **common), row=1, col=2
        )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(**{**BASE_BELOW, "margin": {**BASE_BELOW["margin"], "t": 40}}, height=380)
    return fig
