"""Every bad input on the command line: one line on stderr naming it, exit 2, no traceback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from shedding.analysis.runs import load_runs

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "run_v1_example.h5"


def _shedding(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root, "SHEDDING_DATA_ROOT": str(cwd / "data")}
    return subprocess.run(
        [sys.executable, "-m", "shedding", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(proc: subprocess.CompletedProcess[str], needle: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0], lines[0]
    return lines[0]


def _broken_copy(tmp: Path, edit) -> Path:
    dst = tmp / "broken.h5"
    shutil.copy(EXAMPLE, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def _first_layer(f: h5py.File) -> str:
    return next(iter(f["layers"]))


CASES = {
    "binary toml": (
        lambda t: (t / "c.toml").write_bytes(b"\xff\xfe\x00\x81binary"),
        ["config", "c.toml"],
        "is not a text file",
    ),
    "yaml list": (
        lambda t: (t / "c.yaml").write_text("- 1\n- 2\n"),
        ["config", "c.yaml"],
        "holds a list at its top level",
    ),
    "batch size 0": (None, ["config", "--set", "data.batch_size=0"], "data.batch_size=0 must"),
    "unclosed list": (None, ["config", "--set", "train.milestones=[1"], "unclosed bracket"),
    "nan lr": (None, ["config", "--set", "train.lr=nan"], "must be a finite number"),
    "inf lr": (None, ["config", "--set", "train.lr=inf"], "must be a finite number"),
    "run batch size 0": (
        None,
        ["run", "--set", "data.batch_size=0", "--quiet"],
        "data.batch_size=0 must be >= 1",
    ),
    # validated before the config print-out: one line although --quiet is not given
    "lrr longer than dense": (
        None,
        ["run", "--set", "train.epochs=2", "--set", "retrain.epochs=5"],
        "must be <= train.epochs=2",
    ),
    "inspect no metrics": (
        lambda t: _broken_copy(t, lambda f: f.__delitem__("metrics")),
        ["inspect", "broken.h5"],
        "/metrics is missing",
    ),
    "inspect version one": (
        lambda t: _broken_copy(t, lambda f: f.attrs.__setitem__("format_version", "one")),
        ["inspect", "broken.h5"],
        "run format version 'one'",
    ),
    "inspect version 99": (
        lambda t: _broken_copy(t, lambda f: f.attrs.__setitem__("format_version", 99)),
        ["inspect", "broken.h5"],
        "run format version 99;",
    ),
    "analyze no magnitude": (
        lambda t: _broken_copy(t, lambda f: f.__delitem__(f"layers/{_first_layer(f)}/magnitude")),
        ["analyze", "broken.h5"],
        "has no 'magnitude' dataset",
    ),
    "analyze no metrics": (
        lambda t: _broken_copy(t, lambda f: f.__delitem__("metrics")),
        ["analyze", "broken.h5"],
        "/metrics is missing",
    ),
    "report onto a directory": (
        lambda t: ((t / "runs").mkdir(), shutil.copy(EXAMPLE, t / "runs"), (t / "out").mkdir()),
        ["report", "runs", "-o", "out"],
        "is a directory",
    ),
    "report into a missing folder": (
        lambda t: ((t / "runs").mkdir(), shutil.copy(EXAMPLE, t / "runs")),
        ["report", "runs", "-o", "nowhere/r.html"],
        "does not exist",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2(case, tmp_path):
    setup, argv, needle = CASES[case]
    if setup is not None:
        setup(tmp_path)
    _one_line(_shedding(*argv, cwd=tmp_path), needle)


def test_the_nm_fix_suggestion_passes_the_check(tmp_path):
    nm = ["--set", "prune.method=nm", "--set", "prune.n=2", "--set", "prune.m=3"]
    line = _one_line(_shedding("run", *nm, "--quiet", cwd=tmp_path), "set prune.sparsity=")
    value = re.search(r"set prune\.sparsity=(\S+)", line).group(1)
    from shedding.config import load_config
    from shedding.engine.experiment import validate

    overrides = ["prune.method=nm", "prune.n=2", "prune.m=3", f"prune.sparsity={value}"]
    validate(load_config("mnist1d-demo", overrides))  # the suggested value is accepted


def test_copies_and_links_of_one_run_are_one_run(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(EXAMPLE, runs / "a.h5")
    shutil.copy(EXAMPLE, runs / "b.h5")
    (runs / "c.h5").symlink_to(runs / "a.h5")
    with load_runs(runs) as rs:
        assert len(rs) == 1
        assert [Path(p).name for p, _ in rs.bad] == ["b.h5", "c.h5"]
        assert all(why.startswith("duplicate: run id ") for _, why in rs.bad)
