"""Real writer subprocesses: a live reader watches one; SIGKILL one and resume the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.tracking import tracking_fakes as fakes
from tracking import DamagedRunFile, RecordError, RunWriter, open_run

FAKES = Path(fakes.__file__)
REPO = Path(__file__).resolve().parents[2]


def start_writer(path: Path, n: int, sleep_s: float, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.Popen(
        [sys.executable, str(FAKES), str(path), str(n), str(sleep_s), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def assert_snapshots_exact(run, stop: int) -> None:
    """Snapshots 0..stop-1 of ``run`` hold exactly the fake run's data."""
    np.testing.assert_array_equal(run.index.step, 10 * np.arange(stop))
    for i in range(stop):
        s = fakes.snapshot(i)
        for name, w in s["weights"].items():
            np.testing.assert_array_equal(run.magnitudes(name, i), np.abs(w).astype(np.float16))
            np.testing.assert_array_equal(run.mask(name, i), s["masks"][name])


@pytest.mark.parametrize("compression", [None, "lzf"])
def test_live_reader_sees_snapshots_appear(tmp_path, compression):
    path = tmp_path / "live.h5"
    n = 25
    extra = () if compression is None else ("--compression", compression)
    proc = start_writer(path, n, 0.08, *extra)
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.01)
        run = open_run(path)  # retries while the writer still holds the creation lock
        counts, statuses = [], set()
        while proc.poll() is None and time.monotonic() < deadline:
            counts.append(run.refresh())
            statuses.add(run.status)
            if counts[-1]:
                last = counts[-1] - 1  # the newest committed snapshot is fully readable
                w = fakes.snapshot(last)["weights"]["fc"]
                np.testing.assert_array_equal(
                    run.magnitudes("fc", last), np.abs(w).astype(np.float16)
                )
                assert len(run.stats("conv1").n_kept) == counts[-1]
            time.sleep(0.03)
        assert proc.wait(30) == 0, proc.stderr.read()
        assert run.refresh() == n and run.status == "complete"
        assert "running" in statuses
        seen = sorted(set(counts))
        assert counts == sorted(counts) and len(seen) >= 5, seen  # grew while being written
        assert_snapshots_exact(run, n)
        run.close()
    finally:
        proc.kill()
        proc.wait()


def test_opening_a_file_while_it_is_written_never_calls_it_damaged(tmp_path):
    """Each open checks every column against its commit marker while the writer appends
    to both; a check that read the columns before the marker saw a short column."""
    path = tmp_path / "live.h5"
    n = 60
    proc = start_writer(path, n, 0.005)
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.005)
        seen = []
        while proc.poll() is None and time.monotonic() < deadline:
            with open_run(path) as run:  # raises DamagedRunFile if the check races
                seen.append(len(run))
        assert proc.wait(30) == 0, proc.stderr.read()
        assert len(seen) >= 10 and len(set(seen)) >= 3, seen  # opened while it grew
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_then_resume_without_gaps_or_duplicates(tmp_path):
    path = tmp_path / "killed.h5"
    proc = start_writer(path, 10_000, 0.0)
    committed = 0
    try:
        for line in proc.stdout:
            committed = int(line.split()[1])
            if committed >= 9:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with open_run(path) as run:  # a killed writer's file opens
        n = len(run)
        assert n >= committed and run.status == "running"
        assert_snapshots_exact(run, n)
        assert len(run.events) == 1
    # a crashed (SWMR-flagged) file cut short is damaged, not silently retried for minutes
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    t0 = time.monotonic()
    with pytest.raises(DamagedRunFile, match="truncated"):
        open_run(cut)
    assert time.monotonic() - t0 < 5

    # resume a little before the end (as --resume from an earlier checkpoint would)
    k = n - 2
    total = k + 6
    with RunWriter(path, layers=fakes.LAYERS, config=fakes.CONFIG, resume_from=k) as w:
        assert w.n_committed == k
        fakes.write(w, k, total)
    ref_path = tmp_path / "uninterrupted.h5"
    with RunWriter(ref_path, layers=fakes.LAYERS, config=fakes.CONFIG) as w:
        fakes.write(w, 0, total)

    with open_run(path) as run, open_run(ref_path) as ref:
        assert len(run) == total and run.status == "complete"
        assert_snapshots_exact(run, total)
        assert run.resumed[0]["resume_from"] == k and run.resumed[0]["status"] == "running"
        for spec in fakes.LAYERS:
            a, b = run.stats(spec.name), ref.stats(spec.name)
            for key, value in vars(b).items():
                np.testing.assert_array_equal(getattr(a, key), value, err_msg=key)
            np.testing.assert_array_equal(run.samples(spec.name)[1], ref.samples(spec.name)[1])
        np.testing.assert_array_equal(run.metrics["n_snapshots"], np.arange(1, total + 1))
        assert [e["n_snapshots"] for e in run.events] == [fakes.PRUNE_AT]
    assert not path.with_name(path.name + ".resume-tmp").exists()


def test_resume_in_a_subprocess_and_bad_resume_points(tmp_path):
    path = tmp_path / "r.h5"
    assert start_writer(path, 6, 0.0).wait(60) == 0
    with pytest.raises(RecordError, match="between 0 and 6"):
        RunWriter(path, layers=fakes.LAYERS, config={}, resume_from=7)
    with pytest.raises(RecordError, match="differ"):
        RunWriter(path, layers=fakes.LAYERS[:1], config={}, resume_from=3)
    proc = start_writer(path, 9, 0.0, "--resume-from", "3")
    assert proc.wait(60) == 0, proc.stderr.read()
    with open_run(path) as run:
        assert len(run) == 9
        assert_snapshots_exact(run, 9)
