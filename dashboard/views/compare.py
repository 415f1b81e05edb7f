"""Compare page: several runs on the same axes, seeds as mean and min-max band, and the
pairwise Jaccard overlap of their effective kept sets at one snapshot.

Runs whose configs differ only in seed (and name) form one group. Every pruned run's
control is drawn beside its group as a dashed reference.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

import dash
import numpy as np
from dash import Input, Output, State, dcc, html

from dashboard import data, ids, urlstate
from dashboard.data import display_name
from dashboard.labels import run_label
from dashboard.store import RunStore
from dashboard.views import overlap
from dashboard.views.common import (
    NothingToShow,
    attrs,
    fast_tick,
    grid_value,
    guard_div,
    guard_figure,
    nav,
    publish,
    rule_text,
    run_name,
    threshold_callbacks,
    threshold_controls,
)
from dashboard.views.graphs import graph
from dashboard.views.run import current_version as run_version
from dashboard.views.run import reference
from dashboard.views.summary import run_verdict_figures
from dashboard.views.verdict import explainer, verdict_block
from shedding.analysis.thresholds import grid_index
from shedding.figures import FRACTION_FORMAT, PALETTE, Curve, shed_figure

SEEDS = "seeds"  # group value: runs that differ only in seed form one band


def selected_from_search(search: str | None) -> list[str]:
    """Run ids from ``?runs=a,b`` (anything else is ignored; ids are checked later)."""
    values = parse_qs((search or "").lstrip("?")).get("runs", [])
    return [r for v in values for r in v.split(",") if r][:32]


def layout(store: RunStore, search: str | None) -> html.Div:
    files = store.catalog.files()
    options = [
        {"label": run_name(store, f.run_id), "value": f.run_id, "title": display_name(f)}
        for f in files
    ]
    known = {f.run_id for f in files}
    asked = selected_from_search(search)
    chosen = [r for r in asked if r in known]
    lost = len(asked) - len(chosen)
    # The page comes with its first version, snapshot slider and figures for the default
    # controls: nothing waits on a callback round trip before it draws. The figure
    # callbacks run when an input changes (prevent_initial_call).
    q = urlstate.query(search)
    th = urlstate.threshold(q)
    grouping = urlstate.choice(q, "group", [SEEDS, "runs"], SEEDS)
    top, marks, snap = snapshot_range(store, chosen, urlstate.integer(q, "snapshot"))
    overlap_fig, job = overlap.overlap(store, chosen, snap, th.rule, th.index)
    version = current_version(store, chosen, job)
    return html.Div(
        [
            nav("Compare"),
            dcc.Store(id=ids.CMP_URL_SINK),
            dcc.Store(id=ids.CMP_VERSION, data=version),
            dcc.Store(id=ids.CMP_OVERLAP_JOB, data=job),
            fast_tick(ids.CMP_FAST, store),
            html.Main(
                [
                    html.H1("Compare runs"),
                    html.P(
                        f"{lost} run(s) of this link are not in the runs directory "
                        "(moved or deleted); the others are shown.",
                        className="error",
                    )
                    if lost
                    else None,
                    dcc.Dropdown(
                        id=ids.CMP_RUNS,
                        options=options,
                        value=chosen,
                        multi=True,
                        placeholder="choose runs to compare",
                    ),
                    html.Div(
                        [
                            threshold_controls(
                                ids.CMP_RULE,
                                ids.CMP_VALUE,
                                ids.CMP_VALUE_LABEL,
                                rule=th.rule,
                                index=th.index,
                            ),
                            html.Div(
                                [
                                    html.Label("group", className="ctl-label"),
                                    dcc.RadioItems(
                                        id=ids.CMP_GROUP,
                                        value=grouping,
                                        inline=True,
                                        options=[
                                            {"label": " seeds as bands", "value": SEEDS},
                                            {"label": " each run", "value": "runs"},
                                        ],
                                    ),
                                ],
                                className="ctl-layer",
                            ),
                        ],
                        className="control-row",
                    ),
                    html.Div(verdicts(store, chosen, grouping, version), id=ids.CMP_VERDICT),
                    explainer(),
                    html.Div(
                        [
                            graph(
                                ids.CMP_SHED,
                                shed(store, chosen, th.rule, th.index, grouping, version),
                            ),
                            graph(ids.CMP_ACC, accuracy(store, chosen, grouping, version)),
                        ],
                        className="grid2",
                    ),
                    html.H3("Kept-set overlap"),
                    html.Div(
                        [
                            html.Label("snapshot", className="ctl-label"),
                            dcc.Slider(
                                id=ids.CMP_SNAPSHOT,
                                min=0,
                                max=top,
                                marks=marks,
                                step=1,
                                value=snap,
                                allow_direct_input=False,
                                updatemode="mouseup",
                            ),
                        ],
                        className="ctl-slider narrow",
                    ),
                    html.Div(overlap.note(chosen), id=ids.CMP_NOTE, className="hint"),
                    graph(ids.CMP_OVERLAP, overlap_fig),
                ],
                className="page",
                **attrs(data_title="Compare runs"),
            ),
        ]
    )


def poll(
    store: RunStore,
    rids: list[str] | None,
    previous: Any,
    overlap_job: str | None = None,
    fast_disabled: Any = True,
) -> tuple[Any, bool]:
    """(versions of the selected runs and of a pending overlap, or no_update; fast tick
    disabled?); PreventUpdate when nothing changed."""
    return publish(store, current_version(store, rids, overlap_job), previous, fast_disabled)


def current_version(
    store: RunStore, rids: list[str] | None, overlap_job: str | None = None
) -> list[Any]:
    """Versions of the selected runs (and of a pending overlap job) now."""
    head: list[Any] = [store.updates.status(overlap_job)] if overlap_job else []
    return head + [[rid, *run_version(store, rid)] for rid in rids or []]


_SHORT = {"prune.method": "pruner", "retrain.protocol": "protocol", "model.name": "model"}


def _flat(cfg: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(cfg, dict):
        return {prefix[:-1]: json.dumps(cfg)}
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        out.update(_flat(v, f"{prefix}{k}."))
    return out


def groups(store: RunStore, rids: Iterable[str], *, by_seed: bool) -> list[tuple[str, list[str]]]:
    """(label, run ids) per group: same config but seed/name when ``by_seed``, else one
    run per group. Labels name the config keys that differ between groups."""
    flats: dict[str, dict[str, Any]] = {}
    for rid in rids:
        with store.open(rid) as run:
            flats[rid] = {k: v for k, v in _flat(run.config).items() if k not in ("name", "seed")}
    keyed: dict[str, list[str]] = {}
    for rid, flat in flats.items():
        key = json.dumps(flat, sort_keys=True) if by_seed else rid
        keyed.setdefault(key, []).append(rid)
    varying = sorted(
        {
            k
            for f in flats.values()
            for k in f
            if len({json.dumps(g.get(k)) for g in flats.values()}) > 1
        }
    )
    out = []
    for members in keyed.values():
        flat = flats[members[0]]
        with store.open(members[0]) as run:
            cfg = dict(run.config) if by_seed else run.config
        if by_seed:
            cfg.pop("seed", None)  # the group's name leaves the seed out
        rf = store.catalog.get(members[0])
        label = run_label(cfg, display_name(rf) if rf else members[0])
        out.append((label, members, flat))
    return _distinct(out, varying)


def _distinct(
    named: list[tuple[str, list[str], dict[str, Any]]], varying: list[str]
) -> list[tuple[str, list[str]]]:
    """Groups whose readable names collide get the config keys that set them apart."""
    count: dict[str, int] = {}
    for label, _, _ in named:
        count[label] = count.get(label, 0) + 1
    out = []
    for label, members, flat in named:
        if count[label] > 1 and varying:
            label += " · " + ", ".join(
                f"{_SHORT.get(k, k.split('.')[-1])}={json.loads(flat.get(k, 'null'))}"
                for k in varying[:3]
            )
        out.append((label, members))
    return out


def _band(label: str, series: list[tuple[np.ndarray, np.ndarray]], **style: Any) -> Curve | None:
    """Mean and min-max band of curves truncated to their common length."""
    series = [(x, y) for x, y in series if len(y)]
    if not series:
        return None
    m = min(len(y) for _, y in series)
    ys = np.stack([np.asarray(y[:m], float) for _, y in series])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (undefined τ)
        mean, lo, hi = np.nanmean(ys, 0), np.nanmin(ys, 0), np.nanmax(ys, 0)
    return Curve(label, np.asarray(series[0][0][:m], float), mean, lo, hi, n=len(series), **style)


@guard_figure
def shed(
    store: RunStore, rids: list[str] | None, rule: str, vidx: Any, group: str, version: Any = None
) -> Any:
    """Shed fraction of every group, with each group's controls dashed."""
    c = grid_value(rule, vidx)
    curves: list[Curve] = []
    prunes: set[float] = set()
    for k, (label, members) in enumerate(groups(store, rids or [], by_seed=group == SEEDS)):
        color = PALETTE[k % len(PALETTE)]
        runs, controls = [], []
        for rid in members:
            with store.open(rid) as run:
                runs.append(data.shed_series(run, rule, c))
                gi = grid_index(run, rule, c)
                prunes.update(round(e, 3) for e in data.prune_epochs(run))
            _, counts = reference(store, rid)
            if counts is not None and gi is not None:
                controls.append((counts.epoch, counts.fraction(rule, gi)))
        curves += [
            b
            for b in (
                _band(label, runs, color=color),
                _band(f"{label} · control", controls, color=color, dash="dash"),
            )
            if b
        ]
    if not curves:
        raise NothingToShow("choose runs to compare above")
    return shed_figure(
        curves,
        title=f"Shed fraction, {rule_text(rule, c)} (dashed: control on the same kept set)",
        prune_epochs=sorted(prunes),
    )


