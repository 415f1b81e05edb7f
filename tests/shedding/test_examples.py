"""The README's Python example runs against real run files (a pruned run and its control)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tiny import tiny_config

from shedding.engine.experiment import run_experiment
from shedding.engine.identity import control_config

ROOT = Path(__file__).resolve().parents[2]


def test_analyze_runs_example_reports_excess_against_the_control(data_root, tmp_path):
    cfg = tiny_config("prune.sparsity=0.4", "seed=5")
    run_experiment(cfg, data_root=data_root, runs_dir=tmp_path, progress=False)
    run_experiment(control_config(cfg), data_root=data_root, runs_dir=tmp_path, progress=False)
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "analyze_runs.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "excess cascade ratio" in out.stdout and "a control run itself" in out.stdout
