"""Background jobs: keyed results, groups, shutdown, and a clean interpreter exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dashboard.jobs import Jobs

ROOT = Path(__file__).resolve().parents[2]


def _until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_get_schedules_once_and_reports_done_or_failed():
    jobs, calls = Jobs(), []
    try:

        def work():
            calls.append(1)
            return 42

        first = jobs.get("k", work)
        assert first in (("pending", None), ("done", 42))
        _until(lambda: jobs.get("k", work)[0] == "done")
        assert jobs.get("k", work) == ("done", 42) and calls == [1]
        assert jobs.finished == 1 and not jobs.pending()
        with pytest.raises(ZeroDivisionError):
            jobs.wait("bad", lambda: 1 / 0, timeout=5)
        state, reason = jobs.get("bad", lambda: None)
        assert state == "failed" and "division by zero" in reason
        assert jobs.status("never") == "missing"
    finally:
        jobs.shutdown()


def test_a_new_key_in_a_group_cancels_that_groups_waiting_jobs():
    jobs, gate = Jobs(), threading.Event()
    try:
        jobs.get("blocker", gate.wait)  # occupies the thread
        jobs.get(("sum", 1), lambda: 1, group="sum")
        jobs.get(("sum", 2), lambda: 2, group="sum")  # the older one is not worth doing
        assert jobs.status(("sum", 1)) == "missing" and jobs.status(("sum", 2)) == "pending"
        gate.set()
        assert jobs.wait(("sum", 2), lambda: 2, timeout=5) == 2
    finally:
        jobs.shutdown()


def test_shutdown_cancels_queued_jobs_and_waits_for_the_running_one():
    jobs, started, ran = Jobs(), threading.Event(), []

    def slow():
        started.set()
        time.sleep(0.3)
        ran.append("slow")

    jobs.get("slow", slow)
    jobs.get("queued", lambda: ran.append("queued"))
    started.wait(5)
    t = time.perf_counter()
    jobs.shutdown(timeout=10)
    assert ran == ["slow"] and time.perf_counter() - t >= 0.1  # waited, ran nothing more
    assert jobs.status("queued") == "pending"  # cancelled: never runs


def test_interpreter_exit_while_a_job_holds_h5pys_lock_does_not_hang():
    """A daemon thread frozen inside h5py at shutdown kept h5py's global lock, and h5py's
    exit handler then waited forever: `shedding dashboard` hung on Ctrl-C while a job
    streamed a run, and so did a test session (caught by a pytest run stuck at exit)."""
    code = textwrap.dedent(
        """
        import time
        from h5py._objects import phil
        from dashboard.jobs import Jobs
        jobs = Jobs()  # never shut down: the interpreter's exit has to cope
        def job():
            with phil:  # held by every h5py call while it runs
                time.sleep(1.0)
        jobs.get("k", job)
        time.sleep(0.2)
        print("exiting", flush=True)
        """
    )
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "exiting" in out.stdout, out.stderr
    assert time.perf_counter() - t < 30
