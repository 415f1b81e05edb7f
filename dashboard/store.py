"""Per-app cache of open run files and of computed results.

One :class:`RunStore` belongs to one app (never a module global). It keeps each run file
open once (SWMR reader), wrapped in a :class:`CachedRun` that memoises the small tables
(index, metrics, events, per-layer statistics) until the run gains a snapshot or a
metrics row, so the analysis functions, which re-read statistics freely, cost one read
per change of the file rather than one per callback.

Nothing slow happens in a callback. A live run that changed on disk is re-read (its
statistics re-loaded and the page's summaries recomputed) on the ``updates`` thread, and
only then is its new version published to the pages, which redraw from warm memos.
Anything that streams magnitudes runs on the ``jobs`` thread; callbacks show a
placeholder until the live tick sees the result.

Errors never escape as crashes: a file that cannot be opened is remembered with its
reason (and retried when its size or mtime changes).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from dashboard.catalog import RunCatalog, RunFile
from dashboard.jobs import Jobs
from shedding.analysis.runs import BAD_FILE_ERRORS, describe_error
from tracking import NoMagnitudes, Run, TrackingError, open_run

if TYPE_CHECKING:  # every Run attribute is delegated: to the type checker it is a Run
    _RunBase = Run
else:
    _RunBase = object


class CachedRun(_RunBase):
    """A :class:`tracking.Run` whose small tables are memoised per file version.

    Everything not overridden is delegated to the wrapped run, so it can be passed to
    any ``shedding.analysis`` function. The memo is cleared by :meth:`poll` whenever
    the committed snapshot count, the metrics row count or the status changes.
    """

    def __init__(self, run: Run) -> None:
        self._run = run
        self._memo: dict[Hashable, Any] = {}
        self.version: tuple[int, int, str] = (-1, -1, "")
        self.poll()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def __len__(self) -> int:
        return len(self._run)

    def _get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def poll(self) -> tuple[int, int, str]:
        """Re-reads the commit markers; returns (snapshots, metric rows, status)."""
        n = self._run.refresh()
        self._memo.pop("metrics", None)  # metrics commit on their own marker
        version = (n, len(self.metrics.get("epoch", ())), self._run.status)
        if version != self.version:
            metrics = self._memo.get("metrics")
            self._memo = {} if metrics is None else {"metrics": metrics}
            self.version = version
        return version

    @property
    def status(self) -> str:
        """Status as of the last :meth:`poll`."""
        return self.version[2]

    @property
    def index(self) -> Any:
        return self._get("index", lambda: self._run.index)

    @property
    def metrics(self) -> dict[str, Any]:
        return self._get("metrics", lambda: self._run.metrics)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self._get("events", self._events)

    def _events(self) -> list[dict[str, Any]]:
        try:
            return self._run.events
        except ValueError as e:
            # tracking.Run.events (reader.py, as of this writing) zips one start offset
            # against zero ends when no event is logged yet (a run still in its dense
            # phase): that is "no events", not damage. Remove once the reader is fixed.
            if "zip()" in str(e):
                return []
            raise

    def stats(self, layer: str) -> Any:
        return self._get(("stats", layer), lambda: self._run.stats(layer))

    def samples(self, layer: str) -> Any:
        return self._get(("samples", layer), lambda: self._run.samples(layer))

    def peek(self, key: Hashable) -> Any:
        """A derived value memoised by :meth:`memo`, or None (computes nothing)."""
        return self._memo.get(("derived", key))

    def memo(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """Memoises any derived value until the file changes (shed curves, summaries)."""
        return self._get(("derived", key), make)

    def close(self) -> None:
        self._run.close()


@dataclass
class _Entry:
    lock: threading.RLock = field(default_factory=threading.RLock)
    run: CachedRun | None = None
    error: str | None = None
    seen: tuple[float, int] = (0.0, -1)  # (mtime, size) when the error was recorded
    key: Any = None  # (mtime_ns, size) of the file when last re-read


class RunStore:
    """Open runs of one catalog, opened lazily, at most ``max_open`` at a time.

    Args:
        catalog: where the run files are and how their opaque ids map back.
        max_open: file handles kept open (least recently used closed first).
        warm: called with a run (and its file) after each re-read, on the updates
            thread, to fill the memos the pages will ask for.
        recheck_s: a running run is re-read at least this often even if its file's
            mtime and size look unchanged.
    """

    def __init__(
        self,
        catalog: RunCatalog,
        *,
        max_open: int = 64,
        warm: Callable[[CachedRun, RunFile], Any] | None = None,
        recheck_s: float = 5.0,
    ) -> None:
        self.catalog = catalog
        self.jobs = Jobs()  # streams magnitudes: seconds to minutes at scale
        self.updates = Jobs()  # re-reads statistics of a changed run: well under a second
        self._warm = warm
        self._recheck_s = recheck_s
        self._max_open = max_open
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _entry(self, rid: str) -> _Entry:
        with self._lock:
            entry = self._entries.setdefault(rid, _Entry())
            self._entries.move_to_end(rid)
            stale = [k for k, e in self._entries.items() if e.run is not None and k != rid]
            excess = max(0, sum(e.run is not None for e in self._entries.values()) - self._max_open)
        for key in stale[:excess]:  # close the least recently used handles
            self._close(self._entries[key])
        return entry

    def _why(self, error: BaseException) -> str:
        """Why a file failed, with paths relative to the runs directory (the browser is
        not told where the server keeps its files)."""
        root = str(self.catalog.root)
        return describe_error(error).replace(root + os.sep, "").replace(root, ".")

    @staticmethod
    def _close(entry: _Entry) -> None:
        with entry.lock:
            if entry.run is not None:
                with suppress(Exception):  # closing a broken file must not fail a page
                    entry.run.close()
                entry.run = None

    @contextmanager
    def open(self, rid: str) -> Iterator[CachedRun]:
        """The open run behind ``rid``, locked for the duration of the ``with`` block.

        Raises:
            KeyError: ``rid`` is not a run file of the catalog (never a path).
            RunUnavailable: the file cannot be opened or read; the message says why.
        """
        rf = self.catalog.get(rid)
        if rf is None:
            # never echo the id: it is whatever the browser sent
            raise KeyError(
                "no run with this id; links are valid for one server session, open the runs page"
            )
        entry = self._entry(rid)
        with entry.lock:
            if entry.run is None:
                self._open(entry, rf)
            if entry.run is None:
                raise RunUnavailable(entry.error or "unreadable")
            try:
                yield entry.run
            except NoMagnitudes as e:
                # a statistics-only file is fine; only this view needs magnitudes
                raise RunUnavailable(str(e)) from e
            except (TrackingError, OSError) as e:
                # a handle that failed mid-read may be stale (file replaced): reopen next time
                self._close(entry)
                entry.error, entry.seen = self._why(e), (rf.mtime, rf.size)
                raise RunUnavailable(entry.error) from e

    @contextmanager
    def open_many(self, rids: list[str]) -> Iterator[dict[str, CachedRun]]:
        """Several runs at once, locked in sorted id order (no lock-order deadlock)."""
        with ExitStack() as stack:
            runs = {rid: stack.enter_context(self.open(rid)) for rid in sorted(set(rids))}
            yield runs

    def _open(self, entry: _Entry, rf: RunFile) -> None:
        try:
            st = rf.path.stat()
        except OSError as e:
            entry.error = self._why(e)
            return
        if entry.error is not None and entry.seen == (st.st_mtime, st.st_size):
            return  # unchanged since it failed: do not retry on every tick
        try:
            entry.run, entry.error = CachedRun(open_run(rf.path)), None
        except BAD_FILE_ERRORS as e:
            entry.error, entry.seen = self._why(e), (st.st_mtime, st.st_size)

    def error(self, rid: str) -> str | None:
        """Why ``rid`` could not be opened (None if it opened or was never tried)."""
        with self._lock:
            entry = self._entries.get(rid)
        return None if entry is None else entry.error

    def poll(self, rid: str) -> tuple[int, int, str]:
        """Published version of a run: (snapshots, metric rows, status).

        Cheap (one ``stat``): when the file changed since it was last read, a re-read is
        scheduled on the updates thread and the old version is returned until it is done,
        so the pages redraw only once the new data is in memory.

        Raises:
            KeyError, RunUnavailable: as :meth:`open`.
        """
        rf = self.catalog.get(rid)
        if rf is None:
            raise KeyError("no run with this id; open the runs page")
        entry = self._entry(rid)
        current = entry.run  # no lock: a re-read in progress must not hold up a tick
        if current is None:
            with self.open(rid) as run:
                current = run
        version = current.version
        try:
            st = rf.path.stat()
            key: Any = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        if version[2] == "running":  # belt and braces: re-read a live run now and then
            key = (key, int(time.monotonic() / self._recheck_s))
        if key != entry.key:
            self.updates.get(
                ("advance", rid, key), partial(self._advance, rid, key), group=("advance", rid)
            )
        return version

    def _advance(self, rid: str, key: Any) -> None:
        """Re-reads a changed run on a fresh handle, warms its memos, then swaps it in
        (updates thread). Pages keep reading the old handle meanwhile: no callback
        waits for a re-read, and none sees half-updated memos."""
        rf = self.catalog.get(rid)
        if rf is None:
            return
        entry = self._entry(rid)
        try:
            fresh = CachedRun(open_run(rf.path))
            if self._warm is not None:
                self._warm(fresh, rf)
        except BAD_FILE_ERRORS as e:
            with entry.lock:  # the file went bad: say so from now on
                self._close(entry)
                entry.error, entry.seen = self._why(e), (rf.mtime, rf.size)
            return
        with entry.lock:  # every use of a run holds this lock: nobody is using the old one
            old, entry.run, entry.error = entry.run, fresh, None
            if old is not None:
                with suppress(Exception):
                    old.close()
        entry.key = key

    def wait_updates(self, rid: str, *, timeout: float = 30.0) -> tuple[int, int, str]:
        """Polls until no re-read of ``rid`` is pending; the settled version (tests)."""
        deadline = time.monotonic() + timeout
        self.poll(rid)
        while self.updates.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.poll(rid)

    def find(self, run_id: str) -> str | None:
        """Opaque id of the readable file whose ``run_id`` attribute is ``run_id``."""
        if not run_id:
            return None
        for rf in self.catalog.files():
            try:
                with self.open(rf.run_id) as run:
                    if run.run_id == run_id:
                        return rf.run_id
            except (RunUnavailable, KeyError):
                continue
        return None

    def close(self) -> None:
        """Closes every file and stops the background thread."""
        self.jobs.shutdown()
        self.updates.shutdown()
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            self._close(entry)


class RunUnavailable(Exception):
    """A run file cannot be opened or read; the message is the reason shown to the user."""
