"""What every study's findings are written with: cells of mean ± half-width of the 95%
Student-t interval over seeds, markdown tables, and the lines on missing runs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shedding.errors import ConfigError


def mean_half(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95% Student-t interval, n) of the finite values; the t
    interval for every n, so that every cell of the tables means the same thing."""
    from shedding.analysis.stats import t_interval

    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    lo, hi = t_interval(v)
    return float(v.mean()), (hi - lo) / 2 if len(v) > 1 else float("nan"), len(v)


def fmt(values: Sequence[float], digits: int = 3, scale: float = 1.0, sign: bool = False) -> str:
    """``mean ± h`` over the finite values (h: half-width of the 95% t interval)."""
    v = [x * scale for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    mean, half, n = mean_half(v)
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    if float(f.format(mean)) == 0:
        mean = 0.0  # no "-0.00": a mean that rounds to zero reads as zero
    return f.format(mean) + (f" ± {half:.{digits}f}" if n > 1 else "")


def table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def require_runs(rows: Sequence[Any], name: str, runs_dir: Path) -> None:
    """Raises ConfigError when study ``name`` has no finished run in ``runs_dir``."""
    if not rows:
        raise ConfigError(
            f"no finished run of study {name!r} in {runs_dir}; run `shedding study {name}` "
            "first (or pass the --runs-dir it wrote to)"
        )


def status_lines(
    wall_seconds: float | None, missing: Sequence[str], bad: Sequence[tuple[str, str]]
) -> list[str]:
    """The findings' lines on wall time, missing runs and unreadable files (none if none)."""
    lines = []
    if wall_seconds is not None:
        lines.append(f"Wall time of this invocation: {wall_seconds / 60:.1f} min.")
    if missing:
        lines.append(
            f"**Missing or unfinished runs ({len(missing)}):** "
            + ", ".join(missing[:20])
            + (" …" if len(missing) > 20 else "")
        )
    if bad:
        lines.append("**Unreadable files:** " + "; ".join(f"{p}: {why}" for p, why in bad))
    return lines
