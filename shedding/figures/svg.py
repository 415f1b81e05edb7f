"""Static SVG of a plotly figure, without a browser, kaleido or JavaScript.

Enough of plotly's figure model for the charts of a markdown report: ``Scatter`` traces
(lines, markers, symmetric or asymmetric ``error_y`` bars) and grouped ``Bar`` traces over
one x axis, categorical or numeric; line shapes in data coordinates; the title, the axis
titles and the legend, drawn on the right. Sizes come from ``layout.width``/``height`` and
``layout.margin``, axis ranges from ``layout.xaxis.range``/``yaxis.range`` or the data
(padded by 8%). ``layout.scattermode == "group"`` dodges the points of the scatter traces
on a categorical axis 4 px apart, so their error bars do not overlap. Anything else
(subplots, heatmaps, annotations, templates, hover text) is not drawn; a trace of another
type is an error rather than a silently wrong picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import plotly.graph_objects as go

#: Plotly's default colour sequence, for traces that name no colour.
COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")
#: stroke-dasharray of plotly's named dash styles.
DASHES = {"dash": "4 3", "dot": "1 3", "dashdot": "4 3 1 3", "longdash": "8 3"}
WIDTH, HEIGHT = 560, 340
MARGIN = {"l": 64, "r": 150, "t": 30, "b": 48}
DODGE_PX = 4


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (steps of 1, 2, 2.5 or 5 × 10^k) from ``lo`` to ``hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def padded_range(values: Sequence[float]) -> tuple[float, float]:
    """(lo, hi) of the finite ``values`` padded by 8% of their span; (0, 1) if none."""
    v = [x for x in values if _finite(x)]
    if not v:
        return 0.0, 1.0
    lo, hi = min(v), max(v)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 0.05
    return lo - pad, hi + pad


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


@dataclass(frozen=True)
class _Plot:
    """Geometry of the plot area and the data-to-pixel maps of its two axes."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    categories: tuple[str, ...] | None  # None: numeric x

    @property
    def pw(self) -> int:
        return self.width - self.left - self.right

    @property
    def ph(self) -> int:
        return self.height - self.top - self.bottom

    def x(self, v: Any) -> float:
        """Pixel x of a data value (a category's centre on a categorical axis)."""
        if self.categories is not None:
            n = max(len(self.categories), 1)
            return self.left + self.pw * (self.categories.index(v) + 0.5) / n
        lo, hi = self.x_range
        return self.left + self.pw * (v - lo) / (hi - lo)

    def y(self, v: float) -> float:
        lo, hi = self.y_range
        return self.top + self.ph * (1 - (v - lo) / (hi - lo))


def to_svg(fig: go.Figure) -> str:
    """The figure as SVG text (see the module docstring for what is drawn).

    Example:
        >>> fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="a"))
        >>> to_svg(fig).startswith("<svg")
        True
    """
    traces = list(fig.data)
    other = sorted({t.type for t in traces} - {"scatter", "bar"})
    if other:
        raise ValueError(f"to_svg draws scatter and bar traces only, not {', '.join(other)}")
    plot = _plot(fig.layout, traces)
    out = _frame(fig.layout, plot)
    out += _x_labels(plot)
    out += [_shape(s, plot) for s in fig.layout.shapes if s.type == "line"]
    scatters = [t for t in traces if t.type == "scatter"]
    bars = [t for t in traces if t.type == "bar"]
    for i, t in enumerate(traces):
        colour = _colour(t, i)
        if t.type == "bar":
            out += _bar(t, bars.index(t), len(bars), colour, plot)
        else:
            dodge = plot.categories is not None and fig.layout.scattermode == "group"
            k = scatters.index(t)
            dx = (k - (len(scatters) - 1) / 2) * DODGE_PX if dodge else 0.0
            out += _scatter(t, dx, colour, plot)
    out += _legend([(t.name, _colour(t, i)) for i, t in enumerate(traces) if _in_legend(t)], plot)
    out.append("</svg>")
    return "\n".join(out)


