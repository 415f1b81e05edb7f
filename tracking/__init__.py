"""Run files: the HDF5 format, a background writer and a live reader. Knows nothing of pruning.

Public API::

    from tracking import LayerSpec, RunWriter, open_run

``tracking`` imports numpy and h5py only (never torch, never ``shedding``).
"""

from tracking.errors import (
    DamagedRunFile,
    MissingRunFile,
    NoMagnitudes,
    NotARunFile,
    RecordError,
    RunFileError,
    RunLocked,
    TrackingError,
    UnsupportedVersion,
    WriterFailed,
)
from tracking.format import FORMAT_NAME, FORMAT_VERSION
from tracking.layout import LayerSpec
from tracking.lock import RunLock
from tracking.reader import Index, LayerInfo, LayerStats, Run, open_run
from tracking.writer import RunWriter

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DamagedRunFile",
    "Index",
    "LayerInfo",
    "LayerSpec",
    "LayerStats",
    "MissingRunFile",
    "NoMagnitudes",
    "NotARunFile",
    "RecordError",
    "Run",
    "RunFileError",
    "RunLock",
    "RunLocked",
    "RunWriter",
    "TrackingError",
    "UnsupportedVersion",
    "WriterFailed",
    "open_run",
]
