"""Callback logic, called as plain functions with a real store over real run files."""

from __future__ import annotations

import time

import numpy as np
import pytest
from dash.exceptions import PreventUpdate
from dash_runs import make_runs, rid_of
from dashboard_synth import Synth, write_snapshots

from dashboard import data
from dashboard.app import create_app, initial_layout, render_page, route
from dashboard.views import compare, overlap, run, runs
from dashboard.views.common import value_label
from tracking import RunWriter


def _settle(store, fn, *, timeout=20.0):
    """Calls ``fn`` until it stops returning a pending background state."""
    deadline = time.monotonic() + timeout
    while True:
        out = fn()
        busy = any(w in repr(out) for w in ("computing", "pending", "reading"))
        if not busy or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def test_runs_table_lists_runs_and_bad_files(store):
    rows, bad = _settle(store, lambda: runs.runs_table(store))
    by = {r["file"]: r for r in rows}
    assert set(by) == {"ctl_s0", "ctl_s1", "gmp_s0", "gmp_s1", "sub/rand_s0"}
    g = by["gmp_s0"]
    # the name is built from the config and links to the run; the file and id on hover
    assert g["run"] == f'[gmp 20% · lrr · seed 0](/run/{g["id"]} "gmp_s0 · id {g["id"]}")'
    assert by["ctl_s1"]["run"].startswith("[control · lrr · seed 1](")
    assert by["ctl_s1"]["pruner"] == "none (control)" and by["gmp_s1"]["pruner"] == "gmp"
    assert (g["status"], g["pruner"], g["protocol"], g["sparsity"], g["seed"]) == (
        "complete",
        "gmp",
        "lrr",
        0.2,
        0,
    )
    assert runs.open_run_path({"column_id": "run", "row_id": g["id"]}) == f"/run/{g['id']}"
    assert g["cascade_ratio"] > 1
    # the excess over the control is smaller than the raw ratio, and says so
    assert g["control"] == "yes" and 0 < g["excess_ratio"] < g["cascade_ratio"]
    assert (
        by["sub/rand_s0"]["control"] == "no control" and by["sub/rand_s0"]["excess_ratio"] is None
    )
    assert by["ctl_s0"]["control"] == "is a control" and by["ctl_s0"]["cascade_ratio"] is None
    text = repr(bad)
    assert "junk.h5" in text and "NotARunFile" in text and "cut.h5" in text and "truncated" in text


def test_runs_version_changes_only_with_files(store, runs_dir):
    runs.runs_version(store, None)
    while store.updates.pending():  # the first look schedules a read of every file
        time.sleep(0.02)
    v, fast_off = runs.runs_version(store, None)
    assert fast_off is True  # nothing running: no fast ticks
    with pytest.raises(PreventUpdate):
        runs.runs_version(store, v, True)


def test_only_a_click_on_a_run_name_navigates():
    for cell in (None, {"column_id": "status", "row_id": "x"}, {"column_id": "run"}):
        with pytest.raises(PreventUpdate):
            runs.open_run_path(cell)


def test_compare_href():
    assert runs.compare_href(None) == "/compare"
    assert runs.compare_href(["a", "b"]) == "/compare?runs=a%2Cb"


def test_run_page_panels(store):
    rid = rid_of(store, "gmp_s0")
    assert "gmp 20% · lrr · seed 0" in repr(run.header(store, rid))
    assert "gmp_s0" in repr(run.header(store, rid))  # the file, on hover
    assert "control run" in repr(run.header(store, rid))
    summary = _settle(store, lambda: run.summary(store, rid))
    assert "C excess" in repr(summary) and "1.355" in repr(summary)
    fig = run.metrics(store, rid)
    assert {t.name for t in fig.data} >= {"test accuracy", "learning rate"}
    for layer in (data.ALL, "fc"):
        assert run.flow(store, rid, layer).data[0].name == "newly shed"
    assert run.hist(store, rid, "fc", "layer_relative", 8).data[0].type == "heatmap"
    assert run.channels(store, rid, "block.0.conv").data[0].type == "heatmap"
    traj = run.trajectories(store, rid, "fc", "absolute", 16)
    assert any(t.name.startswith("pruned") for t in traj.data)


