"""The timeline of one open source: each frame's analysis time, which frames pacing skips, the achieved rate.

Files are analysed on their own timeline (frame index / fps) so that tracking, dwell and pacing behave the
same whether a file plays in real time or as fast as possible; live sources use the capture time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Timeline:
    """Per-session state of the reader; ``period`` is the target analysis period, ``native_period`` the file's."""

    period: float
    native_period: float
    started: float  # clock time the session started
    media_t0: float  # analysis time of a file's first frame in this session
    is_file: bool
    n_read: int = 0
    next_due: float = 0.0
    ema_dt: float = 0.0
    last_accept: float | None = None
    fps: float | None = None  # achieved analysis rate, known from the second accepted frame

    @classmethod
    def open(cls, fps: float, native_fps: float, started: float, media_next: float | None, is_file: bool) -> Timeline:
        """``native_fps`` is the file's own rate (0 when unknown or live); ``media_next`` continues a looping file."""
        native_period = 1.0 / native_fps if native_fps and native_fps > 0 else 1.0 / fps
        media_t0 = started if media_next is None else media_next
        return cls(1.0 / fps, native_period, started, media_t0, is_file)

    def realtime_delay(self, now: float) -> float:
        """Seconds until the frame just read is due when a file plays like a camera, at its own frame rate."""
        return self.started + self.n_read * self.native_period - now

    def frame_time(self, now: float) -> float:
        """Analysis time of the frame just read."""
        return self.media_t0 + (self.n_read - 1) * self.native_period if self.is_file else now

    def accept(self, t: float, now: float) -> bool:
        """False if pacing skips the frame (faster than the target rate); else book it and update ``fps``."""
        if t < self.next_due - 0.2 * self.period:
            return False
        self.next_due = self.next_due + self.period if self.next_due > t - self.period else t + self.period
        if self.last_accept is not None:
            dt = now - self.last_accept
            self.ema_dt = dt if self.ema_dt == 0 else 0.9 * self.ema_dt + 0.1 * dt
            self.fps = 1.0 / self.ema_dt if self.ema_dt > 0 else 0.0
        self.last_accept = now
        return True
