"""App factory smoke tests: real Flask endpoints, real `serve` in a subprocess, no torch."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dash
import pytest

from dashboard import ids
from dashboard.app import EXTENSION, create_app, serve
from shedding.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_factory_serves_layout_and_callbacks(app):
    assert isinstance(app, dash.Dash)
    client = app.server.test_client()
    index = client.get("/")
    assert index.status_code == 200 and "<title>cascade-shedding</title>" in index.get_data(
        as_text=True
    )
    layout = json.dumps(client.get("/_dash-layout").get_json())
    for cid in (ids.URL, ids.TICK, ids.PAGE):
        assert f'"{cid}"' in layout
    assert '"interval": 500' in layout.replace('"interval":500', '"interval": 500')
    deps = client.get("/_dash-dependencies").get_json()
    known = {v for k, v in vars(ids).items() if k.isupper()}
    for dep in deps:
        for out in dep["output"].strip(".").split("..."):
            assert out.split(".")[0] in known, out
    assert len(deps) >= 20


def test_callbacks_live_in_the_app_not_in_module_globals(runs_dir):
    from dash import _callback

    a, b = create_app(runs_dir), create_app(runs_dir)
    try:
        assert not _callback.GLOBAL_CALLBACK_LIST and not _callback.GLOBAL_CALLBACK_MAP
        assert a.callback_map.keys() == b.callback_map.keys()
        assert a.server.extensions[EXTENSION] is not b.server.extensions[EXTENSION]
    finally:
        for x in (a, b):
            x.server.extensions[EXTENSION].close()


def test_serve_refuses_a_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        serve(tmp_path / "nope")


def test_serve_runs_a_real_server_without_torch(runs_dir):
    port = free_port()
    code = (
        # A shell that started the suite in the background (`make test &`) hands children
        # SIGINT as ignored; restore Python's handler so the Ctrl-C below reaches serve.
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from dashboard import serve\n"
        "try:\n"
        f"    serve({str(runs_dir)!r}, port={port})\n"
        "finally:\n"
        "    print('TORCH', 'torch' in sys.modules, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/_dash-update-component",
            data=json.dumps(
                {
                    "output": "..page.children...page-key.data..",
                    "outputs": [
                        {"id": "page", "property": "children"},
                        {"id": "page-key", "property": "data"},
                    ],
                    "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
                    "state": [
                        {"id": "url", "property": "search", "value": ""},
                        {"id": "page-key", "property": "data", "value": None},
                    ],
                    "changedPropIds": ["url.pathname"],
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert "runs-table" in r.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: serve's cleanup runs, then the probe
        out = proc.communicate(timeout=20)[0]
    assert "TORCH False" in out, out  # serving and a callback never imported torch
    assert "Debug mode: off" in out


def test_each_view_registers_the_callbacks_of_its_own_page(app, store):
    from dashboard.app import VIEWS
    from dashboard.views import compare, overlap, run, runs

    own = {
        runs: ("runs-", ids.URL),  # the runs table opens a run by setting the URL
        run: ("run-",),
        compare: ("cmp-",),
        overlap: (ids.CMP_OVERLAP, ids.CMP_NOTE),
    }
    assert set(VIEWS) == set(own)
    total = 0
    for view in VIEWS:
        alone = dash.Dash(__name__)
        view.register(alone, store)
        outputs = [o.split(".")[0] for cb in alone.callback_map for o in cb.strip(".").split("...")]
        assert outputs and all(o.startswith(own[view]) for o in outputs), (view, outputs)
        total += len(alone.callback_map)
    assert total + 1 == len(app.callback_map)  # + the route, in the app itself


def test_graphs_get_the_partial_plotly_bundle(app):
    from dashboard.app import PLOTLY_BUNDLE

    r = app.server.test_client().get("/_dash-component-suites/plotly/package_data/plotly.min.js")
    assert r.status_code == 200
    head = r.get_data()[:200].decode()
    assert (
        "custom bundle (scatter, bar, heatmap)" in head
        if PLOTLY_BUNDLE.is_file()
        else "plotly.js" in head
    )


def test_the_app_builds_only_the_trace_types_its_plotly_bundle_has():
    """static/plotly-shedding.min.js registers scatter, bar and heatmap only; a figure of
    another type would draw nothing (plotly.js only warns in the console). The figures
    are built in shedding.figures and dashboard."""
    import ast
    from pathlib import Path

    import dashboard
    import shedding.figures

    used = set()
    drawn = (Path(dashboard.__file__).parent, Path(shedding.figures.__file__).parent)
    for path in (p for root in drawn for p in root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "go"
            ):
                used.add(node.func.attr)
            if isinstance(node, ast.ImportFrom) and node.module == "plotly.express":
                used.add("plotly.express")
    assert used and used <= {"Figure", "Scatter", "Bar", "Heatmap"}, used


def test_the_page_head_starts_loading_plotly_before_any_graph_mounts(app):
    html = app.server.test_client().get("/").get_data(as_text=True)
    head = html.split("</head>")[0]
    # dcc.Graph waits on Promise.resolve(window.Plotly || load()): the head's promise
    # makes it wait for this load instead of starting a second one
    assert "window.Plotly=window.Plotly||new Promise" in head
    assert '"/_dash-component-suites/plotly/package_data/plotly.min.js"' in head


def test_dash_polyfill_is_served_as_the_regenerator_runtime_only(app):
    import re

    from dashboard.app import REGENERATOR

    client = app.server.test_client()
    index = client.get("/").get_data(as_text=True)
    src = re.search(r'src="([^"]*/deps/polyfill@[^"]*)"', index).group(1)
    body = client.get(src).get_data(as_text=True)
    assert REGENERATOR.is_file() and body == REGENERATOR.read_text()
    assert "globalThis.regeneratorRuntime = runtime" in body  # what dash-renderer calls
    assert len(body) < 30_000  # not the 100 kB polyfill
    react = re.search(r'src="([^"]*/deps/react@[^"]*)"', index).group(1)
    assert "createElement" in client.get(react).get_data(as_text=True)  # others untouched
