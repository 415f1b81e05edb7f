"""A statistics-only run file in the dashboard: the run page draws from the stored
statistics, and what needs magnitudes shows the one-line refusal without breaking the run."""

from __future__ import annotations

import time

import pytest
from dash_runs import rid_of

from dashboard import data
from dashboard.app import EXTENSION, create_app
from dashboard.store import RunUnavailable
from dashboard.views import overlap, run
from tests.tracking import tracking_fakes as fakes
from tracking import RunWriter


@pytest.fixture
def store(tmp_path):
    for stem in ("stats_a", "stats_b"):
        with RunWriter(
            tmp_path / f"{stem}.h5", layers=fakes.LAYERS, config=fakes.CONFIG, mode="stats"
        ) as w:
            fakes.write(w, 0, 7)
    app = create_app(tmp_path, refresh_ms=500)
    yield app.server.extensions[EXTENSION]
    app.server.extensions[EXTENSION].close()


def _settle(fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        out = fn()
        if not any(w in repr(out) for w in ("computing", "pending", "reading")):
            return out
        if time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def test_run_page_draws_a_stats_only_run(store):
    rid = rid_of(store, "stats_a")
    assert "stats_a" in repr(run.header(store, rid))
    _settle(lambda: run.summary(store, rid))
    assert run.flow(store, rid, data.ALL).data[0].name == "newly shed"
    assert run.hist(store, rid, "fc", "layer_relative", 8).data[0].type == "heatmap"
    assert run.channels(store, rid, "block.0.conv").data[0].type == "heatmap"
    run.trajectories(store, rid, "fc", "absolute", 16)
    assert len(run.shed(store, rid, "layer_relative", 8, data.ALL).data[0].y) == 7


def test_what_needs_magnitudes_is_refused_in_one_line_and_the_run_stays_usable(store):
    rid = rid_of(store, "stats_a")
    with pytest.raises(RunUnavailable, match="statistics-only") as err, store.open(rid) as r:
        r.magnitudes("fc", 0)
    assert "\n" not in str(err.value) and "fix:" in str(err.value)
    with store.open(rid) as r:  # not marked unreadable
        assert len(r) == 7
    ids = [rid, rid_of(store, "stats_b")]
    ov = _settle(lambda: overlap.overlap(store, ids, 6, "layer_relative", 8)[0])
    text = " ".join(a.text for a in ov.layout.annotations)
    assert "statistics-only" in text
