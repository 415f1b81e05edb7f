"""Line figures over epochs: training metrics, shed fraction (runs and bands), and the
overlap matrix of several runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from shedding.figures.style import (
    BASE,
    BASE_BELOW,
    FRACTION_FORMAT,
    PALETTE,
    Curve,
    empty_figure,
    prune_marks,
    title_layout,
)

#: Legend names of the logged metrics.
METRIC_NAMES = {
    "train_acc": "train accuracy",
    "test_acc": "test accuracy",
    "train_loss": "train loss",
    "test_loss": "test loss",
    "lr": "learning rate",
}

#: (metric keys, y-axis title, domain) of the three stacked panels of the metrics figure.
_METRIC_ROWS = (
    (("train_acc", "test_acc"), "accuracy", (0.70, 1.0)),
    (("train_loss", "test_loss"), "loss", (0.36, 0.64)),
    (("lr",), "learning rate", (0.0, 0.28)),
)


def metrics_figure(
    metrics: Mapping[str, np.ndarray], *, prune_epochs: Sequence[float] = ()
) -> go.Figure:
    """Accuracy, loss and learning rate per epoch, prune events as dotted lines.

    Args:
        metrics: ``epoch`` plus any of ``train_acc``, ``test_acc``, ``train_loss``,
            ``test_loss``, ``lr`` (equal-length 1-D arrays).
        prune_epochs: Epoch of every prune event.
    """
    epoch = np.asarray(metrics.get("epoch", []), dtype=float)
    if epoch.size == 0:
        return empty_figure("no metrics logged yet")
    traces = []
    layout: dict[str, Any] = {
        **BASE,
        "height": 520,
        "legend": {"orientation": "h", "y": -0.12},
        "xaxis": {"title": {"text": "epoch"}, "anchor": "y3"},
    }
    for row, (keys, title, domain) in enumerate(_METRIC_ROWS, 1):
        axis = "y" if row == 1 else f"y{row}"
        for key in keys:
            if key in metrics and len(metrics[key]) == epoch.size:
                dash = "dot" if key.startswith("train") else "solid"
                traces.append(
                    go.Scatter(
                        x=epoch,
                        y=np.asarray(metrics[key], dtype=float),
                        name=METRIC_NAMES.get(key, key),
                        line_dash=dash,
                        connectgaps=True,  # test metrics are NaN between evaluations
                        xaxis="x",
                        yaxis=axis,
                    )
                )
        layout[f"yaxis{'' if row == 1 else row}"] = {
            "title": {"text": title},
            "domain": domain,
            "anchor": "x",
        }
    layout["yaxis2"].update(_loss_range(metrics, epoch))
    layout["yaxis3"].update(type="log", dtick=1)
    layout.update(prune_marks(prune_epochs))
    return go.Figure(data=traces, layout=layout)


def _loss_range(metrics: Mapping[str, np.ndarray], epoch: np.ndarray) -> dict[str, Any]:
    """y range of the loss panel without the first epoch: its loss (often several times
    the rest) would flatten every curve after pruning; the line leaves the top instead."""
    later = epoch > epoch.min() if epoch.size > 1 else np.ones(epoch.size, bool)
    values = [
        np.asarray(metrics[k], dtype=float)[later]
        for k in ("train_loss", "test_loss")
        if k in metrics and len(metrics[k]) == epoch.size
    ]
    finite = np.concatenate(values) if values else np.zeros(0)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return {}
    return {
        "range": [0.0, float(finite.max()) * 1.08],
        "title": {"text": "loss (first epoch clipped)"},
    }


def shed_figure(
    curves: Sequence[Curve], *, title: str, prune_epochs: Sequence[float] = ()
) -> go.Figure:
    """Shed fraction against epoch: each curve a line, with a band when ``lo``/``hi`` exist.

    Args:
        curves: The runs (or run groups) to draw; controls usually ``dash="dash"``.
        title: Says the threshold rule and value.
        prune_epochs: Epochs of prune events to mark.
    """
    fig = go.Figure()
    for i, c in enumerate(curves):
        color = c.color or PALETTE[i % len(PALETTE)]
        x = np.asarray(c.x, dtype=float)
        if c.lo is not None and c.hi is not None and c.n > 1:
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([x, x[::-1]]),
                    y=np.concatenate([np.asarray(c.hi), np.asarray(c.lo)[::-1]]),
                    fill="toself",
                    fillcolor=color,
                    opacity=0.18,
                    line_width=0,
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=c.label,
                )
            )
        name = c.label if c.n <= 1 else f"{c.label} (n={c.n})"
        fig.add_trace(
            go.Scatter(
                x=x,
                y=c.y,
                name=name,
                mode="lines+markers",
                marker_size=4,
                hovertemplate=f"%{{y:.3~%}} at epoch %{{x:.3~f}}<extra>{name}</extra>",
                line={"color": color, "dash": c.dash},
                legendgroup=c.label,
            )
        )
    if not curves:
        return empty_figure("nothing to show")
    fig.update_layout(prune_marks(prune_epochs))
    fig.update_layout(
        **BASE_BELOW,
        height=360,
        title=title_layout(title),
        xaxis_title="epoch",
        yaxis={"title": "shed fraction of kept weights", "tickformat": FRACTION_FORMAT},
    )
    return fig


def overlap_figure(labels: Sequence[str], matrix: np.ndarray, *, title: str = "") -> go.Figure:
    """Pairwise Jaccard overlap of kept sets as an annotated heatmap."""
    m = np.asarray(matrix, dtype=float)
    if m.size == 0:
        return empty_figure("select at least two runs")
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=list(labels),
            y=list(labels),
            zmin=0,
            zmax=1,
            colorscale="Blues",
            texttemplate="%{z:.3f}",
            colorbar={"title": "Jaccard"},
            hovertemplate="%{y}<br>%{x}<br>Jaccard %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(**BASE, height=160 + 60 * len(labels), title=title_layout(title))
    fig.update_yaxes(autorange="reversed")
    return fig
