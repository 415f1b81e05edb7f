"""The graphs of the pages: one toolbar config and a labelled ``figure`` element each."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard import ids
from dashboard.views.common import attrs

#: No cloud sharing (the app runs offline) and only the tools that help reading a plot.
GRAPH_CONFIG: Any = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "showLink": False,
    "modeBarButtonsToRemove": [
        "sendDataToCloud",
        "editInChartStudio",
        "lasso2d",
        "select2d",
        "toggleSpikelines",
        "hoverClosestCartesian",
        "hoverCompareCartesian",
    ],
}


#: What each graph shows, for screen readers (the graph's aria label).
GRAPH_LABELS = {
    ids.RUN_SHED: "Shed fraction of the kept weights over epochs, this run and its control",
    ids.RUN_FLOW: "Weights newly shed and revived per snapshot, over epochs",
    ids.RUN_METRICS: "Accuracy, loss and learning rate over epochs",
    ids.RUN_HIST: "Distribution of kept weight magnitudes over epochs, one layer",
    ids.RUN_CHANNELS: "Shed fraction per output channel over epochs, one layer",
    ids.RUN_TRAJ: "Magnitudes of sampled weights over epochs, coloured by their fate",
    ids.CMP_SHED: "Shed fraction over epochs of the compared runs and their controls",
    ids.CMP_ACC: "Test accuracy over epochs of the compared runs",
    ids.CMP_OVERLAP: "Pairwise overlap of the compared runs' kept sets",
}


def graph(gid: str, figure: Any = None) -> html.Figure:
    """A dcc.Graph in a labelled ``figure`` element (its aria label says what it shows)."""
    extra = {} if figure is None else {"figure": figure}
    return html.Figure(
        dcc.Graph(id=gid, config=GRAPH_CONFIG, className="graph", **extra),
        role="img",
        className="graph-box",
        **attrs(aria_label=GRAPH_LABELS.get(gid, "plot")),
    )
