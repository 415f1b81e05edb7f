"""Fixed-width text tables for the CLI (no dependency beyond the standard library)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Column = tuple[str, str, Callable[[Any], str]]  # (row key, header, formatter)


def num(fmt: str = "{:.3f}") -> Callable[[Any], str]:
    """Formatter for numbers: NaN / None as "-".

    Example:
        >>> num("{:.1f}")(float("nan")), num("{:.1f}")(2.25)
        ('-', '2.2')
    """

    def f(v: Any) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "-"
        return fmt.format(v)

    return f


def ci(fmt: str = "{:.2f}") -> Callable[[Any], str]:
    """Formatter for a (mean, low, high) triple: "m [lo, hi]", "-" when the mean is NaN."""
    one = num(fmt)

    def f(v: Any) -> str:
        m, lo, hi = v
        if one(m) == "-":
            return "-"
        return f"{one(m)} [{one(lo)}, {one(hi)}]"

    return f


def text(v: Any) -> str:
    """Formatter for anything else."""
    return "-" if v is None else str(v)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Rows as a fixed-width table: text columns left-aligned, the rest right-aligned.

    Example:
        >>> cols = [("a", "A", text), ("b", "B", num("{:.1f}"))]
        >>> print(format_table([{"a": "x", "b": 1.5}], cols))
        A    B
        x  1.5
    """
    cells = [[fmt(row.get(key)) for key, _, fmt in columns] for row in rows]
    heads = [h for _, h, _ in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    left = [fmt is text for _, _, fmt in columns]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.ljust(w) if lft else v.rjust(w)
            for v, w, lft in zip(values, widths, left, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(heads), *(line(r) for r in cells)])
