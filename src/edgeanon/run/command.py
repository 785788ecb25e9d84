"""`edgeanon run`: core dumps off first, then the config read (a config the policy refuses is recorded in the
audit log it names), then the service, until a signal or the duration ends it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

from edgeanon.config.errors import ConfigError
from edgeanon.config.governance import Retention
from edgeanon.config.loader import load_config
from edgeanon.config.outputs import Storage
from edgeanon.errors import AuditError
from edgeanon.guidebook.audit.writer import AuditLog
from edgeanon.run.check import check_inputs
from edgeanon.run.coredumps import forbid_core_dumps
from edgeanon.run.service import RunOptions, serve


def run(path: Path, *, quiet: bool = False, duration: float | None = None, port: int | None = None) -> int:
    """Serve the config at ``path``; the exit code."""
    forbid_core_dumps()  # first: before any frame, key or password is in memory
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if "refused:" in str(exc):
            _audit_refusal(path, str(exc))
        raise
    check_inputs(path, cfg)  # input sizes against the model: needs the manifest, so not a schema check
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return serve(cfg, RunOptions(quiet=quiet, duration=duration, port=port, config_sha256=digest))


def _audit_refusal(path: Path, message: str) -> None:
    """Record a refused config in the audit log it names (best effort: the config is invalid by definition)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        storage = Storage.model_validate(raw.get("storage") or {})
        days = Retention.model_fields["audit_days"].default
        key = storage.audit_key()
    except Exception:  # the refusal itself is reported on stderr either way
        return
    for line in message.splitlines():
        if "refused:" in line:
            rule = re.search(r"Rule (R[0-9]+-[a-z-]+)", line)
            try:
                with AuditLog(storage.audit_path(), retention_days=days, key=key) as audit:
                    audit.record("refusal", reason=line[:1000], rule=rule.group(1) if rule else None)
            except (AuditError, OSError, ValueError):
                return
