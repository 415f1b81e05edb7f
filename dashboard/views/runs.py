"""Runs page: every run file under RUNS_DIR in one sortable, filterable table.

Columns: status, key config, final accuracy, effective sparsity, the raw cascade ratio of
the last prune round and, beside it, the excess ratio over the run's control
or the reason there is none. Files that cannot be read are listed with the reason.
"""

from __future__ import annotations

from contextlib import suppress
from functools import partial
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, dash_table, dcc, html
from dash.dash_table.Format import Format, Scheme
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.data import RunInfo, display_name, run_info
from dashboard.labels import TOOLTIPS
from dashboard.store import RunStore, RunUnavailable
from dashboard.views.common import attrs, fast_tick, nav, publish
from dashboard.views.summary import excess_rounds
from dashboard.views.verdict import explainer

_FIXED = {"type": "numeric", "format": Format(precision=3, scheme=Scheme.fixed)}
_PCT = {"type": "numeric", "format": Format(precision=1, scheme=Scheme.percentage)}
COLUMNS: list[dict[str, Any]] = [
    {"id": "run", "name": "run", "presentation": "markdown"},
    {"id": "status", "name": "status"},
    {"id": "model", "name": "model"},
    {"id": "pruner", "name": "pruner"},
    {"id": "protocol", "name": "protocol"},
    {"id": "sparsity", "name": "sparsity", **_PCT},
    {"id": "seed", "name": "seed", "type": "numeric"},
    {"id": "snapshots", "name": "snaps", "type": "numeric"},
    {"id": "final_acc", "name": "test acc", **_PCT},
    {"id": "effective_sparsity", "name": "eff. sparsity", **_PCT},
    {"id": "cascade_ratio", "name": "C", **_FIXED},
    {"id": "excess_ratio", "name": "C excess", **_FIXED},
    {"id": "control", "name": "control"},
]
TEXT_COLUMNS = ("run", "status", "model", "pruner", "protocol", "control")


def layout() -> html.Div:
    """The runs page (the table fills in from the first live tick)."""
    return html.Div(
        [
            nav("Runs"),
            html.Main(
                [
                    html.H1("Runs"),
                    html.P(
                        "Shedding at the default rule (kept weight below 1% of its layer's RMS "
                        "at the prune event). C = weights shed during retraining per weight "
                        "pruned, last round; C excess subtracts the control run (same "
                        "retraining, no pruning) counted on the same kept set. Open a run by "
                        "its name; tick rows to compare them. Hover a column name for its "
                        "meaning.",
                        className="hint",
                    ),
                    explainer(),
                    dcc.Store(id=ids.RUNS_VERSION),
                    fast_tick(ids.RUNS_FAST),
                    dash_table.DataTable(  # type: ignore[attr-defined]  # not in its stubs
                        id=ids.RUNS_TABLE,
                        columns=COLUMNS,
                        data=[],
                        sort_action="native",
                        filter_action="native",
                        row_selectable="multi",
                        page_action="none",
                        style_table={"overflowX": "auto"},
                        style_cell={
                            "fontFamily": "inherit",
                            "fontSize": "13px",
                            "padding": "4px 6px",
                            "textAlign": "left",
                            "whiteSpace": "normal",
                            "height": "auto",
                        },
                        style_cell_conditional=[
                            {"if": {"column_id": "run"}, "minWidth": "200px"},
                            {"if": {"column_id": "control"}, "maxWidth": "160px"},
                        ],
                        style_header={"fontWeight": "600", "backgroundColor": "#f3f4f6"},
                        style_data_conditional=[
                            {"if": {"filter_query": '{status} = "running"'}, "color": "#1d4ed8"},
                            {"if": {"filter_query": '{status} = "crashed"'}, "color": "#b91c1c"},
                        ],
                        tooltip_header={c["id"]: TOOLTIPS[c["id"]] for c in COLUMNS},
                        tooltip_delay=300,
                        tooltip_duration=None,
                        markdown_options={"link_target": "_self"},
                    ),
                    html.Div(
                        dcc.Link(
                            "Compare selected runs", id=ids.RUNS_COMPARE_LINK, href="/compare"
                        ),
                        className="actions",
                    ),
                    html.Div(id=ids.RUNS_BAD),
                ],
                className="page",
                **attrs(data_title="Runs"),
            ),
        ]
    )


def runs_version(store: RunStore, previous: Any, fast_disabled: Any = True) -> tuple[Any, bool]:
    """(what the table depends on, or no_update; fast tick disabled?): the files (mtime,
    size) and the finished background jobs. PreventUpdate when nothing changed, so the
    table is not rebuilt every tick."""
    files = store.catalog.scan()
    for f in files:  # schedules the re-read of changed files (cheap when unchanged)
        with suppress(Exception):
            store.poll(f.run_id)
    finished = [store.jobs.finished, store.updates.finished]
    version = [[f.run_id, f.mtime, f.size] for f in files] + finished
    return publish(store, version, previous, fast_disabled)


def _excess_cell(store: RunStore, rid: str, info: RunInfo) -> tuple[Any, str]:
    """(excess ratio or None, control column text) of one run."""
    if info.is_control:
        return None, "is a control"
    state, value = excess_rounds(store, rid)
    if state == "done":
        if not value:
            return None, "no prune round yet"
        x = value[-1].excess_cascade_ratio
        return (round(x, 3) + 0.0 if x == x else None), "yes"
    text = {"no control": "no control", "pending": "computing…"}.get(state)
    if text is None:
        text = f"control {value} not found" if state == "missing" else f"failed: {value}"
    return None, text


