"""Background results, so that no callback waits on a slow computation.

A :class:`Jobs` runs functions one at a time on its own thread and remembers their
results by key; callbacks ask for a key, get "pending" at once the first time, and the
live tick redraws once the result is there.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

from shedding.analysis.runs import describe_error

#: longest wait, at close or at interpreter exit, for the job that is running to end
EXIT_WAIT_S = 60.0


class _DaemonWorker:
    """Runs submitted callables in order on one daemon thread, which is joined (after the
    job that is running, at most ``EXIT_WAIT_S``) on shutdown and at interpreter exit.

    Joined, because a thread frozen inside h5py by the interpreter's shutdown holds
    h5py's global lock, and h5py's own exit handler then waits for it forever: a script
    or a Ctrl-C'd server that exited while a job streamed a run used to hang. The exit
    handler is registered after h5py's (h5py is imported first), so it runs before it.
    """

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(self.shutdown)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        fut: Future[Any] = Future()
        self._queue.put((fut, fn))
        return fut

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fut, fn = item
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while waiting
            try:
                fut.set_result(fn())
            except BaseException as e:  # reported through the future, never lost
                fut.set_exception(e)

    def shutdown(self, timeout: float = EXIT_WAIT_S) -> None:
        """Cancels what has not started and waits up to ``timeout`` s for the current job."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        self._queue.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        atexit.unregister(self.shutdown)


class Jobs:
    """Background results keyed by a hashable key, computed one at a time.

    ``get(key, fn)`` returns ``("done", value)``, ``("failed", reason)`` or
    ``("pending", None)`` (and schedules ``fn`` once). ``finished`` counts completed
    jobs, so a live tick can notice that something new can be drawn.
    """

    def __init__(self, *, max_results: int = 512) -> None:
        self._pool = _DaemonWorker("dashboard-job")
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

    def status(self, key: Hashable) -> str:
        """ "missing", "pending", "done" or "failed", without scheduling anything."""
        with self._lock:
            fut = self._futures.get(key)
        if fut is None:
            return "missing"
        if not fut.done() or fut.cancelled():
            return "pending"
        return "failed" if fut.exception() is not None else "done"

    def pending(self) -> bool:
        """Whether any job is queued or running."""
        with self._lock:
            return any(not f.done() for f in self._futures.values())

    def _done(self, fut: Future[Any]) -> None:
        if not fut.cancelled():
            with self._lock:
                self.finished += 1

    def shutdown(self, timeout: float = EXIT_WAIT_S) -> None:
        """Cancels the jobs not started; waits up to ``timeout`` s for the running one."""
        self._pool.shutdown(timeout)
