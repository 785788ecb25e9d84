"""Per-camera counting: one camera's tracker and analytics, from detections to a ``FrameResult``.

Only numbers come in (``Detections``) and only numbers go out. Built from the config on the first frame, since
normalised zones and lines need the frame size. ``Runner`` (``run.runner``) decides in which thread each step runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeanon.config.cameras import Camera
from edgeanon.config.placement import geometry_problems
from edgeanon.config.region import region_of
from edgeanon.config.schema import Config
from edgeanon.counting.analytics import ExclusionMask, LineCounter, Polygon, PresenceGrid, ZoneAnalytics
from edgeanon.counting.analytics.demographics import TrackAttributes
from edgeanon.counting.analytics.geometry import to_pixels
from edgeanon.counting.analytics.movement import LineGroups, ZoneMotion
from edgeanon.counting.bins import GROUP_SIZES, HEADINGS, SPEED_BANDS
from edgeanon.counting.detections import Detections
from edgeanon.counting.results import FrameResult
from edgeanon.counting.tracking import Tracker
from edgeanon.counting.tracks import TrackUpdate
from edgeanon.guidebook import policy
from edgeanon.outputs.live import CameraStatus
from edgeanon.run.settings import movement_settings, tracker_settings

log = logging.getLogger("edgeanon.pipeline")  # the name users filter their logs by; kept from before the split


def _points(points: Sequence[tuple[float, float]], normalized: bool, size: tuple[int, int]) -> np.ndarray:
    return to_pixels(points, size) if normalized else np.asarray(points, np.float64)


class CameraCounting:
    """One camera's tracker and analytics, built on the first frame (normalised zones need its size)."""

    def __init__(self, cam: Camera, cfg: Config, status: CameraStatus | None = None) -> None:
        self.cam = cam
        self.status = status  # where a geometry that does not fit the frame is reported (/readyz, pages)
        t = cfg.tracker
        self.tracker = Tracker(tracker_settings(cfg))
        self._last_boxes = np.zeros((0, 4), np.float32)  # the newest frame's confirmed boxes: what /setup draws
        self.capacity = t.capacity
        self.confirm_hits = t.confirm_hits
        self.region: tuple[int, int, int, int] | None = None  # where the detector looks, once the size is known
        self.allowed = policy.allowed_outputs(cfg.purpose_ids)  # only these analytics are built at all
        self.size: tuple[int, int] | None = None
        self.generation = -1
        self.zones: list[ZoneAnalytics] = []
        self.lines: list[LineCounter] = []
        self.heat: PresenceGrid | None = None
        # tracking side (see ``track``): its own frame size, so a rebuild never races ``analyse``
        self.tracked_size: tuple[int, int] | None = None
        self._exclude: ExclusionMask | None = None
        self._exclude_size: tuple[int, int] | None = None
        # estimated attributes per track slot, only with the purpose "attributes" (analytics side), and which
        # tracks the attribute stage has looked at (tracking side)
        a = cfg.attributes
        on = a is not None and a.enabled and bool({"age_band", "gender"} & self.allowed)
        self.traits = (
            TrackAttributes(t.capacity, age="age_band" in a.estimate, gender="gender" in a.estimate)
            if on and a is not None
            else None
        )
        self.attempted = np.zeros(t.capacity, bool) if on else None
        self.movement = movement_settings(cam)
        self.motion: list[ZoneMotion] = []  # aligned with self.zones; only with zone_heading / zone_speed
        self.groups: list[LineGroups] = []  # aligned with self.lines; only with line_group_size
        # inferred frames handed to the analytics thread, and how many of them it has counted: while they
        # differ, the tracker does not know yet what those frames held (see ``quiet``)
        self.frames_sent = 0  # written by the detector worker holding the camera
        self.frames_counted = 0  # written by the analytics thread, under _settled
        self._settled = threading.Condition()

    def _build(self, size: tuple[int, int]) -> None:
        cam, cap = self.cam, self.capacity
        problems = [msg for _, msg in geometry_problems(cam, size)]
        if self.status is not None:  # before the log line: whoever reads the log finds /readyz already failing
            self.status.geometry_errors = tuple(problems)
        for msg in problems:
            log.error("camera %s: %s; the camera is not ready until the config is fixed", cam.id, msg)
        diag = float(np.hypot(*size))
        # the detector sees only the camera's region: its borders clip boxes as the frame's do (lines' edge fix)
        self.region = region_of(cam, size, self.confirm_hits)
        if self.status is not None:
            self.status.region = self.region  # /setup draws it
        visible = size if self.region == (0, 0, *size) else self.region
        zone_outputs = {"zone_occupancy", "zone_dwell", "queue_length", "zone_heading", "zone_speed"} & self.allowed
        self.zones = [
            ZoneAnalytics(z.name, Polygon(_points(z.polygon, z.normalized, size), size), cap, size, queue=z.queue)
            for z in cam.zones
            if zone_outputs
        ]
        self.lines = [
            LineCounter(
                ln.name,
                *_points([ln.a, ln.b], ln.normalized, size),
                cap,
                band_px=ln.band * diag,
                in_side=ln.in_side,
                frame_size=visible,
            )
            for ln in cam.lines
            if "line_crossings" in self.allowed
        ]
        want_motion = bool({"zone_heading", "zone_speed"} & self.allowed)
        self.motion = [ZoneMotion(z.name, cap, self.movement) for z in self.zones] if want_motion else []
        want_groups = "line_group_size" in self.allowed
        self.groups = (
            [LineGroups(ln.name, self.movement, frame_size=visible) for ln in self.lines] if want_groups else []
        )
        want_heat = cam.heatmap is not None and "heatmap" in self.allowed
        self.heat = PresenceGrid(cam.heatmap.rows, cam.heatmap.cols, size, cap) if want_heat else None
        self.size = size

    def track(
        self, dets: Detections, t: float, size: tuple[int, int], generation: int, timings: dict[str, float]
    ) -> Tracked:
        """Tracker step. Runs where the frame's attribute stage needs it (the detector worker) or else in the
        analytics thread; for one camera always in the same one, and always before ``analyse`` of that frame."""
        t0 = time.perf_counter()
        if size != self.tracked_size:
            self.tracker.reset()
            self.tracker.update(Detections.empty(), t)  # ends every old track before analytics are rebuilt
            self.tracked_size = size
            self.generation = generation
        elif generation != self.generation:
            self.tracker.reset()  # a reconnect: old tracks end (their dwell is observed), no carry-over
            self.generation = generation
        if self.exclude_for(size) is not None and len(dets):
            dets = dets[self._exclude.keep(dets.anchors)]  # type: ignore[union-attr]
        tu = self.tracker.update(dets, t)
        self._last_boxes = tu.dets.xyxy[tu.confirmed].astype(np.float32)  # a new array: one atomic replace
        if self.attempted is not None:
            self.attempted[tu.started] = False
        timings["track"] += time.perf_counter() - t0
        return Tracked(tu, self.tracker.present, size)

    def quiet(self, timeout: float) -> bool:
        """No track at all (tentative, confirmed or lost), with every inferred frame handed on already counted.

        For idle skipping (``run.runner``): waits up to ``timeout`` seconds for the analytics thread to count
        the frames still on their way, since one of them may start a track; False when it does not catch up."""
        with self._settled:
            if not self._settled.wait_for(lambda: self.frames_counted >= self.frames_sent, timeout):
                return False
        return self.tracker.active == 0

    def counted(self) -> None:
        """The analytics thread has counted one inferred frame (idle frames do not count here)."""
        with self._settled:
            self.frames_counted += 1
            self._settled.notify_all()

    @property
    def last_boxes(self) -> npt.NDArray[np.float32]:
        """The newest tracked frame's confirmed boxes, float32 (n, 4) in frame pixels, (0, 4) when none.

        A copy, without track ids: what ``/setup`` may draw. Read from any thread."""
        return self._last_boxes.copy()

    def exclude_for(self, size: tuple[int, int]) -> ExclusionMask | None:
        """The exclusion mask at this frame size (tracking side: built here, never shared with ``analyse``)."""
        if size != self._exclude_size:
            cam = self.cam
            self._exclude = (
                ExclusionMask([_points(e.polygon, e.normalized, size) for e in cam.exclude], size)
                if cam.exclude
                else None
            )
            self._exclude_size = size
        return self._exclude

    def to_estimate(self, tracked: Tracked) -> npt.NDArray[np.bool_]:
        """Rows of confirmed tracks the attribute stage has not looked at yet (at most once per track)."""
        tu = tracked.tu
        if self.attempted is None or not len(tu.dets):
            return np.zeros(len(tu.dets), bool)
        return tu.confirmed & ~self.attempted[tu.slot]

    def analyse(
        self, tracked: Tracked, timings: dict[str, float], estimates: Estimates | None = None, bucket: int = 0
    ) -> FrameResult:
        """Everything after tracking, in frame order, in the analytics thread; only numbers from here on.

        ``bucket`` is the aggregation bucket the result will be recorded in (``Aggregator.open_bucket``): the
        heatmap counts each person once per cell per bucket."""
        t1 = time.perf_counter()
        tu, size = tracked.tu, tracked.size
        attributes: dict[tuple[str, str, str], int] = {}
        if size != self.size:
            self._drain_movement(attributes, flush=True)  # pending groups are emitted, not lost with the rebuild
            if self.size is not None:
                log.warning("camera %s: frame size changed from %s to %s; zones rebuilt", self.cam.id, self.size, size)
            self._build(size)
        allowed = self.allowed
        crossings = {ln.name: ln.update(tu) for ln in self.lines}
        zone_all = {z.name: z.update(tu) for z in self.zones}
        if self.traits is not None:
            self._count_traits(tu, estimates, attributes)
        for m, z in zip(self.motion, self.zones, strict=True):
            m.update(tu, z.events)
        for g, ln in zip(self.groups, self.lines, strict=True):
            g.update(tu, ln)
        self._drain_movement(attributes)
        zone_occ = zone_all if "zone_occupancy" in allowed else {}
        dwell = {}
        for z in self.zones:
            h = z.drain_dwell()  # always drained, so state stays bounded; exported only under "dwell"
            if h.count and "zone_dwell" in allowed:
                dwell[z.name] = h
        queues = [z for z in self.zones if z.queue and "queue_length" in allowed]
        queue_length = {z.name: zone_all[z.name] for z in queues}
        queue_wait = {z.name: z.estimated_wait_s for z in queues}
        queue_wait_n = {z.name: z.wait_samples for z in queues}
        heat = None
        if self.heat is not None:
            self.heat.update(tu, bucket)
            heat = self.heat.drain()
        timings["analytics"] += time.perf_counter() - t1
        return FrameResult(
            camera=self.cam.id,
            # people in view: confirmed tracks, incl. people hidden for under max_age
            occupancy=tracked.present if "camera_occupancy" in allowed else None,
            zone_occupancy=zone_occ,
            crossings=crossings,
            dwell=dwell,
            queue_length=queue_length,
            queue_wait=queue_wait,
            queue_wait_n=queue_wait_n,
            heat=heat,
            heat_bucket=bucket if heat is not None else None,
            attributes=attributes,
        )

    def _count_traits(self, tu: TrackUpdate, estimates: Estimates | None, out: dict[tuple[str, str, str], int]) -> None:
        """Estimated attributes reach the aggregate only when a track leaves a zone or crosses a line.

        Order matters because slots are reused: visits that ended in this frame are counted with their
        track's values first, then slots that start a new track are cleared, then this frame's estimates are
        attached, and only then are this frame's crossings counted (a track is often estimated and counted
        on the frame it is confirmed).
        """
        traits = self.traits
        assert traits is not None
        for z in self.zones:
            traits.count(z.events.exited, z.name, out)
        traits.reset(tu.started)
        if estimates is not None:
            traits.assign(*estimates)
        for ln in self.lines:
            traits.count(ln.last_counted[0], ln.name, out)

    def _drain_movement(self, out: dict[tuple[str, str, str], int], flush: bool = False) -> None:
        """Add the movement counts since the last drain to ``out`` as (kind, place, bin) -> n (non-zero only)."""
        allowed = self.allowed
        for m in self.motion:
            heading, speed = m.drain()
            if "zone_heading" in allowed:
                out.update({("heading", m.name, HEADINGS[i]): int(heading[i]) for i in np.flatnonzero(heading)})
            if "zone_speed" in allowed:
                out.update({("speed", m.name, SPEED_BANDS[i]): int(speed[i]) for i in np.flatnonzero(speed)})
        for g in self.groups:
            if flush:
                g.flush()
            sizes = g.drain()
            out.update({("group_size", g.name, GROUP_SIZES[i]): int(sizes[i]) for i in np.flatnonzero(sizes)})

    def flush(self) -> dict[tuple[str, str, str], int]:
        """Counts still pending (groups whose window has not passed) at shutdown, for
        ``Aggregator.add_attributes(camera, ...)`` before ``Aggregator.flush()``: nothing counted is lost."""
        out: dict[tuple[str, str, str], int] = {}
        self._drain_movement(out, flush=True)
        return out


@dataclass(frozen=True, slots=True)
class Tracked:
    """One frame after tracking: the tracker's output, people present, and the frame size it was tracked at."""

    tu: TrackUpdate
    present: int
    size: tuple[int, int]


# Results of the attribute stage for one frame: (slots, age band index, gender index), -1 = not estimated.
Estimates = tuple[npt.NDArray[np.int64], npt.NDArray[np.int8], npt.NDArray[np.int8]]
