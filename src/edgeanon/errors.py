"""Errors that end a command with a one-line message instead of a traceback."""

from __future__ import annotations


class EdgeanonError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits with ``exit_code``."""

    exit_code = 2


class ModelError(EdgeanonError):
    """A model file is missing, corrupt, unverified or of the wrong layout."""


class SourceError(EdgeanonError):
    """A video source or image cannot be opened or read."""


class AuditError(EdgeanonError):
    """The audit log cannot be opened, written, purged or trusted, or its HMAC key file is unusable."""
