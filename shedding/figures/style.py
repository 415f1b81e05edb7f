"""The house look of the figures: palette, a small template, the placeholder figure, the
prune-event marks, and the :class:`Curve` record the line figures take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

#: The Okabe-Ito colours (distinguishable under the common colour-vision deficiencies),
#: yellow last: it reads poorly on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
#: Colour of each weight fate in trajectory plots (and shed/revived bars).
FATE_COLORS = {"kept": "#0072B2", "shed": "#D55E00", "revived": "#009E73", "pruned": "#999999"}
#: y-axis tick format of fractions: as many decimals as the ticks need ("0.05%", "12%"),
#: never "0% 0% 0%" for small values.
FRACTION_FORMAT = "~%"


def title_layout(text: str) -> dict[str, Any]:
    """A figure title, left-aligned (the toolbar sits at the top right)."""
    return {"text": text, "font_size": 14, "x": 0.01, "xanchor": "left", "xref": "container"}


# A small template instead of "plotly_white": plotly embeds the whole template in every
# figure's JSON (~10 kB each) and validates it on every build; this one is ~0.5 kB.
_AXIS = {
    "gridcolor": "#e5e9f0",
    "linecolor": "#c8d0dc",
    "zerolinecolor": "#c8d0dc",
    "ticks": "",
    "automargin": True,
}
_XAXIS = {**_AXIS, "zeroline": False}  # x is epoch or snapshot: no line at 0
_TEMPLATE = go.layout.Template(
    layout={
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(PALETTE),
        "font": {"color": "#2a3f5f"},
        "xaxis": _XAXIS,
        "yaxis": _AXIS,
        "hoverlabel": {"align": "left"},
    }
)
#: Legend below the plot, in the figure's bottom margin (never over the x-axis title).
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0}

BASE = {"template": _TEMPLATE, "margin": {"l": 60, "r": 20, "t": 40, "b": 45}}
#: BASE with the legend below the plot, in a taller bottom margin.
BASE_BELOW = {**BASE, "legend": LEGEND_BELOW, "margin": {**BASE["margin"], "b": 95}}


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
    fig.update_layout(**BASE, height=height, xaxis_visible=False, yaxis_visible=False)
    return fig


def time_axis(epoch: Sequence[float] | np.ndarray) -> np.ndarray:
    """Epochs as strictly increasing x positions: a snapshot recorded at the same epoch as
    the one before it (the one right after a prune) is drawn a hair (1e-3 epoch) later, so
    heatmap columns and bars keep one slot per snapshot on the shared epoch axis."""
    x = np.asarray(epoch, dtype=float).copy()
    for i in range(1, x.size):
        if x[i] <= x[i - 1]:
            x[i] = x[i - 1] + 1e-3
    return x


def prune_marks(xs: Sequence[float]) -> dict[str, list[dict[str, Any]]]:
    """Layout shapes and labels: a dotted line over the full height at each prune event
    (x in the figure's own x units). Built as plain layout entries: ``add_vline`` costs
    ~30 ms per call, most of a callback's budget."""
    shapes, notes = [], []
    for k, x in enumerate(xs):
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": float(x),
                "x1": float(x),
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": "#555", "width": 1},
            }
        )
        notes.append(
            {
                "x": float(x),
                "y": 1.0,
                "xref": "x",
                "yref": "paper",
                "text": f"prune {k + 1}",
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 10, "color": "#555"},
            }
        )
    return {"shapes": shapes, "annotations": notes}
