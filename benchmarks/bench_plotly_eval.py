"""How long headless Chromium takes to evaluate the dashboard's plotly.js.

Loads, in fresh browser contexts and alternating order, a page that evaluates either the
app's own bundle (``dashboard/static/plotly-shedding.min.js``: scatter, bar, heatmap) or the
full bundle shipped with the plotly package (what Dash serves when the app's file is
absent), and reports the median evaluation time of each and their ratio.

    python benchmarks/bench_plotly_eval.py [--reps 8]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

import plotly

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "dashboard"))

from headless import ARGS, CHROMIUM  # noqa: E402

BUNDLES = {
    "app bundle (scatter, bar, heatmap)": ROOT / "dashboard" / "static" / "plotly-shedding.min.js",
    "plotly package, full bundle": Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
}
PAGE = (
    "<html><body><script>t0=performance.now()</script><script src='{js}'></script>"
    "<script>document.title=String(performance.now()-t0)</script></body></html>"
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # no line per request
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=8)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(BUNDLES.values()):
            shutil.copy(path, Path(tmp) / f"{i}.js")
            (Path(tmp) / f"{i}.html").write_text(PAGE.format(js=f"{i}.js"))
        handler = functools.partial(_Quiet, directory=tmp)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        ms: dict[int, list[float]] = {0: [], 1: []}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            for rep in range(a.reps):
                for i in (0, 1) if rep % 2 == 0 else (1, 0):
                    ctx = browser.new_context()
                    page = ctx.new_page()
                    page.goto(f"http://127.0.0.1:{srv.server_port}/{i}.html")
                    page.wait_for_function("document.title.length > 0")
                    ms[i].append(float(page.title()))
                    ctx.close()
            browser.close()
        srv.shutdown()
    med = {i: statistics.median(v) for i, v in ms.items()}
    for i, (name, path) in enumerate(BUNDLES.items()):
        size = path.stat().st_size / 1e6
        print(f"{name:38s} {size:5.2f} MB  median {med[i]:6.0f} ms  {[round(x) for x in ms[i]]}")
    print(f"ratio app / full: {med[0] / med[1]:.2f}")


if __name__ == "__main__":
    main()
