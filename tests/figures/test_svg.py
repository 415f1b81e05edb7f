"""Static SVG of plotly figures: the study's two chart kinds are well-formed, draw one
marker per finite point and skip NaN; the renderer draws what it knows of plotly's model
and refuses trace types it cannot draw."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import plotly.graph_objects as go
import pytest

from shedding.figures import diagonal_figure, interval_figure, to_svg

NS = "{http://www.w3.org/2000/svg}"


def _root(fig: go.Figure) -> ET.Element:
    return ET.fromstring(to_svg(fig))


def test_lines_draw_a_marker_and_bar_per_finite_point():
    fig = interval_figure(
        "acc",
        ["10%", "50%", "90%"],
        {"gmp": [(0.99, 0.002), (0.98, 0.0), (math.nan, math.nan)], "random": [(0.9, 0.05)] * 3},
        xlabel="sparsity",
        ylabel="accuracy",
    )
    root = _root(fig)
    assert len(root.findall(f"{NS}circle")) == 2 + 3
    bars = [ln for ln in root.findall(f"{NS}line") if ln.get("x1") == ln.get("x2")]
    assert len(bars) == 1 + 3  # a zero half-width draws no bar
    assert [t.text for t in root.findall(f"{NS}text")].count("gmp") == 1


def test_scatter_has_the_diagonal_and_skips_nan():
    fig = diagonal_figure(
        "C",
        {"gmp": [(0.1, 0.12), (math.nan, 0.3)], "random": [(0.0, -0.01)]},
        xlabel="x",
        ylabel="y",
    )
    root = _root(fig)
    assert len(root.findall(f"{NS}circle")) == 2
    assert any(ln.get("stroke-dasharray") for ln in root.findall(f"{NS}line"))


def test_the_categories_stay_when_no_series_has_a_point():
    root = _root(interval_figure("t", ["10%", "90%"], {}, xlabel="x", ylabel="y"))
    texts = [t.text for t in root.findall(f"{NS}text")]
    assert "10%" in texts and "90%" in texts and not root.findall(f"{NS}circle")


def test_a_plain_plotly_figure_renders_lines_bars_dashes_and_its_title():
    fig = go.Figure(
        [
            go.Scatter(x=[0, 1, 2], y=[1, 3, 2], mode="lines", name="a", line_dash="dot"),
            go.Bar(x=[0, 1, 2], y=[2, -1, 1], name="b", marker_color="#123456"),
            go.Scatter(x=[0, 2], y=[0, 1], mode="markers", showlegend=False, name="hidden"),
        ],
        layout={"title": {"text": "mixed"}, "width": 400, "height": 300},
    )
    root = _root(fig)
    assert root.get("width") == "400" and root.get("height") == "300"
    texts = [t.text for t in root.findall(f"{NS}text")]
    assert texts.count("mixed") == 1 and "a" in texts and "b" in texts and "hidden" not in texts
    (line,) = root.findall(f"{NS}polyline")
    assert line.get("stroke-dasharray") and len(line.get("points").split()) == 3
    rects = [r for r in root.findall(f"{NS}rect") if r.get("fill") == "#123456"]
    assert len(rects) == 3 and len(root.findall(f"{NS}circle")) == 2
    # the negative bar hangs below the zero line: its top is where the others' bottoms are
    tops = sorted(float(r.get("y")) for r in rects)
    bottoms = sorted(float(r.get("y")) + float(r.get("height")) for r in rects)
    assert tops[-1] == pytest.approx(bottoms[0], abs=0.11)


def test_a_trace_it_cannot_draw_is_an_error():
    with pytest.raises(ValueError, match="heatmap"):
        to_svg(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
