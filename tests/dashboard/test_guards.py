"""Malformed requests get a short 4xx, never a 500, through the real Flask endpoints."""

from __future__ import annotations

import json
import time

import pytest
from dash_runs import make_runs, rid_of
from dashboard_synth import Synth

from dashboard import guards
from dashboard.app import EXTENSION, create_app
from dashboard.views.runs import runs_table

UPDATE = "/_dash-update-component"


def _body(outputs: list[tuple[str, str]], inputs: list, state: list = ()) -> dict:
    single = len(outputs) == 1
    return {
        "output": f"{outputs[0][0]}.{outputs[0][1]}"
        if single
        else ".." + "...".join(f"{o}.{p}" for o, p in outputs) + "..",
        "outputs": {"id": outputs[0][0], "property": outputs[0][1]}
        if single
        else [{"id": o, "property": p} for o, p in outputs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }


def _post(client, body: dict | None = None, raw: bytes | str | None = None):
    data = raw if raw is not None else json.dumps(body)
    return client.post(UPDATE, data=data, content_type="application/json")


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("[1, 2]", "must be a JSON object, got a list"),
        ('"text"', "must be a JSON object, got a str"),
        ("{}", "needs 'output'"),
        ('{"outputs": {"id": "x", "property": "y"}, "inputs": []}', "needs 'output'"),
        ('{"output": "a.b", "outputs": {}, "inputs": 5}', "'inputs' must be a list"),
        ('{"output": "a.b", "outputs": {}, "inputs": [7]}', "needs 'id' and 'property'"),
        ("{{{", "is not JSON"),
        ("[" * 5000 + "]" * 5000, "nested deeper"),
        (
            '{"output": "a.b", "outputs": {}, "inputs": [], "x": ' + "[" * 100 + "]" * 100 + "}",
            "nested deeper",
        ),
    ],
)
def test_malformed_bodies_are_400_with_the_reason(client, raw, needle):
    r = _post(client, raw=raw)
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert needle in text and len(text) < 200 and "<html" not in text


def test_a_body_over_the_limit_is_413(client):
    r = _post(client, raw=b" " * (guards.MAX_REQUEST_BYTES + 1))
    assert r.status_code == 413


def test_naming_too_many_runs_is_refused_at_once(client, store):
    rid = rid_of(store, "gmp_s0")
    body = _body(
        [("cmp-shed", "figure")],
        [
            ("cmp-version", "data", []),
            ("cmp-rule", "value", "absolute"),
            ("cmp-value", "value", 3),
            ("cmp-group", "value", "prune.method"),
        ],
        [("cmp-runs", "value", [rid] * 20_000)],
    )
    t0 = time.perf_counter()
    r = _post(client, body)
    assert r.status_code == 400 and "names 20000 runs" in r.get_data(as_text=True)
    assert time.perf_counter() - t0 < 2.0
    search = "?runs=" + ",".join([rid] * (guards.MAX_RUNS + 1))
    route = _body(
        [("page", "children"), ("page-key", "data")],
        [("url", "pathname", "/compare")],
        [("url", "search", search), ("page-key", "data", None)],
    )
    assert _post(client, route).status_code == 400


def test_a_bad_layer_message_names_no_server_path(client, store, runs_dir):
    rid = rid_of(store, "gmp_s0")
    body = _body(
        [("run-flow", "figure")],
        [("run-shed-layer", "value", "nope"), ("run-version", "data", [1])],
        [("run-id", "data", rid)],
    )
    text = _post(client, body).get_data(as_text=True)
    assert "layer 'nope' is not in gmp_s0.h5" in text and str(runs_dir) not in text


