"""Logging set-up: plain lines or one JSON object per line on stderr (journald and Docker pick up either).

Every record passes one ``Redactor`` filter before any formatter sees it, because a log is the easiest place
for a secret to escape: it masks ``user:password@`` in URLs and every configured secret (stream passwords and
their URL-encoded forms, the auth hashes) in the message, the traceback and extra fields, and it replaces any
numpy array argument with its shape, so no frame, box list or other per-person array is ever written out.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from edgeanon.logrepeat import RepeatGate

LogFormat = Literal["plain", "json"]
FORMATS: tuple[LogFormat, ...] = ("plain", "json")
MASK = "***"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/:@]*):([^\s/@]*)@")
_ERRORISH = re.compile(r"(?i)\berror\b|traceback|failed|fatal")
# Attributes every LogRecord has; anything else came in through ``extra=`` and is emitted as a JSON field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def _is_array(value: object) -> bool:
    return type(value).__module__.startswith("numpy") and hasattr(value, "shape") and hasattr(value, "dtype")


def _array_stub(value: Any) -> str:
    return f"<array {tuple(value.shape)} {value.dtype}: not logged>"


class Redactor(logging.Filter):
    """Masks secrets and URL credentials, and keeps arrays out of every record it sees (thread-safe)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None

    def add_secrets(self, values: Iterable[str]) -> None:
        """Mask these strings from now on; URL-encoded forms are added too (stream URLs carry them encoded)."""
        with self._lock:
            found = set(self._secrets)
            for v in values:
                if v:
                    found.update({v, quote(v, safe=""), quote(v)})
            self._secrets = tuple(sorted(found, key=len, reverse=True))  # longest first: no partial masks
            self._pattern = re.compile("|".join(map(re.escape, self._secrets))) if self._secrets else None

    def clear(self) -> None:
        with self._lock:
            self._secrets, self._pattern = (), None

    def redact(self, text: str) -> str:
        text = _URL_CREDENTIALS.sub(rf"\1\2:{MASK}@", text)
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(_is_array(a) for a in args):
            record.args = tuple(_array_stub(a) if _is_array(a) else a for a in args)
        elif isinstance(args, dict) and any(_is_array(a) for a in args.values()):
            record.args = {k: _array_stub(a) if _is_array(a) else a for k, a in args.items()}
        if _is_array(record.msg):
            record.msg = _array_stub(record.msg)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be shown, never the raw arguments
            message = f"{record.msg} (unformattable log arguments dropped)"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD:
                continue
            if _is_array(value):
                setattr(record, key, _array_stub(value))
            elif isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


REDACTOR = Redactor()


class PlainFormatter(logging.Formatter):
    """``2026-11-26 22:08:00.123+09:00 INFO logger: message``: local time of the site, with its offset."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso(record.created, sep=" ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, the site's local time with its offset), level, logger, message,
    then any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out.setdefault(key, value)
        if record.exc_info or record.exc_text:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


def _iso(t: float, sep: str = "T") -> str:
    """One rule for every time a log shows: the site's timezone (``set_timezone``; the host's until a config is
    loaded), with the offset printed, so plain logs, JSON logs, summaries and exports line up."""
    tz = _state["tz"]
    dt = datetime.fromtimestamp(t, tz) if tz is not None else datetime.fromtimestamp(t).astimezone()
    return dt.isoformat(sep=sep, timespec="milliseconds")


def set_timezone(name: str | None) -> None:
    """Show log times in this IANA timezone (the config's ``aggregation.timezone``); None: the host's."""
    _state["tz"] = ZoneInfo(name) if name else None


class _StderrPump:
    """fd 2 becomes a pipe: a thread redacts every line written there by anything but our handler (FFmpeg and
    onnxruntime messages, Python tracebacks, ``print(file=sys.stderr)``) and writes it to the real stderr, as a
    JSON record in JSON mode and as the redacted line itself in plain mode. Native libraries write to fd 2
    directly, past Python logging: without this no redaction would apply to them (FFmpeg prints a failing HLS
    segment's URL, credentials included), and in JSON mode a log shipper would get lines that are not JSON."""

    def __init__(self, fmt: LogFormat = "json") -> None:
        self.fmt = fmt
        self._gate = RepeatGate()  # FFmpeg's error on every reconnect attempt: once, then on change or interval
        sys.stderr.flush()
        self.real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        # Our records go straight to the real stderr; each is one write() of one line, so lines never mix.
        self.stream = open(self.real, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        self._thread = threading.Thread(target=self._pump, args=(read_end,), name="stderr-json", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _pump(self, read_end: int) -> None:
        with open(read_end, "rb") as pipe:
            for raw in pipe:
                admitted = self._gate.admit(raw.decode("utf-8", "replace").rstrip("\r\n"))
                if admitted is None:
                    continue
                text = admitted
                if self.fmt == "plain":
                    os.write(self.real, (REDACTOR.redact(text) + "\n").encode())
                elif text.strip():
                    level = "ERROR" if _ERRORISH.search(text) else "WARNING"
                    record = {"ts": _iso(time.time()), "level": level, "logger": "stderr"}
                    record["message"] = REDACTOR.redact(text)
                    os.write(self.real, (json.dumps(record, ensure_ascii=False) + "\n").encode())

    def close(self) -> None:
        """Give fd 2 back and forward what is still in the pipe (the last words of a failing run)."""
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(self.real, 2)  # closes the pipe's only write end: the pump reads to EOF and stops
        self._thread.join(2.0)


_state: dict[str, Any] = {"format": "plain", "stream": None, "handler": None, "pump": None, "tz": None}


def setup(
    level: int = logging.INFO, fmt: LogFormat = "plain", stream: IO[str] | None = None, *, redact_native: bool = False
) -> logging.Handler | None:
    """Install the one stderr handler on the root logger, with the redactor; returns it (None if not installed).

    Like ``logging.basicConfig`` it leaves a root logger alone that someone else already configured (a test
    harness, an embedding application), but it replaces its own handler when called again. In JSON mode, and in
    plain mode with ``redact_native`` (commands that open streams), fd 2 is pumped through the redactor.
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_edgeanon", False)]
    for h in ours:
        root.removeHandler(h)
    _state["format"] = fmt
    _state["stream"] = stream
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings become records, so they are formatted and redacted too
    if root.handlers:
        for h in root.handlers:
            if REDACTOR not in h.filters:
                h.addFilter(REDACTOR)
        return None
    if stream is None and (fmt == "json" or redact_native) and _state["pump"] is None:
        _state["pump"] = _StderrPump(fmt)
    if stream is None and _state["pump"] is not None:
        _state["pump"].fmt = fmt
        stream = _state["pump"].stream
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._edgeanon = True  # type: ignore[attr-defined]
    _state["handler"] = handler
    handler.addFilter(REDACTOR)
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter(PLAIN_FORMAT))
    root.addHandler(handler)
    return handler


def add_secrets(values: Iterable[str]) -> None:
    """Register secrets from the config (stream passwords, auth hashes) to be masked in every record."""
    REDACTOR.add_secrets(values)


def announce(message: str) -> None:
    """A line meant for the operator's terminal (and tests), not the log: ``edgeanon: <message>`` in plain
    mode, a JSON record in JSON mode, so that with ``--log-format json`` every stderr line is JSON."""
    handler = _state["handler"]
    if _state["format"] == "json" and handler is not None:
        handler.handle(
            logging.makeLogRecord({"name": "edgeanon", "levelno": logging.INFO, "levelname": "INFO", "msg": message})
        )
        return
    print(f"edgeanon: {REDACTOR.redact(message)}", file=_state["stream"] or sys.stderr, flush=True)
