"""Cascade summary per prune round (docs/definitions.md).

For prune round k (snapshots with ``index.round == k``; the first is right after the
prune, the last is the end of the round's retraining), on the round's fixed kept set:

- pruned: weights removed in this round (kept before the round - kept after);
- cascade ratio ``C = (|shed_end| - |shed_at_prune|) / pruned`` (C > 1: a cascade);
- onset / half-time: epochs from the prune to the first snapshot where the newly shed
  count ``shed_t - shed_at_prune`` exceeds 10% / 50% of its final value;
- revived: distinct weights shed at some snapshot of the round and at or above τ at a
  later one (streamed);
- dead channels: output channels with kept weights of which >= 90% are shed, or whose
  BatchNorm ``|γ| < 1e-3`` (Mehta et al.); channels with no kept weight are pruned,
  not dead. Both cut-offs are parameters (``dead_shed``, ``dead_gamma``), and the round
  summary splits the dead channels by cause: γ collapse, weights shed (a channel can be
  both);
- mechanism: the kept-weight L2 norm ‖m⊙w‖ at the prune and at the end, and the peak
  over the round of the effective step η / ‖w‖² of the layers followed by BatchNorm
  (scale-invariant: only the direction of w matters), averaged over those layers (see
  :mod:`.mechanism`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis import _cache, _stream
from shedding.analysis._align import RoundSpan, round_spans
from shedding.analysis.mechanism import Mechanism, mechanism
from shedding.analysis.serialize import jsonable
from shedding.analysis.shed import shed_curve
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE, threshold_codes
from shedding.errors import DataError

if TYPE_CHECKING:
    from tracking.reader import Run

DEAD_SHED_FRACTION = 0.9
DEAD_GAMMA = 1e-3


@dataclass(frozen=True)
class DeadCut:
    """When a channel counts as dead: at least ``shed`` of its kept weights are shed, or
    its BatchNorm ``|γ| < gamma``."""

    shed: float = DEAD_SHED_FRACTION
    gamma: float = DEAD_GAMMA


DEFAULT_DEAD = DeadCut()


@dataclass(frozen=True)
class LayerRound:
    """One layer's share of a prune round (same meanings as :class:`RoundSummary`)."""

    layer: str
    pruned: int
    kept: int
    shed_at_prune: int
    shed_end: int
    cascade_ratio: float
    dead_channels_end: int
    n_channels: int


