"""Regenerate ``run_v2_example.h5`` and ``run_v2_stats_example.h5``: the v1 example's run
written in format v2 ("full" and "stats" mode), read by a test forever.

    PYTHONPATH=. python tests/data/make_v2_example.py

Only re-run this when the v2 writer is known good: tests/tracking/test_tracking_v2_example.py
reads the committed files and checks them against the v1 example's values.
"""

from __future__ import annotations

from pathlib import Path

from tests.data.make_v1_example import main as write_example

HERE = Path(__file__).parent
FULL = HERE / "run_v2_example.h5"
STATS = HERE / "run_v2_stats_example.h5"

if __name__ == "__main__":
    write_example(FULL, run_id="example-v2")
    write_example(STATS, run_id="example-v2-stats", mode="stats")
