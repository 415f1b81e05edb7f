"""The analysis reads the committed format-v1 example file (tests/fixtures/run_v1_example.h5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shedding.analysis import THRESHOLD_RULES, analyze_text, cascade_summary, shed_curve
from shedding.analysis.thresholds import get_rule
from tracking import open_run

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "run_v1_example.h5"
pytestmark = pytest.mark.skipif(
    not EXAMPLE.exists(), reason="tests/fixtures/run_v1_example.h5 absent"
)


@pytest.mark.parametrize("rule", THRESHOLD_RULES.names())
def test_stats_equal_stream_on_the_v1_example(rule: str) -> None:
    with open_run(EXAMPLE) as run:
        for c in run.grids[get_rule(rule).grid]:
            a = shed_curve(run, rule=rule, c=float(c), per="layer", method="stats")
            b = shed_curve(run, rule=rule, c=float(c), per="layer", method="stream")
            np.testing.assert_array_equal(a.shed, b.shed)
            np.testing.assert_array_equal(a.kept, b.kept)


def test_analyze_reads_the_v1_example() -> None:
    with open_run(EXAMPLE) as run:
        rounds = cascade_summary(run)
    doc = json.loads(analyze_text([EXAMPLE], as_json=True))
    assert len(doc["runs"]) == 1 and doc["bad_files"] == []
    assert len(doc["runs"][0]["rounds"]) == len(rounds)
