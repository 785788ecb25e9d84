"""Checking a whole chain of records, line by line: ``verify`` for ``edgeanon audit verify``, and the same check
that the writer runs before a purge."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgeanon.guidebook.audit.records import GENESIS, is_anchor, parse


class ChainError(Exception):
    def __init__(self, line: int, msg: str) -> None:
        super().__init__(f"line {line}: {msg}")
        self.line = line
        self.msg = msg


class Chain:
    """Feeds lines in order and raises ChainError at the first thing wrong."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key
        self.keyed = 0  # keyed records seen
        self.lineno = 0
        self.count = 0
        self.seq = 0
        self.head = GENESIS  # what the next record's prev must be
        self.anchor: dict[str, Any] | None = None
        self.confirmed = False

    def feed(self, raw: bytes) -> dict[str, Any]:
        self.lineno += 1
        n = self.lineno
        if not raw.endswith(b"\n"):
            raise ChainError(n, "truncated last line (no newline: torn write or cut file)")
        try:
            rec = parse(raw, self.key)
        except ValueError as e:
            raise ChainError(n, str(e)) from None
        if "mac" in rec:
            self.keyed += 1
        elif self.keyed:
            raise ChainError(n, "unkeyed record after keyed ones (written without the HMAC key: forged)")
        if n == 1 and rec["prev"] != GENESIS:
            if not is_anchor(rec):
                raise ChainError(
                    n,
                    "chain does not start at the genesis value and line 1 is not an audit_purge anchor "
                    "(records deleted from the start)",
                )
            if rec["records"] > rec["seq"]:
                raise ChainError(n, f"purge anchor claims {rec['records']} removed records before seq {rec['seq']}")
            self.anchor, self.seq, self.head = rec, rec["seq"], rec["prev"]
            self.count += 1
            return rec
        seq = rec["seq"]
        if seq <= self.seq:
            raise ChainError(n, f"seq {seq} does not increase after {self.seq} (records reordered or duplicated)")
        if seq != self.seq + 1:
            raise ChainError(
                n, f"seq {seq} follows {self.seq}: {seq - self.seq - 1} record(s) missing (deleted) or out of order"
            )
        if rec["prev"] != self.head:
            if n == 1:
                where = "the genesis value"
            elif self.anchor is not None and n == 2:
                where = "the purge anchor on line 1"
            else:
                where = f"the hash of line {n - 1}"
            raise ChainError(n, f"prev does not match {where} (record inserted, deleted or reordered)")
        if self.anchor is not None and rec["event"] == "audit_purge" and rec.get("anchor") == self.anchor["hash"]:
            if rec.get("records") != self.anchor["records"] or rec.get("cutoff") != self.anchor["cutoff"]:
                raise ChainError(n, "audit_purge record disagrees with the purge anchor on line 1")
            self.confirmed = True
        self.seq, self.head = seq, rec["hash"]
        self.count += 1
        return rec

    def finish(self) -> None:
        if self.key is not None and self.lineno and not self.keyed:
            raise ChainError(
                self.lineno, "no record is keyed with the HMAC key (the log was written or rewritten without it)"
            )
        if self.anchor is not None and not self.confirmed:
            raise ChainError(
                1, "purge anchor is not confirmed by a later audit_purge record (forged anchor, or records cut off)"
            )


def check_lines(
    lines: Iterable[bytes], expected_head: str | None, key: bytes | None = None
) -> tuple[bool, str, int, Chain]:
    chain = Chain(key)
    try:
        for raw in lines:
            chain.feed(raw)
        chain.finish()
    except ChainError as e:
        return False, str(e), chain.count, chain
    if expected_head is not None and chain.head != expected_head:
        where = f"line {chain.lineno}" if chain.lineno else "end of file (empty log)"
        return (
            False,
            f"{where}: last hash {chain.head[:16]}… is not the expected head {expected_head[:16]}… "
            "(records deleted from the end, or the log was replaced)",
            chain.count,
            chain,
        )
    return True, f"chain intact, head {chain.head}", chain.count, chain


def verify(path: Path, expected_head: str | None = None, key: bytes | None = None) -> tuple[bool, str, int]:
    """Check a whole log file: returns ``(ok, message, records checked)``.

    Detects an edited field (hash mismatch), a deleted, inserted or reordered record (seq gap or ``prev`` that
    does not match the line before), a non-increasing seq, a bad hash field, a torn or cut last line, and a forged
    or unconfirmed purge anchor. The message names the first bad line, e.g. ``"line 7: hash mismatch (record
    edited)"``; the count is the records that passed before it. Records deleted from the *end* leave a valid chain:
    pass ``expected_head`` (a :meth:`AuditLog.head` kept elsewhere) to detect that. ``key`` checks a keyed log
    (see the package docstring); a keyed record without it is reported, not trusted.
    """
    try:
        with open(path, "rb") as f:
            ok, msg, n, _ = check_lines(f, expected_head, key)
    except OSError as e:
        return False, f"cannot read {path}: {e.strerror or e}", 0
    return ok, msg, n


def format_verify(ok: bool, msg: str, n: int) -> str:
    """One line for ``edgeanon audit verify``."""
    if ok:
        return f"audit log OK: {n} records, {msg}"
    return f"audit log FAILED: {msg} ({n} records verified before it)"