def test_shed_figure_follows_threshold_and_shows_the_control(store):
    rid = rid_of(store, "gmp_s0")
    _settle(store, lambda: run.poll(store, rid, None))
    low = run.shed(store, rid, "layer_relative", 4, data.ALL)
    high = run.shed(store, rid, "layer_relative", 12, data.ALL)
    y_low, y_high = np.asarray(low.data[0].y), np.asarray(high.data[0].y)
    assert (y_high >= y_low).all() and (y_high > y_low).any()  # a higher τ sheds more
    assert [t.name for t in low.data] == ["this run", "control, on this run's kept set"]
    assert "1e-04" in value_label("layer_relative", 0) or "0.0001" in value_label(
        "layer_relative", 0
    )
    no_ctl = run.shed(store, rid_of(store, "rand_s0"), "layer_relative", 8, data.ALL)
    assert "no control" in no_ctl.layout.title.text and len(no_ctl.data) == 1


def test_poll_prevents_update_when_nothing_changed(store):
    rid = rid_of(store, "gmp_s0")
    _settle(store, lambda: run.poll(store, rid, None))
    store.wait_updates(rid)
    v, fast_off = run.poll(store, rid, None)
    assert v[:3] == [9, 8, "complete"] and v[3] == "done"
    with pytest.raises(PreventUpdate):
        run.poll(store, rid, v, fast_off)


def test_live_run_gains_a_snapshot(tmp_path):
    p = Synth(run_id="live")
    w = RunWriter(
        tmp_path / "live.h5",
        layers=list(p.layers),
        config=p.config(),
        run_id="live",
        background=False,
    )
    app = create_app(tmp_path)
    store = app.server.extensions["cascade_shedding"]
    try:
        write_snapshots(w, p, stop=3)
        rid = rid_of(store, "live")
        v1 = run.poll(store, rid, None)[0]
        assert v1[0] == 3 and v1[2] == "running"
        assert len(run.shed(store, rid, "absolute", 16, data.ALL).data[0].x) == 3
        write_snapshots(w, p, start=3, stop=5)
        store.wait_updates(rid)  # the re-read runs on the updates thread, then publishes
        v2 = run.poll(store, rid, v1)[0]
        assert v2[0] == 5
        assert len(run.shed(store, rid, "absolute", 16, data.ALL).data[0].x) == 5
        rows, _ = runs.runs_table(store)
        assert rows[0]["status"] == "running" and rows[0]["snapshots"] == 5
    finally:
        w.close()
        store.close()


def test_compare_page(store):
    ids = [rid_of(store, s) for s in ("gmp_s0", "gmp_s1", "ctl_s0", "rand_s0")]
    groups = compare.groups(store, ids, by_seed=True)
    sizes = sorted(len(m) for _, m in groups)
    assert sizes == [1, 1, 2]  # the two GMP seeds form one group
    _settle(store, lambda: compare.poll(store, ids, None))
    fig = compare.shed(store, ids, "layer_relative", 8, "seeds")
    names = [t.name for t in fig.data if t.name]
    assert any("(n=2)" in n for n in names) and any("control" in n for n in names)
    each = compare.shed(store, ids, "layer_relative", 8, "runs")
    assert not any("(n=" in (t.name or "") for t in each.data)
    acc = compare.accuracy(store, ids, "seeds")
    assert acc.layout.yaxis.title.text == "test accuracy"
    top, marks, value = compare.snapshot_range(store, ids, None)
    assert top == 8 and value == 8 and 0 in marks
    ov, job = overlap.overlap(store, ids, 8, "layer_relative", 8)
    assert job is not None and "computing" in ov.layout.annotations[0].text
    deadline = time.monotonic() + 20
    while store.updates.status(job) == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert compare.poll(store, ids, None, job)[0][0] == "done"  # the poll notices, redraws
    ov, job = overlap.overlap(store, ids, 8, "layer_relative", 8)
    assert job is None
    m = np.asarray(ov.data[0].z, float)
    np.testing.assert_allclose(np.diag(m), 1.0)
    np.testing.assert_allclose(m, m.T)
    assert (m < 1).any()
    one, job = overlap.overlap(store, ids[:1], 8, "layer_relative", 8)
    assert "at least two" in one.layout.annotations[0].text and job is None
    bad, _ = overlap.overlap(store, [ids[0], "f" * 20], 8, "layer_relative", 8)
    assert "cannot show this" in bad.layout.annotations[0].text


