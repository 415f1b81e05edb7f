"""Open an HDF5 file as a run file, turning HDF5's errors into clear RunFileErrors."""

from __future__ import annotations

import time
from pathlib import Path

import h5py

from tracking import format as fmt
from tracking.errors import DamagedRunFile, MissingRunFile, NotARunFile, RunFileError

LOCK_RETRY_S = 5.0  # a writer holds an exclusive lock while it creates the layout
_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_lock_error(e: OSError) -> bool:
    return "unable to lock file" in str(e).lower()


def _stored_eof(path: Path) -> int | None:
    """End-of-file address from a version 2/3 superblock at offset 0, else None."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head[:8] != _SIGNATURE or len(head) < 13 or head[8] < 2:
        return None
    size = head[9]  # size of file addresses ("offsets") in bytes
    return int.from_bytes(head[12 + 2 * size : 12 + 3 * size], "little")


def _open_once(path: Path) -> h5py.File:
    try:
        # a finished file: HDF5 checks everything, including truncation
        return h5py.File(path, "r")
    except OSError as e:
        if "already open for write" not in str(e) and not _is_lock_error(e):
            raise
    # being written, or its writer crashed: only a SWMR reader may open it (while the
    # writer still creates the layout this raises "unable to lock file": retried above).
    f = h5py.File(path, "r", swmr=True)
    # SWMR opens skip HDF5's truncation check (a live file grows), and reads past the end
    # of a truncated file retry for minutes, so compare the size with the superblock here.
    eof = _stored_eof(path)
    size = path.stat().st_size
    if eof is not None and size < eof:
        f.close()
        raise OSError(f"truncated file: {size} bytes on disk, superblock says {eof}")
    return f


def open_hdf5(path: Path) -> h5py.File:
    """Open ``path`` read-only (SWMR when possible) and check it is a cascade-shedding run.

    Raises:
        MissingRunFile: no such file.
        NotARunFile: not HDF5, or HDF5 without the ``format`` attribute.
        DamagedRunFile: HDF5 that cannot be opened (truncated, corrupt).
        RunFileError: the file stays locked by a non-SWMR writer.
    """
    if not path.exists():
        raise MissingRunFile(f"{path} does not exist; fix: check the path (runs end in .h5)")
    if path.is_dir():
        raise NotARunFile(f"{path} is a directory; fix: pass the run's .h5 file")
    deadline = time.monotonic() + LOCK_RETRY_S
    while True:
        try:
            f = _open_once(path)
            break
        except OSError as e:
            msg = str(e)
            if "signature" in msg:
                raise NotARunFile(
                    f"{path} is not a cascade-shedding run file (not an HDF5 file at all); "
                    "fix: pass the .h5 file a `shedding run` wrote"
                ) from e
            if _is_lock_error(e):
                if time.monotonic() < deadline:
                    time.sleep(0.1)  # the writer is still creating the layout
                    continue
                raise RunFileError(
                    f"{path} stays locked by a process that opened it for writing without "
                    "SWMR; fix: close that process's handle (RunWriter files never lock "
                    "out readers for more than an instant)"
                ) from e
            where = "its end (the file is truncated)" if "truncated" in msg else "open"
            raise DamagedRunFile(
                f"{path} is damaged at {where}: HDF5 says {msg!r}; fix: if it was copied, "
                "copy it again completely; a file whose writer crashed is NOT damaged and "
                "opens, so this file was cut or corrupted after writing"
            ) from e
    try:
        name = f.attrs.get("format")
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        f.close()
        raise DamagedRunFile(f"{path} is damaged at its root attributes ({e})") from e
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    if not isinstance(name, str) or name != fmt.FORMAT_NAME:
        f.close()
        what = "no 'format' attribute" if name is None else f"format {name!r}"
        raise NotARunFile(
            f"{path} is not a cascade-shedding run file ({what}); fix: pass a file written "
            "by `shedding run` / tracking.RunWriter"
        )
    return f