@dataclass(frozen=True)
class RoundSummary:
    """What happened in one prune round; ``cascade_ratio`` is NaN when nothing was pruned
    (a control run). Epoch quantities are epochs after the prune; NaN when undefined."""

    run_id: str
    round: int
    method: str
    rule: str
    c: float
    epoch_prune: float
    snapshot_prune: int
    snapshot_end: int
    n_weights: int
    pruned: int
    kept: int
    shed_at_prune: int
    shed_end: int
    cascade_ratio: float
    onset_epochs: float
    half_time_epochs: float
    revived: int | None
    shed_fraction_end: float
    sparsity: float
    effective_sparsity: float
    dead_channels_at_prune: int
    dead_channels_end: int
    n_channels: int
    test_acc: float
    layers: tuple[LayerRound, ...]
    dead_by_gamma_end: int = 0
    dead_by_shed_end: int = 0
    kept_norm_prune: float = float("nan")
    kept_norm_end: float = float("nan")
    effective_step_peak: float = float("nan")

    @property
    def kept_norm_ratio(self) -> float:
        """‖m⊙w‖ at the end of the round over the one at the prune (NaN if undefined)."""
        if not self.kept_norm_prune or self.kept_norm_prune != self.kept_norm_prune:
            return float("nan")
        return self.kept_norm_end / self.kept_norm_prune

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None); ``layers`` as a list of dicts."""
        return {k: jsonable(v) if k != "layers" else v for k, v in asdict(self).items()}


def dead_causes(
    kept: np.ndarray,
    shed: np.ndarray,
    gamma: np.ndarray | None,
    *,
    dead_shed: float = DEAD_SHED_FRACTION,
    dead_gamma: float = DEAD_GAMMA,
) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (C,) bool, among channels with kept weights: (γ collapsed, weights shed).

    γ collapsed: BatchNorm ``|γ| < dead_gamma`` (all False without a BatchNorm); weights
    shed: at least ``dead_shed`` of the channel's kept weights are shed (exact rational
    comparison, so 0.9 means 9 of 10 and not 8.999...).

    Example:
        >>> kept, shed, gamma = np.array([10, 10, 4]), np.array([9, 1, 0]), np.array([1, 1e-4, 1])
        >>> g, w = dead_causes(kept, shed, gamma)
        >>> g.tolist(), w.tolist()
        ([False, True, False], [True, False, False])
    """
    kept, shed = np.asarray(kept, np.int64), np.asarray(shed, np.int64)
    if not 0 < dead_shed <= 1 or not dead_gamma >= 0:
        raise DataError(
            f"dead-channel cut-offs dead_shed={dead_shed} (in (0, 1]) and "
            f"dead_gamma={dead_gamma} (>= 0) are out of range"
        )
    frac = Fraction(dead_shed).limit_denominator(10**6)
    alive = kept > 0
    by_shed = (frac.denominator * shed >= frac.numerator * kept) & alive
    by_gamma = np.zeros_like(alive)
    if gamma is not None:
        with np.errstate(invalid="ignore"):  # NaN gamma: not collapsed
            by_gamma = (np.abs(np.asarray(gamma, np.float64)) < dead_gamma) & alive
    return by_gamma, by_shed


def dead_channels(
    kept: np.ndarray,
    shed: np.ndarray,
    gamma: np.ndarray | None,
    *,
    dead_shed: float = DEAD_SHED_FRACTION,
    dead_gamma: float = DEAD_GAMMA,
) -> np.ndarray:
    """Dead-channel flags (C,) bool: kept > 0 and (shed >= 90% of kept or |γ| < 1e-3).

    Example:
        >>> dead_channels(np.array([10, 10, 0]), np.array([9, 8, 0]), None).tolist()
        [True, False, False]
        >>> dead_channels(np.array([4, 4]), np.array([0, 0]), np.array([1e-4, 1.0])).tolist()
        [True, False]
    """
    by_gamma, by_shed = dead_causes(kept, shed, gamma, dead_shed=dead_shed, dead_gamma=dead_gamma)
    return by_gamma | by_shed


def cascade_summary(
    run: Run,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    revivals: bool = True,
    dead: DeadCut = DEFAULT_DEAD,
) -> list[RoundSummary]:
    """Summarise every prune round of ``run`` at threshold ``rule`` / ``c``.

    Args:
        run: an open run.
        rule, c: threshold rule and multiplier (as :func:`shed_curve`).
        revivals: count distinct revived weights (streams the rounds' magnitudes);
            False leaves ``revived`` None and streams only what counts need. A
            statistics-only run has no magnitudes to stream: ``revived`` stays None.
        dead: the dead-channel cut-offs (see :func:`dead_causes`).

    Returns:
        One :class:`RoundSummary` per round present in the index, in order.

    Example:
        >>> rounds = cascade_summary(run, rule="layer_relative", c=0.01)
        >>> [r.round for r in rounds]
        [1]
        >>> r = rounds[0]
        >>> r.cascade_ratio == (r.shed_end - r.shed_at_prune) / r.pruned
        True
    """
    curve = shed_curve(run, rule=rule, c=c, per="layer")
    spans = round_spans(_cache.index(run))
    if not spans:
        return []
    revivals = revivals and getattr(run, "has_magnitudes", True)
    chans, revived = _channels_and_revivals(run, curve, spans, revivals=revivals)
    inputs = _RoundInputs(
        run=run,
        rule=rule,
        curve=curve,
        chans=chans,
        revived=revived,
        events={int(e.get("round", -1)): e for e in run.events},
        accuracy=_round_accuracy(run.metrics),
        index=_cache.index(run),
        mech=mechanism(run),
        cuts={"dead_shed": dead.shed, "dead_gamma": dead.gamma},
    )
    return [_round_summary(inputs, span) for span in spans]


