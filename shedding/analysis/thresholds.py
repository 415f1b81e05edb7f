"""Shedding threshold rules: which τ makes a kept weight count as shed (docs/definitions.md).

A kept weight i is shed at snapshot t when ``|w_i(t)| < τ`` (strict). Every rule is
``τ = c · scale`` where the scale comes from the reference the recorder stored per
(layer, snapshot):

- ``absolute``: scale 1, so ``τ = c``.
- ``layer_relative``: scale = the RMS of the layer's kept weights at the last prune event
  (``ref_rms``; in the dense phase, before any prune event, the snapshot's own kept RMS).
- ``gmp_relative``: scale = the global magnitude threshold GMP used, or would use for a
  control run, at the last prune event (``gmp_threshold``; unknown before the first
  event, where nothing counts as shed and the snapshot is marked undefined).

Default: ``layer_relative`` with ``c = 0.01``. It is scale-free: layers differ in weight
scale by orders of magnitude (fan-in initialisation, BatchNorm scale invariance), so one
absolute τ would call a whole small-scale layer "shed" and never touch a large-scale one.
1% of a layer's own RMS at the prune event is far below any weight that carries signal,
so a weight under it has effectively left the network. It is also on the stored
``rel_grid``, so default curves come from stored statistics instantly.

Thresholds are rounded exactly as the writer rounds them (``float32(c * float32(scale))``)
so that counts streamed from magnitudes equal the stored counts at grid points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis import _cache
from shedding.errors import ConfigError
from shedding.registry import Registry

if TYPE_CHECKING:
    from tracking import Run

DEFAULT_RULE = "layer_relative"
DEFAULT_C = 0.01

# float64 values of the 2**15 + 1 non-negative non-NaN float16 codes (0 ... +inf), increasing;
# for non-negative float16 values, ``x < τ`` <=> ``code(x) < #codes with value < τ``.
_CODE_VALUES = np.arange(0x7C01, dtype=np.uint16).view(np.float16).astype(np.float64)


@dataclass(frozen=True)
class ThresholdRule:
    """One threshold rule: ``τ = c · scale(layer stats)``.

    Attributes:
        name: registry name.
        grid: key of the stored c-grid in ``run.grids`` ("abs_grid", ...).
        below: name of the stored count table in ``run.stats(layer)`` ("below_abs", ...).
        column: the stats column holding the scale ("" = none, scale 1).
        scale: maps a layer's ``LayerStats`` to its (S,) float32 scale (NaN = unknown).
        doc: one line for tables and ``--help``.
    """

    name: str
    grid: str
    below: str
    column: str
    scale: Callable[[Any], np.ndarray]
    doc: str


THRESHOLD_RULES: Registry[ThresholdRule] = Registry("threshold rule")


def _column_scale(column: str) -> Callable[[Any], np.ndarray]:
    def scale(stats: Any) -> np.ndarray:
        if not column:
            return np.ones(len(stats.n_kept), dtype=np.float32)
        return np.asarray(getattr(stats, column), dtype=np.float32)

    return scale


def _rule(name: str, grid: str, below: str, column: str, doc: str) -> ThresholdRule:
    return ThresholdRule(name, grid, below, column, _column_scale(column), doc)


THRESHOLD_RULES.add("absolute", _rule("absolute", "abs_grid", "below_abs", "", "tau = c"))
THRESHOLD_RULES.add(
    "layer_relative",
    _rule(
        "layer_relative",
        "rel_grid",
        "below_rel",
        "ref_rms",
        "tau = c * RMS of the layer's kept weights at the last prune event",
    ),
)
THRESHOLD_RULES.add(
    "gmp_relative",
    _rule(
        "gmp_relative",
        "gmp_grid",
        "below_gmp",
        "gmp_threshold",
        "tau = c * global magnitude threshold GMP used (or would use) at the last prune event",
    ),
)


def get_rule(rule: str) -> ThresholdRule:
    """The registered rule named ``rule``; raises ConfigError listing the valid names.

    Example:
        >>> get_rule("absolute").grid
        'abs_grid'
    """
    return THRESHOLD_RULES.get(rule)


def check_c(c: float) -> float:
    """Validates a threshold multiplier: finite and >= 0.

    Example:
        >>> check_c(0.01)
        0.01
    """
    c = float(c)
    if not np.isfinite(c) or c < 0:
        raise ConfigError(f"threshold c={c!r} must be a finite number >= 0, e.g. 0.01")
    return c


def tau_f32(c: float, scale: np.ndarray) -> np.ndarray:
    """Thresholds as the writer rounds them: ``float32(c * float64(float32(scale)))``.

    Example:
        >>> float(tau_f32(0.5, np.array([2.0]))[0])
        1.0
    """
    s = np.asarray(scale, dtype=np.float32).astype(np.float64)
    return (float(c) * s).astype(np.float32)


def threshold_codes(tau: np.ndarray) -> np.ndarray:
    """float16 code bounds: ``x < τ`` <=> ``x.view(uint16) < code`` for x >= 0; NaN τ -> 0.

    A NaN threshold (unknown reference) gives code 0, so nothing counts as shed.

    Example:
        >>> int(threshold_codes(np.array([1.0], dtype=np.float32))[0]) == 0x3C00
        True
    """
    t = np.asarray(tau, dtype=np.float32).astype(np.float64)
    codes = np.searchsorted(_CODE_VALUES, np.nan_to_num(t, nan=0.0), side="left")
    return np.where(np.isnan(t), 0, codes).astype(np.int64)


def rule_scale(run: Run, spec: ThresholdRule, layer: str) -> np.ndarray:
    """The (S,) float32 scale of ``spec`` for ``layer`` (ones for the absolute rule).

    Example:
        >>> rule_scale(run, get_rule("absolute"), "conv1").tolist() == [1.0] * len(run)
        True
    """
    if not spec.column:
        return np.ones(len(run), dtype=np.float32)
    return np.asarray(_cache.column(run, layer, spec.column), dtype=np.float32)


def grid_index(run: Run, rule: str, c: float) -> int | None:
    """Index of ``c`` on the stored grid of ``rule`` (``np.isclose``), or None if off-grid.

    Example:
        >>> grid_index(run, "layer_relative", 0.01)
        8
        >>> grid_index(run, "layer_relative", 0.0123) is None
        True
    """
    grid = np.asarray(run.grids[get_rule(rule).grid], dtype=np.float64)
    hits = np.flatnonzero(np.isclose(grid, float(c), rtol=1e-9, atol=0.0))
    return int(hits[0]) if len(hits) else None


def layer_thresholds(run: Run, *, rule: str = DEFAULT_RULE, c: float = DEFAULT_C) -> np.ndarray:
    """τ per (snapshot, layer) for ``rule`` and ``c``: float32 (S, L), NaN where unknown.

    When ``c`` is on the rule's stored grid the stored grid value is used, so the result is
    exactly the τ behind the stored counts.

    Example:
        >>> tau = layer_thresholds(run, rule="layer_relative", c=0.01)
        >>> tau.shape == (len(run), len(run.layers))
        True
    """
    spec = get_rule(rule)
    c = check_c(c)
    gi = grid_index(run, rule, c)
    if gi is not None:
        c = float(np.asarray(run.grids[spec.grid], dtype=np.float64)[gi])
    cols = [tau_f32(c, rule_scale(run, spec, layer.name)) for layer in run.layers]
    return np.stack(cols, axis=1) if cols else np.zeros((len(run), 0), dtype=np.float32)
