"""Controls: shedding caused by pruning vs shedding caused by retraining.

A run's control is the identical retraining of the *unpruned* network (same seed, data
order, schedule and recording); the run file names it in its root attribute ``control``.
Everything is counted like for like: the control's magnitudes are counted on the
pruned run's kept set, with the pruned run's thresholds, at the control snapshot with
the same (round, phase, epoch).

For prune round k with ``pruned`` weights removed, ``Δ = shed_end - shed_at_prune``:

- raw cascade ratio ``C = Δ_pruned / pruned``; control ratio ``Δ_control / pruned``;
- excess cascade ratio ``C_excess = (Δ_pruned - Δ_control) / pruned``. In a one-shot run
  both start from the same weights, so the at-prune counts are equal and this is the
  ``(shed_pruned - shed_control) / pruned``. When the control has no snapshot
  aligned to the prune, its at-prune count is taken equal to the pruned run's.
- excess dead channels = dead channels of the pruned run - those of the control on the
  same kept set (BN γ of each run's own BN layer).

A cascade is called "attributable to pruning" only when the 95% bootstrap interval of
the mean ``C_excess`` over seeds lies above 1 (needs >= 2 seeds with a control).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis import _cache
from shedding.analysis.cascade import (
    DEFAULT_DEAD,
    DeadCut,
    LayerRound,
    RoundSummary,
    cascade_summary,
    dead_channels,
)
from shedding.analysis.serialize import jsonable
from shedding.analysis.shed import ShedCurve, shed_curve
from shedding.analysis.stats import MeanCI, mean_ci
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE
from shedding.errors import DataError

if TYPE_CHECKING:
    from tracking.reader import Run

NAN = float("nan")


@dataclass(frozen=True, eq=False)
class ExcessCurve:
    """Shed fraction of a pruned run and of its control on the same kept set, (S, G).

    ``pruned`` is the run's own :class:`ShedCurve`; ``control`` counts the control's
    magnitudes on the pruned run's kept sets and thresholds (NaN where the control has no
    aligned snapshot). The snapshot axis is the pruned run's.
    """

    run_id: str
    control_id: str
    pruned: ShedCurve
    control: ShedCurve

    @property
    def excess_fraction(self) -> np.ndarray:
        """(S, G) pruned shed fraction - control shed fraction."""
        return self.pruned.shed_fraction - self.control.shed_fraction

    def to_table(self) -> list[dict[str, Any]]:
        """One row per (snapshot, group)."""
        p, c, x = self.pruned.shed_fraction, self.control.shed_fraction, self.excess_fraction
        return [
            {
                "snapshot": s,
                "epoch": float(self.pruned.epoch[s]),
                "round": int(self.pruned.round[s]),
                "group": g,
                "shed_fraction": jsonable(p[s, gi]),
                "control_shed_fraction": jsonable(c[s, gi]),
                "excess_shed_fraction": jsonable(x[s, gi]),
            }
            for s in range(len(self.pruned.step))
            for gi, g in enumerate(self.pruned.labels)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ids, both curves and the excess."""
        return {
            "run_id": self.run_id,
            "control_id": self.control_id,
            "pruned": self.pruned.to_dict(),
            "control": self.control.to_dict(),
            "excess_fraction": jsonable(self.excess_fraction),
        }


def check_pair(run: Run, control: Run) -> None:
    """Raises DataError unless ``control`` records the same layers (names and shapes).

    Example:
        >>> check_pair(run, control)
    """
    mine = [(i.name, tuple(i.shape)) for i in run.layers]
    theirs = [(i.name, tuple(i.shape)) for i in control.layers]
    if mine != theirs:
        raise DataError(
            f"control {control.path} records different layers than {run.path}; a control "
            "is the same network retrained without pruning: pass the matching control run"
        )


def excess_curve(
    run: Run, control: Run, *, rule: str = DEFAULT_RULE, c: float = DEFAULT_C, per: str = "global"
) -> ExcessCurve:
    """Excess shed fraction over time: run minus control, both on the run's kept set.

    Example:
        >>> ex = excess_curve(run, control)
        >>> ex.excess_fraction.shape == (len(run), 1)
        True
    """
    check_pair(run, control)
    pruned = shed_curve(run, rule=rule, c=c, per=per)
    ctrl = shed_curve(control, rule=rule, c=c, per=per, kept_from=run)
    return ExcessCurve(run.run_id, control.run_id, pruned, ctrl)


@dataclass(frozen=True)
class ExcessLayer:
    """One layer's share of :class:`ExcessRound` (same meanings)."""

    layer: str
    pruned: int
    cascade_ratio: float
    control_ratio: float
    excess_cascade_ratio: float
    dead_channels: int
    control_dead_channels: float
    excess_dead_channels: float
    n_channels: int


