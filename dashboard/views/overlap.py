"""Compare page, overlap panel: pairwise Jaccard of the selected runs' effective kept
sets at one snapshot.

One snapshot's kept sets per run are read: bounded, but about a second at 25 M weights
for a non-default threshold (it streams that snapshot's magnitudes), so it runs on the
store's updates thread; the panel shows a placeholder and the page's fast tick redraws
it once the matrix is there.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.store import RunStore
from dashboard.views.common import (
    NothingToShow,
    error_text,
    grid_value,
    guard_div,
    rule_text,
    run_name,
)
from shedding.analysis.overlap import overlap_matrix
from shedding.figures import empty_figure, overlap_figure
from tracking import open_run

MAX_OVERLAP_RUNS = 8  # one snapshot's kept bitsets per run are read: keep it bounded


def overlap_job(paths: list[Path], labels: list[str], snapshot: int, rule: str, c: float) -> Any:
    """Overlap matrix on private handles (runs on the store's updates thread: one
    snapshot's kept sets per run, bounded, but up to ~1 s at 25 M weights)."""
    with ExitStack() as stack:
        runs = [stack.enter_context(open_run(p)) for p in paths]
        return overlap_matrix(
            runs, snapshot=snapshot, which="effective", rule=rule, c=c, labels=labels
        )


def overlap(
    store: RunStore,
    rids: list[str] | None,
    snapshot: Any,
    rule: str,
    vidx: Any,
    version: Any = None,
) -> tuple[Any, str | None]:
    """(figure, pending job key or None): pairwise Jaccard of the runs' effective kept
    sets at one snapshot, computed in the background; the poll redraws when it is done."""
    try:
        rids = list(dict.fromkeys(rids or []))[:MAX_OVERLAP_RUNS]
        if len(rids) < 2:
            raise NothingToShow(
                "choose at least two runs of the same network for the overlap matrix"
            )
        c = grid_value(rule, vidx)
        found = [store.catalog.get(r) for r in rids]
        files = [f for f in found if f is not None]
        if len(files) < len(found):
            raise KeyError("no run with this id; open the runs page")
        s = int(snapshot) if isinstance(snapshot, int) else -1
        versions = [list(store.poll(r)) for r in rids]
        key = json.dumps(["overlap", rids, versions, s, rule, c])
        job = partial(
            overlap_job, [f.path for f in files], [run_name(store, r) for r in rids], s, rule, c
        )
        state, value = store.updates.get(key, job, group="overlap")
        if state == "pending":
            return empty_figure(f"computing the overlap of {len(rids)} runs at snapshot {s}…"), key
        if state == "failed":
            raise ValueError(value)
        with store.open(rids[0]) as first:
            epochs = first.index.epoch
        when = f" (epoch {epochs[s]:g})" if -len(epochs) <= s < len(epochs) else ""
        title = f"Jaccard of effective kept sets at snapshot {s}{when}, {rule_text(rule, c)}"
        return overlap_figure(value.labels, value.jaccard, title=title), None
    except PreventUpdate:
        raise
    except NothingToShow as e:
        return empty_figure(str(e)), None
    except Exception as e:
        return empty_figure(error_text(e)), None


@guard_div
def note(rids: list[str] | None) -> Any:
    n = len(rids or [])
    if n > MAX_OVERLAP_RUNS:
        return f"The overlap matrix shows the first {MAX_OVERLAP_RUNS} of {n} selected runs."
    return "Effective kept set = kept by the pruner and not shed at the chosen threshold."


def register(app: dash.Dash, store: RunStore) -> None:
    """The overlap panel's callbacks (the compare page renders its first matrix itself:
    these run on changes only)."""

    @app.callback(
        Output(ids.CMP_OVERLAP, "figure"),
        Output(ids.CMP_OVERLAP_JOB, "data"),
        Input(ids.CMP_SNAPSHOT, "value"),
        Input(ids.CMP_RULE, "value"),
        Input(ids.CMP_VALUE, "value"),
        Input(ids.CMP_VERSION, "data"),
        State(ids.CMP_RUNS, "value"),
        prevent_initial_call=True,
    )
    def _cmp_overlap(s: Any, r: str, c: Any, v: Any, selected: list[str]) -> Any:
        return overlap(store, selected, s, r, c, v)

    @app.callback(
        Output(ids.CMP_NOTE, "children"), Input(ids.CMP_RUNS, "value"), prevent_initial_call=True
    )
    def _cmp_note(selected: list[str]) -> Any:
        return note(selected)
