"""The control run as a like-for-like reference curve, at every grid threshold at once.

A pruned run's shed fraction is only meaningful next to its control's, counted
on the *pruned run's* kept set with the *pruned run's* thresholds, at the control
snapshot aligned by (round, phase, epoch). ``shedding.analysis.excess_curve`` does this
for one threshold per pass over the control's magnitudes; the threshold slider would
then cost one pass per position. Here one pass histograms the control's float16 codes
inside the pruned run's kept set, per (snapshot, layer); a cumulative sum then answers
"how many below τ" for every threshold of every rule's grid. The counts are identical to
``excess_curve``'s at grid points (same float16 codes, same rounded τ, strict <).

This runs on the store's background thread (it reads the whole control run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shedding.analysis._align import align
from shedding.analysis.thresholds import THRESHOLD_RULES, tau_f32, threshold_codes
from tracking import Run, open_run

_N_CODES = 1 << 16  # every uint16 code of a float16


@dataclass(frozen=True, eq=False)
class ControlCounts:
    """Control shed counts on the pruned run's kept sets.

    Attributes:
        run_id, control_id: the two runs.
        epoch: (S,) the pruned run's snapshot epochs (the curve's x axis).
        kept: (S, L) the pruned run's kept counts (the denominator).
        shed: rule -> (S, L, grid size) control weights below τ within that kept set.
        defined: rule -> (S, L) False where τ is unknown (GMP-relative before a prune).
        aligned: (S,) False where the control has no snapshot aligned to the run's.
        layers: (L,) layer names.
    """

    run_id: str
    control_id: str
    epoch: np.ndarray
    kept: np.ndarray
    shed: dict[str, np.ndarray]
    defined: dict[str, np.ndarray]
    aligned: np.ndarray
    layers: tuple[str, ...]

    def fraction(self, rule: str, grid_index: int, layer: str | None = None) -> np.ndarray:
        """(S,) control shed fraction at one grid threshold, all layers or one; NaN
        where unaligned, τ is unknown, or nothing is kept."""
        cols = slice(None) if layer is None else [self.layers.index(layer)]
        shed = self.shed[rule][:, cols, grid_index].sum(axis=1).astype(float)
        kept = self.kept[:, cols].sum(axis=1).astype(float)
        ok = (self.defined[rule][:, cols] | (self.kept[:, cols] == 0)).all(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = shed / kept
        return np.where(self.aligned & ok & (kept > 0), frac, np.nan)


def control_counts(run: Run, control: Run) -> ControlCounts:
    """One pass over ``control``'s magnitudes: counts for every rule and grid value.

    Raises:
        ValueError: the two runs record different layers (not a control of this run).
    """
    layers = [(i.name, tuple(i.shape)) for i in run.layers]
    if [(i.name, tuple(i.shape)) for i in control.layers] != layers:
        raise ValueError(f"{control.path} records other layers than {run.path}; not its control")
    n, n_layers = len(run), len(layers)
    source = align(run.index, control.index) if n else np.zeros(0, np.int64)
    rules = {name: THRESHOLD_RULES.get(name) for name in THRESHOLD_RULES.names()}
    # keys[rule]: (S, L, grid) float16 code bounds of the run's thresholds
    keys: dict[str, np.ndarray] = {}
    defined = {r: np.ones((n, n_layers), bool) for r in rules}
    kept = np.zeros((n, n_layers), np.int64)
    for li, (name, _) in enumerate(layers):
        st = run.stats(name)
        kept[:, li] = st.n_kept
        for rname, spec in rules.items():
            grid = np.asarray(run.grids[spec.grid], np.float64)
            scale = spec.scale(st)  # (S,)
            defined[rname][:, li] = ~np.isnan(scale)
            k = np.stack([threshold_codes(tau_f32(c, scale)) for c in grid], axis=-1)
            keys.setdefault(rname, np.zeros((n, n_layers, len(grid)), np.int64))[:, li] = k
    shed = {r: np.zeros_like(k) for r, k in keys.items()}
    for s in range(n):
        src = int(source[s])
        if src < 0:
            continue
        for li, (name, _) in enumerate(layers):
            mask = run.mask(name, s).reshape(-1)  # (N,) bool, the run's kept set
            codes = control.magnitudes(name, src).reshape(-1).view(np.uint16)[mask]
            below = np.zeros(_N_CODES + 1, np.int64)  # below[q] = #codes < q
            np.cumsum(np.bincount(codes, minlength=_N_CODES), out=below[1:])
            for r, k in keys.items():
                shed[r][s, li] = below[k[s, li]]
    return ControlCounts(
        run_id=run.run_id,
        control_id=control.run_id,
        epoch=np.asarray(run.index.epoch, float),
        kept=kept,
        shed=shed,
        defined=defined,
        aligned=source >= 0,
        layers=tuple(name for name, _ in layers),
    )


def control_counts_job(path: Path, control_path: Path) -> ControlCounts:
    """:func:`control_counts` on private handles (for the background thread)."""
    with open_run(path) as run, open_run(control_path) as control:
        return control_counts(run, control)
