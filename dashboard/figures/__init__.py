"""Pure figure builders: numpy arrays in, a plotly Figure out.

No function here reads files, touches Dash or keeps state, so each is tested by calling
it with small arrays. Only SVG traces (``Scatter``, ``Heatmap``, ``Bar``) are used: a page
holds at most six figures and none needs WebGL, which keeps us far from the browser's
limit on WebGL contexts, and within the custom plotly.js bundle the app serves
(scatter, bar, heatmap; a test keeps it so).
"""

from dashboard.figures.base import FATE_COLORS, PALETTE, Curve, empty_figure, time_axis
from dashboard.figures.curves import metrics_figure, overlap_figure, shed_figure
from dashboard.figures.layer import channel_map, flow_figure, hist_heatmap, trajectories_figure

__all__ = [
    "FATE_COLORS",
    "PALETTE",
    "Curve",
    "channel_map",
    "empty_figure",
    "flow_figure",
    "hist_heatmap",
    "metrics_figure",
    "overlap_figure",
    "shed_figure",
    "time_axis",
    "trajectories_figure",
]
