"""Quiet repeats of native library messages: FFmpeg prints its connection error on every reconnect attempt.

A camera that stays unreachable is retried every few seconds (the back-off is capped at ``reconnect_max_s``,
4 s by default), and FFmpeg writes ``[tcp @ 0x...] Connection to ... failed`` to stderr on each attempt,
straight from C, past Python logging. ``RepeatGate`` lets such a line through the first time, again as soon as
it changes, and otherwise once every ``REPEAT_INTERVAL_S`` with the number of repeats it held back. Our own
"camera X: down" warning is already logged once per change by the capture code.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable

REPEAT_INTERVAL_S = 300.0  # a failure that persists is said again every 5 minutes
MAX_KEYS = 256  # distinct messages remembered; the oldest is forgotten first
# Lines from native libraries: FFmpeg's "[tcp @ 0x55d...] ..." and OpenCV's "[ERROR:0@12.345] ...".
_NATIVE = re.compile(r"^\[(?:[\w:.-]+ @ 0x[0-9a-fA-F]+|\s*(?:ERROR|WARN|INFO|DEBUG):\d+@[\d.]+)\]")
_VOLATILE = re.compile(r"0x[0-9a-fA-F]+|@[\d.]+\]")  # object addresses and OpenCV's timestamps


def repeat_key(line: str) -> str | None:
    """The part of a native library line that says what happened (None: not such a line, never held back)."""
    if not _NATIVE.match(line):
        return None
    return _VOLATILE.sub("", line)


class RepeatGate:
    """Decides, per line, whether it is written; not thread-safe (one stderr pump calls it)."""

    def __init__(self, interval_s: float = REPEAT_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key -> (last written, held back since)

    def admit(self, line: str) -> str | None:
        """The line to write (with a count of the repeats held back, if any), or None to hold it back."""
        key = repeat_key(line)
        if key is None:
            return line
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval_s:
            self._seen[key] = (seen[0], seen[1] + 1)
            return None
        self._seen[key] = (now, 0)
        self._seen.move_to_end(key)
        while len(self._seen) > MAX_KEYS:
            self._seen.popitem(last=False)
        if seen is not None and seen[1]:
            return f"{line} (repeated {seen[1]} more times in the last {now - seen[0]:.0f} s)"
        return line