def _component(tree, cid):
    """The component with id ``cid`` in a layout tree."""
    if getattr(tree, "id", None) == cid:
        return tree
    children = getattr(tree, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _component(child, cid)
            if found is not None:
                return found
    return None


def test_pages_render_their_first_version_and_figures_so_nothing_waits_on_a_callback(store):
    from dashboard import ids as I

    rid = rid_of(store, "gmp_s0")
    _settle(store, lambda: run.poll(store, rid, None))
    store.wait_updates(rid)
    page = run.layout(store, rid)
    version = _component(page, I.RUN_VERSION).data
    assert version == run.current_version(store, rid) and version[:3] == [9, 8, "complete"]
    with pytest.raises(PreventUpdate):  # the first tick finds nothing new: no redraw
        run.poll(store, rid, version, _component(page, I.RUN_FAST).disabled)
    # the first tab comes drawn, for the default controls, exactly as its callbacks draw it
    rule, vidx = _component(page, I.RUN_RULE).value, _component(page, I.RUN_VALUE).value
    drawn = _component(page, I.RUN_SHED).figure
    assert drawn == run.shed(store, rid, rule, vidx, data.ALL, version)
    assert len(drawn.data) == 2 and "gmp_s0" not in repr(drawn)  # run + its control
    assert _component(page, I.RUN_FLOW).figure == run.flow(store, rid, data.ALL, version)
    assert _component(page, I.RUN_METRICS).figure == run.metrics(store, rid, version)
    assert "complete" in repr(_component(page, I.RUN_HEADER).children)
    # the second tab is computed only once it is opened
    assert getattr(_component(page, I.RUN_HIST), "figure", None) is None
    shown = _component(page, I.RUN_TABS).value
    layer = _component(page, I.RUN_LAYER).value
    for panel in (
        lambda t: run.hist(store, rid, layer, rule, vidx, version, t),
        lambda t: run.channels(store, rid, layer, version, t),
        lambda t: run.trajectories(store, rid, layer, rule, vidx, version, t),
    ):
        with pytest.raises(PreventUpdate):
            panel(shown)
        assert len(panel(run.LAYER_TAB).data) >= 1

    both = [rid, rid_of(store, "ctl_s0")]
    cpage = compare.layout(store, "?runs=" + ",".join(both))
    job = _component(cpage, I.CMP_OVERLAP_JOB).data  # the overlap job it started, if any
    assert ("computing the overlap" in repr(_component(cpage, I.CMP_OVERLAP).figure)) == bool(job)
    # once the job is done, a render has the matrix, and its version is the current one
    cpage = _settle(store, lambda: compare.layout(store, "?runs=" + ",".join(both)))
    assert _component(cpage, I.CMP_OVERLAP_JOB).data is None
    assert "Jaccard" in repr(_component(cpage, I.CMP_OVERLAP).figure)
    assert _component(cpage, I.CMP_VERSION).data == compare.current_version(store, both)
    slider = _component(cpage, I.CMP_SNAPSHOT)
    assert (slider.max, slider.value) == (8, 8)
    shed_fig = _component(cpage, I.CMP_SHED).figure
    assert len(shed_fig.data) >= 2 and len(_component(cpage, I.CMP_ACC).figure.data) >= 2


def test_the_first_page_comes_with_the_layout_and_the_route_does_not_redo_it(store):
    from dashboard import ids as I

    rid = rid_of(store, "gmp_s0")
    shell = initial_layout(store, f"http://127.0.0.1:8050/run/{rid}", "127.0.0.1:8050")
    key = _component(shell, I.PAGE_KEY).data
    assert key == f"/run/{rid}" and _component(shell, I.RUN_SHED) is not None
    with pytest.raises(PreventUpdate):  # the URL's initial callback finds it shown
        route(store, f"/run/{rid}", "", key)
    page, new_key = route(store, "/", "", key)  # a later navigation renders
    assert new_key == "/" and _component(page, I.RUNS_TABLE) is not None
    cmp_shell = initial_layout(store, "http://h/compare?runs=a,b", "h")
    assert _component(cmp_shell, I.PAGE_KEY).data == "/compare?runs=a,b"
    # no Referer, or one from another host: an empty shell, and the route renders
    for ref, host in ((None, "h"), ("", "h"), (f"http://evil/run/{rid}", "h")):
        shell = initial_layout(store, ref, host)
        assert _component(shell, I.PAGE_KEY).data is None
        assert _component(shell, I.PAGE).children is None
    assert route(store, f"/run/{rid}/", "", None)[1] == f"/run/{rid}"


def test_compare_selection_from_url_ignores_unknown_ids(store):
    rid = rid_of(store, "gmp_s0")
    page = compare.layout(store, f"?runs={rid},../../etc/passwd,nope")
    assert repr(page).count(rid) >= 1 and "passwd" not in repr(page)
    assert compare.selected_from_search("?runs=a,b&runs=c") == ["a", "b", "c"]


def test_render_page_routes(store):
    assert "runs-table" in repr(render_page(store, "/", ""))
    assert "run-shed" in repr(render_page(store, f"/run/{rid_of(store, 'gmp_s0')}", ""))
    assert "cmp-runs" in repr(render_page(store, "/compare", "?runs="))
    assert "Not found" in repr(render_page(store, "/nope", ""))
    assert "Run not available" in repr(render_page(store, "/run/0123456789abcdef0123", ""))


def test_damaged_file_panels_show_the_reason(tmp_path):
    root = make_runs(tmp_path, {"a.h5": Synth(run_id="a"), "b.h5": Synth(run_id="b")}, bad=False)
    app = create_app(root)
    store = app.server.extensions["cascade_shedding"]
    try:
        rid = rid_of(store, "a")
        assert run.metrics(store, rid).data
        blob = (root / "a.h5").read_bytes()
        (root / "a.h5").write_bytes(blob[: len(blob) // 3])  # cut while the app has it open
        store.catalog.scan()
        # the open handle either still serves or fails cleanly: no panel raises
        for fig in (
            run.metrics(store, rid),
            run.shed(store, rid, "absolute", 16, data.ALL),
            run.hist(store, rid, "fc", "absolute", 16),
            run.channels(store, rid, "fc"),
        ):
            assert fig.layout is not None
    finally:
        store.close()
    fresh = create_app(root)  # a new server process: the file is refused with the reason
    store = fresh.server.extensions["cascade_shedding"]
    try:
        rid = rid_of(store, "a")
        fig = run.metrics(store, rid)
        assert "cannot show this" in fig.layout.annotations[0].text
        assert "truncated" in fig.layout.annotations[0].text
        assert "truncated" in repr(render_page(store, f"/run/{rid}", ""))
        rows, bad = runs.runs_table(store)
        assert [r["file"] for r in rows] == ["b"] and "a.h5" in repr(bad)
    finally:
        store.close()


def test_run_page_opens_in_the_view_its_query_names(store):
    from dashboard import urlstate

    rid = rid_of(store, "gmp_s0")
    page = repr(run.layout(store, rid, "?rule=absolute&threshold=0.001&layer=conv1&tab=layer"))
    assert "'absolute'" in page and "τ = 0.001" in page and "value='layer'" in page
    # unknown values fall back to the defaults, never an error
    bad = urlstate.threshold(urlstate.query("?rule=nope&threshold=x"))
    assert bad == urlstate.Threshold()
    assert urlstate.threshold(urlstate.query("?rule=absolute&threshold=abc")).rule == "absolute"
    assert urlstate.choice({"tab": "x"}, "tab", ["overview", "layer"], "overview") == "overview"


def test_compare_page_reads_group_and_snapshot_and_says_what_a_link_lost(store):
    ids_ = [rid_of(store, s) for s in ("gmp_s0", "gmp_s1")]
    page = repr(compare.layout(store, f"?runs={','.join(ids_)},{'f' * 20}&group=runs&snapshot=2"))
    assert "value='runs'" in page and "1 run(s) of this link are not in the runs directory" in page
    both = repr(_settle(store, lambda: compare.verdicts(store, ids_, compare.SEEDS)))
    assert "not attributable to pruning" in both and "95% CI" in both and "2 seeds" in both
    each = repr(_settle(store, lambda: compare.verdicts(store, ids_, "runs")))
    assert each.count("1 seed: no interval") == 2


def test_accuracy_bands_skip_the_epochs_between_evaluations():
    """With train.eval_every > 1 the test accuracy is NaN between evaluations; the compare
    page draws the evaluated epochs only, so its line and band stay whole."""
    series = [
        (np.arange(1.0, 6.0), np.array([np.nan, 0.5, np.nan, 0.7, 0.8])),
        (np.arange(1.0, 6.0), np.array([np.nan, 0.6, np.nan, 0.9, 0.9])),
    ]
    band = compare._evaluated(compare._band("gmp", series))
    np.testing.assert_array_equal(band.x, [2.0, 4.0, 5.0])
    np.testing.assert_allclose(band.y, [0.55, 0.8, 0.85])
    np.testing.assert_allclose(band.lo, [0.5, 0.7, 0.8])
    np.testing.assert_allclose(band.hi, [0.6, 0.9, 0.9])
    every = compare._band("gmp", [(np.arange(1.0, 4.0), np.array([0.1, 0.2, 0.3]))])
    assert compare._evaluated(every) is every
