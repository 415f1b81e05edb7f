"""Pure figure builders: numpy arrays in, a plotly Figure out.

No function here reads files, touches Dash or keeps state, so each is tested by calling
it with small arrays. Only SVG traces (``Scatter``, ``Heatmap``, ``Bar``) are used: a page
holds at most six figures and none needs WebGL, which keeps us far from the browser's
limit on WebGL contexts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

#: Colour of each weight fate in trajectory plots.
FATE_COLORS = {"kept": "#1f77b4", "shed": "#d62728", "revived": "#2ca02c", "pruned": "#9a9a9a"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
# A small template instead of "plotly_white": plotly embeds the whole template in every
# figure's JSON (~10 kB each) and validates it on every build; this one is ~0.5 kB.
_AXIS = {"gridcolor": "#e5e9f0", "linecolor": "#c8d0dc", "zerolinecolor": "#c8d0dc",
         "ticks": "", "automargin": True}
_TEMPLATE = go.layout.Template(
    layout={
        "paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(PALETTE),
        "font": {"color": "#2a3f5f"}, "xaxis": _AXIS, "yaxis": _AXIS,
        "hoverlabel": {"align": "left"},
    }
)
_BASE = {"template": _TEMPLATE, "margin": {"l": 60, "r": 20, "t": 40, "b": 45}}


@dataclass(frozen=True)
class Curve:
    """One line (optionally a band) to overlay: mean over ``n`` runs with lo/hi bounds.

    ``lo``/``hi`` None draws a plain line (one run); ``dash`` styles control curves.
    """

    label: str
    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    n: int = 1
    dash: str = "solid"
    color: str | None = None


def empty_figure(message: str, *, height: int = 300) -> go.Figure:
    """A blank figure that shows ``message`` (no data yet, unreadable file, ...)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(**_BASE, height=height, xaxis_visible=False, yaxis_visible=False)
    return fig


def _prune_marks(xs: Sequence[float]) -> dict[str, list[dict[str, Any]]]:
    """Layout shapes and labels: a dotted line over the full height at each prune event
    (x in the figure's own x units). Built as plain layout entries: ``add_vline`` costs
    ~30 ms per call, most of a callback's budget."""
    shapes, notes = [], []
    for k, x in enumerate(xs):
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": float(x),
                       "x1": float(x), "y0": 0, "y1": 1,
                       "line": {"dash": "dot", "color": "#555", "width": 1}})
        notes.append({"x": float(x), "y": 1.0, "xref": "x", "yref": "paper",
                      "text": f"prune {k + 1}", "showarrow": False, "yanchor": "bottom",
                      "font": {"size": 10, "color": "#555"}})
    return {"shapes": shapes, "annotations": notes}


