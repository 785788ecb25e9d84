"""One audit record: the fields it may hold, its canonical JSON, its (keyed) hash, and parsing one line back."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

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

MAX_STR = 1024
MAX_LIST = 32
MAX_LINE_BYTES = 4096

NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _canonical(rec: dict[str, Any]) -> bytes:
    body = {k: v for k, v in rec.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def record_hash(rec: dict[str, Any], key: bytes | None = None) -> str:
    """SHA-256 (hex) of the canonical JSON of ``rec`` without its ``hash`` key; HMAC-SHA256 under ``key`` if given."""
    if key is not None:
        return hmac.new(key, _canonical(rec), hashlib.sha256).hexdigest()
    return hashlib.sha256(_canonical(rec)).hexdigest()


def seal(rec: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    """Add ``mac`` (keyed logs) and ``hash`` to a record whose other fields are final."""
    if key is not None:
        rec["mac"] = MAC
    rec["hash"] = record_hash(rec, key)
    return rec


def encode_line(rec: dict[str, Any]) -> bytes:
    return (json.dumps(rec, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch(ts: str) -> float:
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


def check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, v in fields.items():
        if not NAME.fullmatch(name):
            raise ValueError(f"audit field name {name!r} must match {NAME.pattern}")
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


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r}")
        obj[k] = v
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def parse(raw: bytes, key: bytes | None = None) -> dict[str, Any]:
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


def is_anchor(rec: dict[str, Any]) -> bool:
    return (
        rec["event"] == "audit_purge"
        and rec["prev"] != GENESIS
        and "anchor" not in rec
        and type(rec.get("records")) is int
        and rec["records"] >= 1
        and isinstance(rec.get("cutoff"), str)
    )
