"""The one error class of :mod:`shedding.track`."""

from __future__ import annotations

from shedding.errors import SheddingError


class TrackerError(SheddingError, ValueError):
    """A tracker was opened or called wrongly; the message names the problem and the fix."""