def test_a_bogus_threshold_rule_is_never_a_500(client, store):
    rid = rid_of(store, "gmp_s0")
    rule_inputs = {
        "run-shed": [
            ("run-rule", "value", "bogus"),
            ("run-value", "value", 3),
            ("run-shed-layer", "value", "fc"),
            ("run-version", "data", [1]),
        ],
        "run-hist": [
            ("run-layer", "value", "fc"),
            ("run-rule", "value", "bogus"),
            ("run-value", "value", "x"),
            ("run-version", "data", [1]),
            ("run-tabs", "value", "layer"),
        ],
        "run-traj": [
            ("run-layer", "value", "nope"),
            ("run-rule", "value", {"a": 1}),
            ("run-value", "value", None),
            ("run-version", "data", [1]),
            ("run-tabs", "value", "layer"),
        ],
    }
    for output, inputs in rule_inputs.items():
        r = _post(client, _body([(output, "figure")], inputs, [("run-id", "data", rid)]))
        assert r.status_code < 500, (output, r.get_data(as_text=True)[:300])
    cmp = _body(
        [("cmp-shed", "figure")],
        [
            ("cmp-version", "data", []),
            ("cmp-rule", "value", "bogus"),
            ("cmp-value", "value", 1e300),
            ("cmp-group", "value", "no.such.key"),
        ],
        [("cmp-runs", "value", [rid, 5, None])],
    )
    assert _post(client, cmp).status_code < 500
    missing = _body([("no-such-output", "figure")], [("run-version", "data", [1])])
    assert _post(client, missing).status_code < 500


def test_traversal_under_component_suites_is_404_and_real_files_still_load(client):
    for path in (
        "/_dash-component-suites/../../etc/passwd",
        "/_dash-component-suites/dash/../../../etc/passwd",
        "/_dash-component-suites/dash/..%2F..%2Fsetup.py",
        "/_dash-component-suites/nope/x.js",
        "/_dash-component-suites/dash/deps/nothere.js",
    ):
        assert client.get(path).status_code == 404, path
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    page = client.get("/").get_data(as_text=True)
    script = next(s for s in page.split('"') if "dash_renderer" in s and s.endswith(".js"))
    assert client.get(script).status_code == 200


def test_well_formed_callbacks_still_answer(client, store):
    rid = rid_of(store, "gmp_s0")
    body = _body(
        [("run-metrics", "figure")], [("run-version", "data", [1])], [("run-id", "data", rid)]
    )
    r = _post(client, body)
    assert r.status_code == 200 and "train accuracy" in r.get_data(as_text=True)


def test_unreadable_files_are_shown_relative_to_the_runs_directory(store, runs_dir):
    _, bad = runs_table(store)
    text = json.dumps(bad.to_plotly_json(), default=str)
    assert "cut.h5" in text and "junk.h5" in text
    assert str(runs_dir) not in text


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_a_missing_or_empty_runs_directory_says_so(tmp_path, kind):
    root = tmp_path / "runs"
    if kind == "empty":
        root.mkdir()
    app = create_app(root)
    try:
        rows, note = runs_table(app.server.extensions[EXTENSION])
        text = json.dumps(note.to_plotly_json(), default=str)
        assert rows == []
        assert ("does not exist" if kind == "missing" else "holds no run file") in text
        assert str(tmp_path) not in text
    finally:
        app.server.extensions[EXTENSION].close()
    make_runs(root, {"a.h5": Synth(run_id="a")}, bad=False)
    app = create_app(root)
    try:
        rows, note = runs_table(app.server.extensions[EXTENSION])
        assert len(rows) == 1 and "holds no run file" not in json.dumps(
            note.to_plotly_json(), default=str
        )
    finally:
        app.server.extensions[EXTENSION].close()


def test_a_copy_or_link_of_a_run_is_one_row(tmp_path):
    root = make_runs(tmp_path / "runs", {"a.h5": Synth(run_id="a")}, bad=False)
    (root / "copy.h5").write_bytes((root / "a.h5").read_bytes())
    (root / "link.h5").symlink_to(root / "a.h5")
    app = create_app(root)
    try:
        rows, bad = runs_table(app.server.extensions[EXTENSION])
        text = json.dumps(bad.to_plotly_json(), default=str)
        assert len(rows) == 1
        assert text.count("duplicate of a.h5 (same run id)") == 2
    finally:
        app.server.extensions[EXTENSION].close()