def _plot(layout: Any, traces: list[Any]) -> _Plot:
    margin = {k: getattr(layout.margin, k) for k in MARGIN}
    categories = _categories(layout.xaxis, traces)
    y_lo, y_hi = layout.yaxis.range or padded_range(_y_extent(traces))
    x_lo, x_hi = 0.0, 1.0
    if categories is None:
        xs = [v for t in traces for v in (t.x or ())]
        x_lo, x_hi = layout.xaxis.range or padded_range(xs)
    return _Plot(
        width=layout.width or WIDTH,
        height=layout.height or HEIGHT,
        left=MARGIN["l"] if margin["l"] is None else margin["l"],
        right=MARGIN["r"] if margin["r"] is None else margin["r"],
        top=MARGIN["t"] if margin["t"] is None else margin["t"],
        bottom=MARGIN["b"] if margin["b"] is None else margin["b"],
        x_range=(float(x_lo), float(x_hi)),
        y_range=(float(y_lo), float(y_hi)),
        categories=categories,
    )


def _categories(xaxis: Any, traces: list[Any]) -> tuple[str, ...] | None:
    """The categories of a categorical x axis in drawing order, None for a numeric one."""
    if xaxis.type == "category" and xaxis.categoryarray is not None:
        return tuple(str(c) for c in xaxis.categoryarray)
    xs = [v for t in traces for v in (t.x or ())]
    if xaxis.type == "category" or any(isinstance(v, str) for v in xs):
        return tuple(dict.fromkeys(str(v) for v in xs))
    return None


def _errors(t: Any) -> tuple[list[float], list[float]]:
    """(below, above) error bar lengths per point (NaN where none)."""
    e = t.error_y
    n = len(t.y or ())
    if e is None or e.visible is False or e.array is None:
        return [math.nan] * n, [math.nan] * n
    above = [float(v) if _finite(v) else math.nan for v in e.array]
    below = above if e.symmetric is not False or e.arrayminus is None else list(e.arrayminus)
    return list(below), above


def _y_extent(traces: list[Any]) -> list[float]:
    values: list[float] = []
    for t in traces:
        ys = [float(v) if _finite(v) else math.nan for v in (t.y or ())]
        below, above = _errors(t)
        values += ys + [m - b for m, b in zip(ys, below, strict=False) if _finite(b)]
        values += [m + a for m, a in zip(ys, above, strict=False) if _finite(a)]
        if t.type == "bar":
            values.append(0.0)
    return values


def _text(title: Any) -> str:
    return "" if title is None or title.text is None else str(title.text)


