"""What the pages show, computed through ``shedding.analysis`` from an open run.

Plain functions of a :class:`~dashboard.store.CachedRun` returning numpy arrays or small
dataclasses; the figures are drawn elsewhere. Only stored statistics, one layer's
samples or one snapshot's bitsets are read here: anything that streams a whole run
(like-for-like control counts) is run by :func:`excess_job` on the store's background
thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dashboard.catalog import RunFile
from dashboard.labels import config_value, run_label
from dashboard.store import CachedRun
from shedding.analysis.cascade import cascade_summary
from shedding.analysis.controls import ExcessRound, excess_summary
from shedding.analysis.shed import ShedCurve, shed_curve
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE, THRESHOLD_RULES, get_rule
from tracking import open_run

ALL = "(all layers)"


@dataclass(frozen=True)
class RunInfo:
    """The config fields and results shown in the runs table (None = not available)."""

    name: str  # readable, from the config (labels.run_label)
    file: str  # path under RUNS_DIR without the suffix
    run_id: str
    control: str
    status: str
    snapshots: int
    model: str
    pruner: str
    protocol: str
    sparsity: float | None
    seed: int | None
    final_acc: float | None
    effective_sparsity: float | None
    cascade_ratio: float | None

    @property
    def is_control(self) -> bool:
        """An unpruned run (pruning amount 0): it is some other run's control."""
        return self.sparsity == 0


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def run_info(run: CachedRun, file: str) -> RunInfo:
    """Runs-table row of a run: config, last test accuracy, last round's cascade;
    ``file`` is its :func:`display_name`."""
    cfg = run.config if isinstance(run.config, dict) else {}
    acc = np.asarray(run.metrics.get("test_acc", []), dtype=float)
    acc = acc[np.isfinite(acc)]
    rounds = run.memo("cascade", lambda: cascade_summary(run, revivals=False))
    eff = cascade = None
    if rounds:
        eff, cascade = _finite(rounds[-1].effective_sparsity), _finite(rounds[-1].cascade_ratio)
    elif len(run):
        eff = _finite(global_curve(run, DEFAULT_RULE, DEFAULT_C).effective_sparsity[-1, 0])
    seed = config_value(cfg, "seed")
    return RunInfo(
        name=run_label(cfg, file),
        file=file,
        run_id=run.run_id,
        control=run.control,
        status=run.status,
        snapshots=len(run),
        model=str(config_value(cfg, "model.name") or ""),
        pruner=str(config_value(cfg, "prune.method") or ""),
        protocol=str(config_value(cfg, "retrain.protocol") or ""),
        sparsity=_finite(config_value(cfg, "prune.sparsity")),
        seed=int(seed) if isinstance(seed, int) else None,
        final_acc=_finite(acc[-1]) if acc.size else None,
        effective_sparsity=eff,
        cascade_ratio=cascade,
    )


def display_name(rf: RunFile) -> str:
    """A run's name in tables and legends: its path under RUNS_DIR without the suffix."""
    return rf.rel.rsplit(".", 1)[0]


def warm(run: CachedRun, rf: RunFile) -> None:
    """Fills the memos the pages read first (runs the updates thread after a re-read):
    the small tables, every layer's statistics, the runs-table row, the default curve."""
    _ = run.index, run.metrics, run.events
    for info in run.layers:
        run.stats(info.name)
    run.memo("info", lambda: run_info(run, display_name(rf)))
    global_curve(run, DEFAULT_RULE, DEFAULT_C)


def excess_job(path: Path, control_path: Path, *, rule: str, c: float) -> list[ExcessRound]:
    """Like-for-like excess summary; opens its own handles (runs on the job thread)."""
    with open_run(path) as run, open_run(control_path) as control:
        return excess_summary(run, control, rule=rule, c=c)


# --------------------------------------------------------------------------- thresholds


def rule_names() -> list[str]:
    """Registered threshold rules."""
    return THRESHOLD_RULES.names()


def rule_grid(run: CachedRun | None, rule: str) -> np.ndarray:
    """The stored c-grid of ``rule`` (the values the threshold slider offers)."""
    spec = get_rule(rule)
    if run is not None:
        return np.asarray(run.grids[spec.grid], dtype=float)
    from tracking.format import GRIDS  # no run yet: the format's own grid

    return np.asarray(GRIDS[spec.grid], dtype=float)


def default_value_index(rule: str, grid: np.ndarray) -> int:
    """Slider position for a rule: the default c for the default rule, else mid-grid."""
    if rule == DEFAULT_RULE:
        hits = np.flatnonzero(np.isclose(grid, DEFAULT_C))
        if hits.size:
            return int(hits[0])
    return len(grid) // 2


# --------------------------------------------------------------------------- shed curves


def layer_curve(run: CachedRun, rule: str, c: float) -> ShedCurve:
    """Per-layer shed counts at a grid threshold (stored statistics; memoised)."""
    return run.memo(("curve", rule, c), lambda: shed_curve(run, rule=rule, c=c, per="layer"))


def global_curve(run: CachedRun, rule: str, c: float) -> ShedCurve:
    """All-layer shed counts at a grid threshold (memoised)."""
    return run.memo(("global", rule, c), lambda: layer_curve(run, rule, c).aggregate("global"))


def shed_series(
    run: CachedRun, rule: str, c: float, layer: str = ALL
) -> tuple[np.ndarray, np.ndarray]:
    """(epoch, shed fraction) over snapshots, of all layers or of one layer."""
    curve = global_curve(run, rule, c) if layer == ALL else layer_curve(run, rule, c)
    col = 0 if layer == ALL else curve.column(layer)
    return np.asarray(curve.epoch, float), curve.shed_fraction[:, col]


def prune_epochs(run: CachedRun) -> list[float]:
    """Epoch of each prune event (events without an epoch use their snapshot's)."""
    index = run.index
    out = []
    for ev in run.events:
        if "epoch" in ev and _finite(ev["epoch"]) is not None:
            out.append(float(ev["epoch"]))
        elif 0 <= int(ev.get("n_snapshots", -1)) < len(index.epoch):
            out.append(float(index.epoch[int(ev["n_snapshots"])]))
    return out


def prune_snapshots(run: CachedRun) -> list[int]:
    """Snapshot index of the first snapshot after each prune event."""
    return [int(ev["n_snapshots"]) for ev in run.events if "n_snapshots" in ev]


# --------------------------------------------------------------------------- per layer


def layer_hist(run: CachedRun, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """(S, B) histogram of kept magnitudes and its (B + 1,) edges."""
    return run.stats(layer).hist, np.asarray(run.grids["hist_edges"], float)


def flow(run: CachedRun, layer: str = ALL) -> tuple[np.ndarray, np.ndarray]:
    """(newly shed, revived) per snapshot at the default rule, summed over layers or one."""
    names = [i.name for i in run.layers] if layer == ALL else [layer]
    shed = sum(
        (run.stats(n).newly_shed.astype(np.int64) for n in names), np.zeros(len(run), np.int64)
    )
    rev = sum((run.stats(n).revived.astype(np.int64) for n in names), np.zeros(len(run), np.int64))
    return shed, rev


def channel_fraction(run: CachedRun, layer: str) -> np.ndarray:
    """(S, C) shed fraction of each channel's kept weights (default rule); NaN = none kept."""
    st = run.stats(layer)
    kept = st.channel_kept.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(kept > 0, st.channel_shed / np.maximum(kept, 1), np.nan)
