"""`edgeanon audit verify`: one audit log checked end to end, with the exit codes an operator's script can act on.

1 means the chain is broken (a record edited, removed, inserted, reordered, or cut from the end). 2 means there is
nothing to check (no log at that path, not a file, unreadable): "never ran" or "wrong path", not "tampered".
"""

from __future__ import annotations

from pathlib import Path

from edgeanon.errors import EdgeanonError
from edgeanon.guidebook.audit.chain import format_verify, verify


def check_audit_log(path: Path, key: bytes | None = None, expected_head: str | None = None) -> int:
    """Verify the log at ``path`` and print the verdict; the exit code."""
    if not path.exists():
        raise EdgeanonError(f"{path}: no audit log (wrong path, or `edgeanon run` never ran with this config)")
    if not path.is_file():
        raise EdgeanonError(f"{path}: not a file")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise EdgeanonError(f"{path}: cannot read the audit log: {exc.strerror or exc}") from None
    ok, msg, n = verify(path, expected_head=expected_head, key=key)
    print(format_verify(ok, msg, n))
    return 0 if ok else 1