def _evaluated(band: Curve) -> Curve:
    """``band`` at the epochs some run was evaluated (NaN between evaluations when
    ``train.eval_every`` > 1), so its line and band do not break into pieces."""
    keep = np.isfinite(band.y)
    if keep.all():
        return band
    cut = lambda a: None if a is None else np.asarray(a)[keep]  # noqa: E731
    return dataclasses.replace(
        band, x=band.x[keep], y=band.y[keep], lo=cut(band.lo), hi=cut(band.hi)
    )


@guard_figure
def accuracy(store: RunStore, rids: list[str] | None, group: str, version: Any = None) -> Any:
    """Test accuracy per epoch of every group (mean and min-max band over seeds)."""
    curves = []
    for k, (label, members) in enumerate(groups(store, rids or [], by_seed=group == SEEDS)):
        series = []
        for rid in members:
            with store.open(rid) as run:
                m = run.metrics
                series.append((np.asarray(m.get("epoch", [])), np.asarray(m.get("test_acc", []))))
        band = _band(label, series, color=PALETTE[k % len(PALETTE)])
        if band is not None:
            curves.append(_evaluated(band))
    if not curves:
        raise NothingToShow("no test accuracy logged for the chosen runs")
    fig = shed_figure(curves, title="Test accuracy")
    fig.update_yaxes(title_text="test accuracy", tickformat=FRACTION_FORMAT)
    return fig


