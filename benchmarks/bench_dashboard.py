"""Dashboard speed at scale: every callback's time and page-interactive time in Chromium.

Writes (once; ``--keep`` reuses them) a synthetic ResNet-50-shaped run of 25.6 M weights
x 50 snapshots and its control run with ``tracking.RunWriter``, then

1. calls every callback's plain function (what the one-line Dash wrapper runs) plus the
   JSON encoding Dash applies to its return value, ``--reps`` times with varying inputs,
   and prints cold (first call) time, p50 and p95 -- once with the background thread
   idle and once while it streams the control run (like-for-like counts);
2. serves the app and measures, in headless Chromium, the time from navigation to every
   figure of the page drawn with data (runs, run and compare pages, fresh browser context
   each time so nothing is cached).

Targets (issue 6): callbacks <= 200 ms at p95, pages interactive <= 2 s.

    python benchmarks/bench_dashboard.py [--dir /tmp/cascade-bench] [--scale 1.0] [--keep]

``--scale`` multiplies the channel widths (0.25 gives ~1.6 M weights, for a quick look).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "dashboard")]

from dashboard_synth import Synth, write_snapshots  # noqa: E402
from plotly.utils import PlotlyJSONEncoder  # noqa: E402

from dashboard import data  # noqa: E402
from dashboard.app import EXTENSION, create_app  # noqa: E402
from dashboard.views import compare, run, runs  # noqa: E402
from tracking import LayerSpec, RunWriter, open_run  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def resnet50_layers(scale: float = 1.0) -> list[LayerSpec]:
    """The 54 conv/linear weight tensors of ResNet-50 (25.5 M weights at scale 1)."""
    w = lambda c: max(1, int(round(c * scale)))  # noqa: E731
    layers = [LayerSpec("conv1", (w(64), 3, 7, 7), bn="bn1")]
    cin = w(64)
    for s, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), 1):
        mid, out = w(width), w(4 * width)
        for b in range(blocks):
            p = f"layer{s}.{b}"
            layers += [LayerSpec(f"{p}.conv1", (mid, cin, 1, 1), bn=f"{p}.bn1"),
                       LayerSpec(f"{p}.conv2", (mid, mid, 3, 3), bn=f"{p}.bn2"),
                       LayerSpec(f"{p}.conv3", (out, mid, 1, 1), bn=f"{p}.bn3")]  # fmt: skip
            if b == 0:
                layers.append(LayerSpec(f"{p}.downsample.0", (out, cin, 1, 1), bn=f"{p}.downsample.1"))
            cin = out
    return [*layers, LayerSpec("fc", (1000, cin))]


def write(path: Path, p: Synth) -> float:
    t = time.perf_counter()
    with RunWriter(path, layers=list(p.layers), config=p.config(), run_id=p.run_id, control=p.control,
                   sample_per_layer=p.sample_per_layer, overwrite=True) as w:  # fmt: skip
        write_snapshots(w, p)
    return time.perf_counter() - t


def encode(value: Any) -> int:
    """What Dash does with a callback's return value: JSON with plotly's encoder."""
    return len(json.dumps(value, cls=PlotlyJSONEncoder))


def timed(fn: Callable[[int], Any], reps: int) -> tuple[float, float, float]:
    """(cold, p50, p95) in ms of ``encode(fn(i))`` for i = 0..reps."""
    out = []
    for i in range(reps + 1):
        t = time.perf_counter()
        try:
            encode(fn(i))
        except Exception as e:  # noqa: BLE001 - PreventUpdate etc. still cost time
            if type(e).__name__ != "PreventUpdate":
                raise
        out.append(1000 * (time.perf_counter() - t))
    warm = np.array(out[1:])
    return out[0], float(np.percentile(warm, 50)), float(np.percentile(warm, 95))


def callbacks(store: Any, rid: str, crid: str, layers: list[str]) -> dict[str, Callable[[int], Any]]:
    rules = ["layer_relative", "absolute", "gmp_relative"]
    lay = lambda i: layers[(7 * i) % len(layers)]  # noqa: E731 - a different layer each call
    rule = lambda i: rules[i % 3]  # noqa: E731
    vidx = lambda i: (i // 3) % 13  # noqa: E731 - within every rule's grid
    both = [rid, crid]
    return {
        "runs: version (tick)": lambda i: runs.runs_version(store, None),
        "runs: table": lambda i: runs.runs_table(store),
        "route: run page": lambda i: run.layout(store, rid),
        "run: poll (tick)": lambda i: run.poll(store, rid, None),
        "run: header": lambda i: run.header(store, rid),
        "run: summary": lambda i: run.summary(store, rid),
        "run: metrics": lambda i: run.metrics(store, rid),
        "run: slider (rule)": lambda i: run.slider(rule(i)),
        "run: shed (rule, c, layer)": lambda i: run.shed(store, rid, rule(i), vidx(i), data.ALL if i % 2 else lay(i)),
        "run: flow": lambda i: run.flow(store, rid, data.ALL if i % 2 else lay(i)),
        "run: hist heatmap": lambda i: run.hist(store, rid, lay(i), rule(i), vidx(i)),
        "run: channel map": lambda i: run.channels(store, rid, lay(i)),
        "run: trajectories": lambda i: run.trajectories(store, rid, lay(i), rule(i), vidx(i)),
        "route: compare page": lambda i: compare.layout(store, f"?runs={rid},{crid}"),
        "compare: poll (tick)": lambda i: compare.poll(store, both, None),
        "compare: shed": lambda i: compare.shed(store, both, rule(i), vidx(i), "runs"),
        "compare: accuracy": lambda i: compare.accuracy(store, both, "runs"),
        "compare: snapshot range": lambda i: compare.snapshot_range(store, both, None),
        "compare: overlap @ default rule": lambda i: compare.overlap(store, both, 49 - i % 50, "layer_relative", 8),
        "compare: overlap @ other rule": lambda i: compare.overlap(store, both, 49 - i % 50, "absolute", 8),
    }


def page_times(url: str, paths: dict[str, tuple[str, list[str]]], reps: int) -> dict[str, list[float]]:
    """Seconds from navigation to every listed figure drawn with data, per page."""
    from playwright.sync_api import sync_playwright

    ready = ("ids => ids.every(id => { const g = document.querySelector(`#${id} .js-plotly-plot`)"
             " || document.querySelector(`#${id} td`); return !!(g && (g.tagName === 'TD' ||"
             " (g.data && g.data.length))); })")  # fmt: skip
    out: dict[str, list[float]] = {k: [] for k in paths}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for _ in range(reps):
            for name, (path, ids) in paths.items():
                ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = ctx.new_page()
                t = time.perf_counter()
                page.goto(url + path)
                page.wait_for_function(ready, arg=ids, timeout=60_000, polling=20)
                out[name].append(time.perf_counter() - t)
                ctx.close()
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/cascade-bench"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--snapshots", type=int, default=50)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--browser-reps", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="reuse existing files of the same size")
    a = ap.parse_args()
    layers = resnet50_layers(a.scale)
    n = sum(s.n_weights for s in layers)
    common = dict(layers=layers, n_dense=a.snapshots // 2 - 1, n_retrain=a.snapshots - a.snapshots // 2,
                  sample_per_layer=256, sparsity=0.5, shed=0.3)  # fmt: skip
    pruned = Synth(run_id="bench", control="bench-ctl", **common)
    control = Synth(run_id="bench-ctl", **{**common, "sparsity": 0.0, "shed": 0.1})
    a.dir.mkdir(parents=True, exist_ok=True)
    print(f"run: {n / 1e6:.2f} M weights x {pruned.n_snapshots} snapshots, {len(layers)} layers")
    for name, p in (("bench.h5", pruned), ("bench_control.h5", control)):
        path = a.dir / name
        fresh = a.keep and path.exists()
        if fresh:
            with open_run(path) as r:
                fresh = len(r) == p.n_snapshots and sum(i.n_weights for i in r.layers) == n
        if not fresh:
            secs = write(path, p)
            print(f"wrote {path} in {secs:.0f} s ({path.stat().st_size / n / p.n_snapshots:.2f} B/weight/snapshot)")
    app = create_app(a.dir)
    store = app.server.extensions[EXTENSION]
    files = {Path(f.rel).stem: f.run_id for f in store.catalog.scan()}
    rid, crid = files["bench"], files["bench_control"]
    names = [s.name for s in layers]
    fns = callbacks(store, rid, crid, names)

    print(f"\ncallbacks, ms (JSON encoding included), {a.reps} warm reps; target p95 <= 200")
    print(f"{'callback':34s} {'cold':>8s} {'p50':>8s} {'p95':>8s}   {'p95 busy':>8s}")
    idle = {k: timed(f, a.reps) for k, f in fns.items()}
    # now the same while the job thread streams the control run (like-for-like counts)
    store.jobs._pool.submit(lambda: None).result()  # noqa: SLF001 - make sure it is idle first
    busy_job = store.jobs.get(("bench-busy",), lambda: data.excess_job(
        store.catalog.resolve(rid), store.catalog.resolve(crid), rule="absolute", c=1e-3))  # fmt: skip
    busy = {k: timed(f, max(5, a.reps // 2)) for k, f in fns.items()}
    for k in fns:
        c, p50, p95 = idle[k]
        flag = "" if p95 <= 200 else "  <-- over"
        print(f"{k:34s} {c:8.1f} {p50:8.1f} {p95:8.1f}   {busy[k][2]:8.1f}{flag}")
    t = time.perf_counter()
    ref = store.jobs.wait(("bench-ref",), lambda: __import__("dashboard.reference", fromlist=["x"])
                          .control_counts_job(store.catalog.resolve(rid), store.catalog.resolve(crid)))  # fmt: skip
    print(f"\nbackground: like-for-like control counts (all rules, all grid values), one pass: "
          f"{time.perf_counter() - t:.1f} s  [{type(ref).__name__}]; busy job state {busy_job[0]}")

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_port}"
    store.jobs.wait(("warm",), lambda: None)
    pages = {
        "runs page": ("/", ["runs-table"]),
        "run page (6 figures)": (f"/run/{rid}", ["run-metrics", "run-shed", "run-flow", "run-hist",
                                                 "run-channels", "run-traj"]),  # fmt: skip
        "compare page (2 runs)": (f"/compare?runs={rid},{crid}", ["cmp-shed", "cmp-acc", "cmp-overlap"]),
    }
    times = page_times(url, pages, a.browser_reps)
    print("\npage interactive in headless Chromium (navigation -> all figures drawn), s; target <= 2")
    for k, v in times.items():
        print(f"{k:34s} first {v[0]:6.2f}   median {np.median(v):6.2f}   max {max(v):6.2f}")
    srv.shutdown()
    store.close()


if __name__ == "__main__":
    main()
