"""The run lock across fork: a forked child holds nothing of its parent's lock."""

from __future__ import annotations

import os

import pytest

from tracking import RunLock, RunLocked
from tracking.lock import lock_path


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_neither_holds_nor_frees_its_parents_lock(tmp_path):
    run = tmp_path / "r.h5"
    with RunLock(run):
        pid = os.fork()
        if pid == 0:  # the child: report through the exit code, never return into pytest
            code = 1
            try:
                RunLock(run).release()  # would be re-entrant if the child held the lock
            except RunLocked as e:
                code = 0 if f"PID {os.getppid()} on host" in str(e) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the refused try left the lock and its owner's line alone
        assert lock_path(run).read_text().split()[0] == str(os.getpid())
    assert not lock_path(run).exists()


def test_the_lock_file_names_this_process_and_goes_on_release(tmp_path):
    run = tmp_path / "sub" / "r.h5"
    lock = RunLock(run)
    pid, host = lock_path(run).read_text().split()
    assert pid == str(os.getpid()) and host
    lock.release()
    lock.release()  # idempotent
    assert not lock_path(run).exists()
    with RunLock(run):  # free again
        pass
