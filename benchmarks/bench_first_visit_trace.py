"""Where a first visit's time goes: a Chromium trace of the run page's renderer main thread.

Serves the bench files of ``bench_dashboard.py`` (this checkout), warms the server with two
visits, then traces one fresh-context visit until every figure is drawn and prints how
busy the renderer's main thread was, the event types that took its time, and the longest
script evaluations. This is what showed the browser, not the server, to be the bottleneck
(README, Dashboard).

    python benchmarks/bench_first_visit_trace.py [--page run|compare] [--dir /tmp/cascade-bench]
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "dashboard"), str(ROOT / "benchmarks")]

from bench_dashboard import READY, bench_files  # noqa: E402
from bench_dashboard_pages import pages  # noqa: E402
from headless import ARGS, CHROMIUM  # noqa: E402

from dashboard.app import EXTENSION, create_app  # noqa: E402

CATEGORIES = ["devtools.timeline", "v8", "blink", "disabled-by-default-devtools.timeline"]
KINDS = ("EvaluateScript", "FunctionCall", "TimerFire", "Layout", "UpdateLayoutTree", "MinorGC")


def main_thread_events(trace: dict) -> list[dict]:
    """Complete events of the busiest renderer main thread."""
    ev = trace["traceEvents"] if isinstance(trace, dict) else trace
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e.get("name") == "thread_name"}
    mains = {k for k, v in names.items() if v == "CrRendererMain"}
    busiest = collections.Counter((e["pid"], e["tid"]) for e in ev if (e["pid"], e["tid"]) in mains)
    key = busiest.most_common(1)[0][0]
    return [e for e in ev if (e["pid"], e["tid"]) == key and e.get("ph") == "X" and "dur" in e]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--page", choices=["run", "compare"], default="run")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/cascade-bench"))
    a = ap.parse_args()
    bench_files(a.dir)
    app = create_app(a.dir)
    store = app.server.extensions[EXTENSION]
    ids = {Path(f.rel).stem: f.run_id for f in store.catalog.scan()}
    path, figs = pages(ids["bench"], ids["bench_control"])[f"{a.page} page"]
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_port}{path}"
    out = Path(tempfile.mkdtemp()) / "trace.json"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        for _ in range(2):  # warm the server: files open, background jobs started
            ctx = browser.new_context()
            warm = ctx.new_page()
            warm.goto(url)
            warm.wait_for_function(READY, arg=figs, timeout=120_000, polling=20)
            ctx.close()
        while store.jobs.pending() or store.updates.pending():  # and finished
            time.sleep(0.2)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        browser.start_tracing(page=page, path=str(out), categories=CATEGORIES)
        t = time.perf_counter()
        page.goto(url)
        page.wait_for_function(READY, arg=figs, timeout=120_000, polling=20)
        total = time.perf_counter() - t
        browser.stop_tracing()
        browser.close()
    srv.shutdown()
    store.close()
    evs = main_thread_events(json.loads(out.read_text()))
    tasks = [e for e in evs if e["name"] in ("RunTask", "ThreadControllerImpl::RunTask")]
    t0 = min(e["ts"] for e in evs)
    span = (max(e["ts"] + e["dur"] for e in evs) - t0) / 1000
    busy = sum(e["dur"] for e in tasks) / 1000
    print(f"{a.page} page drawn in {total:.2f} s (traced; tracing slows it)")
    print(f"renderer main thread busy {busy:.0f} of {span:.0f} ms ({busy / span:.0%})")
    by_kind = collections.Counter()
    for e in evs:
        if e["name"] in KINDS:
            by_kind[e["name"]] += e["dur"] / 1000
    for kind, ms in by_kind.most_common():
        print(f"  {kind:20s} {ms:6.0f} ms")
    print("longest script evaluations:")
    scripts = [e for e in evs if e["name"] == "EvaluateScript" and e["dur"] > 20_000]
    for e in sorted(scripts, key=lambda e: -e["dur"])[:6]:
        name = e.get("args", {}).get("data", {}).get("url", "").split("/")[-1]
        print(f"  {e['dur'] / 1000:6.0f} ms  {name[:60]}")


if __name__ == "__main__":
    main()
