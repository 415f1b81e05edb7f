"""The figures of the toolkit: pure builders, numpy arrays in, a plotly Figure out.

One stack for every place a figure is shown: the dashboard draws these figures, the HTML
report draws them (through :mod:`shedding.analysis.figures`, which turns analysis results
into their arrays) and the study's markdown findings render them to static SVG with
:func:`to_svg`. No function here reads files, touches Dash or keeps state, and nothing
imports torch or :mod:`shedding.analysis`.

Only SVG traces (``Scatter``, ``Heatmap``, ``Bar``) are used: a dashboard page holds at
most six figures and none needs WebGL, which keeps it far from the browser's limit on
WebGL contexts, and within the custom plotly.js bundle the dashboard serves (scatter,
bar, heatmap; a test keeps it so).
"""

from shedding.figures.curves import METRIC_NAMES, metrics_figure, overlap_figure, shed_figure
from shedding.figures.layer import channel_map, flow_figure, hist_heatmap, trajectories_figure
from shedding.figures.static import diagonal_figure, interval_figure
from shedding.figures.style import (
    FATE_COLORS,
    FRACTION_FORMAT,
    PALETTE,
    Curve,
    empty_figure,
    time_axis,
)
from shedding.figures.svg import to_svg

__all__ = [
    "FATE_COLORS",
    "FRACTION_FORMAT",
    "METRIC_NAMES",
    "PALETTE",
    "Curve",
    "channel_map",
    "diagonal_figure",
    "empty_figure",
    "flow_figure",
    "hist_heatmap",
    "interval_figure",
    "metrics_figure",
    "overlap_figure",
    "shed_figure",
    "time_axis",
    "to_svg",
    "trajectories_figure",
]
