"""The HMAC key that seals a keyed audit log, read from ``storage.audit_hmac_key_file`` with its permissions checked."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edgeanon.guidebook.audit.errors import AuditError

MIN_KEY_BYTES = 32

log = logging.getLogger("edgeanon.audit")


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
