"""The project's own error types.

Every failure caused by a user's input (a file, a line, an argument) is raised as a
:class:`MetatrackError` whose message names the culprit, so that the command line can print one
clear line and exit non-zero instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class MetatrackError(Exception):
    """Base class of every error that metatrack raises on purpose."""


class DataError(MetatrackError):
    """Bad input data: a missing frame, a malformed ground-truth line, an unreadable image...

    ``path`` and ``line`` (1-based) are part of the message when given.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}, line {line}"
            where += ": "
        super().__init__(where + message)


class ConfigError(MetatrackError):
    """A bad argument, configuration value, tracker name or data-set format."""


class CheckpointError(MetatrackError):
    """A model file that is missing, tampered with, or of another model or version."""
