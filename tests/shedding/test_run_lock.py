"""One writer per run: a live run refuses a second `shedding run` and a `--resume` in one
line naming its PID (exit 2). Real subprocesses racing on one run file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny import one_thread_env, run_argv, tiny_config, write_config

from shedding.engine import identity
from tracking import RunLock, RunLocked
from tracking.lock import lock_path

pytestmark = pytest.mark.slow


def _assert_refused(proc: subprocess.CompletedProcess[str], pid: int) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "is being written by PID" in lines[0] and str(pid) in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_resume_of_a_live_run_is_refused_naming_its_pid(data_root, tmp_path):
    # retraining long enough (tens of seconds) for the second process to start meanwhile
    cfg = tiny_config("retrain.protocol=ft", "retrain.epochs=100")
    cfg_file = write_config(cfg, tmp_path / "cfg.toml")
    runs_dir = tmp_path / "runs"
    path = identity.run_path(runs_dir, cfg)
    writer = subprocess.Popen(
        run_argv(cfg_file, data_root, runs_dir),
        env=one_thread_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        t0 = time.time()
        while not path.exists():  # the writer has the lock and is writing
            assert writer.poll() is None, writer.communicate()
            assert time.time() - t0 < 120, "the run never started writing"
            time.sleep(0.05)
        second = subprocess.run(
            run_argv(cfg_file, data_root, runs_dir, "--resume"),
            env=one_thread_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        _assert_refused(second, writer.pid)
        assert writer.poll() is None, "the refused resume must leave the writer alone"
        out, err = writer.communicate(timeout=300)
    finally:
        writer.kill()
    assert writer.returncode == 0, err
    assert out.startswith("complete:")
    assert not lock_path(path).exists(), "the lock file goes when the writer ends"


def test_two_identical_runs_started_together_one_refuses_cleanly(data_root, tmp_path):
    cfg = tiny_config("seed=3")
    cfg_file = write_config(cfg, tmp_path / "cfg.toml")
    runs_dir = tmp_path / "runs"
    procs = [
        subprocess.Popen(
            run_argv(cfg_file, data_root, runs_dir),
            env=one_thread_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2], [(r.returncode, r.stderr) for r in results]
    loser = next(r for r in results if r.returncode == 2)
    winner = procs[[r.returncode for r in results].index(0)]
    lines = [ln for ln in loser.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in loser.stderr, loser.stderr
    # it lost either while the winner ran (the lock) or after it finished (the file exists)
    assert f"PID {winner.pid}" in lines[0] or "already exists" in lines[0], lines[0]


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "r.h5"
    dead = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tracking import RunLock; RunLock(sys.argv[1])"
            "; import os; os._exit(9)",
            str(run),
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert dead.returncode == 9
    assert lock_path(run).read_text().split()[0].isdigit()  # the dead owner's PID stays
    with RunLock(run):
        assert lock_path(run).read_text().split()[0] == str(os.getpid())
        with RunLock(run):  # re-entrant within one process
            pass
        assert lock_path(run).exists()
    assert not lock_path(run).exists()


def test_a_live_lock_of_another_process_refuses_naming_it(tmp_path):
    run = tmp_path / "r.h5"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tracking import RunLock; "
            "l = RunLock(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(run),
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=f"PID {holder.pid} on host"):
            RunLock(run)
    finally:
        holder.kill()
        holder.wait()
    with RunLock(run):  # the kernel dropped the dead holder's lock
        pass
