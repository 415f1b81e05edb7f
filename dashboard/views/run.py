"""Run page: one run's training curves, shedding over time and per-layer detail.

Every panel reads stored statistics (or one layer's samples plus one mask row), so each
callback is bounded whatever the run's size. The control run is drawn as a reference:
first its own shed curve (instant), then, once the background pass has counted the
control on this run's kept set (like for like), that curve instead.
"""

from __future__ import annotations

import functools
from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import data, ids, urlstate
from dashboard.labels import TOOLTIPS, percent
from dashboard.store import RunStore
from dashboard.views.common import (
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
from dashboard.views.summary import summary_table
from shedding.analysis.control_counts import ControlCounts, control_counts_job
from shedding.analysis.fates import layer_tau, sample_fates
from shedding.analysis.thresholds import grid_index
from shedding.figures import (
    PALETTE,
    Curve,
    channel_map,
    flow_figure,
    hist_heatmap,
    metrics_figure,
    shed_figure,
    trajectories_figure,
)

OVERVIEW_TAB, LAYER_TAB = "overview", "layer"


def layout(store: RunStore, rid: str, search: str | None = None) -> html.Div:
    """The run page for ``rid`` (an error page when it cannot be opened), in the view
    the query string names (see :mod:`dashboard.urlstate`)."""
    try:
        with store.open(rid) as run:
            layers = [i.name for i in run.layers]
    except Exception as e:
        return html.Div(
            [
                nav(""),
                html.Main(
                    [html.H1("Run not available"), html.P(str(e).strip("'\"")[:300])],
                    className="page",
                    **attrs(data_title="Run not available"),
                ),
            ]
        )
    # The page comes with its first version and the first tab's content drawn for the
    # default controls: no callback round trip (and no empty figure drawn first) before
    # the figures show. Those callbacks, and the poll, run only when an input changes
    # (prevent_initial_call); the second tab computes its figures when opened.
    version = current_version(store, rid)
    q = urlstate.query(search)
    th = urlstate.threshold(q)
    shown = urlstate.choice(q, "layer", [data.ALL, *layers], data.ALL)
    first = shown if shown != data.ALL else (layers[0] if layers else "")
    inner = urlstate.choice(q, "inner", layers, first)
    tab = urlstate.choice(q, "tab", [OVERVIEW_TAB, LAYER_TAB], OVERVIEW_TAB)
    return html.Div(
        [
            nav(""),
            dcc.Store(id=ids.RUN_ID, data=rid),
            dcc.Store(id=ids.RUN_URL_SINK),
            dcc.Store(id=ids.RUN_VERSION, data=version),
            fast_tick(ids.RUN_FAST, store),
            html.Main(
                [
                    html.Div(header(store, rid, version), id=ids.RUN_HEADER),
                    html.Div(summary(store, rid, version), id=ids.RUN_SUMMARY),
                    html.Div(
                        [
                            threshold_controls(
                                ids.RUN_RULE,
                                ids.RUN_VALUE,
                                ids.RUN_VALUE_LABEL,
                                rule=th.rule,
                                index=th.index,
                            ),
                            _dropdown("layers", ids.RUN_SHED_LAYER, [data.ALL, *layers], shown),
                        ],
                        className="control-row",
                    ),
                    # Tabs mount only the selected tab: the page draws 3 figures, not 6.
                    dcc.Tabs(
                        [
                            dcc.Tab(
                                [
                                    html.Div(
                                        [
                                            graph(
                                                ids.RUN_SHED,
                                                shed(store, rid, th.rule, th.index, shown),
                                            ),
                                            graph(ids.RUN_FLOW, flow(store, rid, shown)),
                                        ],
                                        className="grid2",
                                    ),
                                    graph(ids.RUN_METRICS, metrics(store, rid)),
                                ],
                                label="Shedding and training",
                                value=OVERVIEW_TAB,
                            ),
                            dcc.Tab(
                                [
                                    _dropdown(
                                        "layer",
                                        ids.RUN_LAYER,
                                        layers,
                                        inner or None,
                                    ),
                                    html.Div(
                                        [graph(ids.RUN_HIST), graph(ids.RUN_CHANNELS)],
                                        className="grid2",
                                    ),
                                    graph(ids.RUN_TRAJ),
                                ],
                                label="Inside one layer",
                                value=LAYER_TAB,
                            ),
                        ],
                        id=ids.RUN_TABS,
                        value=tab,
                        className="tabs",
                    ),
                ],
                className="page",
                **attrs(data_title=run_name(store, rid)),
            ),
        ]
    )


def _dropdown(label: str, cid: str, options: list[str], value: str | None) -> html.Div:
    return html.Div(
        [
            html.Label(label, className="ctl-label"),
            dcc.Dropdown(id=cid, options=options, value=value, clearable=False),
        ],
        className="ctl-layer",
    )


# --------------------------------------------------------------------------- live


def _control(store: RunStore, rid: str) -> tuple[str | None, str]:
    """(control's opaque id or None, control run_id named by the file)."""
    with store.open(rid) as run:
        cid = run.control
    return store.find(cid), cid


def reference(store: RunStore, rid: str) -> tuple[str, ControlCounts | None]:
    """State of the like-for-like control counts of ``rid`` ("none", "pending", "done",
    "failed") and the counts when done; schedules the background pass if needed."""
    crid, _ = _control(store, rid)
    if crid is None:
        return "none", None
    with store.open(rid) as run:
        version = run.version
    cversion = store.poll(crid)
    rf, crf = store.catalog.get(rid), store.catalog.get(crid)
    if rf is None or crf is None:
        return "none", None
    job = functools.partial(control_counts_job, rf.path, crf.path)
    state, value = store.jobs.get(("ref", rid, version, crid, cversion), job, group=("ref", rid))
    return state, value if state == "done" else None


def current_version(store: RunStore, rid: str) -> list[Any]:
    """(snapshots, metric rows, status, control reference state) of the run now; starts
    the control reference job when it is missing."""
    try:
        return [*store.poll(rid), reference(store, rid)[0]]
    except Exception:
        return ["unavailable"]


def poll(store: RunStore, rid: str, previous: Any, fast_disabled: Any = True) -> tuple[Any, bool]:
    """(new version of the run or no_update, fast tick disabled?); PreventUpdate when
    nothing changed, so the figures redraw only on new data."""
    return publish(store, current_version(store, rid), previous, fast_disabled)


# --------------------------------------------------------------------------- panels


@guard_div
def header(store: RunStore, rid: str, version: Any = None) -> Any:
    """Title, status, key config and the control link."""
    crid, cid = _control(store, rid)
    with store.open(rid) as run:
        rf = store.catalog.get(rid)
        info = run.memo("info", lambda: data.run_info(run, data.display_name(rf) if rf else "?"))
        created = getattr(run, "created", "")
    if crid is not None:
        control: Any = [
            "control run: ",
            dcc.Link(run_name(store, crid), href=f"/run/{crid}", title=f"run id {cid}"),
        ]
    elif cid:
        control = f"control run {cid!r} is not in this directory"
    elif info.is_control:
        control = "this is a control run (no pruning)"
    else:
        control = "no control run: its shedding cannot be attributed to pruning"
    chips = [
        ("model", info.model),
        ("pruner", "none (control)" if info.is_control else info.pruner),
        ("protocol", info.protocol),
        ("sparsity", percent(info.sparsity) if info.sparsity is not None else "—"),
        ("seed", info.seed),
        ("snapshots", info.snapshots),
    ]
    return html.Div(
        [
            html.H1(
                [
                    html.Span(info.name, title=f"{info.file} · run id {info.run_id}"),
                    html.Span(info.status, className=f"badge {info.status}"),
                ]
            ),
            html.Div(
                [
                    html.Span([html.B(k), f" {v}"], className="chip", title=TOOLTIPS.get(k))
                    for k, v in chips
                ],
                className="chips",
            ),
            html.P(
                [
                    f"run id {info.run_id} · created {created} · ",
                    *([control] if isinstance(control, str) else control),
                ],
                className="hint",
            ),
        ]
    )


@guard_div
def summary(store: RunStore, rid: str, version: Any = None) -> Any:
    """Cascade summary per prune round, with the control's figures beside it."""
    return summary_table(store, rid)


@guard_figure
def metrics(store: RunStore, rid: str, version: Any = None) -> Any:
    with store.open(rid) as run:
        return metrics_figure(run.metrics, prune_epochs=data.prune_epochs(run))


@guard_figure
def shed(store: RunStore, rid: str, rule: str, vidx: Any, layer: str, version: Any = None) -> Any:
    """This run's shed fraction and its control's, at the chosen grid threshold."""
    c = grid_value(rule, vidx)
    layer = layer or data.ALL
    with store.open(rid) as run:
        x, y = data.shed_series(run, rule, c, layer)
        epochs = data.prune_epochs(run)
        gi = grid_index(run, rule, c)
    curves = [Curve("this run", x, y, color=PALETTE[0])]
    state, counts = reference(store, rid)
    note = ""
    crid = _control(store, rid)[0] if counts is None and state != "none" else None
    if counts is not None and gi is not None:
        cy = counts.fraction(rule, gi, None if layer == data.ALL else layer)
        curves.append(
            Curve("control, on this run's kept set", counts.epoch, cy, dash="dash", color="#000000")
        )
    elif crid is not None:
        with store.open(crid) as control:  # its own curve from stored statistics, memoised
            cx, cy = data.shed_series(control, rule, c, layer)
        curves.append(Curve("control, own kept set", cx, cy, dash="dot", color="#555555"))
        note = {
            "pending": " (counting the control on this run's kept set…)",
            "failed": " (like-for-like control count failed)",
        }.get(state, "")
    else:
        note = " — no control run"
    title = f"Shed fraction, {rule_text(rule, c)}, {layer}{note}"
    return shed_figure(curves, title=title, prune_epochs=epochs)


@guard_figure
def flow(store: RunStore, rid: str, layer: str, version: Any = None) -> Any:
    with store.open(rid) as run:
        shed_n, rev = data.flow(run, layer or data.ALL)
        epoch, epochs = run.index.epoch, data.prune_epochs(run)
    return flow_figure(
        epoch,
        shed_n,
        rev,
        title=f"Newly shed / revived per snapshot (default rule), {layer}",
        prune_epochs=epochs,
    )


def sync_layers(trigger: Any, top: str | None, inner: str | None) -> tuple[Any, Any]:
    """(overview layer, layer tab's layer): the two pickers agree. A layer chosen above
    becomes the tab's; one chosen in the tab is shown above ("all layers" above leaves
    the tab's as it is)."""
    if trigger == ids.RUN_SHED_LAYER and top and top != data.ALL and top != inner:
        return no_update, top
    if trigger == ids.RUN_LAYER and inner and inner != top:
        return inner, no_update
    raise PreventUpdate


def layer_tab_shown(tab: str | None) -> None:
    """PreventUpdate unless the "Inside one layer" tab is shown: its three figures are
    computed when it is opened (or its inputs change while it is), not with the page."""
    if tab != LAYER_TAB:
        raise PreventUpdate


@guard_figure
def hist(
    store: RunStore,
    rid: str,
    layer: str,
    rule: str,
    vidx: Any,
    version: Any = None,
    tab: str | None = LAYER_TAB,
) -> Any:
    layer_tab_shown(tab)
    c = grid_value(rule, vidx)
    with store.open(rid) as run:
        counts, edges = data.layer_hist(run, layer)
        tau = layer_tau(run, layer, rule, c)
        return hist_heatmap(
            counts,
            edges,
            threshold=tau,
            epoch=run.index.epoch,
            prune_epochs=data.prune_epochs(run),
            title=f"{layer}: kept magnitudes (dashed: {rule_text(rule, c)})",
        )


@guard_figure
def channels(
    store: RunStore, rid: str, layer: str, version: Any = None, tab: str | None = LAYER_TAB
) -> Any:
    layer_tab_shown(tab)
    with store.open(rid) as run:
        frac = data.channel_fraction(run, layer)
        epoch, epochs = run.index.epoch, data.prune_epochs(run)
    return channel_map(
        frac,
        epoch=epoch,
        prune_epochs=epochs,
        title=f"{layer}: shed fraction per output channel (default rule)",
    )


@guard_figure
def trajectories(
    store: RunStore,
    rid: str,
    layer: str,
    rule: str,
    vidx: Any,
    version: Any = None,
    tab: str | None = LAYER_TAB,
) -> Any:
    layer_tab_shown(tab)
    c = grid_value(rule, vidx)
    with store.open(rid) as run:
        values, fates = sample_fates(run, layer, rule, c)
        tau = layer_tau(run, layer, rule, c)
        epoch, epochs = run.index.epoch, data.prune_epochs(run)
    return trajectories_figure(
        epoch,
        values,
        fates,
        threshold=tau,
        prune_epochs=epochs,
        title=f"{layer}: {values.shape[1]} sampled weights, fate at the last snapshot",
    )


# --------------------------------------------------------------------------- callbacks

#: The page renders its first version and the first tab's figures itself (:func:`layout`):
#: these callbacks run on changes only.
LATER = {"prevent_initial_call": True}
VERSION, RID = Input(ids.RUN_VERSION, "data"), State(ids.RUN_ID, "data")
RULE, VALUE = Input(ids.RUN_RULE, "value"), Input(ids.RUN_VALUE, "value")


def register(app: dash.Dash, store: RunStore) -> None:
    """The run page's callbacks, each a one-line call of a function above."""

    @app.callback(
        Output(ids.RUN_VERSION, "data"),
        Output(ids.RUN_FAST, "disabled"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.RUN_FAST, "n_intervals"),
        Input(ids.RUN_ID, "data"),
        State(ids.RUN_VERSION, "data"),
        State(ids.RUN_FAST, "disabled"),
        **LATER,
    )
    def _run_version(_: Any, __: Any, run_id: str, previous: Any, fast_off: Any) -> Any:
        return poll(store, run_id, previous, fast_off)

    _overview_callbacks(app, store)
    _layer_callbacks(app, store)
    urlstate.query_writer(
        app,
        ids.RUN_URL_SINK,
        {"layer": data.ALL, "tab": OVERVIEW_TAB},
        rule=ids.RUN_RULE,
        threshold=ids.RUN_VALUE,
        layer=ids.RUN_SHED_LAYER,
        tab=ids.RUN_TABS,
        inner=ids.RUN_LAYER,
    )


def _overview_callbacks(app: dash.Dash, store: RunStore) -> None:
    """Header, summary and the "Shedding and training" tab; the threshold controls."""
    cb = app.callback

    @cb(Output(ids.RUN_HEADER, "children"), VERSION, RID, **LATER)
    def _run_header(v: Any, run_id: str) -> Any:
        return header(store, run_id, v)

    @cb(Output(ids.RUN_SUMMARY, "children"), VERSION, RID, **LATER)
    def _run_summary(v: Any, run_id: str) -> Any:
        return summary(store, run_id, v)

    @cb(Output(ids.RUN_METRICS, "figure"), VERSION, RID, **LATER)
    def _run_metrics(v: Any, run_id: str) -> Any:
        return metrics(store, run_id, v)

    threshold_callbacks(app, ids.RUN_RULE, ids.RUN_VALUE, ids.RUN_VALUE_LABEL)

    @cb(
        Output(ids.RUN_SHED, "figure"),
        RULE,
        VALUE,
        Input(ids.RUN_SHED_LAYER, "value"),
        VERSION,
        RID,
        **LATER,
    )
    def _run_shed(r: str, c: Any, layer: str, v: Any, run_id: str) -> Any:
        return shed(store, run_id, r, c, layer, v)

    @cb(Output(ids.RUN_FLOW, "figure"), Input(ids.RUN_SHED_LAYER, "value"), VERSION, RID, **LATER)
    def _run_flow(layer: str, v: Any, run_id: str) -> Any:
        return flow(store, run_id, layer, v)

    @cb(
        Output(ids.RUN_SHED_LAYER, "value"),
        Output(ids.RUN_LAYER, "value"),
        Input(ids.RUN_SHED_LAYER, "value"),
        Input(ids.RUN_LAYER, "value"),
        **LATER,
    )
    def _sync_layers(top: str | None, inner: str | None) -> Any:
        return sync_layers(dash.ctx.triggered_id, top, inner)


def _layer_callbacks(app: dash.Dash, store: RunStore) -> None:
    """The "Inside one layer" tab: computed only while it is shown (the tab is an input)."""
    cb = app.callback
    layer, tab = Input(ids.RUN_LAYER, "value"), Input(ids.RUN_TABS, "value")

    @cb(Output(ids.RUN_HIST, "figure"), layer, RULE, VALUE, VERSION, tab, RID)
    def _run_hist(name: str, r: str, c: Any, v: Any, t: str, run_id: str) -> Any:
        return hist(store, run_id, name, r, c, v, t)

    @cb(Output(ids.RUN_CHANNELS, "figure"), layer, VERSION, tab, RID)
    def _run_channels(name: str, v: Any, t: str, run_id: str) -> Any:
        return channels(store, run_id, name, v, t)

    @cb(Output(ids.RUN_TRAJ, "figure"), layer, RULE, VALUE, VERSION, tab, RID)
    def _run_traj(name: str, r: str, c: Any, v: Any, t: str, run_id: str) -> Any:
        return trajectories(store, run_id, name, r, c, v, t)
