"""shedding.analysis must be importable without torch (results studied on a laptop)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_analysis_does_not_import_torch() -> None:
    code = (
        "import sys, shedding.analysis, shedding.analysis.report, shedding.analysis.figures;"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, f"torch imported: {res.stdout} {res.stderr}"


def test_the_check_would_notice_torch() -> None:
    # the same probe reports a module that *is* imported, so the test above can fail
    code = "import sys, json; print(sorted(m for m in sys.modules if m == 'json'))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "json" in res.stdout
