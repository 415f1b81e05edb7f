"""`shedding link RUN CONTROL`: link a control afterwards; bad links are one line, exit 2."""

from __future__ import annotations

import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from shedding.cli import main
from tests.track.loops import ROOT, analyze_json, record_loop
from tracking import open_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("link")
    record_loop(d / "pruned.h5", prune_amount=0.6)
    record_loop(d / "control.h5", prune_amount=0.0)
    record_loop(d / "no_event.h5", prune_amount=0.0, prune_after=99)
    record_loop(d / "fc_only.h5", prune_amount=0.0, layers=["6"])
    return d


def test_link_then_analyze_shows_the_excess(runs, tmp_path):
    run = tmp_path / "pruned.h5"
    shutil.copy(runs / "pruned.h5", run)
    shutil.copy(runs / "control.h5", tmp_path / "control.h5")
    assert analyze_json(run)["runs"][0]["excess_cascade_ratio"] is None
    out = subprocess.run(
        [sys.executable, "-m", "shedding", "link", str(run), str(tmp_path / "control.h5")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0 and "linked" in out.stdout and "'control'" in out.stdout
    with open_run(run) as r:
        assert r.control == "control" and r.status == "complete"
    result = analyze_json(run)["runs"][0]
    assert result["control_found"] and np.isfinite(result["excess_cascade_ratio"])


@pytest.mark.parametrize(
    ("control", "needle"),
    [
        ("pruned.h5", "the same as"),
        ("control.h5", None),
        ("no_event.h5", "has prune rounds [0] but"),
        ("fc_only.h5", "records different layers"),
        ("missing.h5", "does not exist"),
    ],
)
def test_bad_links_are_one_line_and_exit_2(runs, tmp_path, capsys, control, needle):
    run = tmp_path / "run.h5"
    shutil.copy(runs / "pruned.h5", run)
    if control == "control.h5":  # the other way round: a pruned run is no control
        shutil.copy(runs / "control.h5", tmp_path / "c.h5")
        argv, needle = ["link", str(tmp_path / "c.h5"), str(run)], "prunes"
    else:
        other = run if control == "pruned.h5" else runs / control
        argv = ["link", str(run), str(other)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("shedding link: error:") and needle in err and "\n" not in err
    with open_run(run) as r:
        assert r.control == ""


def test_a_run_still_being_written_is_refused(runs, tmp_path, capsys):
    run = tmp_path / "live.h5"
    shutil.copy(runs / "pruned.h5", run)
    with h5py.File(run, "r+") as f:
        f["status"][()] = b"running"
    assert main(["link", str(run), str(runs / "control.h5")]) == 2
    assert "still being written" in capsys.readouterr().err