def runs_table(store: RunStore) -> tuple[list[dict[str, Any]], html.Div]:
    """Table rows (one per readable run) and the list of unreadable files."""
    infos: dict[str, RunInfo] = {}
    reading: list[dict[str, Any]] = []
    bad: list[tuple[str, str]] = []
    seen: dict[str, str] = {}  # run id -> file showing it: a copy or link is one run
    for rf in store.catalog.files():
        try:
            store.poll(rf.run_id)  # schedules a re-read (which fills "info") if it changed
            with store.open(rf.run_id) as run:
                if run.run_id and seen.setdefault(run.run_id, rf.rel) != rf.rel:
                    bad.append((rf.rel, f"duplicate of {seen[run.run_id]} (same run id)"))
                    continue
                info = run.peek("info")
                if info is None and not store.updates.pending():  # nothing will fill it
                    info = run.memo("info", partial(run_info, run, display_name(rf)))
                if info is None:  # a large run being read: its row fills in on a later tick
                    reading.append(
                        {
                            "id": rf.run_id,
                            "run": run_link(display_name(rf), rf.run_id, display_name(rf)),
                            "file": display_name(rf),
                            "status": run.status,
                            "snapshots": len(run),
                            "control": "reading…",
                        }
                    )
                else:
                    infos[rf.run_id] = info
        except (RunUnavailable, KeyError) as e:
            bad.append((rf.rel, str(e).strip("'\"")))
    note = None if infos or reading or bad else store.catalog.empty_note()
    if note is not None:
        return [], html.Div(html.P(note), className="bad")
    rows = []
    for rid, info in infos.items():
        try:
            excess, control = _excess_cell(store, rid, info)
        except (RunUnavailable, KeyError) as e:
            excess, control = None, f"unreadable: {e}"
        rows.append(
            {
                "id": rid,
                "run": run_link(info.name, rid, info.file),
                "file": info.file,
                "status": info.status,
                "model": info.model,
                "pruner": "none (control)" if info.is_control else info.pruner,
                "protocol": info.protocol,
                "sparsity": info.sparsity,
                "seed": info.seed,
                "snapshots": info.snapshots,
                "final_acc": _round(info.final_acc, 4),
                "effective_sparsity": _round(info.effective_sparsity, 4),
                "cascade_ratio": _round(info.cascade_ratio, 3),
                "excess_ratio": excess,
                "control": control,
            }
        )
    return sorted(rows + reading, key=lambda r: r["run"]), bad_files(bad)


def bad_files(bad: list[tuple[str, str]]) -> html.Div:
    """The unreadable files, each with its reason (empty when there are none)."""
    if not bad:
        return html.Div()
    return html.Div(
        [
            html.H3(f"Unreadable files ({len(bad)})"),
            html.Ul([html.Li([html.Code(rel), ": ", why]) for rel, why in bad], className="bad"),
        ]
    )


def open_run_path(cell: dict[str, Any] | None) -> str:
    """Clicking a run's name opens its page, client-side (no reload of the scripts)."""
    if not cell or cell.get("column_id") != "run" or not isinstance(cell.get("row_id"), str):
        raise PreventUpdate
    return f"/run/{cell['row_id']}"


def compare_href(selected: list[str] | None) -> str:
    """Link to the compare page with the ticked runs."""
    return "/compare" + (f"?{urlencode({'runs': ','.join(selected)})}" if selected else "")


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits) + 0.0  # + 0.0: no "-0.000"


def run_link(label: str, rid: str, file: str) -> str:
    """Markdown link to a run's page; its title (shown on hover) is the file and the id."""
    safe = label.replace("[", "(").replace("]", ")")
    file = file.replace('"', "'")
    return f'[{safe}](/run/{rid} "{file} · id {rid}")'


def register(app: dash.Dash, store: RunStore) -> None:
    """The runs page's callbacks, each a one-line call of a function above."""
    cb = app.callback

    @cb(
        Output(ids.RUNS_VERSION, "data"),
        Output(ids.RUNS_FAST, "disabled"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.RUNS_FAST, "n_intervals"),
        Input(ids.RUNS_TABLE, "id"),
        State(ids.RUNS_VERSION, "data"),
        State(ids.RUNS_FAST, "disabled"),
    )
    def _runs_version(_: Any, __: Any, ___: Any, previous: Any, fast_off: Any) -> Any:
        return runs_version(store, previous, fast_off)

    @cb(
        Output(ids.RUNS_TABLE, "data"),
        Output(ids.RUNS_BAD, "children"),
        Input(ids.RUNS_VERSION, "data"),
    )
    def _runs_table(_: Any) -> Any:
        return runs_table(store)

    @cb(
        Output(ids.URL, "pathname"), Input(ids.RUNS_TABLE, "active_cell"), prevent_initial_call=True
    )
    def _open_run(cell: dict | None) -> str:
        return open_run_path(cell)

    @cb(Output(ids.RUNS_COMPARE_LINK, "href"), Input(ids.RUNS_TABLE, "selected_row_ids"))
    def _compare_link(selected: list[str] | None) -> str:
        return compare_href(selected)
