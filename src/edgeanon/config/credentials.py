"""Secrets the config points at instead of holding: passwords from a file or the environment, and the audit log's
HMAC key file. Both are read when the service starts, checked, and never logged, exported or echoed in errors."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import Field, model_validator

from edgeanon.config.base import StrictModel
from edgeanon.config.errors import ConfigError, at_field
from edgeanon.errors import AuditError

MIN_KEY_BYTES = 32

log = logging.getLogger("edgeanon.audit")  # the key belongs to the audit log: its warnings keep the log's name


class PasswordRefs(StrictModel):
    """Where a password comes from, besides an inline ``password``: a file or an environment variable, so the
    config file itself can hold no secret. At most one of the three; read when the service starts."""

    password_file: str | None = Field(
        None,
        min_length=1,
        description="File whose first line is the password (keep it readable only by the service user); "
        "never logged or exported.",
    )
    password_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="Name of an environment variable that holds the password; never logged or exported.",
    )

    @model_validator(mode="after")
    def _one_password(self) -> PasswordRefs:
        given = [f for f in ("password", "password_file", "password_env") if getattr(self, f, None) is not None]
        if len(given) > 1:
            raise ValueError(at_field((given[1],), f"give only one of {', '.join(given)}"))
        return self

    @property
    def has_password(self) -> bool:
        return any(getattr(self, f, None) is not None for f in ("password", "password_file", "password_env"))

    def read_password(self, where: str) -> str | None:
        """The password from wherever the config says, or None; ``where`` (e.g. ``mqtt``) names it in errors,
        which never contain the value."""
        inline = getattr(self, "password", None)
        if inline is not None:
            return inline.get_secret_value()
        if self.password_file is not None:
            path = Path(self.password_file).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise ConfigError(f"{where}.password_file: cannot read {path}: {reason}") from None
            first = text.splitlines()[0] if text.strip() else ""
            if not first:
                raise ConfigError(f"{where}.password_file: {path} is empty")
            return first
        if self.password_env is not None:
            value = os.environ.get(self.password_env, "")
            if not value:
                raise ConfigError(f"{where}.password_env: environment variable {self.password_env} is not set or empty")
            return value
        return None


def load_key(path: str | Path) -> bytes:
    """The HMAC key from ``storage.audit_hmac_key_file``: at least 32 bytes (surrounding whitespace ignored).

    The file must be readable by the service user but writable by nobody else, and never readable by everyone:
    whoever can read the key can forge records. A file the service user itself could rewrite is logged as a
    warning, since a compromised service could then replace the key.
    """
    p = Path(path).expanduser()
    try:
        st = os.stat(p)
        key = p.read_bytes().strip()
    except OSError as e:
        raise AuditError(f"storage.audit_hmac_key_file: {p}: {e.strerror or e}") from None
    if st.st_mode & 0o022:
        raise AuditError(
            f"storage.audit_hmac_key_file: {p}: writable by group or others (mode {st.st_mode & 0o777:04o})"
        )
    if st.st_mode & 0o004:
        raise AuditError(
            f"storage.audit_hmac_key_file: {p}: readable by everyone (mode {st.st_mode & 0o777:04o}): anyone on the "
            "box could forge audit records"
        )
    if len(key) < MIN_KEY_BYTES:
        raise AuditError(
            f"storage.audit_hmac_key_file: {p}: {len(key)} bytes; use at least {MIN_KEY_BYTES} (openssl rand -hex 32)"
        )
    if os.geteuid() != 0 and (st.st_uid == os.geteuid() or os.access(p, os.W_OK)):
        log.warning(
            "storage.audit_hmac_key_file %s can be rewritten by the service user; make it root-owned and read-only "
            "to that user (e.g. root:edgeanon 0440)",
            p,
        )
    return key
