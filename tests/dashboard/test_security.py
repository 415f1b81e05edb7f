"""Nothing outside RUNS_DIR can be read, whatever the browser sends.

Attacks tried: path strings as run ids ("../../etc/passwd", absolute paths, the file's own
relative path), forged ids, symlinks (file and directory) pointing outside, a listed
file swapped for a symlink after the scan, and all of these through the real Flask
endpoints Dash exposes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dash_runs import make_runs, rid_of
from dashboard_synth import Synth, write_run

from dashboard.app import EXTENSION, create_app
from dashboard.catalog import RunCatalog

SECRET = "TOPSECRET-outside-the-runs-dir"
ATTACKS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "gmp_s0.h5",
    "sub/rand_s0.h5",
    "0" * 20,
    "",
    None,
    12,
    ["../x"],
]


@pytest.fixture
def fenced(tmp_path):
    """A runs dir with symlinks pointing out of it, next to a real run file outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    write_run(outside / "outside_run.h5", Synth(run_id="outside_run"))
    (outside / "secret.h5").write_text(SECRET)
    runs = make_runs(tmp_path / "runs", {"inside.h5": Synth(run_id="inside")}, bad=False)
    (runs / "link_out.h5").symlink_to(outside / "outside_run.h5")
    (runs / "secret_link.h5").symlink_to(outside / "secret.h5")
    (runs / "dir_out").symlink_to(outside, target_is_directory=True)
    (runs / "link_in.h5").symlink_to(runs / "inside.h5")
    return runs, outside


def test_ids_are_opaque_and_survive_a_restart(fenced):
    runs, _ = fenced
    a, b = RunCatalog(runs), RunCatalog(runs)  # b: the catalog of a restarted server
    files = a.scan()
    assert {f.rel for f in files} == {"inside.h5", "link_in.h5"}  # nothing that leaves the dir
    for f in files:
        assert len(f.run_id) == 20 and "inside" not in f.run_id
        assert a.resolve(f.run_id) == f.path and b.resolve(f.run_id) == f.path
    # the id of a path outside the directory is well formed but names nothing
    assert b.resolve(b.make_id("../outside/outside_run.h5")) is None
    assert b.resolve(b.make_id("dir_out/outside_run.h5")) is None
    keyed = RunCatalog(runs, secret=b"k")
    assert keyed.make_id("inside.h5") != a.make_id("inside.h5")
    assert keyed.resolve(a.make_id("inside.h5")) is None


def test_catalog_refuses_anything_but_its_ids(fenced):
    runs, outside = fenced
    cat = RunCatalog(runs)
    real = cat.scan()[0].run_id
    forged = [
        *ATTACKS,
        str(outside / "outside_run.h5"),
        str(runs / "inside.h5"),
        real.upper(),
        real + "\n",
        real[:-1],
        f"{real}/../{real}",
    ]
    for candidate in forged:
        assert cat.get(candidate) is None and cat.resolve(candidate) is None, candidate
    assert cat.get(real) is not None


def test_file_swapped_for_an_outside_symlink_after_the_scan(fenced):
    runs, outside = fenced
    cat = RunCatalog(runs)
    rid = next(f.run_id for f in cat.scan() if f.rel == "inside.h5")
    (runs / "inside.h5").unlink()
    (runs / "inside.h5").symlink_to(outside / "outside_run.h5")
    assert cat.get(rid) is None


def _post(client, output: str, prop: str, inputs: list, state: list, extra=()) -> str:
    """POSTs a callback request as the browser would (``extra``: more outputs)."""
    outs = [(output, prop), *extra]
    body = {
        "output": f"{output}.{prop}"
        if not extra
        else ".." + "...".join(f"{o}.{p}" for o, p in outs) + "..",
        "outputs": {"id": output, "property": prop}
        if not extra
        else [{"id": o, "property": p} for o, p in outs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    r = client.post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json"
    )
    assert r.status_code in (200, 204), r.get_data(as_text=True)[:500]
    return r.get_data(as_text=True)


def test_http_callbacks_never_read_outside(fenced):
    runs, outside = fenced
    app = create_app(runs)
    client = app.server.test_client()
    try:
        store = app.server.extensions[EXTENSION]
        inside = rid_of(store, "inside")
        for attack in ATTACKS[:6]:
            _attack_over_http(client, attack, inside, outside)
    finally:
        app.server.extensions[EXTENSION].close()


def _attack_over_http(client, attack: str, inside: str, outside: Path) -> None:
    route = {"extra": [("page-key", "data")]}
    texts = [
        _post(
            client,
            "page",
            "children",
            [("url", "pathname", f"/run/{attack}")],
            [("url", "search", ""), ("page-key", "data", None)],
            **route,
        ),
        _post(
            client,
            "page",
            "children",
            [("url", "pathname", "/compare")],
            [("url", "search", f"?runs={attack},{inside}"), ("page-key", "data", None)],
            **route,
        ),
        _post(
            client,
            "run-metrics",
            "figure",
            [("run-version", "data", [1])],
            [("run-id", "data", attack)],
        ),
        _post(
            client,
            "run-shed",
            "figure",
            [
                ("run-rule", "value", "absolute"),
                ("run-value", "value", 3),
                ("run-shed-layer", "value", "fc"),
                ("run-version", "data", [1]),
            ],
            [("run-id", "data", attack)],
        ),
        _post(
            client,
            "cmp-overlap",
            "figure",
            [
                ("cmp-snapshot", "value", 0),
                ("cmp-rule", "value", "absolute"),
                ("cmp-value", "value", 3),
                ("cmp-version", "data", []),
            ],
            [("cmp-runs", "value", [attack, inside, str(outside / "outside_run.h5")])],
            extra=[("cmp-overlap-job", "data")],
        ),
    ]
    # the first page is rendered into the layout from the Referer header: same fence
    for page in (f"/run/{attack}", f"/compare?runs={attack},{inside}"):
        r = client.get("/_dash-layout", headers={"Referer": f"http://localhost{page}"})
        assert r.status_code == 200
        texts.append(r.get_data(as_text=True))
    for text in texts:
        assert SECRET not in text and "outside_run" not in text
    assert "Run not available" in texts[0] and "no run with this id" in texts[2]
    assert "Run not available" in texts[-2] and "page-key" in texts[-1]
    for static in (f"/assets/{attack}", f"/_dash-component-suites/{attack}", f"/{attack}"):
        r = client.get(static)
        assert SECRET not in r.get_data(as_text=True)


def test_tree_walk_does_not_follow_directory_symlinks(fenced):
    runs, outside = fenced
    names = {f.rel for f in RunCatalog(runs).scan()}
    assert not any(n.startswith("dir_out") for n in names)
    assert os.path.islink(runs / "dir_out") and (outside / "outside_run.h5").exists()
    assert all(
        Path(RunCatalog(runs).root, n).resolve().is_relative_to(runs.resolve()) for n in names
    )
