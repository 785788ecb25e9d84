"""Camera readers: newest-frame slot, pacing, reconnect, and an accounted release for every frame.

Pixels live in a small fixed pool of buffers per camera. Every captured frame ends in exactly one
of three fates - inferred, dropped (replaced by a newer frame before the detector took it) or
skipped (pacing) - and ``FramePool.release`` is the single place that zeroes the buffer and counts
the fate, so ``captured == inferred + dropped + skipped == released`` once a camera has stopped.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.config.cameras import Camera
from edgeanon.config.sources import DeviceSource, FileSource, UrlSource
from edgeanon.outputs.live import CameraStatus, FrameCounters
from edgeanon.pixels import view

log = logging.getLogger("edgeanon.capture")

Buffer = npt.NDArray[np.uint8]
POOL_SIZE = 3  # one being decoded into, one waiting in the slot, one being inferred
BACKEND_JOIN_S = 1.0  # how long join() waits for a reader blocked in OpenCV open()/read(), which nothing interrupts


class Fate(StrEnum):
    INFERRED = "inferred"
    DROPPED = "dropped"
    SKIPPED = "skipped"


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


def lower_thread_priority(steps: int) -> bool:
    """Raise the calling thread's nice value by ``steps`` (Linux, where nice is per thread); False if not done.

    The runner lowers its helper threads (readers, analytics) so that onnxruntime's threads, the
    critical path, win the CPU whenever both want it; the helpers then run in the gaps between the
    model's parallel sections. A lower priority only matters under contention: decoding a 10 fps
    camera needs about 1 % of a core, far below what a nice-10 thread still gets.
    """
    if steps <= 0 or sys.platform != "linux":
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except (OSError, AttributeError):  # a sandbox that forbids it: run at normal priority
        return False
    return True


def _open(source: DeviceSource | FileSource | UrlSource, cam: Camera) -> cv2.VideoCapture:
    if isinstance(source, DeviceSource):
        return cv2.VideoCapture(source.index, cv2.CAP_V4L2)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(cam.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(cam.read_timeout_s * 1000),
    ]
    target = source.open_url() if isinstance(source, UrlSource) else str(resolve_file(source))
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


def resolve_file(source: FileSource) -> Path:
    from edgeanon.resources import sample_clip

    return Path(source.path).expanduser() if source.path else sample_clip()


def describe_source(source: DeviceSource | FileSource | UrlSource) -> str:
    """Loggable description: never includes credentials."""
    if isinstance(source, DeviceSource):
        return f"device {source.index}"
    if isinstance(source, FileSource):
        return f"file {resolve_file(source)}"
    return f"url {source.url}"


class CameraReader:
    """Reads one source in its own thread and keeps only the newest frame for the detector.

    ``blocking=True`` (benchmarks over files) makes the reader wait for the detector instead of
    dropping, so every decoded frame is inferred.
    """

    def __init__(
        self,
        cam: Camera,
        notify: Callable[[], None],
        blocking: bool = False,
        clock: Callable[[], float] = time.monotonic,
        allowed: Callable[[], bool] = lambda: True,
        nice: int = 0,
    ) -> None:
        self.cam = cam
        self._nice = nice
        self.pool = FramePool()
        self.status = CameraStatus(cam.id, counters=self.pool.counters)
        self._notify = notify
        self._blocking = blocking
        self._clock = clock
        self._allowed = allowed  # opening hours: when False the source is closed, not just ignored
        self._slot: Frame | None = None
        self._slot_lock = threading.Lock()
        self._slot_free = threading.Condition(self._slot_lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{cam.id}", daemon=True)
        self._seq = 0
        self._cap: cv2.VideoCapture | None = None
        self._session_frames = 0
        self._media_next: float | None = None
        self.busy = False  # a worker holds a frame of this camera (set by the runner)
        self.generation = 0  # bumps on every (re)open so trackers can reset
        self._in_backend = False  # inside OpenCV's open() or read() (see join)
        self.decode_s = 0.0  # seconds spent in read()+decode, for the benchmark's stage breakdown
        self.view = view.ViewCheck()  # moved, covered or defocused? (numbers only; see edgeanon.pixels.view)
        self._next_view = -math.inf  # frame time of the next view sample

    # ---- runner side
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._slot_free:
            self._slot_free.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        if self._stop.is_set() and self._in_backend:  # it holds no frame; its own open/read timeout ends it
            timeout = BACKEND_JOIN_S if timeout is None else min(timeout, BACKEND_JOIN_S)
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        if not alive:
            self.discard_pending()
        return not alive

    def take(self) -> Frame | None:
        """The newest frame, if any; the caller must ``release`` it."""
        with self._slot_free:
            frame, self._slot = self._slot, None
            self._slot_free.notify_all()
            return frame

    def peek_time(self) -> float | None:
        """Wall (monotonic) capture time of the waiting frame: comparable across cameras and files."""
        slot = self._slot
        return None if slot is None else slot.wall

    def release(self, frame: Frame, fate: Fate = Fate.INFERRED) -> None:
        self.pool.release(frame.buffer, fate)

    def discard_pending(self) -> None:
        frame = self.take()
        if frame is not None:
            self.release(frame, Fate.DROPPED)

    # ---- reader thread
    def _run(self) -> None:
        lower_thread_priority(self._nice)  # decoding's own threads, created from here, inherit it
        first_backoff = min(0.25, self.cam.reconnect_max_s)
        backoff = first_backoff
        try:
            while not self._stop.is_set():
                if not self._allowed():
                    if not self.status.closed:
                        log.info("camera %s: outside opening hours, source closed", self.cam.id)
                    self.status.closed, self.status.up = True, False
                    self.status.down_since = None  # closed on purpose: not a failure
                    self._notify()
                    self._stop.wait(5.0)
                    continue
                if self.status.closed:
                    log.info("camera %s: opening hours started", self.cam.id)
                    self.status.closed = False
                if not self._connect():
                    self.status.reconnects += 1  # a failed (re)open is retried after the back-off
                    if self._stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, self.cam.reconnect_max_s)
                    continue
                reason = self._read_loop()
                if self._session_frames:  # it worked for a while: start the back-off afresh
                    backoff = first_backoff
                self._close()
                if reason == "eof":
                    src = self.cam.source
                    if isinstance(src, FileSource) and src.loop:
                        continue
                    self.status.finished = True
                    log.info("camera %s: end of %s", self.cam.id, describe_source(src))
                    self._notify()
                    break
                if reason == "error_eof":
                    self._down(f"{describe_source(self.cam.source)}: no decodable frames (corrupt or truncated?)")
                if reason.startswith("error") and not self._stop.is_set():
                    self.status.reconnects += 1
                    if self._stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, self.cam.reconnect_max_s)
        finally:
            self._close()
            self.status.up = False
            self._notify()

    def _connect(self) -> bool:
        src = self.cam.source
        if isinstance(src, FileSource):
            path = resolve_file(src)
            if not path.is_file():
                self._down(f"{describe_source(src)}: no such file")
                return False
        self._in_backend = True
        cap = _open(src, self.cam)
        self._in_backend = False
        if not cap.isOpened():
            cap.release()
            self._down(f"cannot open {describe_source(src)}")
            return False
        self._cap = cap
        self._session_frames = 0
        self.generation += 1
        return True

    def _down(self, why: str) -> None:
        if self.status.up or why != self.status.last_error:
            log.warning("camera %s: down: %s", self.cam.id, why)
        if self.status.down_since is None:
            self.status.down_since = time.time()  # wall time: it is shown and stored, never used for staleness
        self.status.up = False
        self.status.last_error = why

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _read_loop(self) -> str:
        """Read until stop, end of file or a failure; returns 'stop', 'eof' or 'error'."""
        cap = self._cap
        assert cap is not None
        src = self.cam.source
        realtime_file = isinstance(src, FileSource) and src.realtime
        native = cap.get(cv2.CAP_PROP_FPS) if isinstance(src, FileSource) else 0.0
        native_period = 1.0 / native if native and native > 0 else 1.0 / self.cam.fps
        period = 1.0 / self.cam.fps
        next_due = 0.0
        started = self._clock()
        # Files are analysed on their own timeline (frame index / fps) so that tracking, dwell and
        # pacing behave the same whether a file plays in real time or as fast as possible.
        media_t0 = started if self._media_next is None else self._media_next
        n_read = 0
        ema_dt = 0.0
        last_accept = None
        next_hours_check = started + 1.0
        while not self._stop.is_set():
            if self._clock() >= next_hours_check:
                next_hours_check = self._clock() + 1.0
                if not self._allowed():
                    return "closed"
            buf = self.pool.acquire(timeout=1.0)
            t_read = time.perf_counter()
            self._in_backend = True
            ok, frame = cap.read(buf) if buf is not None else cap.read()
            self._in_backend = False
            self.decode_s += time.perf_counter() - t_read
            if not ok or frame is None:
                if buf is not None:
                    self.pool.give_back(buf)
                if isinstance(src, FileSource):
                    return "eof" if n_read else "error_eof"
                self._down(f"read failed or timed out on {describe_source(src)}")
                return "error"
            if frame is not buf:
                self.pool.adopt(frame, buf)
            n_read += 1
            self._session_frames = n_read
            if realtime_file:  # play a file like a camera: at its own frame rate
                due = started + n_read * native_period
                delay = due - self._clock()
                if delay > 0 and self._stop.wait(delay):
                    self.pool.captured()
                    self.pool.release(frame, Fate.SKIPPED)
                    return "stop"
            now = self._clock()
            t = media_t0 + (n_read - 1) * native_period if isinstance(src, FileSource) else now
            self._media_next = t + native_period
            self.pool.captured()
            if not self.status.up:
                log.info("camera %s: up (%s, %dx%d)", self.cam.id, describe_source(src), frame.shape[1], frame.shape[0])
                self.status.last_error = ""
                self.status.down_since = None
            self.status.up = True
            self.status.last_frame = now
            self.status.frame_size = (frame.shape[1], frame.shape[0])
            if t < next_due - 0.2 * period:  # pacing: faster than the target analysis rate
                self.pool.release(frame, Fate.SKIPPED)
                continue
            next_due = next_due + period if next_due > t - period else t + period
            if last_accept is not None:
                dt = now - last_accept
                ema_dt = dt if ema_dt == 0 else 0.9 * ema_dt + 0.1 * dt
                self.status.fps = 1.0 / ema_dt if ema_dt > 0 else 0.0
            last_accept = now
            if t >= self._next_view:  # the view check, while this thread still holds the frame
                self._next_view = t + view.EVERY_S
                self._check_view(frame)
            self._seq += 1
            self._put(Frame(self.cam.id, frame, t, self._seq, now))
        return "stop"

    def _check_view(self, frame: Buffer) -> None:
        """Sample the view check; only its verdict and reasons reach the status (and from there /metrics)."""
        was = self.status.view_ok
        ok = self.view.observe(frame)
        self.status.view_problems = self.view.problems if ok is False else ()
        self.status.view_ok = ok
        sc = self.view.scores
        if ok is False and was is not False and sc is not None:
            log.warning(
                "camera %s: view check: %s (brightness %.2fx, sharpness %.2fx of the usual, layout match %.2f): "
                "moved, covered or out of focus? Zones and lines may count the wrong place",
                self.cam.id,
                ", ".join(self.view.problems),
                sc.brightness,
                sc.sharpness,
                sc.layout,
            )
        elif ok and was is False:
            log.info("camera %s: view check: as usual again", self.cam.id)
        elif ok and was is None:
            log.info("camera %s: view check: baseline learnt", self.cam.id)

    def _put(self, frame: Frame) -> None:
        with self._slot_free:
            if self._blocking:
                self._slot_free.wait_for(lambda: self._slot is None or self._stop.is_set())
            old, self._slot = self._slot, frame
        if old is not None:
            self.pool.release(old.buffer, Fate.DROPPED)
        self._notify()