@dataclass(frozen=True)
class _RoundInputs:
    """What every round's summary reads of one run, gathered once by cascade_summary."""

    run: Run
    rule: str
    curve: Any  # the run's per-layer ShedCurve
    chans: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]  # see _channels_and_revivals
    revived: dict[int, int] | None
    events: dict[int, dict]  # prune event per round
    accuracy: dict[int, float]  # last test accuracy per round
    index: Any  # the run's Index
    mech: Mechanism
    cuts: dict[str, float]  # dead_causes' keyword arguments


def _round_summary(x: _RoundInputs, span: RoundSpan) -> RoundSummary:
    """The :class:`RoundSummary` of one round of ``x.run``."""
    curve, mech = x.curve, x.mech
    ev = x.events.get(span.round, {})
    layers, counts = _round_layers(x.run, curve, x.chans, span, ev, x.cuts)
    pruned = sum(lr.pruned for lr in layers)
    kept = int(curve.kept[span.last].sum())
    sh0, sh1 = int(curve.shed[span.first].sum()), int(curve.shed[span.last].sum())
    n = int(curve.n_weights.sum())
    onset, half = _onset(curve.shed.sum(axis=1), x.index.epoch, span)
    return RoundSummary(
        run_id=x.run.run_id,
        round=span.round,
        method=str(ev.get("method", "")),
        rule=x.rule,
        c=curve.c,
        epoch_prune=float(ev.get("epoch", x.index.epoch[span.first])),
        snapshot_prune=span.first,
        snapshot_end=span.last,
        n_weights=n,
        pruned=pruned,
        kept=kept,
        shed_at_prune=sh0,
        shed_end=sh1,
        cascade_ratio=(sh1 - sh0) / pruned if pruned > 0 else float("nan"),
        onset_epochs=onset,
        half_time_epochs=half,
        revived=None if x.revived is None else x.revived[span.round],
        shed_fraction_end=sh1 / kept if kept else float("nan"),
        sparsity=(n - kept) / n,
        effective_sparsity=(n - kept + sh1) / n,
        dead_channels_at_prune=counts["at_prune"],
        dead_channels_end=counts["end"],
        n_channels=counts["n_channels"],
        test_acc=x.accuracy.get(span.round, float("nan")),
        layers=tuple(layers),
        dead_by_gamma_end=counts["gamma_end"],
        dead_by_shed_end=counts["shed_end"],
        kept_norm_prune=mech.total_norm(span.first),
        kept_norm_end=mech.total_norm(span.last),
        effective_step_peak=max(
            (mech.mean_effective_step(t) for t in span.snapshots), default=float("nan")
        ),
    )


def _round_layers(
    run: Run, curve: Any, chans: dict, span: RoundSpan, ev: dict, cuts: dict[str, float]
) -> tuple[list[LayerRound], dict[str, int]]:
    """Each layer's share of one round, and the round's dead-channel counts by cause."""
    layers = []
    dead = dict.fromkeys(("at_prune", "end", "gamma_end", "shed_end", "n_channels"), 0)
    for li, info in enumerate(run.layers):
        g = _cache.stats(run, info.name).bn_gamma
        k0, s0 = chans[(span.first, li)]
        k1, s1 = chans[(span.last, li)]
        g0, g1 = (None, None) if g is None else (g[span.first], g[span.last])
        d0 = dead_channels(k0, s0, g0, **cuts)
        by_gamma, by_shed = dead_causes(k1, s1, g1, **cuts)
        d1 = by_gamma | by_shed
        dead["at_prune"] += int(d0.sum())
        dead["end"] += int(d1.sum())
        dead["gamma_end"] += int(by_gamma.sum())
        dead["shed_end"] += int(by_shed.sum())
        dead["n_channels"] += len(k1)
        before = _kept_before(curve.kept[:, li], span, info.n_weights, ev, info.name)
        layers.append(_layer_round(info.name, curve, li, span, before, int(d1.sum()), len(k1)))
    return layers, dead


