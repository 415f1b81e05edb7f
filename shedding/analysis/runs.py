"""Open many run files at once, reporting every bad file by name instead of stopping."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shedding.errors import ConfigError, SheddingError
from tracking import TrackingError, open_run

if TYPE_CHECKING:
    from tracking.reader import Run

RUN_SUFFIXES = (".h5", ".hdf5")
# What a bad file can raise while being opened or analysed: the reader's RunFileErrors,
# our own SheddingErrors, and HDF5 / decoding errors from files cut in unexpected places.
BAD_FILE_ERRORS: tuple[type[BaseException], ...] = (
    TrackingError,
    SheddingError,
    OSError,
    KeyError,
    ValueError,
)

PathsOrDir = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def describe_error(error: BaseException) -> str:
    """One line for a bad file: the exception type and message.

    Example:
        >>> describe_error(ValueError("bad value"))
        'ValueError: bad value'
    """
    msg = " ".join(str(error).split())
    return f"{type(error).__name__}: {msg}"


def expand_paths(paths_or_dir: PathsOrDir) -> list[Path]:
    """Run file paths: a directory gives its ``*.h5`` / ``*.hdf5`` files (sorted, not
    recursive); a file is taken as given, whatever its suffix.

    Example:
        >>> expand_paths([]) == []
        True
    """
    items = [paths_or_dir] if isinstance(paths_or_dir, str | os.PathLike) else paths_or_dir
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in RUN_SUFFIXES))
        else:
            out.append(p)
    return out


@dataclass
class RunSet:
    """Open runs plus the files that could not be used, as ``(path, reason)``.

    Close it (or use it as a context manager) to close every run.
    """

    runs: list[Run] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)

    def by_id(self, run_id: str) -> Run | None:
        """The run with this run_id, or None."""
        return next((r for r in self.runs if r.run_id == run_id), None) if run_id else None

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def close(self) -> None:
        """Close every run."""
        for r in self.runs:
            r.close()

    def __enter__(self) -> RunSet:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def load_runs(paths_or_dir: PathsOrDir, *, require: bool = True) -> RunSet:
    """Open every run file in a directory or list; bad files go to ``RunSet.bad``.

    Args:
        paths_or_dir: a directory, a file, or a list of either.
        require: raise ConfigError when no run at all could be opened.

    Example:
        >>> with load_runs(run_dir) as rs:
        ...     print(len(rs) >= 1, rs.bad == [] or isinstance(rs.bad[0][1], str))
        True True
    """
    if not isinstance(paths_or_dir, str | os.PathLike):
        paths_or_dir = list(paths_or_dir)  # used twice below
    paths = expand_paths(paths_or_dir)
    rs = RunSet()
    for p in paths:
        try:
            run = open_run(p)
        except BAD_FILE_ERRORS as e:
            rs.bad.append((str(p), describe_error(e)))
            continue
        first = rs.by_id(run.run_id)
        if first is None:
            rs.runs.append(run)
        else:  # a copy or a link of a run already loaded: one run, counted once
            run.close()
            rs.bad.append((str(p), f"duplicate: run id {run.run_id} is {first.path}, counted once"))
    if require and not rs.runs:
        found = ", ".join(f"{p} ({why})" for p, why in rs.bad) or "no .h5 files"
        raise ConfigError(f"no readable run file in {_show(paths_or_dir)}: {found}")
    return rs


def find_control(
    run: Run, *, among: Sequence[Run] = (), path: str | os.PathLike[str] | None = None
) -> tuple[Run | None, bool]:
    """The control run of ``run``: ``path`` if given, else the run in ``among`` whose
    run_id equals ``run.control``, else a file of the same directory with that run_id.

    Returns:
        ``(control, opened)``: ``opened`` is True when this call opened the file, so the
        caller must close it. ``(None, False)`` when the run names no control or it is
        not found.

    Example:
        >>> find_control(run)[0] is None or find_control(run)[0].run_id == run.control
        True
    """
    if path is not None:
        return open_run(path), True
    if not run.control:
        return None, False
    for r in among:
        if r.run_id == run.control and r is not run:
            return r, False
    for p in expand_paths(Path(run.path).parent):
        if Path(p).resolve() == Path(run.path).resolve():
            continue
        try:
            r = open_run(p)
        except BAD_FILE_ERRORS:
            continue
        if r.run_id == run.control:
            return r, True
        r.close()
    return None, False


def _show(paths_or_dir: PathsOrDir) -> str:
    if isinstance(paths_or_dir, str | os.PathLike):
        return str(paths_or_dir)
    return ", ".join(str(p) for p in paths_or_dir) or "(no paths)"
