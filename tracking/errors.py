"""Errors raised by :mod:`tracking`.

``tracking`` must not import ``shedding``, so it has its own base class; the CLI catches
both :class:`TrackingError` and ``shedding.errors.SheddingError`` and prints one line.
Every message names the file or value at fault and says how to fix it.
"""

from __future__ import annotations


class TrackingError(Exception):
    """Base class of every error raised by :mod:`tracking`."""


class RecordError(TrackingError, ValueError):
    """A writer was called with bad arguments (unknown layer, wrong shape, bad phase...)."""


class WriterFailed(TrackingError):
    """The background writer thread failed; the original exception is chained."""


class RunFileError(TrackingError):
    """A run file cannot be read; subclasses say why."""


class MissingRunFile(RunFileError, FileNotFoundError):
    """The path does not exist."""


class NotARunFile(RunFileError):
    """The file is not HDF5, or is HDF5 without the cascade-shedding ``format`` attribute."""


class DamagedRunFile(RunFileError):
    """The file is a run file but part of it cannot be read (truncated, missing objects)."""


class UnsupportedVersion(RunFileError):
    """The file's ``format_version`` is not one this version of the toolkit can read."""


class NoMagnitudes(RunFileError):
    """The run was recorded statistics-only and the operation needs per-weight data."""


class RunLocked(TrackingError):
    """Another live process is writing the run file (it holds the run's lock)."""