@dataclass(frozen=True)
class ExcessRound:
    """A prune round of a run against its control (counts on the run's kept set).

    Control counts are floats: NaN when the control has no snapshot aligned to the end
    of the round. ``control_aligned_at_prune`` is False when the control's at-prune count
    was taken equal to the run's (no aligned snapshot).
    """

    run_id: str
    control_id: str
    round: int
    rule: str
    c: float
    pruned: int
    kept: int
    shed_at_prune: int
    shed_end: int
    control_shed_at_prune: float
    control_shed_end: float
    control_aligned_at_prune: bool
    cascade_ratio: float
    control_ratio: float
    excess_cascade_ratio: float
    shed_fraction_end: float
    control_shed_fraction_end: float
    excess_shed_fraction_end: float
    dead_channels_end: int
    control_dead_channels_end: float
    excess_dead_channels: float
    n_channels: int
    layers: tuple[ExcessLayer, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None)."""
        d = asdict(self)
        d["layers"] = [{k: jsonable(v) for k, v in x.items()} for x in d["layers"]]
        return {k: jsonable(v) if k != "layers" else v for k, v in d.items()}


def _ratio(num: float, den: int) -> float:
    return num / den if den > 0 else NAN


def excess_summary(
    run: Run,
    control: Run,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    dead: DeadCut = DEFAULT_DEAD,
) -> list[ExcessRound]:
    """Excess cascade ratio, shed fraction and dead channels per prune round.

    Example:
        >>> rounds = excess_summary(run, control)
        >>> x = rounds[0]
        >>> x.excess_cascade_ratio == x.cascade_ratio - x.control_ratio
        True
    """
    check_pair(run, control)
    raw = cascade_summary(run, rule=rule, c=c, revivals=False, dead=dead)
    pair = _pair_curves(run, control, rule=rule, c=c, dead=dead)
    return [_excess_round(run, control, rule, r, pair) for r in raw]


@dataclass(frozen=True, eq=False)
class _PairCurves:
    """Per-channel and per-layer shed curves of a run and of its control (counted on the
    run's kept set), both runs' BatchNorm γ per layer, and the dead-channel cut-offs."""

    channels: ShedCurve
    control_channels: ShedCurve
    layers: ShedCurve
    control_layers: ShedCurve
    gamma: dict[str, np.ndarray | None]
    control_gamma: dict[str, np.ndarray | None]
    cuts: dict[str, float]  # dead_channels' keyword arguments


def _pair_curves(run: Run, control: Run, *, rule: str, c: float, dead: DeadCut) -> _PairCurves:
    """The curves and γ that every round of :func:`excess_summary` reads."""
    pc = shed_curve(run, rule=rule, c=c, per="channel")
    cc = shed_curve(control, rule=rule, c=c, per="channel", kept_from=run)
    return _PairCurves(
        channels=pc,
        control_channels=cc,
        layers=pc.aggregate("layer"),
        control_layers=cc.aggregate("layer"),
        gamma={i.name: _cache.stats(run, i.name).bn_gamma for i in run.layers},
        control_gamma={i.name: _cache.stats(control, i.name).bn_gamma for i in control.layers},
        cuts={"dead_shed": dead.shed, "dead_gamma": dead.gamma},
    )


def _excess_round(
    run: Run, control: Run, rule: str, r: RoundSummary, p: _PairCurves
) -> ExcessRound:
    """One round of ``run`` against ``control``; at-prune control counts fall back to the
    run's own when the control has no snapshot aligned to the prune."""
    s0, s1 = r.snapshot_prune, r.snapshot_end
    aligned0 = bool(p.control_layers.defined[s0].all())
    layers = tuple(_excess_layer(p, r, li, lr, aligned0) for li, lr in enumerate(r.layers))
    cl = p.control_layers
    c0 = float(cl.shed[s0].sum()) if aligned0 else float(r.shed_at_prune)
    c1 = float(cl.shed[s1].sum()) if cl.defined[s1].all() else NAN
    d_c = float(sum(x.control_dead_channels for x in layers))
    return ExcessRound(
        run_id=run.run_id,
        control_id=control.run_id,
        round=r.round,
        rule=rule,
        c=r.c,
        pruned=r.pruned,
        kept=r.kept,
        shed_at_prune=r.shed_at_prune,
        shed_end=r.shed_end,
        control_shed_at_prune=c0,
        control_shed_end=c1,
        control_aligned_at_prune=aligned0,
        cascade_ratio=r.cascade_ratio,
        control_ratio=_ratio(c1 - c0, r.pruned),
        excess_cascade_ratio=_ratio((r.shed_end - r.shed_at_prune) - (c1 - c0), r.pruned),
        shed_fraction_end=r.shed_fraction_end,
        control_shed_fraction_end=c1 / r.kept if r.kept else NAN,
        excess_shed_fraction_end=(r.shed_end - c1) / r.kept if r.kept else NAN,
        dead_channels_end=r.dead_channels_end,
        control_dead_channels_end=d_c,
        excess_dead_channels=r.dead_channels_end - d_c,
        n_channels=r.n_channels,
        layers=layers,
    )


def _excess_layer(
    p: _PairCurves, r: RoundSummary, li: int, lr: LayerRound, aligned0: bool
) -> ExcessLayer:
    """Layer ``li``'s share of round ``r`` against the control (see :func:`_excess_round`)."""
    s0, s1 = r.snapshot_prune, r.snapshot_end
    pc, cc, pl, cl = p.channels, p.control_channels, p.layers, p.control_layers
    ch = np.flatnonzero(np.asarray(pc.layer) == lr.layer)
    gp, gc = p.gamma[lr.layer], p.control_gamma.get(lr.layer)
    d_p = int(dead_channels(pc.kept[s1, ch], pc.shed[s1, ch], _row(gp, s1), **p.cuts).sum())
    d_c = NAN
    src1 = int(cc.source_snapshot[s1])
    if src1 >= 0:
        d_c = float(dead_channels(cc.kept[s1, ch], cc.shed[s1, ch], _row(gc, src1), **p.cuts).sum())
    c0 = float(cl.shed[s0, li]) if aligned0 else float(pl.shed[s0, li])
    c1 = float(cl.shed[s1, li]) if cl.defined[s1, li] else NAN
    return ExcessLayer(
        layer=lr.layer,
        pruned=lr.pruned,
        cascade_ratio=lr.cascade_ratio,
        control_ratio=_ratio(c1 - c0, lr.pruned),
        excess_cascade_ratio=_ratio((lr.shed_end - lr.shed_at_prune) - (c1 - c0), lr.pruned),
        dead_channels=d_p,
        control_dead_channels=d_c,
        excess_dead_channels=d_p - d_c,
        n_channels=lr.n_channels,
    )


def _row(gamma: np.ndarray | None, s: int) -> np.ndarray | None:
    return None if gamma is None else gamma[s]


@dataclass(frozen=True)
class Attribution:
    """Is the cascade caused by pruning? Mean and 95% bootstrap interval over seeds.

    Attributes:
        n_runs: pruned runs considered; n_with_control: those with a control found.
        cascade_ratio: raw C over all runs; control_ratio, excess_cascade_ratio,
            control_shed_fraction: over the runs with a control.
        attributable: True only when the interval of C_excess lies above 1 (>= 2 seeds).
        verdict: one sentence saying what the numbers show.
    """

    n_runs: int
    n_with_control: int
    cascade_ratio: MeanCI
    control_ratio: MeanCI
    excess_cascade_ratio: MeanCI
    control_shed_fraction: MeanCI
    attributable: bool
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            out[k] = v.to_dict() if isinstance(v, MeanCI) else v
        return out


def attribution(
    *,
    cascade_ratio: Sequence[float],
    excess_cascade_ratio: Sequence[float],
    control_ratio: Sequence[float],
    control_shed_fraction: Sequence[float],
) -> Attribution:
    """Verdict over seeds; one value per pruned run, NaN where the run has no control.

    Example:
        >>> a = attribution(cascade_ratio=[3.0, 3.2], excess_cascade_ratio=[0.1, 0.2],
        ...                 control_ratio=[2.9, 3.0], control_shed_fraction=[0.3, 0.3])
        >>> a.attributable, a.verdict.split(":")[0]
        (False, 'not attributable to pruning')
    """
    raw = mean_ci(cascade_ratio)
    exc = mean_ci(excess_cascade_ratio)
    ctl = mean_ci(control_ratio)
    frac = mean_ci(control_shed_fraction)
    n = len(list(cascade_ratio))
    missing = n - exc.n
    note = f" ({missing} of {n} runs have no control and are left out)" if missing and exc.n else ""
    attributable = exc.n >= 2 and exc.ci_low > 1.0
    if exc.n == 0:
        verdict = (
            f"no control run: raw cascade ratio C = {raw.mean:.2f} over {n} run(s) cannot be "
            "attributed to pruning, retraining alone may shed as much; record a control run "
            "(same retraining, no pruning)"
        )
    elif exc.n == 1:
        verdict = (
            f"one seed with a control: C_excess = {exc.mean:.2f} (raw C = {raw.mean:.2f}, the "
            f"control sheds {ctl.mean:.2f} per pruned weight); no interval from one seed, so "
            f"not called attributable to pruning; run more seeds{note}"
        )
    else:
        ci = (
            f"C_excess = {exc.mean:.2f} [95% CI {exc.ci_low:.2f}, {exc.ci_high:.2f}] "
            f"over {exc.n} seeds"
        )
        control = (
            f"the control (same retraining, no pruning) sheds {ctl.mean:.2f} weights per pruned "
            f"weight ({frac.mean:.1%} of the same kept set) against raw C = {raw.mean:.2f}"
        )
        if attributable:
            verdict = f"attributable to pruning: {ci} lies above 1; {control}{note}"
        else:
            alone = "; retraining alone sheds as much as a cascade" if ctl.mean > 1 else ""
            verdict = (
                f"not attributable to pruning: {ci} does not lie above 1; {control}{alone}{note}"
            )
    return Attribution(n, exc.n, raw, ctl, exc, frac, attributable, verdict)
