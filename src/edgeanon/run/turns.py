"""Whose turn it is: which camera's frame a detector worker takes next, and which worker holds which camera."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence

from edgeanon.pixels.capture import CameraReader
from edgeanon.pixels.frames import Frame


class Turns:
    """Fair turns between cameras for the detector workers.

    The camera served longest ago goes first, then the oldest frame. Oldest-frame-first alone starves a
    camera under overload: cameras whose frames arrive at the same instants tie every period, and the same one
    loses every tie while its newest-frame slot keeps replacing the frame it waited with. A camera stays held
    by the worker that took its frame until that worker has queued its results (``unhold``), so each camera's
    frames reach analytics in order.
    """

    def __init__(self, readers: Sequence[CameraReader], stop: threading.Event) -> None:
        self.readers = list(readers)
        self._stop = stop
        self._ready = threading.Condition()
        self._held: dict[str, int] = {}  # camera id -> the worker holding its frame or pending result
        self._served: dict[str, int] = {}  # camera id -> when it was last taken (a serial number)
        self._serial = 0

    def wake(self) -> None:
        with self._ready:
            self._ready.notify_all()

    def take(self, me: int, wait: bool) -> tuple[CameraReader, Frame] | None:
        """The first waiting frame in turn; None when stopped (or when there is none, if not ``wait``)."""
        with self._ready:
            while not self._stop.is_set():
                ranked = self._waiting(me)
                if ranked:
                    frame = ranked[0].take()
                    if frame is not None:
                        self._claim(me, ranked[0])
                        return ranked[0], frame
                if not wait:
                    return None
                self._ready.wait(0.5)
        return None

    def take_more(
        self, me: int, first: CameraReader, n: int, admit: Callable[[CameraReader], bool]
    ) -> list[tuple[CameraReader, Frame]]:
        """Up to ``n`` more waiting frames of other cameras that ``admit`` accepts, in turn, without waiting."""
        taken: list[tuple[CameraReader, Frame]] = []
        with self._ready:
            for r in self._waiting(me, lambda r: r is not first and admit(r)):
                frame = r.take()
                if frame is not None:
                    self._claim(me, r)
                    taken.append((r, frame))
                    if len(taken) == n:
                        break
        return taken

    def unhold(self, me: int, keep: Collection[str] = ()) -> None:
        """Let other workers take the cameras worker ``me`` no longer holds a frame or a pending result of."""
        with self._ready:
            for r in self.readers:
                cam = r.cam.id
                if cam not in keep and self._held.get(cam) == me:
                    del self._held[cam]
                    r.busy = False
            self._ready.notify_all()

    def _waiting(self, me: int, admit: Callable[[CameraReader], bool] | None = None) -> list[CameraReader]:
        """Readers with a frame waiting whose camera no other worker holds, in turn (hold ``_ready``)."""
        ranked = []
        for i, r in enumerate(self.readers):
            holder = self._held.get(r.cam.id)
            if (holder is not None and holder != me) or (admit is not None and not admit(r)):
                continue
            t = r.peek_time()
            if t is not None:
                ranked.append((self._served.get(r.cam.id, 0), t, i))
        return [self.readers[i] for *_, i in sorted(ranked)]

    def _claim(self, me: int, reader: CameraReader) -> None:
        self._held[reader.cam.id] = me
        self._serial += 1
        self._served[reader.cam.id] = self._serial
        reader.busy = True
