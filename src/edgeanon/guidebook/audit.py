"""Append-only, hash-chained audit log (guidebook 管理時: security controls, retention, leak response).

File format
-----------
One JSON object per line (UTF-8, ``\\n``-terminated), written in this key order::

    {"seq": 7, "ts": "2025-04-01T09:00:00.000Z", "event": "start", ...fields, "prev": "<64 hex>", "hash": "<64 hex>"}

* ``seq`` counts records from 1 and increases by exactly 1 per record.
* ``ts`` is the record time in ISO 8601 UTC (from the injected clock, normally ``time.time``).
* ``prev`` is the ``hash`` of the previous record; the first record of a new log has ``GENESIS`` (64 zeros).
* ``hash`` is the SHA-256 of the canonical JSON of the record without ``hash``: ``json.dumps(..., sort_keys=True,
  separators=(",", ":"), ensure_ascii=False)`` encoded as UTF-8. Editing any field therefore changes the hash,
  and editing the hash too breaks the next record's ``prev``.
* With an HMAC key (``storage.audit_hmac_key_file``, checked by ``config.credentials.load_key``), a record carries
  ``"mac": "hmac-sha256"`` and its ``hash`` is the HMAC-SHA256 of the same canonical JSON under that key. Such a
  record cannot be written or rewritten without the key. Once a log holds a keyed record, every later record must be
  keyed; ``verify`` with the key also fails when no record is keyed (a log rewritten without the key). Unkeyed
  records before the first keyed one (a log that was keyed later) are protected too: rewriting them changes the
  ``prev`` that the first keyed record seals.

Each record is written with a single ``write`` followed by ``fsync``, under a lock, so threads may share one
``AuditLog``. One process at a time may write a log: the file is held with an exclusive ``flock`` while open.

What goes in
------------
Fields are small JSON values only: ``None``, bool, int, finite float, short strings, and short lists of those.
The caller passes hashes of the config and model, counts, reasons and rule ids. **Never** frames, boxes,
coordinates, track ids, embeddings or anything derived from a person; a few such field names are refused
outright as a last line of defence, and any numpy value is refused by type.

Events the service records:

``start``           ``version``, ``config_sha256``, ``model_sha256``, ``purposes`` (list of purpose names)
``stop``            ``reason`` (e.g. "SIGTERM"), ``flushed`` (buckets flushed to the store)
``purge``           ``table``, ``rows``, ``cutoff`` (ISO time) — retention purge of the aggregate store; ``by``
                    "export" when ``edgeanon export`` purged
``refusal``         ``reason``, ``rule`` (policy rule id) — a config or request refused by the policy
``setup_mode``      ``state`` ("on" at start-up, "off" when it expires), ``until`` — the installer mode of /setup
``audit_purge``     ``records``, ``cutoff`` — written by :meth:`AuditLog.purge` itself (see below)
``audit_recovered`` ``reason``, ``line``, ``removed_bytes`` — written on open when a torn final line was removed

Crash recovery
--------------
On open, only the last line is read to continue the chain (``seq``, ``prev``). If the file ends with an
unterminated line (a write torn by a crash or power loss), that partial line is truncated and an
``audit_recovered`` record says so. A *complete* last line that is not a valid, self-consistent record is not
something a crash produces: the log refuses to open (``AuditError``) and leaves the file untouched, so the
evidence is kept. Use :func:`verify` to check the whole file.

Retention and the purge anchor
------------------------------
:meth:`AuditLog.purge` removes the leading run of records older than ``retention_days`` (a chain can only lose a
prefix; a record that follows a newer one waits until everything before it is gone). The kept records are copied
byte for byte, so their hashes, and any head kept elsewhere, stay valid. The new file is::

    line 1   anchor   {"seq": <seq of last removed>, "ts", "event": "audit_purge", "records": n, "cutoff",
                       "prev": <hash of the last removed record>, "hash"}
    line 2.. the kept records, unchanged (the first one's prev is that same hash of the last removed record)
    last     confirm  {"seq": <next>, "ts", "event": "audit_purge", "records": n, "cutoff",
                       "anchor": <hash of line 1>, "prev": <previous head>, "hash"}

It is written to ``<path>.tmp`` in the same directory, fsynced, moved over the log with ``os.replace`` and the
directory is fsynced: a crash leaves either the old log or the new one, never a mix.

How :func:`verify` treats the anchor: the first line may have a ``prev`` other than ``GENESIS`` only if it is an
``audit_purge`` record without an ``anchor`` field. The anchor stands *beside* the chain, not in it: its own hash
must be correct, the next line must have ``prev == anchor.prev`` and ``seq == anchor.seq + 1``, and a later,
chained ``audit_purge`` record must name the anchor's hash (with the same ``records`` and ``cutoff``). That last
rule is what stops someone from cutting records off the start and writing a fresh anchor: the forged anchor would
have no confirming record, and adding one would mean appending to the chain (which moves the head, see below).
A first line with a non-genesis ``prev`` that is not such an anchor is reported as records deleted from the start.

Limits (read these before relying on the log)
---------------------------------------------
* Without a key, anyone who can write the file can rewrite the *whole* chain consistently. With a key, only who
  can read the key can (the service user, so a compromised service still can).
* Deleting records from the **end** leaves a valid shorter chain, keyed or not. Keep the current
  :meth:`AuditLog.head` somewhere else (the service exports it on ``/readyz`` and its ``seq`` as a gauge) and pass
  it to ``verify(path, expected_head=...)``.
* ``verify`` on a log that is being written may see the newest line half written and report a truncated last line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeanon.errors import AuditError

GENESIS = "0" * 64
"""``prev`` of the first record of a log that has never been purged."""

EVENTS = ("start", "stop", "purge", "refusal", "setup_mode", "audit_purge", "audit_recovered")
"""Events the service records (others are allowed; these are the documented ones)."""

RESERVED = frozenset({"seq", "ts", "event", "prev", "hash", "mac"})
FORBIDDEN_FIELDS = frozenset(
    {
        "frame",
        "image",
        "pixels",
        "box",
        "boxes",
        "bbox",
        "xyxy",
        "track_id",
        "track_ids",
        "embedding",
        "embeddings",
        "keypoints",
        "face",
        "faces",
    }
)
"""Field names that would carry pixels or identity; refused whatever their value."""

MAC = "hmac-sha256"
"""The ``mac`` field of a record whose ``hash`` is keyed."""

log = logging.getLogger("edgeanon.audit")

MAX_STR = 1024
MAX_LIST = 32
MAX_LINE_BYTES = 4096

_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DAY_S = 86400.0
_BLOCK = 65536


class AuditBusy(AuditError):
    """Another ``AuditLog`` (normally the running service) holds the log open for writing."""


# --- record encoding -------------------------------------------------------------------------------------------


def _canonical(rec: dict[str, Any]) -> bytes:
    body = {k: v for k, v in rec.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def record_hash(rec: dict[str, Any], key: bytes | None = None) -> str:
    """SHA-256 (hex) of the canonical JSON of ``rec`` without its ``hash`` key; HMAC-SHA256 under ``key`` if given."""
    if key is not None:
        return hmac.new(key, _canonical(rec), hashlib.sha256).hexdigest()
    return hashlib.sha256(_canonical(rec)).hexdigest()


def _seal(rec: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    """Add ``mac`` (keyed logs) and ``hash`` to a record whose other fields are final."""
    if key is not None:
        rec["mac"] = MAC
    rec["hash"] = record_hash(rec, key)
    return rec


def _line(rec: dict[str, Any]) -> bytes:
    return (json.dumps(rec, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def _scalar(name: str, v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"audit field {name!r}: {v} is not a finite number")
        return float(v)
    if isinstance(v, str):
        if len(v) > MAX_STR:
            raise ValueError(f"audit field {name!r}: string longer than {MAX_STR} characters")
        return str(v)
    raise TypeError(f"audit field {name!r}: {type(v).__name__} is not allowed (only small JSON scalars and lists)")


def _check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, v in fields.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"audit field name {name!r} must match {_NAME.pattern}")
        if name in RESERVED:
            raise ValueError(f"audit field name {name!r} is reserved")
        if name in FORBIDDEN_FIELDS:
            raise ValueError(f"audit field {name!r} is refused: the audit log never holds pixels, boxes or identities")
        if isinstance(v, list | tuple):
            if len(v) > MAX_LIST:
                raise ValueError(f"audit field {name!r}: list longer than {MAX_LIST} items")
            out[name] = [_scalar(name, x) for x in v]
        else:
            out[name] = _scalar(name, v)
    return out


# --- record parsing and chain checking (shared by open, purge and verify) ---------------------------------------


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r}")
        obj[k] = v
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _parse(raw: bytes, key: bytes | None = None) -> dict[str, Any]:
    """Parse one line into a record with the required fields and a correct self-hash; ValueError says why not.

    A keyed record (``mac``) is checked under ``key``; without a key it cannot be checked, which is an error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8") from None
    if not text.strip():
        raise ValueError("empty line")
    try:
        obj = json.loads(text, object_pairs_hook=_no_dupes, parse_constant=_no_constant)
    except ValueError as e:
        raise ValueError(f"not a valid JSON record ({str(e).splitlines()[0]})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    seq = obj.get("seq")
    if type(seq) is not int or seq < 1:
        raise ValueError("missing or bad 'seq'")
    ts = obj.get("ts")
    try:
        ok_ts = isinstance(ts, str) and datetime.fromisoformat(ts).tzinfo is not None
    except ValueError:
        ok_ts = False
    if not ok_ts:
        raise ValueError("missing or bad 'ts'")
    if not isinstance(obj.get("event"), str) or not obj["event"]:
        raise ValueError("missing or bad 'event'")
    for name in ("prev", "hash"):
        if not isinstance(obj.get(name), str) or not _HEX64.fullmatch(obj[name]):
            raise ValueError(f"missing or bad '{name}' (not 64 hex digits)")
    if "mac" in obj:
        if obj["mac"] != MAC:
            raise ValueError(f"unknown 'mac' {obj['mac']!r}")
        if key is None:
            raise ValueError("keyed record (HMAC): it can only be checked with the key (storage.audit_hmac_key_file)")
        if not hmac.compare_digest(record_hash(obj, key), obj["hash"]):
            raise ValueError("HMAC mismatch (record edited or forged, or a different key)")
    elif record_hash(obj) != obj["hash"]:
        raise ValueError("hash mismatch (record edited)")
    return obj


def _is_anchor(rec: dict[str, Any]) -> bool:
    return (
        rec["event"] == "audit_purge"
        and rec["prev"] != GENESIS
        and "anchor" not in rec
        and type(rec.get("records")) is int
        and rec["records"] >= 1
        and isinstance(rec.get("cutoff"), str)
    )


class _ChainError(Exception):
    def __init__(self, line: int, msg: str) -> None:
        super().__init__(f"line {line}: {msg}")
        self.line = line
        self.msg = msg


class _Chain:
    """Feeds lines in order and raises _ChainError at the first thing wrong."""

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
            raise _ChainError(n, "truncated last line (no newline: torn write or cut file)")
        try:
            rec = _parse(raw, self.key)
        except ValueError as e:
            raise _ChainError(n, str(e)) from None
        if "mac" in rec:
            self.keyed += 1
        elif self.keyed:
            raise _ChainError(n, "unkeyed record after keyed ones (written without the HMAC key: forged)")
        if n == 1 and rec["prev"] != GENESIS:
            if not _is_anchor(rec):
                raise _ChainError(
                    n,
                    "chain does not start at the genesis value and line 1 is not an audit_purge anchor "
                    "(records deleted from the start)",
                )
            if rec["records"] > rec["seq"]:
                raise _ChainError(n, f"purge anchor claims {rec['records']} removed records before seq {rec['seq']}")
            self.anchor, self.seq, self.head = rec, rec["seq"], rec["prev"]
            self.count += 1
            return rec
        seq = rec["seq"]
        if seq <= self.seq:
            raise _ChainError(n, f"seq {seq} does not increase after {self.seq} (records reordered or duplicated)")
        if seq != self.seq + 1:
            raise _ChainError(
                n, f"seq {seq} follows {self.seq}: {seq - self.seq - 1} record(s) missing (deleted) or out of order"
            )
        if rec["prev"] != self.head:
            if n == 1:
                where = "the genesis value"
            elif self.anchor is not None and n == 2:
                where = "the purge anchor on line 1"
            else:
                where = f"the hash of line {n - 1}"
            raise _ChainError(n, f"prev does not match {where} (record inserted, deleted or reordered)")
        if self.anchor is not None and rec["event"] == "audit_purge" and rec.get("anchor") == self.anchor["hash"]:
            if rec.get("records") != self.anchor["records"] or rec.get("cutoff") != self.anchor["cutoff"]:
                raise _ChainError(n, "audit_purge record disagrees with the purge anchor on line 1")
            self.confirmed = True
        self.seq, self.head = seq, rec["hash"]
        self.count += 1
        return rec

    def finish(self) -> None:
        if self.key is not None and self.lineno and not self.keyed:
            raise _ChainError(
                self.lineno, "no record is keyed with the HMAC key (the log was written or rewritten without it)"
            )
        if self.anchor is not None and not self.confirmed:
            raise _ChainError(
                1, "purge anchor is not confirmed by a later audit_purge record (forged anchor, or records cut off)"
            )


def _check_lines(
    lines: Iterable[bytes], expected_head: str | None, key: bytes | None = None
) -> tuple[bool, str, int, _Chain]:
    chain = _Chain(key)
    try:
        for raw in lines:
            chain.feed(raw)
        chain.finish()
    except _ChainError as e:
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
    (see the module docstring); a keyed record without it is reported, not trusted.
    """
    try:
        with open(path, "rb") as f:
            ok, msg, n, _ = _check_lines(f, expected_head, key)
    except OSError as e:
        return False, f"cannot read {path}: {e.strerror or e}", 0
    return ok, msg, n


def format_verify(ok: bool, msg: str, n: int) -> str:
    """One line for ``edgeanon audit verify``."""
    if ok:
        return f"audit log OK: {n} records, {msg}"
    return f"audit log FAILED: {msg} ({n} records verified before it)"


# --- the writer ------------------------------------------------------------------------------------------------


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _rfind_newline(fd: int, before: int) -> int:
    """Offset of the last ``\\n`` strictly before ``before``, or -1."""
    end = before
    while end > 0:
        start = max(0, end - _BLOCK)
        i = os.pread(fd, end - start, start).rfind(b"\n")
        if i >= 0:
            return start + i
        end = start
    return -1


def _count_newlines(fd: int, upto: int) -> int:
    n, off = 0, 0
    while off < upto:
        chunk = os.pread(fd, min(_BLOCK, upto - off), off)
        if not chunk:
            break
        n += chunk.count(b"\n")
        off += len(chunk)
    return n


class AuditLog:
    """An open audit log; append with :meth:`record`, trim with :meth:`purge`, read the chain head with :meth:`head`.

    Opening creates the parent directory and the file (mode 0600) if needed, takes an exclusive ``flock`` (a
    second writer, in this or another process, gets ``AuditError``), removes a stale ``<path>.tmp`` left by a
    purge that crashed before its rename, and continues the chain from the last line (see the module docstring
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
                        _fsync_dir(self.path.parent)
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _load_tail(self) -> None:
        fd = self._fd
        size = os.fstat(fd).st_size
        nl = _rfind_newline(fd, size)
        end = nl + 1  # 0 when the file holds no complete line
        if end > 0:
            start = _rfind_newline(fd, nl) + 1
            raw = os.pread(fd, end - start, start)
            try:
                rec = _parse(raw, self._key)
            except ValueError as e:
                lineno = _count_newlines(fd, start) + 1
                raise AuditError(
                    f"audit log {self.path}: line {lineno} (the last complete line) is not a valid record ({e}); "
                    "refusing to append — run 'edgeanon audit verify'"
                ) from None
            if start == 0 and _is_anchor(rec):  # a file holding only a purge anchor: continue beside it
                self._seq, self._head = rec["seq"], rec["prev"]
            else:
                self._seq, self._head = rec["seq"], rec["hash"]
        torn = size - end
        if torn:
            lineno = _count_newlines(fd, end) + 1
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

        ``fields`` must be small JSON values (see the module docstring); ``TypeError``/``ValueError`` otherwise.
        An I/O error raises ``AuditError`` and the log refuses further records until reopened.
        """
        if not isinstance(event, str) or not _NAME.fullmatch(event):
            raise ValueError(f"audit event name {event!r} must match {_NAME.pattern}")
        body = _check_fields(fields)
        with self._lock:
            self._check_usable()
            rec: dict[str, Any] = {"seq": self._seq + 1, "ts": _iso(self._clock()), "event": event, **body}
            rec["prev"] = self._head
            _seal(rec, self._key)
            data = _line(rec)
            if len(data) > MAX_LINE_BYTES:
                raise ValueError(f"audit record for {event!r} is {len(data)} bytes (limit {MAX_LINE_BYTES})")
            try:
                _write_all(self._fd, data)
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
        purged (``AuditError``), so evidence of tampering is never trimmed away. See the module docstring for the
        anchor written at the top and the confirming ``audit_purge`` record appended at the end.
        """
        with self._lock:
            self._check_usable()
            now = self._clock()
            cutoff_t = now - self.retention_days * _DAY_S
            try:
                data = os.pread(self._fd, self._size, 0)
            except OSError as e:
                raise self._fail("cannot read for purge", e) from None
            lines = data.splitlines(keepends=True)
            ok, msg, _, chain = _check_lines(lines, self._head, self._key)
            if not ok:
                raise AuditError(f"audit log {self.path}: not purging a damaged log ({msg})")
            first = 1 if chain.anchor is not None else 0
            recs = [json.loads(raw) for raw in lines]
            cut = first
            while cut < len(recs) and _epoch(recs[cut]["ts"]) < cutoff_t:
                cut += 1
            removed = cut - first
            if removed == 0:
                return 0
            last = recs[cut - 1]
            ts, cutoff = _iso(now), _iso(cutoff_t)
            anchor: dict[str, Any] = {"seq": last["seq"], "ts": ts, "event": "audit_purge", "records": removed}
            anchor |= {"cutoff": cutoff, "prev": last["hash"]}
            _seal(anchor, self._key)
            confirm: dict[str, Any] = {"seq": self._seq + 1, "ts": ts, "event": "audit_purge", "records": removed}
            confirm |= {"cutoff": cutoff, "anchor": anchor["hash"], "prev": self._head}
            _seal(confirm, self._key)
            content = _line(anchor) + b"".join(lines[cut:]) + _line(confirm)

            tmp = self._tmp
            try:
                new_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise self._fail(f"cannot create {tmp.name}", e) from None
            try:
                _write_all(new_fd, content)
                os.fsync(new_fd)
                fcntl.flock(new_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # hold the lock on the new file before it is visible
                os.replace(tmp, self.path)
            except OSError as e:
                os.close(new_fd)
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise self._fail("purge failed, log unchanged", e) from None
            old_fd, self._fd = self._fd, new_fd
            os.close(old_fd)
            self._size = len(content)
            self._seq, self._head = confirm["seq"], confirm["hash"]
            try:
                _fsync_dir(self.path.parent)
            except OSError as e:
                self._failed = f"directory fsync failed: {e.strerror or e}"
                raise self._fail("purge written but directory fsync failed", e) from None
            return removed

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._fd)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
