"""One writer per run file: an advisory lock held for the writer's whole lifetime.

The lock is ``<run file>.lock`` beside the run, locked with ``flock`` and holding the
owner's PID and host; it is removed when the writer ends. The kernel drops the lock when
its owner dies (even by SIGKILL), so a lock file left by a crashed process is stale by
construction: the next writer locks it and writes its own PID. A second writer on a
live run is refused with a :class:`RunLocked` naming the live owner.

Holding is re-entrant within one process (the experiment takes the lock before its
dense phase, the :class:`~tracking.RunWriter` it later opens takes it again), so the
lock is released when the last holder in this process lets go.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

from tracking.errors import RunLocked

_HELD: dict[str, list[int]] = {}  # realpath of lock file -> [fd, holders in this process]
_GUARD = threading.Lock()


def lock_path(run_path: str | os.PathLike[str]) -> Path:
    """Where the lock of a run file lives: ``<run>.h5.lock``."""
    p = Path(run_path)
    return p.with_name(p.name + ".lock")


def lock_owner(run_path: str | os.PathLike[str]) -> str:
    """``"PID n on host h"`` as recorded in the run's lock file ("an unknown process" if
    the file is empty or unreadable)."""
    for _ in range(20):  # the owner may have locked the file but not yet written to it
        try:
            text = lock_path(run_path).read_text().split()
        except OSError:
            text = []
        if len(text) >= 2 and text[0].isdigit():
            return f"PID {text[0]} on host {text[1]}"
        time.sleep(0.01)
    return "an unknown process"


def _flock(fd: int) -> None:
    """Exclusive non-blocking flock (BlockingIOError when held). Without fcntl (Windows,
    where runs are only read) the lock file is written but not enforced."""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _acquire(path: Path, run_path: Path) -> int:
    """Lock ``path`` (created if needed) and write our PID and host; returns the fd."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _flock(fd)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(
                f"{run_path} is being written by {lock_owner(run_path)}; fix: wait for that "
                "run to end, or stop it (kill the PID) and continue it with --resume"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # its owner unlinked it between our open and our lock: try again
    # the lock is ours: a PID left in the file is a dead (stale) owner's
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    return fd


class RunLock:
    """The write lock of one run file. Use as a context manager or call :meth:`release`.

    Raises:
        RunLocked: another live process holds the lock.
    """

    def __init__(self, run_path: str | os.PathLike[str]) -> None:
        self.run_path = Path(run_path)
        self.path = lock_path(self.run_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = os.path.realpath(self.path)
        self._released = False
        with _GUARD:
            held = _HELD.get(self._key)
            if held is not None:
                held[1] += 1
                return
            fd = _acquire(self.path, self.run_path)
            _HELD[self._key] = [fd, 1]

    def release(self) -> None:
        """Let go (idempotent); the lock is freed when this process's last holder lets go."""
        with _GUARD:
            if self._released:
                return
            self._released = True
            held = _HELD[self._key]
            held[1] -= 1
            if held[1] == 0:
                del _HELD[self._key]
                # unlink while still locked: a waiter that opened the old file sees it is
                # gone (see _acquire) and retries on a new one
                self.path.unlink(missing_ok=True)
                os.close(held[0])

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
