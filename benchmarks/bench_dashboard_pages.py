"""Dashboard first visits, this code against another revision, interleaved in one run.

Page times on a shared 2-core machine drift by +-0.3 s between runs, more than most
changes are worth, so a before/after comparison has to be side by side: one server per
code tree (this checkout, and ``--against REV`` checked out in a temporary git worktree)
on the same bench files, one headless Chromium, and every visit of a page alternating
between the servers (order reversed every other round). Each visit is a fresh browser
context (nothing cached) and is timed from navigation until every figure of the page is
drawn with data; on the run page the "Inside one layer" tab is then opened and timed too.

    python benchmarks/bench_dashboard_pages.py [--against a4bdb8a] [--reps 12]

The bench files are the ones of ``bench_dashboard.py`` (written on first use, ~2 x 2.9 GB
at scale 1; ``--scale 0.25`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "dashboard"), str(ROOT / "benchmarks")]

from bench_dashboard import READY, bench_files  # noqa: E402
from headless import ARGS, CHROMIUM  # noqa: E402

#: one server per code tree: imports *that* tree's dashboard, prints url and run ids
SERVE = """
import json, logging, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from werkzeug.serving import make_server
import dashboard
from dashboard.app import EXTENSION, create_app
assert Path(dashboard.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve())
app = create_app(Path(sys.argv[2]))
store = app.server.extensions[EXTENSION]
ids = {Path(f.rel).stem: f.run_id for f in store.catalog.scan()}
logging.getLogger("werkzeug").setLevel(logging.WARNING)
srv = make_server("127.0.0.1", 0, app.server, threaded=True)
print(json.dumps({"url": f"http://127.0.0.1:{srv.server_port}", "rid": ids["bench"],
                  "crid": ids["bench_control"]}), flush=True)
srv.serve_forever()
"""
LAYER_FIGURES = ["run-hist", "run-channels", "run-traj"]


def pages(rid: str, crid: str) -> dict[str, tuple[str, list[str]]]:
    return {
        "run page": (f"/run/{rid}", ["run-metrics", "run-shed", "run-flow"]),
        "compare page": (f"/compare?runs={rid},{crid}", ["cmp-shed", "cmp-acc", "cmp-overlap"]),
        "runs page": ("/", ["runs-table"]),
    }


def visit(browser, url: str, ids: list[str]) -> dict[str, float]:
    """Seconds to a fully drawn page in a fresh context (and to the layer tab)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(READY, arg=ids, timeout=120_000, polling=20)
    out = {"": time.perf_counter() - t}
    if "/run/" in url:
        t = time.perf_counter()
        page.get_by_text("Inside one layer").click()
        page.wait_for_function(READY, arg=LAYER_FIGURES, timeout=120_000, polling=20)
        out["'Inside one layer' tab"] = time.perf_counter() - t
    ctx.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", help="git revision to compare with (default: none)")
    ap.add_argument("--reps", type=int, default=12)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/cascade-bench"))
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    bench_files(a.dir, a.scale)
    from playwright.sync_api import sync_playwright

    with ExitStack() as stack:
        trees = {"this checkout": ROOT}
        if a.against:
            wt = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "tree"
            subprocess.run(
                ["git", "-C", ROOT, "worktree", "add", "-q", "--detach", wt, a.against], check=True
            )
            stack.callback(subprocess.run, ["git", "-C", ROOT, "worktree", "remove", "-f", wt])
            trees[a.against] = wt
        servers = []
        for tree in trees.values():
            proc = subprocess.Popen(
                [sys.executable, "-c", SERVE, str(tree), str(a.dir)],
                stdout=subprocess.PIPE,
                text=True,
            )
            stack.callback(proc.terminate)
            servers.append(json.loads(proc.stdout.readline()))
        times: dict[tuple[str, str], list[float]] = {}
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        stack.callback(browser.close)
        for s in servers:  # warm-up: opens the files and starts the background jobs
            for path, ids in pages(s["rid"], s["crid"]).values():
                visit(browser, s["url"] + path, ids)
        time.sleep(30)  # the control reference (~11 s per server) finishes
        names = list(trees)
        for r in range(a.reps):
            for page_name in pages("", ""):
                order = range(len(servers)) if r % 2 == 0 else reversed(range(len(servers)))
                for k in order:
                    s = servers[k]
                    path, ids = pages(s["rid"], s["crid"])[page_name]
                    for what, secs in visit(browser, s["url"] + path, ids).items():
                        times.setdefault((f"{page_name} {what}".strip(), names[k]), []).append(secs)
    print(
        f"\nfirst visit until every figure is drawn, s ({a.reps} interleaved visits each; "
        "target <= 2)"
    )
    print(f"{'':32s}" + "".join(f"{n[:22]:>24s}" for n in names))
    for what in dict.fromkeys(w for w, _ in times):
        cells = []
        for n in names:
            v = sorted(times[(what, n)])
            cells.append(f"{statistics.median(v):6.2f} (p90 {v[int(0.9 * (len(v) - 1))]:.2f})")
        print(f"{what:32s}" + "".join(f"{c:>24s}" for c in cells))


if __name__ == "__main__":
    main()
