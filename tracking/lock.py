"""One writer per run file: an advisory lock held for the writer's whole lifetime.

The lock is ``<run file>.lock`` beside the run, locked with :class:`filelock.FileLock`
(``flock`` on POSIX, which NFS and Lustre honour when mounted with locking) and holding the
owner's PID and host; it is removed when the writer ends. The kernel drops the lock when
its owner dies (even by SIGKILL), so a lock file left by a crashed process is stale by
construction: the next writer locks it and writes its own PID. A second writer on a
live run is refused at once with a :class:`RunLocked` naming the live owner (filelock
never truncates a file it has not locked, so the owner's line survives a refused try).
On a file system without ``flock`` taking the lock fails with an OSError: filelock's soft
fallback (a lock file's mere existence) would outlive a SIGKILL.

Holding is re-entrant within one process (the experiment takes the lock before its
dense phase, the :class:`~tracking.RunWriter` it later opens takes it again), so the
lock is released when the last holder in this process lets go. A forked child holds
nothing: filelock closes the inherited descriptor there, and the child forgets the count.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracking.errors import RunLocked

if TYPE_CHECKING:
    import filelock


@dataclass
class _Held:
    lock: filelock.FileLock
    holders: int  # RunLocks of this process not yet released


_HELD: dict[str, _Held] = {}  # realpath of the lock file -> its lock in this process
_GUARD = threading.Lock()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_HELD.clear)


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


def _write_owner(fd: int) -> None:
    """Record our PID and host in the lock file we have just locked (a PID left in it is a
    dead, stale owner's)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)


def _acquire(path: Path, run_path: Path) -> filelock.FileLock:
    """Lock ``path`` (created if needed) without waiting; the lock file names us."""
    import filelock  # tens of ms: only writers lock, and readers import tracking too

    lock = filelock.FileLock(path, thread_local=False, on_acquired=_write_owner)
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        raise RunLocked(
            f"{run_path} is being written by {lock_owner(run_path)}; fix: wait for that "
            "run to end, or stop it (kill the PID) and continue it with --resume"
        ) from None
    return lock


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
                held.holders += 1
                return
            _HELD[self._key] = _Held(_acquire(self.path, self.run_path), 1)

    def release(self) -> None:
        """Let go (idempotent); the lock is freed when this process's last holder lets go."""
        with _GUARD:
            if self._released:
                return
            self._released = True
            held = _HELD.get(self._key)
            if held is None:  # a forked child's copy: the lock is the parent's
                return
            held.holders -= 1
            if held.holders == 0:
                del _HELD[self._key]
                # unlink while still locked: a waiter that locks the old file sees it is
                # gone (filelock checks st_nlink) and retries on a new one. Windows' FileLock
                # removes the file itself, once unlocked.
                if os.name != "nt":
                    self.path.unlink(missing_ok=True)
                held.lock.release()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
