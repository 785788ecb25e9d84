"""Camera health as plain numbers, shared by capture (which writes it) and sinks (which read it)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The fates a captured frame can end in; each is a field of ``FrameCounters`` (a new fate is one more name
# here, one more field below and one more ``frames.Fate``).
FATE_NAMES = ("inferred", "dropped", "skipped", "idle")


@dataclass
class FrameCounters:
    """Per-camera frame accounting; only ``FramePool`` writes it.

    ``captured`` counts frames as they are read, so ``captured - released`` are the frames in flight (in the
    newest-frame slot or being inferred). What leaves the process (metrics, buckets, the live line) is
    ``accounted()``: frames whose fate is decided, with the capture counted together with the fate, so that
    ``captured = inferred + dropped + skipped + idle`` holds in every scrape and every bucket.
    """

    captured: int = 0
    inferred: int = 0
    dropped: int = 0
    skipped: int = 0
    idle: int = 0  # not inferred: no motion and no track (``pixels.motion``); counted at occupancy 0
    released: int = 0

    def balanced(self) -> bool:
        return self.captured == sum(getattr(self, f) for f in FATE_NAMES) == self.released

    def accounted(self) -> dict[str, int]:
        """``captured`` and each fate, from one read of the fate counters (so the equation always holds)."""
        fates = {f: getattr(self, f) for f in FATE_NAMES}
        return {"captured": sum(fates.values()), **fates}


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
    region: tuple[int, int, int, int] | None = None  # the roi the detector looks at (x0, y0, x1, y1), once known
    view_ok: bool | None = None  # camera view check (edgeanon.pixels.view): None while its baseline is learnt
    view_problems: tuple[str, ...] = ()  # from view.PROBLEMS while view_ok is False
    down_since: float | None = None  # Unix time of the failure that took it down; None while up (or not yet tried)
    counters: FrameCounters = field(default_factory=FrameCounters)

    @property
    def down(self) -> bool:
        """Failed and not looking: not up, and neither deliberately closed (opening hours) nor finished."""
        return self.down_since is not None and not (self.up or self.closed or self.finished)