def _frame(layout: Any, p: _Plot) -> list[str]:
    """Canvas, title, plot box, axis titles and the y ticks with their grid lines."""
    title, xlabel, ylabel = (
        _text(layout.title),
        _text(layout.xaxis.title),
        _text(layout.yaxis.title),
    )
    w, h, pw, ph = p.width, p.height, p.pw, p.ph
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{p.left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{p.left}" y="{p.top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
        f'<text x="{p.left + pw / 2}" y="{h - 10}" text-anchor="middle">{escape(xlabel)}</text>',
        f'<text transform="translate(14,{p.top + ph / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(ylabel)}</text>',
    ]
    for t in ticks(*p.y_range):
        y = p.y(t)
        out += [
            f'<line x1="{p.left}" x2="{p.left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>',
            f'<text x="{p.left - 4}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>',
        ]
    return out


def _x_labels(p: _Plot) -> list[str]:
    """The category names, or the numeric ticks, under the plot box."""
    below = p.top + p.ph + 16
    if p.categories is not None:
        marks: list[tuple[float, str]] = [(p.x(c), c) for c in p.categories]
    else:
        marks = [(p.x(t), f"{t:g}") for t in ticks(*p.x_range)]
    return [
        f'<text x="{x:.1f}" y="{below}" text-anchor="middle">{escape(text)}</text>'
        for x, text in marks
    ]


def _dash(style: Any) -> str:
    dash = DASHES.get(style) if isinstance(style, str) else None
    return f' stroke-dasharray="{dash}"' if dash else ""


def _shape(s: Any, p: _Plot) -> str:
    """A line shape in data coordinates (both references the axes)."""
    width = s.line.width
    extra = f' stroke-width="{width:g}"' if width is not None and width != 1 else ""
    return (
        f'<line x1="{p.x(s.x0):.1f}" y1="{p.y(s.y0):.1f}" x2="{p.x(s.x1):.1f}" '
        f'y2="{p.y(s.y1):.1f}" stroke="{s.line.color or "#444"}"{_dash(s.line.dash)}{extra}/>'
    )


def _colour(t: Any, i: int) -> str:
    colour = t.marker.color if isinstance(t.marker.color, str) else None
    if t.type == "scatter" and isinstance(t.line.color, str):
        colour = colour or t.line.color
    return colour or COLOURS[i % len(COLOURS)]


def _points(t: Any, p: _Plot) -> list[tuple[Any, float, float, float]]:
    """(x, y, error below, error above) of the points drawn: y (and a numeric x) finite."""
    below, above = _errors(t)
    out = []
    for j, (x, y) in enumerate(zip(t.x or (), t.y or (), strict=False)):
        if not _finite(y) or (p.categories is None and not _finite(x)):
            continue
        if p.categories is not None and str(x) not in p.categories:
            continue
        out.append((x if p.categories is None else str(x), float(y), below[j], above[j]))
    return out


def _error_bar(x: float, y: float, below: float, above: float, colour: str, p: _Plot) -> str:
    lo = y - below if _finite(below) else y
    hi = y + above if _finite(above) else y
    return (
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{p.y(lo):.1f}" y2="{p.y(hi):.1f}" stroke="{colour}"/>'
    )


def _scatter(t: Any, dx: float, colour: str, p: _Plot) -> list[str]:
    """A scatter trace: its line through the points, then a marker (with its error bar)
    per point."""
    mode = t.mode or "lines+markers"
    pts = _points(t, p)
    out = []
    if "lines" in mode and len(pts) > 1:
        path = " ".join(f"{p.x(x) + dx:.1f},{p.y(y):.1f}" for x, y, _, _ in pts)
        width = t.line.width if t.line.width is not None else 2
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="{width:g}"{_dash(t.line.dash)}/>'
        )
    if "markers" not in mode:
        return out
    r = (t.marker.size if isinstance(t.marker.size, int | float) else 6) / 2
    opacity = t.marker.opacity if isinstance(t.marker.opacity, int | float) else None
    fill = f' fill-opacity="{opacity:g}"' if opacity is not None and opacity < 1 else ""
    for x, y, below, above in pts:
        cx = p.x(x) + dx
        if (_finite(below) and below > 0) or (_finite(above) and above > 0):
            out.append(_error_bar(cx, y, below, above, colour, p))
        out.append(f'<circle cx="{cx:.1f}" cy="{p.y(y):.1f}" r="{r:g}" fill="{colour}"{fill}/>')
    return out


def _bar(t: Any, k: int, n: int, colour: str, p: _Plot) -> list[str]:
    """Bar ``k`` of ``n`` grouped traces: a rectangle from 0 per point."""
    slot = p.pw / max(len(p.categories), 1) if p.categories is not None else p.pw / 10
    width = slot * 0.8 / max(n, 1)
    zero = p.y(min(max(0.0, p.y_range[0]), p.y_range[1]))
    out = []
    for x, y, below, above in _points(t, p):
        left = p.x(x) - slot * 0.4 + k * width
        top, bottom = sorted((p.y(y), zero))
        out.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{bottom - top:.1f}" fill="{colour}"/>'
        )
        if (_finite(below) and below > 0) or (_finite(above) and above > 0):
            out.append(_error_bar(left + width / 2, y, below, above, "#444", p))
    return out


def _in_legend(t: Any) -> bool:
    return t.showlegend is not False and bool(t.name)


def _legend(entries: list[tuple[str, str]], p: _Plot) -> list[str]:
    x = p.width - p.right + 10
    out = []
    for i, (name, colour) in enumerate(entries):
        y = p.top + 14 + 16 * i
        out += [
            f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{colour}" stroke-width="2"/>',
            f'<text x="{x + 20}" y="{y}">{escape(name)}</text>',
        ]
    return out
