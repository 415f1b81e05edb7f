"""Shed curves: how many kept weights are shed at every snapshot (docs/definitions.md).

At snapshot t with kept set K_t (pruning mask), a kept weight is shed when its stored
float16 magnitude is below τ (strict); ``s(t) = |shed_t| / |K_t|`` and the effective
sparsity is ``(pruned + shed) / N``.

Two paths give identical counts: when ``c`` is on the rule's stored grid the counts come
from the stored statistics (no magnitude is read); otherwise the stored magnitudes are
streamed one snapshot at a time (memory: one snapshot of one run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis import _cache, _stream
from shedding.analysis._align import align
from shedding.analysis.serialize import finite_or_none, jsonable
from shedding.analysis.thresholds import (
    DEFAULT_C,
    DEFAULT_RULE,
    get_rule,
    grid_index,
    layer_thresholds,
    threshold_codes,
)
from shedding.errors import ConfigError

if TYPE_CHECKING:
    from tracking.reader import Run

PER = ("global", "layer", "channel")
METHODS = ("auto", "stats", "stream")


@dataclass(frozen=True, eq=False)
class ShedCurve:
    """Kept and shed counts per snapshot and group (all weights, a layer or a channel).

    Arrays are 2-D ``(S, G)``: S snapshots, G groups (G = 1 for ``per="global"``).
    ``defined`` is False where τ is unknown (GMP-relative before the first prune event)
    or, with ``kept_from``, where the run has no snapshot aligned to the reference one;
    there ``shed`` is 0 and fractions are NaN.

    Attributes:
        run_id: run whose magnitudes were counted.
        kept_from: run_id whose kept sets and thresholds were used ("" = the run's own).
        rule, c, per: the threshold rule, its multiplier (the stored grid value when on
            the grid) and the grouping.
        source: "stats" (stored counts) or "stream" (streamed magnitudes).
        step, epoch, round, phase: (S,) index of the snapshot axis (of ``kept_from``
            when given).
        source_snapshot: (S,) snapshot of ``run`` counted at each row (-1 = none).
        labels, layer: (G,) group names and their layer ("" for the global group).
        channel: (G,) output channel of each group, -1 unless ``per="channel"``.
        n_weights: (G,) weights per group; kept, shed: (S, G) int64; defined: (S, G).
        tau: (S, L) float32 thresholds per layer.
    """

    run_id: str
    kept_from: str
    rule: str
    c: float
    per: str
    source: str
    step: np.ndarray
    epoch: np.ndarray
    round: np.ndarray
    phase: np.ndarray
    source_snapshot: np.ndarray
    labels: tuple[str, ...]
    layer: tuple[str, ...]
    channel: np.ndarray
    n_weights: np.ndarray
    kept: np.ndarray
    shed: np.ndarray
    defined: np.ndarray
    tau: np.ndarray

    @property
    def shed_fraction(self) -> np.ndarray:
        """(S, G) shed / kept; NaN where undefined or nothing is kept."""
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = self.shed / self.kept
        return np.where(self.defined & (self.kept > 0), frac, np.nan)

    @property
    def sparsity(self) -> np.ndarray:
        """(S, G) pruned fraction 1 - kept / N."""
        return 1.0 - self.kept / self.n_weights

    @property
    def effective_sparsity(self) -> np.ndarray:
        """(S, G) (pruned + shed) / N; NaN where undefined."""
        eff = (self.n_weights - self.kept + self.shed) / self.n_weights
        return np.where(self.defined, eff, np.nan)

    def column(self, label: str) -> int:
        """Index of the group named ``label`` (e.g. "all", "conv1", "conv1[3]")."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise ConfigError(f"no group {label!r}; groups: {list(self.labels)}") from None

    def aggregate(self, per: str) -> ShedCurve:
        """The same counts summed to a coarser grouping ("layer" or "global")."""
        order = PER.index(_check(per, PER, "per"))
        if order > PER.index(self.per):
            raise ConfigError(f"cannot refine per={self.per!r} to per={per!r}; recompute")
        if per == self.per:
            return self
        names = list(dict.fromkeys(self.layer)) if per == "layer" else ["all"]
        member = [names.index(n) if per == "layer" else 0 for n in self.layer]
        g = np.zeros((len(self.layer), len(names)), dtype=np.int64)
        g[np.arange(len(member)), member] = 1  # (G_fine, G_coarse) membership
        return _replace_groups(
            self,
            per=per,
            labels=tuple(names),
            layer=tuple(names) if per == "layer" else ("",),
            channel=np.full(len(names), -1, dtype=np.int64),
            n_weights=self.n_weights @ g,
            kept=self.kept @ g,
            shed=self.shed @ g,
            # a group is defined when every member with kept weights is (an all-pruned
            # layer has no reference RMS, and nothing to shed)
            defined=((~(self.defined | (self.kept == 0))).astype(np.int64) @ g) == 0,
        )

    def to_table(self) -> list[dict[str, Any]]:
        """One row per (snapshot, group) with counts, fractions and the index."""
        rows = []
        frac, eff = self.shed_fraction, self.effective_sparsity
        for s in range(len(self.step)):
            for gi, label in enumerate(self.labels):
                rows.append(
                    {
                        "snapshot": s,
                        "step": int(self.step[s]),
                        "epoch": float(self.epoch[s]),
                        "round": int(self.round[s]),
                        "phase": str(self.phase[s]),
                        "group": label,
                        "kept": int(self.kept[s, gi]),
                        "shed": int(self.shed[s, gi]),
                        "shed_fraction": finite_or_none(frac[s, gi]),
                        "effective_sparsity": finite_or_none(eff[s, gi]),
                    }
                )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (arrays as nested lists, NaN as None)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            out[name] = jsonable(getattr(self, name))
        out["shed_fraction"] = jsonable(self.shed_fraction)
        out["effective_sparsity"] = jsonable(self.effective_sparsity)
        return out


def shed_curve(
    run: Run,
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    per: str = "global",
    kept_from: Run | None = None,
    method: str = "auto",
) -> ShedCurve:
    """Shed counts and fractions of ``run`` at every snapshot.

    Args:
        run: an open run.
        rule: threshold rule name (see ``THRESHOLD_RULES``).
        c: the rule's multiplier. On the rule's stored grid (``np.isclose``) the stored
            grid value is used and counts come from stored statistics.
        per: "global", "layer" or "channel" (per output channel of every layer).
        kept_from: count on this run's kept sets with this run's thresholds, at the
            snapshots aligned by (round, phase, epoch) (like-for-like controls); the
            snapshot axis is then ``kept_from``'s. Always streams.
        method: "auto", or force "stats" (raises off-grid) or "stream".

    Returns:
        A :class:`ShedCurve`.

    Example:
        >>> curve = shed_curve(run, rule="layer_relative", c=0.01)
        >>> curve.shed_fraction.shape == (len(run), 1)
        True
        >>> bool((curve.shed <= curve.kept).all())
        True
    """
    get_rule(rule)
    _check(per, PER, "per")
    _check(method, METHODS, "method")
    ref = run if kept_from is None else kept_from
    tau = layer_thresholds(ref, rule=rule, c=c)  # (S, L) float32
    gi = grid_index(ref, rule, c)
    c_used = float(ref.grids[get_rule(rule).grid][gi]) if gi is not None else float(c)
    stats_ok = kept_from is None and gi is not None
    if per == "channel":  # per-channel counts are stored at the default rule only
        stats_ok = stats_ok and rule == DEFAULT_RULE and bool(np.isclose(c_used, DEFAULT_C))
    if method == "stats" and not stats_ok:
        raise ConfigError(
            f"no stored counts for rule={rule!r} c={c!r} per={per!r}"
            f"{' with kept_from' if kept_from is not None else ''}; use method='stream'"
        )
    use_stats = method == "stats" or (method == "auto" and stats_ok)
    index = _cache.index(ref)
    source = np.arange(len(ref)) if kept_from is None else align(index, _cache.index(run))
    counted = (
        _from_stats(ref, rule, gi, per) if use_stats else _from_stream(run, ref, tau, per, source)
    )
    kept, shed, defined = counted
    defined &= ~np.isnan(tau)[:, _layer_columns(ref, per)] & (source >= 0)[:, None]
    labels, layers, channel, n_weights = _groups(ref, "channel" if per == "channel" else "layer")
    curve = ShedCurve(
        run_id=run.run_id,
        kept_from="" if kept_from is None else kept_from.run_id,
        rule=rule,
        c=c_used,
        per="channel" if per == "channel" else "layer",
        source="stats" if use_stats else "stream",
        step=index.step,
        epoch=index.epoch,
        round=index.round,
        phase=index.phase,
        source_snapshot=source,
        labels=labels,
        layer=layers,
        channel=channel,
        n_weights=n_weights,
        kept=kept,
        shed=np.where(defined, shed, 0),
        defined=defined,
        tau=tau,
    )
    return curve.aggregate(per)


def _from_stats(run: Run, rule: str, gi: int | None, per: str) -> tuple[np.ndarray, ...]:
    """(kept, shed, defined) per layer or channel from the stored statistics."""
    below = get_rule(rule).below
    kept, shed = [], []
    for info in run.layers:

        def col(name: str, layer: str = info.name) -> np.ndarray:
            return np.asarray(_cache.column(run, layer, name), np.int64)

        if per == "channel":
            kept.append(col("channel_kept"))
            shed.append(col("channel_shed"))
        else:
            kept.append(col("n_kept")[:, None])
            shed.append(col(below)[:, gi][:, None])
    k, s = _hstack(run, kept), _hstack(run, shed)
    return k, np.maximum(s, 0), s >= 0  # below_gmp is -1 without a GMP threshold


def _from_stream(
    run: Run, ref: Run, tau: np.ndarray, per: str, source: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(kept, shed, defined) per layer or channel by streaming ``run``'s magnitudes."""
    cols = _layer_columns(ref, per)
    bounds = np.searchsorted(cols, np.arange(len(ref.layers) + 1))  # layer li: [b[li], b[li+1])
    kept = _stored_kept(ref, per)  # the kept set is ref's mask, whose counts are stored
    shed = np.zeros_like(kept)
    keys = threshold_codes(tau)
    count = _stream.channel_popcount if per == "channel" else _layer_count
    stream = _stream.stream_sets(run, keys, snapshots=range(len(ref)), mask_run=ref, source=source)
    for li, s, sets in stream:
        if sets is not None:
            shed[s, bounds[li] : bounds[li + 1]] = count(sets.shed, ref.layers[li])
    return kept, shed, np.ones_like(kept, dtype=bool)


def _stored_kept(run: Run, per: str) -> np.ndarray:
    """Kept counts (S, L) or (S, sum C) from the stored ``n_kept`` / ``channel_kept``."""
    name = "channel_kept" if per == "channel" else "n_kept"
    cols = [np.asarray(_cache.column(run, i.name, name), np.int64) for i in run.layers]
    return _hstack(run, [c if c.ndim == 2 else c[:, None] for c in cols])


def _layer_count(packed: np.ndarray, info: object) -> int:
    return _stream.popcount(packed)


def _layer_columns(run: Run, per: str) -> np.ndarray:
    """Layer index of every fine group column: (L,) or (sum C,) int64."""
    if per != "channel":
        return np.arange(len(run.layers))
    return np.repeat(np.arange(len(run.layers)), [i.n_channels for i in run.layers])


def _groups(run: Run, per: str) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray, np.ndarray]:
    """(labels, layer, channel, n_weights) of the fine groups."""
    if per == "channel":
        labels: list[str] = []
        layers: list[str] = []
        chans: list[int] = []
        fans: list[int] = []
        for info in run.layers:
            fan = info.n_weights // max(info.n_channels, 1)
            for ch in range(info.n_channels):
                labels.append(f"{info.name}[{ch}]")
                layers.append(info.name)
                chans.append(ch)
                fans.append(fan)
        return tuple(labels), tuple(layers), np.array(chans, np.int64), np.array(fans, np.int64)
    names = tuple(info.name for info in run.layers)
    sizes = np.array([info.n_weights for info in run.layers], dtype=np.int64)
    return names, names, np.full(len(names), -1, dtype=np.int64), sizes


def _hstack(run: Run, parts: list[np.ndarray]) -> np.ndarray:
    return np.hstack(parts) if parts else np.zeros((len(run), 0), dtype=np.int64)


def _replace_groups(curve: ShedCurve, **changes: Any) -> ShedCurve:
    fields = {name: getattr(curve, name) for name in curve.__dataclass_fields__}
    fields.update(changes)
    return ShedCurve(**fields)


def _check(value: str, valid: tuple[str, ...], what: str) -> str:
    if value not in valid:
        raise ConfigError(f"{what}={value!r} is not one of {list(valid)}")
    return value
