"""The GPU script runs end to end (tiny sizes, on the CPU) and prints its figures, so it
is ready the day a GPU is lent."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def test_gpu_script_measures_throughput_and_recording_overhead():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--parts", "1,2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert out.startswith("device cpu")
    ratio = float(re.search(r"ratio (\d+\.\d+)", out).group(1))
    overhead = float(re.search(r"overhead ([+-]\d+\.\d+)%", out).group(1))
    assert 0.2 < ratio < 5 and -50 < overhead < 500  # measured, finite, not a constant


def test_sweep_overrides_replace_the_set_table_keys():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from gpu_check import with_set
    finally:
        sys.path.remove(str(SCRIPT.parent))
    text = 'base = "x"\n\n[set]\n"model.width" = 0.5\n"seed" = 1\n\n[grid]\nseed = [0, 1]\n'
    out = with_set(text, {"model.width": 4, "device": "cuda"})
    assert '"model.width" = 0.5' not in out and '"model.width" = 4' in out
    assert '"device" = "cuda"' in out and "seed = [0, 1]" in out
    import tomllib

    assert tomllib.loads(out)["set"] == {"model.width": 4, "device": "cuda", "seed": 1}
