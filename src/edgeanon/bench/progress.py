"""A one-line progress bar for the long benchmark passes."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A one-line progress bar on stderr (tqdm stays out of the runtime); silent when stderr is not a terminal."""

    def __init__(self, total: float, label: str, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total = max(total, 1e-9)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.value = 0.0
        self._last = 0.0

    def set(self, value: float, note: str = "") -> None:
        self.value = min(value, self.total)
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and self.value < self.total):
            return
        self._last = now
        width = 28
        done = round(width * self.value / self.total)
        pct = 100 * self.value / self.total
        self.stream.write(f"\r{self.label} [{'#' * done}{'.' * (width - done)}] {pct:3.0f}% {note:<28.28}")
        self.stream.flush()

    def advance(self, step: float = 1.0, note: str = "") -> None:
        self.set(self.value + step, note)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (len(self.label) + 70) + "\r")
            self.stream.flush()