#: (metric keys, y-axis title, domain) of the three stacked panels of the metrics figure.
_METRIC_ROWS = (
    (("train_acc", "test_acc"), "accuracy", (0.70, 1.0)),
    (("train_loss", "test_loss"), "loss", (0.36, 0.64)),
    (("lr",), "LR", (0.0, 0.28)),
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
    layout: dict[str, Any] = {**_BASE, "height": 520, "legend": {"orientation": "h", "y": -0.12},
                              "xaxis": {"title": {"text": "epoch"}, "anchor": "y3"}}
    for row, (keys, title, domain) in enumerate(_METRIC_ROWS, 1):
        axis = "y" if row == 1 else f"y{row}"
        for key in keys:
            if key in metrics and len(metrics[key]) == epoch.size:
                dash = "dot" if key.startswith("train") else "solid"
                traces.append(go.Scatter(x=epoch, y=np.asarray(metrics[key], dtype=float),
                                         name=key, line_dash=dash, xaxis="x", yaxis=axis))
        layout[f"yaxis{'' if row == 1 else row}"] = {"title": {"text": title}, "domain": domain,
                                                     "anchor": "x"}
    layout["yaxis3"].update(type="log", dtick=1)
    layout.update(_prune_marks(prune_epochs))
    return go.Figure(data=traces, layout=layout)


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
                line={"color": color, "dash": c.dash},
                legendgroup=c.label,
            )
        )
    if not curves:
        return empty_figure("nothing to show")
    fig.update_layout(_prune_marks(prune_epochs))
    fig.update_layout(
        **_BASE,
        height=360,
        title={"text": title, "font_size": 14},
        xaxis_title="epoch",
        yaxis={"title": "shed fraction of kept weights", "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def hist_heatmap(
    hist: np.ndarray,
    edges: np.ndarray,
    *,
    threshold: np.ndarray | None = None,
    epoch: np.ndarray | None = None,
    prune_snapshots: Sequence[int] = (),
    title: str = "",
) -> go.Figure:
    """Distribution of kept magnitudes: snapshot (x) by log10 magnitude bin (y).

    Args:
        hist: (S, B) counts of kept weights per magnitude bin.
        edges: (B + 1,) bin edges; a first edge of 0 makes the first bin "below edges[1]".
        threshold: (S,) shed threshold in force per snapshot, drawn as a line.
        epoch: (S,) epoch of each snapshot, shown on hover.
        prune_snapshots: Snapshot indices of prune events.
        title: Figure title.
    """
    hist = np.asarray(hist, dtype=float)
    if hist.ndim != 2 or hist.shape[0] == 0:
        return empty_figure("no snapshots yet")
    edges = np.asarray(edges, dtype=float)
    lo = edges[:-1].copy()
    step = np.log10(edges[2]) - np.log10(edges[1]) if edges.size > 2 else 1.0
    if lo[0] <= 0:  # the zero bin sits one step below the first log edge
        lo[0] = edges[1] / 10**step
    centres = (np.log10(lo) + np.log10(edges[1:])) / 2
    total = hist.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(total > 0, hist / np.maximum(total, 1), np.nan)
        z = np.where(frac > 0, np.log10(frac), np.nan)
    # Only the rows holding mass: a fixed 1e-8..10 range would squash the data.
    used = np.flatnonzero(np.nansum(hist, axis=0) > 0)
    if used.size:
        keep = slice(max(used[0] - 1, 0), min(used[-1] + 2, len(centres)))
        centres, z = centres[keep], z[:, keep]
    snaps = np.arange(hist.shape[0])
    ep = np.asarray(epoch if epoch is not None else snaps, dtype=float)
    fig = go.Figure(
        go.Heatmap(
            x=snaps,
            y=centres,
            z=z.T,
            colorscale="Viridis",
            zmin=-6,
            zmax=0,
            customdata=np.broadcast_to(ep, z.T.shape),
            colorbar={"title": "log10 share", "len": 0.9},
            hovertemplate="snapshot %{x} (epoch %{customdata:.2f})<br>log10|w| %{y:.2f}"
            "<br>log10 share %{z:.2f}<extra></extra>",
        )
    )
    if threshold is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ty = np.log10(np.asarray(threshold, dtype=float))
        fig.add_trace(
            go.Scatter(
                x=snaps,
                y=ty,
                name="shed threshold",
                mode="lines",
                line={"color": "#e11d48", "dash": "dash", "width": 2},
            )
        )
    fig.update_layout(_prune_marks([s - 0.5 for s in prune_snapshots]))
    fig.update_layout(
        **_BASE,
        height=360,
        title={"text": title, "font_size": 14},
        showlegend=False,
        xaxis_title="snapshot",
        yaxis_title="log10 |w| (kept weights)",
    )
    return fig


def flow_figure(
    epoch: np.ndarray, newly_shed: np.ndarray, revived: np.ndarray, *, title: str = ""
) -> go.Figure:
    """Weights newly shed (up) and revived (down) between consecutive snapshots."""
    x = np.arange(len(epoch))
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=np.asarray(newly_shed),
            name="newly shed",
            marker_color="#d62728",
            customdata=epoch,
            hovertemplate="snapshot %{x} (epoch %{customdata:.2f})"
            "<br>newly shed %{y}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=-np.asarray(revived),
            name="revived",
            marker_color="#2ca02c",
            customdata=np.stack([epoch, np.asarray(revived)], axis=-1),
            hovertemplate="snapshot %{x} (epoch %{customdata[0]:.2f})"
            "<br>revived %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(
        **_BASE,
        height=300,
        barmode="relative",
        title={"text": title, "font_size": 14},
        xaxis_title="snapshot",
        yaxis_title="weights (revived below 0)",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def channel_map(frac: np.ndarray, *, title: str = "", dead: float = 0.9) -> go.Figure:
    """Shed fraction per output channel (y) and snapshot (x).

    Args:
        frac: (S, C) fraction of each channel's kept weights that are shed; NaN where the
            channel keeps no weight (fully pruned).
        title: Figure title.
        dead: The dead-channel fraction, marked on the colour bar.
    """
    frac = np.asarray(frac, dtype=float)
    if frac.ndim != 2 or frac.size == 0:
        return empty_figure("no snapshots yet")
    fig = go.Figure(
        go.Heatmap(
            z=frac.T,
            x=np.arange(frac.shape[0]),
            y=np.arange(frac.shape[1]),
            zmin=0,
            zmax=1,
            colorscale="Reds",
            colorbar={"title": "shed", "tickformat": ".0%", "tickvals": [0, 0.5, dead, 1]},
            hovertemplate="snapshot %{x}<br>channel %{y}<br>shed %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        **_BASE,
        height=360,
        title={"text": title, "font_size": 14},
        xaxis_title="snapshot",
        yaxis_title="output channel",
    )
    return fig


def trajectories_figure(
    epoch: np.ndarray,
    values: np.ndarray,
    fates: Sequence[str],
    *,
    threshold: np.ndarray | None = None,
    title: str = "",
) -> go.Figure:
    """Sampled |weight| over epochs, one line per weight, coloured by its fate.

    Args:
        epoch: (S,) epoch of each snapshot.
        values: (S, K) signed effective weights of K sampled weights.
        fates: (K,) one of ``kept``, ``shed``, ``revived``, ``pruned`` per weight.
        threshold: (S,) shed threshold in force, drawn dashed.
        title: Figure title.
    """
    epoch = np.asarray(epoch, dtype=float)
    mag = np.abs(np.asarray(values, dtype=float))
    if mag.ndim != 2 or mag.shape[0] == 0:
        return empty_figure("no snapshots yet")
    mag[mag == 0] = np.nan  # pruned weights leave the log axis at their prune event
    fates = np.asarray(fates)
    fig = go.Figure()
    for fate, color in FATE_COLORS.items():
        cols = np.flatnonzero(fates == fate)
        if cols.size == 0:
            continue
        # One trace per fate, lines separated by NaN: 4 traces instead of K.
        xs = np.concatenate([np.append(epoch, np.nan)] * cols.size)
        ys = np.concatenate([np.append(mag[:, k], np.nan) for k in cols])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"{fate} ({cols.size})",
                line={"color": color, "width": 1},
                opacity=0.6,
                connectgaps=False,
            )
        )
    if threshold is not None:
        fig.add_trace(
            go.Scatter(
                x=epoch,
                y=threshold,
                name="shed threshold",
                mode="lines",
                line={"color": "black", "dash": "dash", "width": 2},
            )
        )
    fig.update_layout(
        **_BASE,
        height=360,
        title={"text": title, "font_size": 14},
        xaxis_title="epoch",
        yaxis={"title": "|w| (sampled weights)", "type": "log"},
        legend={"orientation": "h", "y": -0.2},
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
    fig.update_layout(
        **_BASE, height=120 + 60 * len(labels), title={"text": title, "font_size": 14}
    )
    fig.update_yaxes(autorange="reversed")
    return fig
