"""Minimal static SVG charts for markdown reports (no browser, no kaleido, no JS).

Two kinds, enough for the study's figures: lines with error bars over categorical x, and
a scatter with the y = x diagonal. Colours follow plotly's default sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")
W, H = 560, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 30, 48


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _frame(title: str, xlabel: str, ylabel: str, ylo: float, yhi: float) -> list[str]:
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
        f'<text x="{LEFT + pw / 2}" y="{H - 10}" text-anchor="middle">{escape(xlabel)}</text>',
        f'<text transform="translate(14,{TOP + ph / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(ylabel)}</text>',
    ]
    for t in _ticks(ylo, yhi):
        y = TOP + ph * (1 - (t - ylo) / (yhi - ylo))
        out += [
            f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>',
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>',
        ]
    return out


def _legend(names: Sequence[str]) -> list[str]:
    x = W - RIGHT + 10
    out = []
    for i, name in enumerate(names):
        y = TOP + 14 + 16 * i
        c = COLOURS[i % len(COLOURS)]
        out += [
            f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{c}" stroke-width="2"/>',
            f'<text x="{x + 20}" y="{y}">{escape(name)}</text>',
        ]
    return out


def _yrange(values: Sequence[float]) -> tuple[float, float]:
    v = [x for x in values if math.isfinite(x)]
    if not v:
        return 0.0, 1.0
    lo, hi = min(v), max(v)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 0.05
    return lo - pad, hi + pad


def lines(
    title: str,
    xlabels: Sequence[str],
    series: dict[str, Sequence[tuple[float, float]]],
    *,
    xlabel: str,
    ylabel: str,
) -> str:
    """One line per series over categorical x; each point is (mean, half-width of its
    interval), drawn as a marker with an error bar (NaN: skipped)."""
    points = [p for pts in series.values() for p in pts]
    allv = [m + s * h for m, h in points for s in (-1, 1) if math.isfinite(h)]
    allv += [m for m, _ in points]
    ylo, yhi = _yrange(allv)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(xlabels), 1)
    xs = [LEFT + pw * (i + 0.5) / n for i in range(n)]
    ypos = lambda v: TOP + ph * (1 - (v - ylo) / (yhi - ylo))  # noqa: E731
    out = _frame(title, xlabel, ylabel, ylo, yhi)
    out += [
        f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle">{escape(lab)}</text>'
        for x, lab in zip(xs, xlabels, strict=True)
    ]
    for i, (_name, pts) in enumerate(series.items()):
        c = COLOURS[i % len(COLOURS)]
        dx = (i - (len(series) - 1) / 2) * 4  # small dodge so bars do not overlap
        path = [
            f"{xs[j] + dx:.1f},{ypos(m):.1f}" for j, (m, _) in enumerate(pts) if math.isfinite(m)
        ]
        if len(path) > 1:
            out.append(
                f'<polyline points="{" ".join(path)}" fill="none" stroke="{c}" stroke-width="2"/>'
            )
        for j, (m, h) in enumerate(pts):
            if not math.isfinite(m):
                continue
            x = xs[j] + dx
            if math.isfinite(h) and h > 0:
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{ypos(m - h):.1f}" '
                    f'y2="{ypos(m + h):.1f}" stroke="{c}"/>'
                )
            out.append(f'<circle cx="{x:.1f}" cy="{ypos(m):.1f}" r="3" fill="{c}"/>')
    out += _legend(list(series))
    out.append("</svg>")
    return "\n".join(out)


def scatter(
    title: str,
    groups: dict[str, Sequence[tuple[float, float]]],
    *,
    xlabel: str,
    ylabel: str,
) -> str:
    """Points (x, y) per group on equal axes, with the y = x diagonal."""
    vals = [v for pts in groups.values() for p in pts for v in p if math.isfinite(v)]
    lo, hi = _yrange(vals or [0.0, 1.0])
    lo = min(lo, 0.0)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    xpos = lambda v: LEFT + pw * (v - lo) / (hi - lo)  # noqa: E731
    ypos = lambda v: TOP + ph * (1 - (v - lo) / (hi - lo))  # noqa: E731
    out = _frame(title, xlabel, ylabel, lo, hi)
    for t in _ticks(lo, hi):
        out.append(f'<text x="{xpos(t):.1f}" y="{TOP + ph + 16}" text-anchor="middle">{t:g}</text>')
    out.append(
        f'<line x1="{xpos(lo):.1f}" y1="{ypos(lo):.1f}" x2="{xpos(hi):.1f}" y2="{ypos(hi):.1f}" '
        'stroke="#888" stroke-dasharray="4 3"/>'
    )
    for i, (_name, pts) in enumerate(groups.items()):
        c = COLOURS[i % len(COLOURS)]
        out += [
            f'<circle cx="{xpos(x):.1f}" cy="{ypos(y):.1f}" r="3" fill="{c}" fill-opacity="0.7"/>'
            for x, y in pts
            if math.isfinite(x) and math.isfinite(y)
        ]
    out += _legend(list(groups))
    out.append("</svg>")
    return "\n".join(out)
