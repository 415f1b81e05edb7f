"""Name a finished run file's control run after the fact (the root attribute ``control``)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from tracking.errors import RunFileError
from tracking.reader import open_run


def set_control(path: str | os.PathLike[str], control: str) -> None:
    """Write ``control`` (a run id, or "" to unlink) into the finished run file ``path``.

    Raises:
        RunFileError: not a readable run file, or still being written.
    """
    p = Path(path)
    with open_run(p) as run:
        status = run.status
    if status == "running":
        raise RunFileError(
            f"{p} is still being written (status 'running'); fix: link it once its writer "
            "has closed it (a writer that was killed leaves 'running': resume it first)"
        )
    try:
        with h5py.File(p, "r+") as f:
            f.attrs["control"] = control
    except OSError as e:
        raise RunFileError(
            f"{p} cannot be opened for writing ({e}); fix: close every program that has it "
            "open (dashboard, notebook) and check the file's permissions"
        ) from e