def _layer_round(
    name: str, curve: Any, li: int, span: RoundSpan, before: int, dead: int, n_ch: int
) -> LayerRound:
    kept = int(curve.kept[span.last, li])
    pruned = max(before - int(curve.kept[span.first, li]), 0)
    s0, s1 = int(curve.shed[span.first, li]), int(curve.shed[span.last, li])
    return LayerRound(
        layer=name,
        pruned=pruned,
        kept=kept,
        shed_at_prune=s0,
        shed_end=s1,
        cascade_ratio=(s1 - s0) / pruned if pruned > 0 else float("nan"),
        dead_channels_end=dead,
        n_channels=n_ch,
    )


def _kept_before(kept: np.ndarray, span: RoundSpan, n: int, event: dict, layer: str) -> int:
    """Kept count just before the round's prune: the previous snapshot's, else all weights
    for round 1 (dense), else the prune event's own record."""
    if span.before >= 0:
        return int(kept[span.before])
    if span.round == 1:
        return n
    info = event.get("per_layer", {}).get(layer, {})
    if "pruned" in info:
        return int(kept[span.first]) + int(info["pruned"])
    return int(kept[span.first])


def _onset(shed: np.ndarray, epoch: np.ndarray, span: RoundSpan) -> tuple[float, float]:
    """Epochs from the prune until newly shed > 10% / > 50% of its final value."""
    newly = shed[span.first : span.last + 1] - shed[span.first]
    final = int(newly[-1])
    if final <= 0:
        return float("nan"), float("nan")
    out = []
    for num, den in ((1, 10), (1, 2)):
        t = int(np.flatnonzero(den * newly > num * final)[0])  # exact integer comparison
        out.append(float(epoch[span.first + t] - epoch[span.first]))
    return out[0], out[1]


def _round_accuracy(metrics: dict[str, np.ndarray]) -> dict[int, float]:
    """Last logged test accuracy per round."""
    acc: dict[int, float] = {}
    rounds: Any = metrics.get("round", [])
    values: Any = metrics.get("test_acc", [])
    for r, a in zip(rounds, values, strict=False):
        if np.isfinite(a):
            acc[int(r)] = float(a)
    return acc


def _channels_and_revivals(
    run: Run, curve: Any, spans: list[RoundSpan], *, revivals: bool
) -> tuple[dict[tuple[int, int], tuple[np.ndarray, np.ndarray]], dict[int, int] | None]:
    """Per-channel (kept, shed) at every round's first and last snapshot, and distinct
    revived weights per round. Streams only when it has to."""
    bounds = sorted({s for sp in spans for s in (sp.first, sp.last)})
    chans: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    stored = curve.rule == DEFAULT_RULE and np.isclose(curve.c, DEFAULT_C)
    if stored and not revivals:
        for li, info in enumerate(run.layers):
            st = _cache.stats(run, info.name)
            for s in bounds:
                chans[(s, li)] = (st.channel_kept[s], st.channel_shed[s])
        return chans, None
    keys = threshold_codes(curve.tau)
    snaps = [s for sp in spans for s in sp.snapshots] if revivals else bounds
    round_of = {s: sp.round for sp in spans for s in sp.snapshots}
    revived: dict[int, int] = {sp.round: 0 for sp in spans}
    current: tuple[int, int] | None = None  # (layer, round) whose sets ever/rev hold
    ever = rev = np.zeros(0, dtype=np.uint8)
    for li, s, z in _stream.stream_sets(run, keys, snapshots=snaps):
        if z is None:  # cannot happen without alignment; keeps the type checker honest
            continue
        if s in bounds:
            info = run.layers[li]
            chans[(s, li)] = (
                _stream.channel_popcount(z.mask, info),
                _stream.channel_popcount(z.shed, info),
            )
        if revivals:
            if current != (li, round_of[s]):  # layer-major stream: one (layer, round) at a time
                if current is not None:
                    revived[current[1]] += _stream.popcount(rev)
                current = (li, round_of[s])
                ever, rev = np.zeros_like(z.shed), np.zeros_like(z.shed)
            rev |= ever & ~z.shed & z.mask  # shed before, kept and not shed now: revived
            ever |= z.shed
    if revivals and current is not None:
        revived[current[1]] += _stream.popcount(rev)
    return chans, revived if revivals else None


