"""Frame buffers and their accounted release: the pool, the frame value and the newest-frame slot.

Pixels live in a small fixed pool of buffers per camera. Every captured frame ends in exactly one
of four fates - inferred, dropped (replaced by a newer frame before the detector took it), skipped
(pacing) or idle (no motion and no track, so not inferred: ``pixels.motion``) - and ``FramePool.release``
is the single place that zeroes the buffer and counts the fate, so
``captured == inferred + dropped + skipped + idle == released`` once a camera has stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from edgeanon.outputs.live import FrameCounters

Buffer = npt.NDArray[np.uint8]
POOL_SIZE = 3  # one being decoded into, one waiting in the slot, one being inferred


class Fate(StrEnum):
    INFERRED = "inferred"
    DROPPED = "dropped"
    SKIPPED = "skipped"
    IDLE = "idle"


class FramePool:
    """A fixed set of frame buffers; ``release`` zeroes a buffer before anyone can reuse it."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        self._size = size
        self._free: list[Buffer] = []
        self._shape: tuple[int, ...] | None = None
        self._lock = threading.Lock()
        self._available = threading.Condition(self._lock)
        self.counters = FrameCounters()
        # called with the Fate value when a frame's fate is decided: the bucket counts its capture and its fate
        # together, so a frame in flight at a bucket boundary lands on one side only
        self.on_count: Callable[[str], None] | None = None

    def acquire(self, timeout: float | None = None) -> Buffer | None:
        """A zeroed buffer of the current frame shape, or None before the first frame has set the shape."""
        with self._available:
            if self._shape is None:
                return None
            if not self._free and not self._available.wait_for(lambda: bool(self._free), timeout):
                return None
            return self._free.pop()

    def adopt(self, frame: Buffer, replaced: Buffer | None) -> None:
        """The decoder allocated ``frame`` itself (first frame, or the stream changed size): pool it."""
        with self._lock:
            if self._shape != frame.shape:
                self._shape = frame.shape
                self._free = [np.zeros(frame.shape, np.uint8) for _ in range(self._size - 1)]
        if replaced is not None:
            replaced.fill(0)

    def captured(self) -> None:
        with self._lock:
            self.counters.captured += 1

    def give_back(self, buf: Buffer) -> None:
        """Return a buffer that never received a frame (a failed read); not a frame release."""
        buf.fill(0)
        with self._available:
            if buf.shape == self._shape:
                self._free.append(buf)
                self._available.notify()

    def release(self, buf: Buffer, fate: Fate) -> None:
        """The only exit for a captured frame: zero it, count its fate, make the buffer reusable."""
        buf.fill(0)
        with self._available:
            c = self.counters
            if fate is Fate.INFERRED:
                c.inferred += 1
            elif fate is Fate.DROPPED:
                c.dropped += 1
            elif fate is Fate.IDLE:
                c.idle += 1
            else:
                c.skipped += 1
            c.released += 1
            if buf.shape == self._shape and len(self._free) < self._size:
                self._free.append(buf)
            self._available.notify()
        if self.on_count is not None:
            self.on_count(fate.value)


@dataclass(slots=True)
class Frame:
    """A captured frame on its way to the detector. ``buffer`` belongs to the pool: never keep it."""

    camera: str
    buffer: Buffer
    t: float  # analysis time, seconds: capture time for live sources, media time for files
    seq: int
    wall: float = 0.0  # time.monotonic() when it was read, for staleness and latency


class FrameSlot:
    """The newest frame waiting for the detector: a newer one replaces it, and the replaced one is dropped.

    ``blocking=True`` (benchmarks over files) makes ``put`` wait until the detector took the waiting frame
    instead, so every decoded frame is inferred; ``stopped`` ends that wait.
    """

    def __init__(self, pool: FramePool, blocking: bool, stopped: threading.Event) -> None:
        self._pool = pool
        self._blocking = blocking
        self._stopped = stopped
        self._frame: Frame | None = None
        self._free = threading.Condition(threading.Lock())

    def put(self, frame: Frame) -> None:
        with self._free:
            if self._blocking:
                self._free.wait_for(lambda: self._frame is None or self._stopped.is_set())
            old, self._frame = self._frame, frame
        if old is not None:
            self._pool.release(old.buffer, Fate.DROPPED)

    def take(self) -> Frame | None:
        """The waiting frame, if any; the caller must release it."""
        with self._free:
            frame, self._frame = self._frame, None
            self._free.notify_all()
            return frame

    def wall(self) -> float | None:
        """Wall (monotonic) capture time of the waiting frame: comparable across cameras and files."""
        frame = self._frame
        return None if frame is None else frame.wall

    def wake(self) -> None:
        """Wake a blocked ``put`` so that it sees ``stopped``."""
        with self._free:
            self._free.notify_all()
