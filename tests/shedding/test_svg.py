"""The study's static SVG charts: well-formed, one marker per finite point, NaN skipped."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from shedding import svg

NS = "{http://www.w3.org/2000/svg}"


def test_lines_draw_a_marker_and_bar_per_finite_point():
    text = svg.lines(
        "acc",
        ["10%", "50%", "90%"],
        {"gmp": [(0.99, 0.002), (0.98, 0.0), (math.nan, math.nan)], "random": [(0.9, 0.05)] * 3},
        xlabel="sparsity",
        ylabel="accuracy",
    )
    root = ET.fromstring(text)
    assert len(root.findall(f"{NS}circle")) == 2 + 3
    bars = [ln for ln in root.findall(f"{NS}line") if ln.get("x1") == ln.get("x2")]
    assert len(bars) == 1 + 3  # a zero half-width draws no bar
    assert [t.text for t in root.findall(f"{NS}text")].count("gmp") == 1


def test_scatter_has_the_diagonal_and_skips_nan():
    text = svg.scatter(
        "C",
        {"gmp": [(0.1, 0.12), (math.nan, 0.3)], "random": [(0.0, -0.01)]},
        xlabel="x",
        ylabel="y",
    )
    root = ET.fromstring(text)
    assert len(root.findall(f"{NS}circle")) == 2
    assert any(ln.get("stroke-dasharray") for ln in root.findall(f"{NS}line"))
