"""The open audit log: one writer per file (``flock``), records appended with ``fsync``, torn tails recovered."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeanon.errors import AuditError
from edgeanon.guidebook.audit.chain import check_lines
from edgeanon.guidebook.audit.files import count_newlines, fsync_dir, rfind_newline, write_all
from edgeanon.guidebook.audit.purge import plan_purge
from edgeanon.guidebook.audit.records import (
    GENESIS,
    MAX_LINE_BYTES,
    NAME,
    check_fields,
    encode_line,
    is_anchor,
    iso,
    parse,
    seal,
)


class AuditBusy(AuditError):
    """Another ``AuditLog`` (normally the running service) holds the log open for writing."""


class AuditLog:
    """An open audit log; append with :meth:`record`, trim with :meth:`purge`, read the chain head with :meth:`head`.

    Opening creates the parent directory and the file (mode 0600) if needed, takes an exclusive ``flock`` (a
    second writer, in this or another process, gets ``AuditError``), removes a stale ``<path>.tmp`` left by a
    purge that crashed before its rename, and continues the chain from the last line (see the package docstring
    for torn-line recovery). Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self, path: Path, *, retention_days: int, clock: Callable[[], float] = time.time, key: bytes | None = None
    ) -> None:
        if type(retention_days) is not int or retention_days < 1:
            raise ValueError(f"retention_days must be a positive integer, got {retention_days!r}")
        self.path = Path(path)
        self._key = key
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.Lock()
        self._failed: str | None = None
        self._closed = False
        self._seq = 0
        self._head = GENESIS
        self._size = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise AuditError(
                f"audit log {self.path}: cannot create directory {self.path.parent}: {e.strerror}"
            ) from None
        self._fd = self._open_locked()
        try:
            self._tmp.unlink(missing_ok=True)
            self._load_tail()
        except BaseException:
            os.close(self._fd)
            self._closed = True
            raise

    @property
    def _tmp(self) -> Path:
        return self.path.with_name(self.path.name + ".tmp")

    def _fail(self, what: str, e: OSError) -> AuditError:
        return AuditError(f"audit log {self.path}: {what}: {e.strerror or e}")

    def _open_locked(self) -> int:
        while True:
            existed = self.path.exists()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise self._fail("cannot open for writing", e) from None
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise AuditError(f"audit log {self.path}: not a regular file")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise AuditBusy(f"audit log {self.path}: already open for writing (by another process?)") from None
                # A purge elsewhere may have renamed a new file over the path between our open and our lock.
                try:
                    now = os.stat(self.path)
                except FileNotFoundError:
                    now = None
                if now is not None and (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev):
                    if not existed:
                        fsync_dir(self.path.parent)
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _load_tail(self) -> None:
        fd = self._fd
        size = os.fstat(fd).st_size
        nl = rfind_newline(fd, size)
        end = nl + 1  # 0 when the file holds no complete line
        if end > 0:
            start = rfind_newline(fd, nl) + 1
            raw = os.pread(fd, end - start, start)
            try:
                rec = parse(raw, self._key)
            except ValueError as e:
                lineno = count_newlines(fd, start) + 1
                raise AuditError(
                    f"audit log {self.path}: line {lineno} (the last complete line) is not a valid record ({e}); "
                    "refusing to append — run 'edgeanon audit verify'"
                ) from None
            if start == 0 and is_anchor(rec):  # a file holding only a purge anchor: continue beside it
                self._seq, self._head = rec["seq"], rec["prev"]
            else:
                self._seq, self._head = rec["seq"], rec["hash"]
        torn = size - end
        if torn:
            lineno = count_newlines(fd, end) + 1
            try:
                os.ftruncate(fd, end)
                os.fsync(fd)
            except OSError as e:
                raise self._fail("cannot truncate a torn final line", e) from None
        self._size = end
        if torn:
            self.record(
                "audit_recovered",
                reason="torn final line removed (unterminated write)",
                line=lineno,
                removed_bytes=torn,
            )

    def head(self) -> str:
        """Hash the next record will chain to (the last record's hash; ``GENESIS`` for an empty log).

        Store it outside the log after each record so that truncation from the end can be detected with
        ``verify(path, expected_head=...)``.
        """
        with self._lock:
            return self._head

    @property
    def seq(self) -> int:
        """Sequence number of the last record (0 for an empty log)."""
        with self._lock:
            return self._seq

    def _check_usable(self) -> None:
        if self._closed:
            raise AuditError(f"audit log {self.path}: closed")
        if self._failed:
            raise AuditError(f"audit log {self.path}: not writable after an earlier error ({self._failed}); reopen it")

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one record and fsync it; returns the record as written.

        ``fields`` must be small JSON values (see the package docstring); ``TypeError``/``ValueError`` otherwise.
        An I/O error raises ``AuditError`` and the log refuses further records until reopened.
        """
        if not isinstance(event, str) or not NAME.fullmatch(event):
            raise ValueError(f"audit event name {event!r} must match {NAME.pattern}")
        body = check_fields(fields)
        with self._lock:
            self._check_usable()
            rec: dict[str, Any] = {"seq": self._seq + 1, "ts": iso(self._clock()), "event": event, **body}
            rec["prev"] = self._head
            seal(rec, self._key)
            data = encode_line(rec)
            if len(data) > MAX_LINE_BYTES:
                raise ValueError(f"audit record for {event!r} is {len(data)} bytes (limit {MAX_LINE_BYTES})")
            try:
                write_all(self._fd, data)
                os.fsync(self._fd)
            except OSError as e:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                self._failed = f"write failed: {e.strerror or e}"
                raise self._fail("write failed", e) from None
            self._size += len(data)
            self._seq, self._head = rec["seq"], rec["hash"]
            return dict(rec)

    def purge(self) -> int:
        """Remove the leading records older than ``retention_days``; returns how many were removed.

        Nothing is rewritten when nothing is old enough. The whole chain is verified first: a damaged log is not
        purged (``AuditError``), so evidence of tampering is never trimmed away. See the package docstring for the
        anchor written at the top and the confirming ``audit_purge`` record appended at the end.
        """
        with self._lock:
            self._check_usable()
            now = self._clock()
            try:
                data = os.pread(self._fd, self._size, 0)
            except OSError as e:
                raise self._fail("cannot read for purge", e) from None
            lines = data.splitlines(keepends=True)
            ok, msg, _, chain = check_lines(lines, self._head, self._key)
            if not ok:
                raise AuditError(f"audit log {self.path}: not purging a damaged log ({msg})")
            plan = plan_purge(
                lines,
                anchored=chain.anchor is not None,
                now=now,
                retention_days=self.retention_days,
                seq=self._seq,
                head=self._head,
                key=self._key,
            )
            if plan is None:
                return 0
            new_fd = self._replace(plan.content)
            old_fd, self._fd = self._fd, new_fd
            os.close(old_fd)
            self._size = len(plan.content)
            self._seq, self._head = plan.seq, plan.head
            try:
                fsync_dir(self.path.parent)
            except OSError as e:
                self._failed = f"directory fsync failed: {e.strerror or e}"
                raise self._fail("purge written but directory fsync failed", e) from None
            return plan.removed

    def _replace(self, content: bytes) -> int:
        """Write ``content`` to ``<path>.tmp``, fsync it, lock it and rename it over the log; returns its fd.

        On failure the temporary file is removed and the log is unchanged."""
        tmp = self._tmp
        try:
            new_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise self._fail(f"cannot create {tmp.name}", e) from None
        try:
            write_all(new_fd, content)
            os.fsync(new_fd)
            fcntl.flock(new_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # hold the lock on the new file before it is visible
            os.replace(tmp, self.path)
        except OSError as e:
            os.close(new_fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise self._fail("purge failed, log unchanged", e) from None
        return new_fd

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._fd)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
