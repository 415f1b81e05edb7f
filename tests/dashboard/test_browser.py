"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, via Playwright).

The real Dash server runs in a background thread on a free 127.0.0.1 port. Flows: the runs
page, opening a run, changing the threshold and seeing the shed figure change, comparing
two runs, and watching a run that a background *process* is still writing gain a
snapshot without a reload.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dash_runs import make_runs, rid_of
from dashboard_synth import Synth
from headless import ARGS, CHROMIUM

from dashboard.app import EXTENSION, create_app

SYNTH = Path(__file__).with_name("dashboard_synth.py")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium "
        "(apt-get install -y chromium chromium-driver)",
    ),
]


class Server:
    """The app on a werkzeug server in a daemon thread (the server `serve` runs)."""

    def __init__(self, runs_dir: Path, *, refresh_ms: int = 500) -> None:
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
        self.app = create_app(runs_dir, refresh_ms=refresh_ms)
        self._srv = make_server("127.0.0.1", 0, self.app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self._srv.server_port}"
        self.shots = runs_dir.parent  # where a test may leave its screenshots
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._srv.shutdown()
        self.app.server.extensions[EXTENSION].close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(runs_dir) -> Iterator[Server]:
    srv = Server(runs_dir)
    yield srv
    srv.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.errors = []  # console errors and uncaught exceptions: a flow must produce none
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def figure_ready(pg, gid: str, timeout: float = 20_000) -> None:
    pg.wait_for_function(
        "id => { const g = document.querySelector(`#${id} .js-plotly-plot`);"
        " return !!(g && g.data && g.data.length); }",
        arg=gid,
        timeout=timeout,
    )


def trace_y(pg, gid: str, i: int = 0) -> list:
    """y values of trace i, decoded from plotly's typed-array JSON when needed."""
    return pg.evaluate(
        "([id, i]) => { const y = document.querySelector(`#${id} .js-plotly-plot`).data[i].y;"
        " return Array.from(y && y.bdata ? new Float64Array(Uint8Array.from(atob(y.bdata),"
        " c => c.charCodeAt(0)).buffer) : y); }",
        [gid, i],
    )


def open_run(pg, server: Server, file: str) -> None:
    """Opens the run of ``file`` (its name without suffix) by its link in the runs table."""
    pg.goto(server.url + "/")
    link = f'#runs-table td[data-dash-column=run] a[title^="{file} ·"]'
    pg.wait_for_selector(link, timeout=20_000)
    pg.evaluate("window.__no_reload = 1")
    pg.locator(link).first.click()
    figure_ready(pg, "run-shed")
    assert pg.evaluate("window.__no_reload") == 1  # client-side navigation, no reload


def test_runs_page(page, server):
    page.goto(server.url + "/")
    page.wait_for_selector("#runs-table td >> text='gmp 20% · lrr · seed 0'", timeout=20_000)
    # rows fill in as the files are read in the background (fast tick), no reload
    page.wait_for_function(
        "(() => { const t = document.querySelector('#runs-table').innerText;"
        " return t.includes('no control') && !t.includes('reading'); })()",
        timeout=20_000,
    )
    text = page.inner_text("#runs-table")
    for name in (
        "control · lrr · seed 0",
        "control · lrr · seed 1",
        "gmp 20% · lrr · seed 0",
        "gmp 20% · lrr · seed 1",
        "random 20% · lrr · seed 0",
        "no control",
        "is a control",
    ):
        assert name in text
    assert "-0.0" not in text
    bad = page.inner_text("#runs-bad")
    assert "junk.h5" in bad and "cut.h5" in bad and "truncated" in bad
    page.wait_for_function(
        "document.querySelector('#runs-table').innerText.includes('yes')", timeout=20_000
    )
    assert not page.errors, page.errors


