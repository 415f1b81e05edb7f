"""User-facing errors.

Every error a user can cause (bad config, unknown name, missing data set, damaged run
file) derives from :class:`SheddingError`; the CLI prints its message as one line and
exits with status 2 instead of a traceback. Messages name the bad value and the fix.
"""


class SheddingError(Exception):
    """Base class for errors caused by user input, printed as one line by the CLI."""


class ConfigError(SheddingError, ValueError):
    """A config key, value or name is invalid."""


class DataError(SheddingError):
    """A data set is missing or unreadable."""


class CheckpointError(SheddingError):
    """A checkpoint or cached phase needed to continue is missing or unusable."""
