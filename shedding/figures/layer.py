"""Figures inside one layer: magnitude distribution, newly shed/revived counts, channel
map and sampled weight trajectories, all over epochs with the prune events marked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from shedding.figures.style import (
    BASE,
    BASE_BELOW,
    FATE_COLORS,
    empty_figure,
    prune_marks,
    time_axis,
    title_layout,
)


def hist_heatmap(
    hist: np.ndarray,
    edges: np.ndarray,
    *,
    threshold: np.ndarray | None = None,
    epoch: np.ndarray | None = None,
    prune_epochs: Sequence[float] = (),
    title: str = "",
) -> go.Figure:
    """Distribution of kept magnitudes: epoch (x, one column per snapshot) by log10
    magnitude bin (y).

    Args:
        hist: (S, B) counts of kept weights per magnitude bin.
        edges: (B + 1,) bin edges; a first edge of 0 makes the first bin "below edges[1]".
        threshold: (S,) shed threshold in force per snapshot, drawn as a line.
        epoch: (S,) epoch of each snapshot (default: the snapshot index).
        prune_epochs: Epochs of prune events.
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
    x = time_axis(epoch if epoch is not None else snaps)
    fig = go.Figure(
        go.Heatmap(
            x=x,
            y=centres,
            z=z.T.astype(np.float32),  # float32 halves the JSON (base64 typed arrays)
            colorscale="Viridis",
            zmin=-6,
            zmax=0,
            customdata=np.broadcast_to(snaps.astype(np.float32), z.T.shape),
            colorbar={"title": "log10 share", "len": 0.9},
            hovertemplate="epoch %{x:.2f} (snapshot %{customdata})<br>log10|w| %{y:.2f}"
            "<br>log10 share %{z:.2f}<extra></extra>",
        )
    )
    if threshold is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ty = np.log10(np.asarray(threshold, dtype=float))
        fig.add_trace(_threshold_line(x, ty, "#D55E00"))
    fig.update_layout(prune_marks(prune_epochs))
    fig.update_layout(
        **BASE,
        height=360,
        title=title_layout(title),
        showlegend=False,
        xaxis_title="epoch",
        yaxis_title="log10 |w| (kept weights)",
    )
    return fig


def _threshold_line(x: np.ndarray, y: np.ndarray, color: str) -> go.Scatter:
    """The shed threshold in force per snapshot, dashed."""
    return go.Scatter(
        x=x,
        y=y,
        name="shed threshold",
        mode="lines",
        line={"color": color, "dash": "dash", "width": 2},
    )


def flow_figure(
    epoch: np.ndarray,
    newly_shed: np.ndarray,
    revived: np.ndarray,
    *,
    title: str = "",
    prune_epochs: Sequence[float] = (),
) -> go.Figure:
    """Weights newly shed (up) and revived (down) since the snapshot before, per epoch."""
    x = time_axis(epoch)
    gaps = np.diff(x)
    width = float(np.median(gaps[gaps > 0.01])) * 0.8 if (gaps > 0.01).any() else 0.8
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=np.asarray(newly_shed),
            name="newly shed",
            marker_color=FATE_COLORS["shed"],
            width=width,
            hovertemplate="epoch %{x:.2f}<br>newly shed %{y}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=-np.asarray(revived),
            name="revived",
            marker_color=FATE_COLORS["revived"],
            width=width,
            customdata=np.asarray(revived),
            hovertemplate="epoch %{x:.2f}<br>revived %{customdata}<extra></extra>",
        )
    )
    fig.update_layout(prune_marks(prune_epochs))
    fig.update_layout(
        **BASE_BELOW,
        height=360,
        barmode="relative",
        title=title_layout(title),
        xaxis_title="epoch",
        yaxis_title="weights (revived below 0)",
    )
    return fig


def channel_map(
    frac: np.ndarray,
    *,
    epoch: np.ndarray | None = None,
    prune_epochs: Sequence[float] = (),
    title: str = "",
    dead: float = 0.9,
) -> go.Figure:
    """Shed fraction per output channel (y) over epochs (x, one column per snapshot).

    Args:
        frac: (S, C) fraction of each channel's kept weights that are shed; NaN where the
            channel keeps no weight (fully pruned).
        epoch: (S,) epoch of each snapshot (default: the snapshot index).
        prune_epochs: Epochs of prune events.
        title: Figure title.
        dead: The dead-channel fraction, marked on the colour bar.
    """
    frac = np.asarray(frac, dtype=float)
    if frac.ndim != 2 or frac.size == 0:
        return empty_figure("no snapshots yet")
    fig = go.Figure(
        go.Heatmap(
            z=frac.T.astype(np.float32),
            x=time_axis(epoch if epoch is not None else np.arange(frac.shape[0])),
            y=np.arange(frac.shape[1]),
            zmin=0,
            zmax=1,
            colorscale="Cividis",
            reversescale=True,
            colorbar={"title": "shed", "tickformat": ".0%", "tickvals": [0, 0.5, dead, 1]},
            hovertemplate="epoch %{x:.2f}<br>channel %{y}<br>shed %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(prune_marks(prune_epochs))
    fig.update_layout(
        **BASE,
        height=360,
        title=title_layout(title),
        xaxis_title="epoch",
        yaxis_title="output channel",
    )
    return fig


FLOOR = 1e-9  # trajectories: smaller magnitudes are drawn at this floor


def trajectories_figure(
    epoch: np.ndarray,
    values: np.ndarray,
    fates: Sequence[str] | np.ndarray,
    *,
    threshold: np.ndarray | None = None,
    prune_epochs: Sequence[float] = (),
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
    # Anything below FLOOR is "zero" for this picture (and for the stored histogram's
    # zero bin); drawing float32 denormals would stretch the axis over 30 decades.
    mag = np.maximum(mag, FLOOR)
    fate_of = np.asarray(fates)
    fig = go.Figure()
    for fate, color in FATE_COLORS.items():
        cols = np.flatnonzero(fate_of == fate)
        if cols.size == 0:
            continue
        # One trace per fate, lines separated by NaN: 4 traces instead of K.
        # float32: (S + 1) * K points per axis, the largest payload of the run page
        xs = np.concatenate([np.append(epoch, np.nan)] * cols.size).astype(np.float32)
        ys = np.concatenate([np.append(mag[:, k], np.nan) for k in cols]).astype(np.float32)
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
        fig.add_trace(_threshold_line(epoch, threshold, "black"))
    fig.update_layout(prune_marks(prune_epochs))
    fig.update_layout(
        **BASE_BELOW,
        height=360,
        title=title_layout(title),
        xaxis_title="epoch",
        yaxis={"title": f"|w| (sampled; < {FLOOR:.0e} drawn at it)", "type": "log"},
    )
    return fig
