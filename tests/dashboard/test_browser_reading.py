"""What a visitor reads, in a real headless Chromium: the verdict, the words on the
figures, the page structure a screen reader or keyboard user relies on, and a link that
reopens the same view after the server restarts."""

from __future__ import annotations

import time

import pytest
from dash_runs import make_runs, rid_of
from dashboard_synth import Synth
from test_browser import Server, browser, figure_ready, open_run, page, pytestmark, server

from dashboard.app import EXTENSION
from shedding.analysis.controls import excess_summary
from tracking import open_run as open_file

__all__ = ["browser", "page", "pytestmark", "server"]  # fixtures and marks shared

#: Every axis' tick labels, per axis layer of every plot on the page.
TICKS_JS = """() => Array.from(document.querySelectorAll(
  '.js-plotly-plot g[class*="axislayer-above"], .js-plotly-plot g.cbaxis'))
  .map(l => Array.from(l.querySelectorAll('text')).map(t => t.textContent))
  .filter(t => t.length)"""


def test_run_page_states_its_verdict_and_labels(page, server, runs_dir):
    with open_file(runs_dir / "gmp_s0.h5") as run, open_file(runs_dir / "ctl_s0.h5") as ctl:
        x = excess_summary(run, ctl)[-1]  # what the verdict must say, from the analysis
    shed = (x.shed_end - x.shed_at_prune) / x.kept
    control = (x.control_shed_end - x.control_shed_at_prune) / x.kept
    open_run(page, server, "gmp_s0")
    figure_ready(page, "run-metrics")
    page.wait_for_function(  # the control count lands from the background thread
        "(t => t.includes('C_excess = ') && !t.includes('computing'))"
        "(document.querySelector('#run-summary').innerText)",
        timeout=60_000,
    )
    verdict = page.inner_text("#run-summary .verdict")
    assert verdict.startswith(
        f"Retraining shed {shed:.1%} of the kept weights (control: {control:.1%}); "
        f"C = {x.cascade_ratio:.2f}, C_control = {x.control_ratio:.2f}, "
        f"C_excess = {x.excess_cascade_ratio:.2f} [1 seed: no interval]: "
        "not attributable to pruning"
    ), verdict
    # every summary column explains itself on hover, and the terms are one click away
    titles = page.eval_on_selector_all("table.summary th", "ths => ths.map(t => t.title)")
    assert len(titles) == 17 and all(titles)
    page.get_by_text("What is cascade shedding?").first.click()
    assert "C_excess" in page.inner_text("details.explainer[open]")
    legends = page.evaluate(
        "document.querySelector('#run-metrics .js-plotly-plot').data.map(t => t.name)"
    )
    assert {"train accuracy", "test loss", "learning rate"} <= set(legends)
    xaxes = page.evaluate(
        "['run-shed', 'run-flow', 'run-metrics'].map(id => document.querySelector("
        "`#${id} .js-plotly-plot`).layout.xaxis.title.text)"
    )
    assert xaxes == ["epoch", "epoch", "epoch"]
    buttons = page.eval_on_selector_all(
        "#run-shed .modebar-btn", "bs => bs.map(b => b.getAttribute('data-title'))"
    )
    assert buttons and not [b for b in buttons if "Share" in b or "Chart Studio" in b]
    assert not page.errors, page.errors


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A run that sheds little (below 2%): whole-percent ticks would read "0% 0% 1% 1%"."""
    root = make_runs(
        tmp_path_factory.mktemp("small"),
        {
            "small.h5": Synth(run_id="small", control="small_ctl", sparsity=0.2, shed=0.012),
            "small_ctl.h5": Synth(run_id="small_ctl", sparsity=0.0, shed=0.004),
        },
        bad=False,
    )
    srv = Server(root)
    yield srv
    srv.close()


@pytest.mark.parametrize("rule", ["layer_relative", "gmp_relative", "absolute"])
def test_no_axis_of_the_run_page_repeats_a_tick_label(page, small, rule):
    server = small
    rid = rid_of(server.app.server.extensions[EXTENSION], "small")
    page.goto(f"{server.url}/run/{rid}?rule={rule}")
    for gid in ("run-shed", "run-flow", "run-metrics"):
        figure_ready(page, gid)
    time.sleep(0.5)  # the last relayout
    page.screenshot(path=str(server.shots / f"run-{rule}.png"), full_page=True)
    axes = page.evaluate(TICKS_JS)
    assert len(axes) >= 6
    for ticks in axes:
        assert len(ticks) == len(set(ticks)), ticks
    assert not page.errors, page.errors


def test_pages_have_their_own_title_one_h1_and_landmarks(page, server):
    store = server.app.server.extensions[EXTENSION]
    g0, g1 = rid_of(store, "gmp_s0"), rid_of(store, "gmp_s1")
    expect = {
        "/": "Runs · cascade-shedding",
        f"/run/{g0}": "gmp 20% · lrr · seed 0 · cascade-shedding",
        f"/compare?runs={g0},{g1}": "Compare runs · cascade-shedding",
    }
    for path, title in expect.items():
        page.goto(server.url + path)
        page.wait_for_function("t => document.title === t", arg=title, timeout=20_000)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1").count() == 1
        assert page.locator("main").count() == 1 and page.locator("nav").count() == 1
    labels = page.eval_on_selector_all(
        "figure[role=img]", "fs => fs.map(f => f.getAttribute('aria-label'))"
    )
    assert len(labels) == 3 and all(labels)
    assert not page.errors, page.errors


def test_keyboard_reaches_and_opens_a_run_and_the_tabs(page, server):
    page.goto(server.url + "/")
    page.wait_for_selector("#runs-table a", timeout=20_000)
    assert page.eval_on_selector_all(
        "input.dash-filter--case", "bs => bs.every(b => b.tabIndex === -1)"
    )
    page.evaluate("window.__no_reload = 1")
    for _ in range(40):  # nav, explainer, one filter per column, then the first row
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#runs-table a[href^=\"/run/\"]')"):
            break
    else:
        pytest.fail("Tab never reached a run's link")
    page.keyboard.press("Enter")
    figure_ready(page, "run-shed")
    assert page.evaluate("window.__no_reload") == 1  # client-side, no reload
    tab = page.locator("#run-tabs .tab", has_text="Inside one layer")
    tab.focus()
    page.keyboard.press("Enter")
    figure_ready(page, "run-hist")
    assert tab.get_attribute("aria-selected") == "true"
    assert "tab=layer" in page.url
    assert not page.errors, page.errors


def test_a_link_reopens_the_same_view_after_a_restart(page, runs_dir, tmp_path):
    first = Server(runs_dir)
    try:
        open_run(page, first, "gmp_s0")
        page.locator("#run-value [role=slider]").first.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("location.search.includes('threshold=0.0316')", timeout=10_000)
        page.locator("#run-tabs .tab", has_text="Inside one layer").click()
        page.wait_for_function("location.search.includes('tab=layer')", timeout=10_000)
        link = page.url
        assert "layer=" not in link  # defaults stay out of the link
        page.goto("about:blank")  # the old page would poll the stopped server
    finally:
        first.close()
    second = Server(runs_dir)  # a fresh process would build the same catalog
    try:
        page.goto(link.replace(first.url, second.url))
        figure_ready(page, "run-hist")
        assert "gmp 20% · lrr · seed 0" in page.inner_text("#run-header")
        assert "0.0316" in page.inner_text("#run-value-label")
        title = page.evaluate("document.querySelector('#run-hist .js-plotly-plot').layout.title")
        assert "0.0316" in title["text"]
    finally:
        second.close()
    assert not page.errors, page.errors


def test_the_two_layer_pickers_agree(page, server):
    open_run(page, server, "gmp_s0")
    page.click("#run-shed-layer")
    page.get_by_role("option", name="block.0.conv", exact=True).click()
    page.wait_for_function(
        "document.querySelector('#run-shed .js-plotly-plot').layout.title.text"
        ".includes('block.0.conv')",
        timeout=20_000,
    )
    page.locator("#run-tabs .tab", has_text="Inside one layer").click()
    figure_ready(page, "run-hist")
    assert "block.0.conv" in page.inner_text("#run-layer")
    assert page.evaluate(
        "document.querySelector('#run-hist .js-plotly-plot').layout.title.text"
    ).startswith("block.0.conv")
    page.click("#run-layer")
    page.get_by_role("option", name="fc", exact=True).click()
    page.wait_for_function("location.search.includes('layer=fc')", timeout=10_000)
    page.locator("#run-tabs .tab", has_text="Shedding and training").click()
    page.wait_for_function(
        "(() => { const g = document.querySelector('#run-shed .js-plotly-plot');"
        " return g && g.layout.title.text.includes(', fc'); })()",
        timeout=20_000,
    )
    assert not page.errors, page.errors
