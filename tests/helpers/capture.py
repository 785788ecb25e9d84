"""Helpers for the capture tests: camera configs over the real clip, a frame consumer thread and a leak scanner."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeanon.config.cameras import Camera
from edgeanon.config.sources import FileSource
from edgeanon.pixels.capture import CameraReader
from edgeanon.pixels.frames import Fate

CLIP = Path(__file__).resolve().parents[1] / "data" / "vtest-0-249.avi"
CLIP_FRAMES = 250
CLIP_FPS = 10.0
FRAME_SHAPE = (576, 768, 3)


def file_camera(
    path: Path | str = CLIP, *, realtime: bool = False, loop: bool = False, fps: float = 60.0, **kw: Any
) -> Camera:
    return Camera(
        id="cam",
        source=FileSource(kind="file", path=str(path), realtime=realtime, loop=loop),
        fps=fps,
        **kw,
    )


def wait_until(pred: Callable[[], object], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``pred`` until it is truthy or ``timeout`` seconds pass; returns its last truthiness."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return bool(pred())
        time.sleep(interval)


PROMPT_S = 2.0
"""Bound on a "prompt" stop or join: a reader that waited out a blocking read or a back-off step would take
longer, and 2 s leaves room for a loaded 2-core machine (these were sub-second asserts that flaked)."""


def attempt_times(reader: CameraReader, duration: float) -> list[float]:
    """When each failed (re)open was counted in ``status.reconnects``, polled every 5 ms for ``duration`` s."""
    times: list[float] = []
    seen = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < duration:
        n = reader.status.reconnects
        if n != seen:
            times.extend([time.monotonic()] * (n - seen))
            seen = n
        time.sleep(0.005)
    return times


@dataclass
class Taken:
    """What a consumer saw of one frame: numbers only, never the pixels."""

    seq: int
    t: float
    wall: float
    generation: int
    newest_possible: int  # captured - skipped just before take(): the frame taken can be at most one older
    nonzero_after_release: bool


@dataclass
class Consumer:
    """Takes frames from a reader in its own thread, like a detector worker, and releases each as INFERRED.

    ``delay`` simulates inference time. ``keep_buffers`` keeps every distinct buffer object handed out
    (by id, held strongly so ids stay unique) to count them; leave it off when checking for leaks.
    ``check_zero`` inspects the buffer right after release; that is race-free only in blocking mode,
    where the reader cannot reuse the buffer until this consumer takes the next frame.
    """

    reader: CameraReader
    wake: threading.Event
    delay: float = 0.0
    stop_after_seq: int | None = None
    keep_buffers: bool = False
    check_zero: bool = False
    taken: list[Taken] = field(default_factory=list)
    buffers: dict[int, np.ndarray] = field(default_factory=dict)
    max_outstanding: int = 0
    error: BaseException | None = None
    _halt: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Consumer:
        self._thread = threading.Thread(target=self._run, name="test-consumer", daemon=True)
        self._thread.start()
        return self

    def halt(self) -> None:
        self._halt.set()

    def join(self, timeout: float) -> bool:
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # surfaced by the test, not lost in a thread
            self.error = exc

    def _loop(self) -> None:
        r = self.reader
        c = r.pool.counters
        while not self._halt.is_set():
            self.wake.clear()
            newest = c.captured - c.skipped
            frame = r.take()
            if frame is None:
                if r.status.finished:  # the reader put its last frame before it set finished
                    frame = r.take()
                    if frame is None:
                        return
                else:
                    self.wake.wait(0.05)
                    continue
            self.max_outstanding = max(self.max_outstanding, c.captured - c.released)
            buf = frame.buffer
            if self.keep_buffers:
                self.buffers.setdefault(id(buf), buf)
            if self.delay:
                time.sleep(self.delay)
            seq, t, wall, gen = frame.seq, frame.t, frame.wall, r.generation
            r.release(frame, Fate.INFERRED)
            nonzero = bool(buf.any()) if self.check_zero else False
            del frame, buf
            self.taken.append(Taken(seq, t, wall, gen, newest, nonzero))
            if self.stop_after_seq is not None and seq >= self.stop_after_seq:
                return

    @property
    def seqs(self) -> list[int]:
        return [x.seq for x in self.taken]


def _visit(obj: object, shape: tuple[int, ...], found: dict[int, np.ndarray], seen: set[int]) -> None:
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            if o.shape == shape and o.dtype == np.uint8:
                found[id(o)] = o
            if o.base is not None:
                stack.append(o.base)
        elif isinstance(o, (tuple, dict, list, set, frozenset)) and not gc.is_tracked(o):
            # ndarrays are not GC-tracked, and CPython untracks tuples and dicts that hold only
            # untracked objects, so look inside those too.
            stack.extend(gc.get_referents(o))


def live_arrays(shape: tuple[int, ...] = FRAME_SHAPE) -> dict[int, np.ndarray]:
    """Every live uint8 ndarray of ``shape`` reachable from a GC-tracked object, by id."""
    gc.collect()
    found: dict[int, np.ndarray] = {}
    seen: set[int] = set()
    tracked = gc.get_objects()
    seen.add(id(tracked))
    for ref in gc.get_referents(*tracked):
        _visit(ref, shape, found, seen)
    del tracked
    return found
