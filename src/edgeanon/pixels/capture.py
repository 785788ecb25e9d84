"""Camera readers: one thread per source that opens it, reads it, paces it and keeps only the newest frame.

Every frame read goes through the camera's ``FramePool`` (see ``edgeanon.pixels.frames``): it is inferred,
idle (not inferred: no motion and no track, ``edgeanon.pixels.motion``), dropped by the newest-frame slot or
skipped by pacing, and released exactly once either way.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable

import cv2

from edgeanon.config.cameras import Camera
from edgeanon.config.sources import FileSource
from edgeanon.outputs.live import CameraStatus
from edgeanon.pixels import view
from edgeanon.pixels.frames import Buffer, Fate, Frame, FramePool, FrameSlot
from edgeanon.pixels.motion import MotionTest
from edgeanon.pixels.pacing import Timeline
from edgeanon.pixels.sources import Backoff, describe_source, open_source, resolve_file

log = logging.getLogger("edgeanon.capture")

BACKEND_JOIN_S = 1.0  # how long join() waits for a reader blocked in OpenCV open()/read(), which nothing interrupts
HOURS_CHECK_S = 1.0  # how often a reading session asks whether the opening hours still allow it


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
        self._clock = clock
        self._allowed = allowed  # opening hours: when False the source is closed, not just ignored
        self._stop = threading.Event()
        self._slot = FrameSlot(self.pool, blocking, self._stop)
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
        # idle skipping: small grey copies, used only by the detector worker holding this camera's frame
        self.motion = MotionTest(exclude=[(ex.polygon, ex.normalized) for ex in cam.exclude])
        self._next_view = -math.inf  # frame time of the next view sample

    # ---- runner side
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._slot.wake()

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
        return self._slot.take()

    def peek_time(self) -> float | None:
        """Wall (monotonic) capture time of the waiting frame: comparable across cameras and files."""
        return self._slot.wall()

    def release(self, frame: Frame, fate: Fate = Fate.INFERRED) -> None:
        self.pool.release(frame.buffer, fate)

    def discard_pending(self) -> None:
        frame = self.take()
        if frame is not None:
            self.release(frame, Fate.DROPPED)

    # ---- reader thread
    def _run(self) -> None:
        lower_thread_priority(self._nice)  # decoding's own threads, created from here, inherit it
        backoff = Backoff(self.cam.reconnect_max_s)
        try:
            while not self._stop.is_set():
                if not self._allowed():
                    self._closed_for_hours()
                    continue
                if self.status.closed:
                    log.info("camera %s: opening hours started", self.cam.id)
                    self.status.closed = False
                if not self._connect():
                    self.status.reconnects += 1  # a failed (re)open is retried after the back-off
                    if backoff.wait(self._stop):
                        break
                    continue
                reason = self._read_loop()
                if self._session_frames:  # it worked for a while: start the back-off afresh
                    backoff.reset()
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
                    if backoff.wait(self._stop):
                        break
        finally:
            self._close()
            self.status.up = False
            self._notify()

    def _closed_for_hours(self) -> None:
        """Outside opening hours: the source stays closed; look again in a few seconds."""
        if not self.status.closed:
            log.info("camera %s: outside opening hours, source closed", self.cam.id)
        self.status.closed, self.status.up = True, False
        self.status.down_since = None  # closed on purpose: not a failure
        self._notify()
        self._stop.wait(5.0)

    def _connect(self) -> bool:
        src = self.cam.source
        if isinstance(src, FileSource):
            path = resolve_file(src)
            if not path.is_file():
                self._down(f"{describe_source(src)}: no such file")
                return False
        self._in_backend = True
        cap = open_source(src, self.cam)
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
        """Read until stop, end of file or a failure; returns 'stop', 'closed', 'eof', 'error_eof' or 'error'."""
        cap = self._cap
        assert cap is not None
        src = self.cam.source
        is_file = isinstance(src, FileSource)
        realtime_file = isinstance(src, FileSource) and src.realtime
        native = cap.get(cv2.CAP_PROP_FPS) if is_file else 0.0
        tl = Timeline.open(self.cam.fps, native, self._clock(), self._media_next, is_file)
        next_hours_check = tl.started + HOURS_CHECK_S
        while not self._stop.is_set():
            if self._clock() >= next_hours_check:
                next_hours_check = self._clock() + HOURS_CHECK_S
                if not self._allowed():
                    return "closed"
            frame = self._read_frame(cap)
            if frame is None:
                if is_file:
                    return "eof" if tl.n_read else "error_eof"
                self._down(f"read failed or timed out on {describe_source(src)}")
                return "error"
            tl.n_read += 1
            self._session_frames = tl.n_read
            if realtime_file and self._wait_until_due(tl):
                self.pool.captured()
                self.pool.release(frame, Fate.SKIPPED)
                return "stop"
            now = self._clock()
            t = tl.frame_time(now)
            self._media_next = t + tl.native_period
            self.pool.captured()
            self._mark_up(frame, now)
            if not tl.accept(t, now):  # pacing: faster than the target analysis rate
                self.pool.release(frame, Fate.SKIPPED)
                continue
            if tl.fps is not None:
                self.status.fps = tl.fps
            if t >= self._next_view:  # the view check, while this thread still holds the frame
                self._next_view = t + view.EVERY_S
                self._check_view(frame)
            self._seq += 1
            self._put(Frame(self.cam.id, frame, t, self._seq, now))
        return "stop"

    def _read_frame(self, cap: cv2.VideoCapture) -> Buffer | None:
        """Decode the next frame into a pool buffer (or a new one the pool adopts); None if the read failed."""
        buf = self.pool.acquire(timeout=1.0)
        t_read = time.perf_counter()
        self._in_backend = True
        ok, frame = cap.read(buf) if buf is not None else cap.read()
        self._in_backend = False
        self.decode_s += time.perf_counter() - t_read
        if not ok or frame is None:
            if buf is not None:
                self.pool.give_back(buf)
            return None
        if frame is not buf:
            self.pool.adopt(frame, buf)
        return frame

    def _wait_until_due(self, tl: Timeline) -> bool:
        """Play a file like a camera, at its own frame rate; True if stopped while waiting."""
        delay = tl.realtime_delay(self._clock())
        return delay > 0 and self._stop.wait(delay)

    def _mark_up(self, frame: Buffer, now: float) -> None:
        if not self.status.up:
            log.info(
                "camera %s: up (%s, %dx%d)",
                self.cam.id,
                describe_source(self.cam.source),
                frame.shape[1],
                frame.shape[0],
            )
            self.status.last_error = ""
            self.status.down_since = None
        self.status.up = True
        self.status.last_frame = now
        self.status.frame_size = (frame.shape[1], frame.shape[0])

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
        self._slot.put(frame)
        self._notify()
