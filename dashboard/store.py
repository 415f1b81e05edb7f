"""Per-app cache of open run files and of computed results.

One :class:`RunStore` belongs to one app (never a module global). It keeps each run file
open once (SWMR reader), wrapped in a :class:`CachedRun` that memoises the small tables
(index, metrics, events, per-layer statistics) until the run gains a snapshot or a
metrics row, so the analysis functions, which re-read statistics freely, cost one read
per change of the file rather than one per callback. Heavier results (anything that
streams magnitudes) go to :class:`Jobs`, one background thread, so no callback waits on
them; callbacks show a placeholder and the live tick redraws once the result lands.

Errors never escape as crashes: a file that cannot be opened is remembered with its
reason (and retried when its size or mtime changes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from dashboard.catalog import RunCatalog, RunFile
from shedding.analysis.runs import BAD_FILE_ERRORS, describe_error
from tracking import Run, TrackingError, open_run


class CachedRun:
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


class Jobs:
    """Background results keyed by a hashable key, computed one at a time.

    ``get(key, fn)`` returns ``("done", value)``, ``("failed", reason)`` or
    ``("pending", None)`` (and schedules ``fn`` once). ``finished`` counts completed
    jobs, so a live tick can notice that something new can be drawn.
    """

    def __init__(self, *, max_results: int = 512) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-job")
        self._lock = threading.RLock()  # done-callbacks may run inside get()
        self._futures: OrderedDict[Hashable, Future[Any]] = OrderedDict()
        self._groups: dict[Hashable, Hashable] = {}
        self._max = max_results
        self.finished = 0

    def get(
        self, key: Hashable, fn: Callable[[], Any], *, group: Hashable = None
    ) -> tuple[str, Any]:
        """Status of the job ``key``, scheduling ``fn`` once if it was never asked for.

        A new key in a ``group`` cancels that group's jobs still waiting to start (a live
        run's summary for an older snapshot count is not worth computing any more).
        """
        with self._lock:
            fut = self._futures.get(key)
            if fut is None:
                if group is not None:
                    for k, g in list(self._groups.items()):
                        if g == group and self._futures[k].cancel():
                            del self._futures[k], self._groups[k]
                    self._groups[key] = group
                fut = self._pool.submit(fn)
                fut.add_done_callback(self._done)
                self._futures[key] = fut
                while len(self._futures) > self._max:
                    old, _ = self._futures.popitem(last=False)
                    self._groups.pop(old, None)
        if fut.cancelled():
            return "pending", None
        if not fut.done():
            return "pending", None
        err = fut.exception()
        return ("failed", describe_error(err)) if err is not None else ("done", fut.result())

    def wait(self, key: Hashable, fn: Callable[[], Any], *, timeout: float | None = None) -> Any:
        """Like :meth:`get` but blocks for the value (tests, benchmarks)."""
        self.get(key, fn)
        with self._lock:
            fut = self._futures[key]
        return fut.result(timeout=timeout)

    def _done(self, fut: Future[Any]) -> None:
        if not fut.cancelled():
            with self._lock:
                self.finished += 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class RunStore:
    """Open runs of one catalog, opened lazily, at most ``max_open`` at a time.

    Args:
        catalog: where the run files are and how their opaque ids map back.
        max_open: file handles kept open (least recently used closed first).
    """

    def __init__(self, catalog: RunCatalog, *, max_open: int = 64) -> None:
        self.catalog = catalog
        self.jobs = Jobs()
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

    @staticmethod
    def _close(entry: _Entry) -> None:
        with entry.lock:
            if entry.run is not None:
                try:
                    entry.run.close()
                except Exception:
                    pass
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
            raise KeyError("no run with this id; links are valid for one server session, open the runs page")
        entry = self._entry(rid)
        with entry.lock:
            if entry.run is None:
                self._open(entry, rf)
            if entry.run is None:
                raise RunUnavailable(entry.error or "unreadable")
            try:
                yield entry.run
            except (TrackingError, OSError) as e:
                # a handle that failed mid-read may be stale (file replaced): reopen next time
                self._close(entry)
                entry.error, entry.seen = describe_error(e), (rf.mtime, rf.size)
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
            entry.error = describe_error(e)
            return
        if entry.error is not None and entry.seen == (st.st_mtime, st.st_size):
            return  # unchanged since it failed: do not retry on every tick
        try:
            entry.run, entry.error = CachedRun(open_run(rf.path)), None
        except BAD_FILE_ERRORS as e:
            entry.error, entry.seen = describe_error(e), (st.st_mtime, st.st_size)

    def error(self, rid: str) -> str | None:
        """Why ``rid`` could not be opened (None if it opened or was never tried)."""
        with self._lock:
            entry = self._entries.get(rid)
        return None if entry is None else entry.error

    def poll(self, rid: str) -> tuple[int, int, str]:
        """Version of a run (snapshots, metric rows, status); refreshes the reader."""
        with self.open(rid) as run:
            return run.poll()

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
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            self._close(entry)


class RunUnavailable(Exception):
    """A run file cannot be opened or read; the message is the reason shown to the user."""
