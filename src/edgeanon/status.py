"""Camera health as plain numbers, shared by capture (which writes it) and sinks (which read it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FrameCounters:
    """Per-camera frame accounting; only ``FramePool`` writes it."""

    captured: int = 0
    inferred: int = 0
    dropped: int = 0
    skipped: int = 0
    released: int = 0

    def balanced(self) -> bool:
        return self.captured == self.inferred + self.dropped + self.skipped == self.released


@dataclass
class CameraStatus:
    camera: str
    up: bool = False
    finished: bool = False
    closed: bool = False  # outside opening hours: deliberately not capturing
    reconnects: int = 0
    fps: float = 0.0
    last_frame: float | None = None  # monotonic
    last_error: str = ""
    frame_size: tuple[int, int] | None = None  # (width, height)
    geometry_errors: tuple[str, ...] = ()  # zones or lines that do not fit the frame (set on its first frame)
    view_ok: bool | None = None  # camera view check (edgeanon.view): None while its baseline is learnt
    view_problems: tuple[str, ...] = ()  # from view.PROBLEMS while view_ok is False
    counters: FrameCounters = field(default_factory=FrameCounters)