def snapshot_range(store: RunStore, rids: list[str] | None, current: Any) -> tuple[int, Any, int]:
    """(max, marks, value) of the overlap snapshot slider: the common snapshots."""
    n = []
    for rid in rids or []:
        try:
            with store.open(rid) as run:
                n.append(len(run))
        except Exception:
            continue
    top = max(min(n) - 1, 0) if n else 0
    value = top if not isinstance(current, int) or current > top else current
    every = max(1, (top + 1) // 10)
    return top, {i: str(i) for i in range(0, top + 1, every)}, value


@guard_div
def verdicts(store: RunStore, rids: list[str] | None, group: str, version: Any = None) -> Any:
    """One verdict per group of pruned runs (over its seeds); controls are listed as such."""
    blocks: list[Any] = []
    for label, members in groups(store, rids or [], by_seed=group == SEEDS):
        figures, pending = [], False
        for rid in members:
            fig, wait = run_verdict_figures(store, rid)
            pending |= wait
            if fig is not None:
                figures.append(fig)
        if figures:
            blocks.append(verdict_block(figures, title=f"{label}: ", pending=pending))
        else:
            blocks.append(
                html.Div(
                    f"{label}: control runs (no pruning) or no prune round yet.", className="hint"
                )
            )
    if not blocks:
        return html.P("Choose runs to compare above.", className="hint")
    return html.Div(blocks)


# --------------------------------------------------------------------------- callbacks

#: The page renders its first version, snapshot range and figures itself (:func:`layout`):
#: these callbacks run on changes only.
LATER = {"prevent_initial_call": True}
CHOSEN, VERSION = State(ids.CMP_RUNS, "value"), Input(ids.CMP_VERSION, "data")
RULE, VALUE = Input(ids.CMP_RULE, "value"), Input(ids.CMP_VALUE, "value")
GROUP = Input(ids.CMP_GROUP, "value")


def register(app: dash.Dash, store: RunStore) -> None:
    """The compare page's callbacks, each a one-line call of a function above (its
    overlap panel registers its own, :func:`dashboard.views.overlap.register`)."""
    cb = app.callback
    urlstate.query_writer(
        app,
        ids.CMP_URL_SINK,
        {"group": SEEDS},
        runs=ids.CMP_RUNS,
        rule=ids.CMP_RULE,
        threshold=ids.CMP_VALUE,
        group=ids.CMP_GROUP,
        snapshot=ids.CMP_SNAPSHOT,
    )

    @cb(
        Output(ids.CMP_VERSION, "data"),
        Output(ids.CMP_FAST, "disabled"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.CMP_FAST, "n_intervals"),
        Input(ids.CMP_RUNS, "value"),
        State(ids.CMP_VERSION, "data"),
        State(ids.CMP_OVERLAP_JOB, "data"),
        State(ids.CMP_FAST, "disabled"),
        **LATER,
    )
    def _cmp_version(
        _: Any, __: Any, selected: list[str], previous: Any, job: Any, off: Any
    ) -> Any:
        return poll(store, selected, previous, job, off)

    threshold_callbacks(app, ids.CMP_RULE, ids.CMP_VALUE, ids.CMP_VALUE_LABEL)
    _panel_callbacks(app, store)


def _panel_callbacks(app: dash.Dash, store: RunStore) -> None:
    """Shed and accuracy figures, verdicts and the overlap snapshot slider."""
    cb = app.callback

    @cb(Output(ids.CMP_SHED, "figure"), VERSION, RULE, VALUE, GROUP, CHOSEN, **LATER)
    def _cmp_shed(v: Any, r: str, c: Any, g: str, selected: list[str]) -> Any:
        return shed(store, selected, r, c, g, v)

    @cb(Output(ids.CMP_VERDICT, "children"), VERSION, GROUP, CHOSEN, **LATER)
    def _cmp_verdict(v: Any, g: str, selected: list[str]) -> Any:
        return verdicts(store, selected, g, v)

    @cb(Output(ids.CMP_ACC, "figure"), VERSION, GROUP, CHOSEN, **LATER)
    def _cmp_acc(v: Any, g: str, selected: list[str]) -> Any:
        return accuracy(store, selected, g, v)

    @cb(
        Output(ids.CMP_SNAPSHOT, "max"),
        Output(ids.CMP_SNAPSHOT, "marks"),
        Output(ids.CMP_SNAPSHOT, "value"),
        VERSION,
        CHOSEN,
        State(ids.CMP_SNAPSHOT, "value"),
        **LATER,
    )
    def _cmp_snapshots(_: Any, selected: list[str], current: Any) -> Any:
        return snapshot_range(store, selected, current)
