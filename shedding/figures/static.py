"""The two chart kinds of the study's markdown findings, as plotly figures sized and
coloured for :func:`shedding.figures.svg.to_svg`: lines with error bars over categorical x,
and a scatter on equal axes with the y = x diagonal. Colours follow plotly's default
sequence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from shedding.figures.svg import COLOURS, HEIGHT, MARGIN, WIDTH, padded_range


def _layout(title: str, xlabel: str, ylabel: str) -> dict[str, Any]:
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "margin": dict(MARGIN),
        "title": {"text": title},
        "xaxis": {"title": {"text": xlabel}},
        "yaxis": {"title": {"text": ylabel}},
        "plot_bgcolor": "white",
    }


def interval_figure(
    title: str,
    xlabels: Sequence[str],
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    xlabel: str,
    ylabel: str,
) -> go.Figure:
    """One line per series over categorical x; each point is (mean, half-width of its
    interval), drawn as a marker with an error bar (NaN: left out).

    Example:
        >>> fig = interval_figure("acc", ["10%"], {"gmp": [(0.9, 0.01)]}, xlabel="", ylabel="")
        >>> fig.data[0].error_y.array
        (0.01,)
    """
    fig = go.Figure(layout=_layout(title, xlabel, ylabel))
    fig.update_layout(
        scattermode="group",
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": list(xlabels)},
    )
    for i, (name, pts) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=list(xlabels),
                y=[m for m, _ in pts],
                error_y={"type": "data", "array": [h for _, h in pts], "color": colour},
                mode="lines+markers",
                name=name,
                line={"color": colour, "width": 2},
                marker={"color": colour, "size": 6},
            )
        )
    return fig


def diagonal_figure(
    title: str,
    groups: Mapping[str, Sequence[tuple[float, float]]],
    *,
    xlabel: str,
    ylabel: str,
) -> go.Figure:
    """Points (x, y) per group on equal axes from 0 (or below), with the y = x diagonal.

    Example:
        >>> fig = diagonal_figure("C", {"gmp": [(0.1, 0.2)]}, xlabel="x", ylabel="y")
        >>> fig.layout.shapes[0].x0 == fig.layout.xaxis.range[0] == fig.layout.yaxis.range[0]
        True
    """
    values = [v for pts in groups.values() for p in pts for v in p if math.isfinite(v)]
    lo, hi = padded_range(values or [0.0, 1.0])
    lo = min(lo, 0.0)
    diagonal = {"color": "#888", "dash": "dash", "width": 1}
    fig = go.Figure(layout=_layout(title, xlabel, ylabel))
    fig.update_layout(
        xaxis_range=[lo, hi],
        yaxis_range=[lo, hi],
        shapes=[
            {
                "type": "line",
                "xref": "x",
                "yref": "y",
                "x0": lo,
                "y0": lo,
                "x1": hi,
                "y1": hi,
                "line": diagonal,
            }
        ],
    )
    for i, (name, pts) in enumerate(groups.items()):
        colour = COLOURS[i % len(COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in pts],
                y=[y for _, y in pts],
                mode="markers",
                name=name,
                marker={"color": colour, "size": 6, "opacity": 0.7},
            )
        )
    return fig
