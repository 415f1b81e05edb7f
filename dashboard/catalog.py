"""The run files under RUNS_DIR, addressed by opaque ids.

The browser never sees or sends a path. Each file found under the runs directory gets an
id = SHA-256 of its path relative to the directory, truncated (HMAC with a key when one
is given), so the same file has the same id after a restart and links stay valid. An id
is never turned back into a path: it is looked up in a table built by scanning the
directory, so whatever string a browser sends ("../../etc/passwd", "/etc/passwd", a
forged id) either is a key of that table or names nothing. Symlinks are followed only
when their target stays inside the runs directory, and the check is repeated at open
time (the file may have been swapped since the scan).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: File name endings treated as run files.
RUN_SUFFIXES = (".h5", ".hdf5")
_ID_RE = re.compile(r"^[0-9a-f]{20}$")
_ID_DOMAIN = b"cascade-shedding run file\0"


@dataclass(frozen=True)
class RunFile:
    """One candidate run file: its opaque id, path relative to the root, absolute path."""

    run_id: str
    rel: str
    path: Path
    mtime: float
    size: int


class RunCatalog:
    """Scans a runs directory and maps opaque ids back to files inside it.

    Args:
        root: The runs directory; nothing outside it is ever returned.
        secret: HMAC key for the ids. Default: none, so an id depends on the relative
            path only and survives a restart (links can be shared); with a key, ids are
            unguessable from the paths but change with the key.

    Example:
        >>> cat = RunCatalog("data/runs")          # doctest: +SKIP
        >>> files = cat.scan()                      # doctest: +SKIP
        >>> cat.resolve(files[0].run_id) == files[0].path   # doctest: +SKIP
        True
    """

    def __init__(self, root: str | Path, *, secret: bytes | None = None) -> None:
        self.root = Path(root).resolve()
        self._secret = secret
        self._lock = threading.Lock()
        self._table: dict[str, RunFile] = {}
        self._scanned_at = float("-inf")

    def make_id(self, rel: str) -> str:
        """Opaque id of a path relative to the root (POSIX separators)."""
        if self._secret is None:
            return hashlib.sha256(_ID_DOMAIN + rel.encode("utf-8")).hexdigest()[:20]
        return hmac.new(self._secret, rel.encode("utf-8"), hashlib.sha256).hexdigest()[:20]

    def _inside(self, path: Path) -> Path | None:
        """The resolved path if it is a regular file inside the root, else None."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling link, loop, permission
            return None
        if not real.is_relative_to(self.root) or not real.is_file():
            return None
        return real

    def scan(self) -> list[RunFile]:
        """Re-reads the directory tree; returns the run files sorted by relative path.

        Directory symlinks are not descended into (``os.walk`` default), so a link to
        ``/`` inside the runs directory cannot widen the search.
        """
        found: dict[str, RunFile] = {}
        if self.root.is_dir():
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for fn in filenames:
                    if not fn.endswith(RUN_SUFFIXES) or fn.startswith("."):
                        continue
                    path = Path(dirpath) / fn
                    real = self._inside(path)
                    if real is None:
                        continue
                    rel = path.relative_to(self.root).as_posix()
                    st = real.stat()
                    rid = self.make_id(rel)
                    found[rid] = RunFile(rid, rel, path, st.st_mtime, st.st_size)
        with self._lock:
            self._table = found
            self._scanned_at = time.monotonic()
        return sorted(found.values(), key=lambda f: f.rel)

    def files(self) -> list[RunFile]:
        """The files of the last scan (scans once if never scanned)."""
        with self._lock:
            table = dict(self._table)
        if not table:
            return self.scan()
        return sorted(table.values(), key=lambda f: f.rel)

    def empty_note(self) -> str | None:
        """What to tell the user when the runs directory is missing or holds no run file
        (None when it has some)."""
        if not self.root.is_dir():
            return (
                f"The runs directory '{self.root.name}' does not exist; start the dashboard "
                "on the folder `shedding run` writes to (default data/runs)."
            )
        if not self.files():
            return (
                f"The runs directory '{self.root.name}' holds no run file (*.h5) yet; start "
                "one with `shedding run` and it appears here."
            )
        return None

    def get(self, run_id: object) -> RunFile | None:
        """The file behind ``run_id``, or None for anything that is not a known id.

        Rescans on a miss (a run file created after the last scan; at most once a second,
        so forged ids cannot make the server walk the tree in a loop), and re-checks that
        the file still resolves inside the root.
        """
        if not isinstance(run_id, str) or not _ID_RE.match(run_id):
            return None
        with self._lock:
            entry = self._table.get(run_id)
            stale = time.monotonic() - self._scanned_at > 1.0
        if entry is None and stale:
            self.scan()
            with self._lock:
                entry = self._table.get(run_id)
        if entry is None or self._inside(entry.path) is None:
            return None
        return entry

    def resolve(self, run_id: object) -> Path | None:
        """Absolute path of the file behind ``run_id`` or None (see :meth:`get`)."""
        entry = self.get(run_id)
        return None if entry is None else entry.path