def test_open_run_and_change_threshold(page, server):
    open_run(page, server, "gmp_s0")
    for gid in ("run-metrics", "run-flow"):
        figure_ready(page, gid)
    assert "gmp 20% · lrr · seed 0" in page.inner_text("#run-header")
    assert page.locator(".js-plotly-plot").count() == 3  # the layer tab is not mounted yet
    before = trace_y(page, "run-shed")
    page.locator("#run-value [role=slider]").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "document.querySelector('#run-value-label').innerText.includes('0.0316')"
    )
    deadline = time.monotonic() + 20
    while trace_y(page, "run-shed") == before:
        assert time.monotonic() < deadline, "the shed figure did not change with the threshold"
        time.sleep(0.2)
    after = trace_y(page, "run-shed")
    assert sum(after) > sum(before)  # a higher threshold sheds more
    assert "0.0316" in page.evaluate(
        "document.querySelector('#run-shed .js-plotly-plot').layout.title.text"
    )
    page.get_by_text("Inside one layer").click()
    for gid in ("run-hist", "run-channels", "run-traj"):
        figure_ready(page, gid)
    assert "0.0316" in page.evaluate(
        "document.querySelector('#run-hist .js-plotly-plot').layout.title.text"
    )
    webgl = page.evaluate("document.querySelectorAll('.js-plotly-plot canvas.gl-canvas').length")
    assert webgl == 0
    assert not page.errors, page.errors


def test_compare_two_runs(page, server):
    page.goto(server.url + "/")
    page.wait_for_selector("#runs-table td >> text='gmp 20% · lrr · seed 1'", timeout=20_000)
    rows = page.locator("#runs-table tr:has(input[type=checkbox])")
    for name in ("gmp 20% · lrr · seed 0", "gmp 20% · lrr · seed 1"):
        rows.filter(has_text=name).locator("input[type=checkbox]").check()
    page.wait_for_function("document.querySelector('#runs-compare-link').href.includes('runs=')")
    page.click("#runs-compare-link")
    figure_ready(page, "cmp-overlap")
    figure_ready(page, "cmp-shed")
    shape = page.evaluate(
        "(() => { const z = document.querySelector('#cmp-overlap .js-plotly-plot').data[0].z;"
        " return z.bdata ? z.shape.split(',').map(Number) : [z.length, z[0].length]; })()"
    )
    assert shape == [2, 2]
    labels = page.evaluate("document.querySelector('#cmp-overlap .js-plotly-plot').data[0].x")
    assert sorted(labels) == ["gmp 20% · lrr · seed 0", "gmp 20% · lrr · seed 1"]
    assert "gmp 20% · lrr · seed 1" in page.inner_text("#cmp-runs")
    page.wait_for_function(
        "document.querySelector('#cmp-verdict').innerText.includes('95% CI')", timeout=20_000
    )
    verdict = page.inner_text("#cmp-verdict")
    assert "gmp 20% · lrr: Retraining shed" in verdict and "2 seeds" in verdict
    assert "not attributable to pruning" in verdict
    assert not page.errors, page.errors


def test_live_run_gains_a_snapshot(page, tmp_path):
    root = make_runs(tmp_path, {"done.h5": Synth(run_id="done")}, bad=False)
    writer = subprocess.Popen(
        [sys.executable, str(SYNTH), str(root / "live.h5"), "12", "1.0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    server = Server(root, refresh_ms=500)
    try:
        assert writer.stdout.readline().startswith("committed 1")
        assert writer.stdout.readline().startswith("committed 2")
        open_run(page, server, "live")
        n0 = len(trace_y(page, "run-shed"))
        assert "running" in page.inner_text("#run-header")
        page.wait_for_function(
            "n => { const g = document.querySelector('#run-shed .js-plotly-plot');"
            " const y = g && g.data[0] && g.data[0].y; const len = y && y.bdata ?"
            " atob(y.bdata).length / 8 : (y ? y.length : 0); return len > n; }",
            arg=n0,
            timeout=15_000,
        )
        assert page.evaluate("window.__no_reload") == 1  # updated in place, no reload
        assert len(trace_y(page, "run-shed")) > n0
        assert not page.errors, page.errors
    finally:
        writer.kill()
        writer.wait()
        server.close()


def _plotly_requests(pg) -> int:
    return pg.evaluate(
        "performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('plotly.min.js')).length"
    )


def test_plotly_loads_once_from_the_head_on_graph_pages_only(page, server):
    page.goto(server.url + "/")
    page.wait_for_selector("#runs-table td >> text='gmp 20% · lrr · seed 0'", timeout=20_000)
    assert _plotly_requests(page) == 0  # the runs page draws a table, no graph
    rid = rid_of(server.app.server.extensions[EXTENSION], "gmp_s0")
    page.goto(f"{server.url}/run/{rid}")  # a direct visit: the head starts plotly.js
    figure_ready(page, "run-shed")
    figure_ready(page, "run-metrics")
    assert _plotly_requests(page) == 1  # dcc.Graph awaited the head's load, no second one
    assert page.evaluate("typeof window.Plotly.react") == "function"
    assert not page.errors, page.errors
