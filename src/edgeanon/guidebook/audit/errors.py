"""What goes wrong with an audit log."""

from __future__ import annotations

from edgeanon.errors import EdgeanonError


class AuditError(EdgeanonError):
    """The audit log cannot be opened, written, purged or trusted."""


class AuditBusy(AuditError):
    """Another ``AuditLog`` (normally the running service) holds the log open for writing."""
