"""Open an HDF5 file as a run file, turning HDF5's errors into clear RunFileErrors."""

from __future__ import annotations

import time
from pathlib import Path

import h5py

from tracking import format as fmt
from tracking.errors import DamagedRunFile, MissingRunFile, NotARunFile

LOCK_RETRY_S = 5.0  # a writer holds an exclusive lock while it creates the layout


def _open_once(path: Path) -> h5py.File:
    try:
        # SWMR read works on files being written and on files whose writer crashed
        return h5py.File(path, "r", swmr=True)
    except OSError as e:
        if "signature" in str(e) or "lock" in str(e) or "truncated" in str(e):
            raise
        # files not written with libver="latest" (foreign files) cannot be opened SWMR
        return h5py.File(path, "r")


def open_hdf5(path: Path) -> h5py.File:
    """Open ``path`` read-only (SWMR when possible) and check it is a cascade-shedding run.

    Raises:
        MissingRunFile: no such file.
        NotARunFile: not HDF5, or HDF5 without the ``format`` attribute.
        DamagedRunFile: HDF5 that cannot be opened (truncated, corrupt) or stays locked.
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
            if "lock" in msg and time.monotonic() < deadline:
                time.sleep(0.1)  # the writer is still creating the layout
                continue
            where = "its end (the file is truncated)" if "truncated" in msg else "open"
            raise DamagedRunFile(
                f"{path} is damaged at {where}: HDF5 says {msg!r}; fix: if it was copied, "
                "copy it again completely; a file whose writer crashed is NOT damaged and "
                "opens, so this file was cut or corrupted after writing"
            ) from e
    try:
        name = f.attrs.get("format")
    except OSError as e:
        f.close()
        raise DamagedRunFile(f"{path} is damaged at its root attributes ({e})") from e
    if isinstance(name, bytes):
        name = name.decode()
    if name != fmt.FORMAT_NAME:
        f.close()
        what = "no 'format' attribute" if name is None else f"format {name!r}"
        raise NotARunFile(
            f"{path} is not a cascade-shedding run file ({what}); fix: pass a file written "
            "by `shedding run` / tracking.RunWriter"
        )
    return f