@dataclass(frozen=True)
class ChannelShedding:
    """How much of a run's shedding at one snapshot is whole channels (semi-structured).

    A channel is *dead* when it has kept weights and >= 90% of them are shed (the weight
    criterion of :func:`dead_channels`; BatchNorm γ is not consulted here, so the share is
    about weights alone). ``share_in_dead_channels`` = shed weights inside dead channels /
    all shed weights (NaN when nothing is shed).
    """

    run_id: str
    rule: str
    c: float
    snapshot: int
    kept: int
    shed: int
    shed_in_dead_channels: int
    dead_channels: int
    n_channels: int
    share_in_dead_channels: float
    layers: tuple[tuple[str, int, int, int], ...]  # (layer, shed, shed in dead, dead channels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None)."""
        return {k: jsonable(v) if k != "layers" else v for k, v in asdict(self).items()}


def channel_shedding(
    run: Run, *, snapshot: int = -1, rule: str = DEFAULT_RULE, c: float = DEFAULT_C
) -> ChannelShedding:
    """Per-channel shedding at ``snapshot`` (default: the last), shed as in :func:`shed_curve`.

    Example:
        >>> ch = channel_shedding(run)
        >>> 0.0 <= ch.share_in_dead_channels <= 1.0
        True
    """
    n = len(run)
    if n == 0:
        raise DataError(f"{run.path} has no committed snapshots yet; nothing to count")
    s = snapshot % n
    curve = shed_curve(run, rule=rule, c=c)
    per_layer: list[tuple[np.ndarray, np.ndarray]] = []
    if curve.rule == DEFAULT_RULE and np.isclose(curve.c, DEFAULT_C):
        for info in run.layers:
            st = _cache.stats(run, info.name)
            per_layer.append((st.channel_kept[s], st.channel_shed[s]))
    else:
        for li, _, z in _stream.stream_sets(run, threshold_codes(curve.tau), snapshots=[s]):
            info = run.layers[li]
            if z is None:
                zero = np.zeros(info.n_channels, dtype=np.int64)
                per_layer.append((zero, zero))
            else:
                per_layer.append(
                    (_stream.channel_popcount(z.mask, info), _stream.channel_popcount(z.shed, info))
                )
    rows, kept = [], 0
    for info, (k, sh) in zip(run.layers, per_layer, strict=True):
        dead = dead_channels(k, sh, None)
        rows.append((info.name, int(sh.sum()), int(sh[dead].sum()), int(dead.sum())))
        kept += int(k.sum())
    shed = sum(r[1] for r in rows)
    in_dead = sum(r[2] for r in rows)
    return ChannelShedding(
        run_id=run.run_id,
        rule=rule,
        c=float(c),
        snapshot=s,
        kept=kept,
        shed=shed,
        shed_in_dead_channels=in_dead,
        dead_channels=sum(r[3] for r in rows),
        n_channels=sum(i.n_channels for i in run.layers),
        share_in_dead_channels=in_dead / shed if shed else float("nan"),
        layers=tuple(rows),
    )
