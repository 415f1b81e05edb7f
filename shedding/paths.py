"""Where data sets and run files live on disk.

One data root holds everything the toolkit reads or writes: ``<root>/datasets/`` (downloaded
or generated data sets, a cache) and ``<root>/runs/`` (run files and checkpoints). The root is
chosen in this order: an explicit override (the CLI's ``--data-root``), the environment
variable ``SHEDDING_DATA_ROOT``, ``<repo>/data`` when running from a source checkout, and
otherwise ``~/.cache/cascade-shedding`` for an installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that overrides the default data root.
DATA_ROOT_ENV = "SHEDDING_DATA_ROOT"

#: Name the checkout's pyproject.toml declares; guards against a stray pyproject.toml.
_DIST_NAME = "cascade-shedding"


def repo_root() -> Path | None:
    """The source checkout this package runs from, or None for an installed package.

    A checkout is recognised by a ``pyproject.toml`` declaring ``cascade-shedding`` in the
    directory that contains the ``shedding`` package.
    """
    candidate = Path(__file__).resolve().parent.parent
    pyproject = candidate / "pyproject.toml"
    try:
        if pyproject.is_file() and _DIST_NAME in pyproject.read_text(errors="replace"):
            return candidate
    except OSError:
        return None
    return None


def data_root(override: str | Path | None = None) -> Path:
    """Resolves the data root (not created here).

    Args:
        override: An explicit root (``--data-root``); wins over everything else.

    Returns:
        An absolute path: ``override``, else ``$SHEDDING_DATA_ROOT``, else ``<repo>/data``
        in a source checkout, else ``~/.cache/cascade-shedding``.
    """
    if override is not None and str(override) != "":
        return Path(override).expanduser().resolve()
    env = os.environ.get(DATA_ROOT_ENV, "")
    if env:
        return Path(env).expanduser().resolve()
    repo = repo_root()
    if repo is not None:
        return repo / "data"
    return (Path.home() / ".cache" / "cascade-shedding").resolve()


def datasets_dir(root: str | Path) -> Path:
    """``<root>/datasets``: data sets, downloaded or generated (a cache, git-ignored)."""
    return Path(root) / "datasets"


def runs_dir(root: str | Path) -> Path:
    """``<root>/runs``: run files and checkpoints (git-ignored)."""
    return Path(root) / "runs"
