"""Wires cameras to aggregates: readers -> detector workers -> per-camera tracking and analytics -> sinks.

One ``Runner`` per process. Reader threads keep the newest frame of each camera; a small pool of
detector workers (one onnxruntime session each) takes frames oldest-first, releases the pixels as
soon as inference returns, and from then on only numbers move. The supervisor loop closes buckets,
prints the live line, and reports liveness.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edgeanon.config.cameras import Camera
from edgeanon.config.placement import geometry_problems
from edgeanon.config.schema import Config
from edgeanon.config.sources import FileSource
from edgeanon.counting.aggregate import Aggregator, FrameResult, Sink
from edgeanon.counting.analytics import ExclusionMask, LineCounter, Polygon, PresenceGrid, SiteOccupancy, ZoneAnalytics
from edgeanon.counting.analytics.demographics import TrackAttributes
from edgeanon.counting.analytics.geometry import to_pixels
from edgeanon.counting.analytics.movement import LineGroups, MovementSettings, ZoneMotion
from edgeanon.counting.bins import FACE_OUTCOMES, GROUP_SIZES, HEADINGS, SPEED_BANDS
from edgeanon.counting.detections import Detections
from edgeanon.counting.tracking import Tracker, TrackerSettings
from edgeanon.counting.tracks import TrackUpdate
from edgeanon.guidebook import policy
from edgeanon.outputs.live import CameraStatus
from edgeanon.pixels.capture import CameraReader, lower_thread_priority
from edgeanon.pixels.detector import PersonDetector, SessionSettings, Thresholds, load_detector
from edgeanon.pixels.frames import Fate, Frame
from edgeanon.run.schedule import OpenClock

log = logging.getLogger("edgeanon.pipeline")

STAGES = ("detect", "track", "analytics", "sinks")


def _points(points: Sequence[tuple[float, float]], normalized: bool, size: tuple[int, int]) -> np.ndarray:
    return to_pixels(points, size) if normalized else np.asarray(points, np.float64)


class CameraAnalytics:
    """Per-camera tracker and analytics, built on the first frame (normalised zones need its size)."""

    def __init__(self, cam: Camera, cfg: Config, status: CameraStatus | None = None) -> None:
        self.cam = cam
        self.status = status  # where a geometry that does not fit the frame is reported (/readyz, pages)
        t = cfg.tracker
        self.tracker = Tracker(
            TrackerSettings(
                high_score=cfg.detector.score,
                low_score=t.low_score,
                new_track_score=t.new_track_score,
                confirm_hits=t.confirm_hits,
                max_age=t.max_age,
                capacity=t.capacity,
            )
        )
        self.capacity = t.capacity
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
        mv = cam.movement
        # config.MovementConfig and MovementSettings share their field names
        self.movement = MovementSettings(**mv.model_dump()) if mv is not None else MovementSettings()
        self.motion: list[ZoneMotion] = []  # aligned with self.zones; only with zone_heading / zone_speed
        self.groups: list[LineGroups] = []  # aligned with self.lines; only with line_group_size
        self._last_boxes = np.zeros((0, 4), np.float32)  # tracking side; read by /setup

    @property
    def last_boxes(self) -> npt.NDArray[np.float32]:
        """The latest tracker step's confirmed boxes, (n, 4) xyxy in frame pixels; (0, 4) when there are none."""
        return self._last_boxes

    def _build(self, size: tuple[int, int]) -> None:
        cam, cap = self.cam, self.capacity
        problems = [msg for _, msg in geometry_problems(cam, size)]
        if self.status is not None:  # before the log line: whoever reads the log finds /readyz already failing
            self.status.geometry_errors = tuple(problems)
        for msg in problems:
            log.error("camera %s: %s; the camera is not ready until the config is fixed", cam.id, msg)
        diag = float(np.hypot(*size))
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
                frame_size=size,
            )
            for ln in cam.lines
            if "line_crossings" in self.allowed
        ]
        want_motion = bool({"zone_heading", "zone_speed"} & self.allowed)
        self.motion = [ZoneMotion(z.name, cap, self.movement) for z in self.zones] if want_motion else []
        want_groups = "line_group_size" in self.allowed
        self.groups = [LineGroups(ln.name, self.movement, frame_size=size) for ln in self.lines] if want_groups else []
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
        self._last_boxes = np.array(tu.dets.xyxy[tu.confirmed], np.float32).reshape(-1, 4)  # one atomic replace
        if self.attempted is not None:
            self.attempted[tu.started] = False
        timings["track"] += time.perf_counter() - t0
        return Tracked(tu, self.tracker.present, size)

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


@dataclass(slots=True)
class _Inferred:
    """A frame after inference: model outputs (numbers, no pixels) on their way to the analytics thread."""

    reader: CameraReader
    detector: PersonDetector
    outputs: list[np.ndarray]
    shape: tuple[int, ...]
    t: float
    wall: float
    generation: int
    infer_s: float
    # set when the worker already tracked the frame (cameras with an attribute stage)
    tracked: Tracked | None = None
    estimates: Estimates | None = None
    faces: dict[str, int] | None = None  # attribute stage outcomes (FACE_OUTCOMES) in this frame
    track_s: float = 0.0


INFERRED_QUEUE = 4  # frames between inference and analytics; bounded so a slow sink applies back-pressure
# Readers and the analytics thread run this much nicer than the detector workers: onnxruntime, the critical
# path, then wins the CPU whenever both want it (measured in benchmarks/results/RESULTS.md).
HELPER_NICE = 10


@dataclass
class RunStats:
    """Throughput and latency figures the benchmark reads; bounded in size."""

    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=20000))  # capture -> aggregate, seconds
    first_at: float = 0.0  # time.monotonic() when the first frame reached the aggregator
    last_at: float = 0.0  # ... and the latest


class Runner:
    """Owns the readers, detector workers, per-camera analytics and the aggregator."""

    def __init__(
        self,
        cfg: Config,
        sinks: Sequence[Sink],
        *,
        detectors: Sequence[PersonDetector] | None = None,
        wall_clock: Callable[[], float] = time.time,
        site: SiteOccupancy | None = None,
        hours: OpenClock | None = None,
    ) -> None:
        self.cfg = cfg
        self._ready = threading.Condition()
        self.hours = hours or OpenClock(cfg.schedule, cfg.aggregation.timezone)
        # A file that is not played in real time is read as fast as the detector goes, dropping nothing.
        self.readers = [
            CameraReader(
                cam,
                self._wake,
                blocking=isinstance(cam.source, FileSource) and not cam.source.realtime,
                allowed=self.hours.is_open,
                nice=HELPER_NICE,
            )
            for cam in cfg.cameras
        ]
        self.analytics = {r.cam.id: CameraAnalytics(r.cam, cfg, r.status) for r in self.readers}
        self.site = site or SiteOccupancy(cfg.aggregation.timezone)
        layout = {c.id: ([z.name for z in c.zones], [ln.name for ln in c.lines]) for c in cfg.cameras}
        self.aggregator = Aggregator(
            layout,
            cfg.aggregation.bucket_seconds,
            sinks,
            site_occupancy=lambda: self.site.value,
            site_add=self.site.add,
            entrances={(e.camera, e.line) for e in cfg.entrances},
            clock=wall_clock,
            purposes=cfg.purpose_ids,
            k=cfg.privacy.k,
        )
        for reader in self.readers:
            reader.pool.on_count = lambda fate, cam=reader.cam.id: self.aggregator.count_frame(cam, fate)
        self.detectors = (
            list(detectors) if detectors is not None else [self._make_detector() for _ in range(cfg.detector.sessions)]
        )
        self.stats = RunStats()
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._held: dict[str, int] = {}  # camera id -> the worker holding its frame or pending result
        self._served: dict[str, int] = {}  # camera id -> when it was last taken (a serial number)
        self._serial = 0
        # The attribute stage exists only with the purpose "attributes": otherwise its module and models are
        # never even imported. One per detector worker, since each holds its own pixel buffers.
        self.stages = self._make_stages() if any(a.traits is not None for a in self.analytics.values()) else []
        self._workers = [
            threading.Thread(target=self._work, args=(i, d), name=f"detect-{i}", daemon=True)
            for i, d in enumerate(self.detectors)
        ]
        self._inferred: queue.Queue[_Inferred | None] = queue.Queue(INFERRED_QUEUE)
        self._analytics_thread = threading.Thread(target=self._analyse, name="analytics", daemon=True)
        self.heartbeat = time.monotonic()

    def _make_detector(self) -> PersonDetector:
        d, t = self.cfg.detector, self.cfg.tracker
        return load_detector(
            d.model,
            SessionSettings(threads=d.threads, spinning=d.spinning),
            # the tracker's second stage needs the weak detections too
            Thresholds(score=min(d.score, t.low_score), iou=d.iou, min_box=d.min_box, max_box=d.max_box),
        )

    def _make_stages(self) -> list:
        from edgeanon.pixels.faces.stage import AttributeSettings, AttributeStage  # loads models: only when declared

        a = self.cfg.attributes
        assert a is not None
        settings = AttributeSettings(
            age="age_band" in a.estimate,
            gender="gender" in a.estimate,
            min_face_px=a.min_face_px,
            face_score=a.face_score,
            threads=a.threads,
        )
        return [AttributeStage(settings) for _ in self.detectors]

    def stage_seconds(self) -> dict[str, float]:
        """Summed seconds per stage, with decoding (done in the reader threads, in parallel) as ``decode``."""
        with self._stats_lock:
            out = {"decode": sum(r.decode_s for r in self.readers), **self.stats.timings}
        for part in ("preprocess", "inference", "postprocess"):  # parts of "detect", summed over the sessions
            out[part] = sum(getattr(d, f"{part}_s", 0.0) for d in self.detectors)
        return out

    @property
    def model_sha256(self) -> str:
        return self.detectors[0].entry.sha256

    def _wake(self) -> None:
        with self._ready:
            self._ready.notify_all()

    def start(self) -> None:
        """Detectors are already warm (constructed); start analytics and workers, then readers."""
        self._analytics_thread.start()
        for w in self._workers:
            w.start()
        for r in self.readers:
            r.start()

    def _take_frame(self, me: int, wait: bool) -> tuple[CameraReader, Frame] | None:
        """A waiting frame of a camera that no other worker holds; None when stopped (or none, if not wait).

        The camera served longest ago goes first, then the oldest frame. Oldest-frame-first alone starves a
        camera under overload: cameras whose frames arrive at the same instants tie every period, and the
        same one loses every tie while its newest-frame slot keeps replacing the frame it waited with.
        """
        with self._ready:
            while not self._stop.is_set():
                best, best_key = None, None
                for r in self.readers:
                    holder = self._held.get(r.cam.id)
                    if holder is not None and holder != me:
                        continue
                    t = r.peek_time()
                    if t is None:
                        continue
                    key = (self._served.get(r.cam.id, 0), t)
                    if best_key is None or key < best_key:
                        best, best_key = r, key
                if best is not None:
                    frame = best.take()
                    if frame is not None:
                        self._held[best.cam.id] = me
                        self._serial += 1
                        self._served[best.cam.id] = self._serial
                        best.busy = True
                        return best, frame
                if not wait:
                    return None
                self._ready.wait(0.5)
        return None

    def _unhold(self, me: int, keep: str | None) -> None:
        """Let other workers take the cameras this one no longer holds a frame or a pending result of."""
        with self._ready:
            for r in self.readers:
                cam = r.cam.id
                if cam != keep and self._held.get(cam) == me:
                    del self._held[cam]
                    r.busy = False
            self._ready.notify_all()

    def _hand_on(self, item: _Inferred, me: int, keep: str | None) -> None:
        self._inferred.put(item)  # bounded: blocks when analytics fall behind
        self._unhold(me, keep)

    def _work(self, me: int, detector: PersonDetector) -> None:
        """Detector worker: the only code that sees pixels. Preprocess, infer, release, hand on the numbers.

        The previous frame's outputs are handed to the analytics thread just before the next
        ``session.run``, while onnxruntime holds no GIL, so the analytics' Python never delays this
        thread's preprocessing. With no next frame waiting they are handed on at once. A camera stays
        held by one worker until its results are queued, so each camera's frames reach analytics in order.
        """
        pending: _Inferred | None = None
        while True:
            got = self._take_frame(me, wait=pending is None)
            if got is None:
                if pending is None:
                    break  # stopped
                self._hand_on(pending, me, keep=None)
                pending = None
                continue
            reader, frame = got
            cam = reader.cam.id

            def hand_on_previous(cam: str = cam) -> None:
                nonlocal pending
                if pending is not None:
                    item, pending = pending, None
                    self._hand_on(item, me, keep=cam)

            analytics = self.analytics[cam]
            try:
                t0 = time.perf_counter()
                tracked = estimates = faces = None
                timings = {"track": 0.0}
                try:
                    shape = frame.buffer.shape
                    outputs = detector.infer(frame.buffer, before_run=hand_on_previous)
                    if analytics.traits is not None:
                        # The attribute stage needs the frame and the tracker's verdict on which boxes are
                        # confirmed tracks, so this camera is tracked here, before the release.
                        dets = detector.postprocess(outputs, shape)
                        outputs = []
                        size = (shape[1], shape[0])
                        tracked = analytics.track(dets, frame.t, size, reader.generation, timings)
                        estimates, faces = self._estimate(me, analytics, tracked, frame.buffer)
                finally:
                    reader.release(frame, Fate.INFERRED)  # pixels are zeroed here; only numbers from now on
                infer_s = time.perf_counter() - t0 - timings["track"]
                pending = _Inferred(
                    reader, detector, outputs, shape, frame.t, frame.wall, reader.generation, infer_s,
                    tracked, estimates, faces, timings["track"],
                )  # fmt: skip
            except Exception:
                log.exception("camera %s: frame processing failed; continuing", cam)
                hand_on_previous()
                self._unhold(me, keep=None)

    def _estimate(
        self, me: int, analytics: CameraAnalytics, tracked: Tracked, pixels: npt.NDArray[np.uint8]
    ) -> tuple[Estimates | None, dict[str, int] | None]:
        """Run the attribute stage on the confirmed tracks not looked at yet; only bin indices come back."""
        rows = analytics.to_estimate(tracked)
        if not rows.any():
            return None, None
        slots = tracked.tu.slot[rows]
        analytics.attempted[slots] = True  # type: ignore[index]  # at most once per track, whatever the outcome
        try:
            age, gender, outcome = self.stages[me].estimate(pixels, tracked.tu.dets.xyxy[rows])
        except Exception:  # the frame's counting goes on without estimates; these tracks are not retried
            log.exception("camera %s: attribute stage failed; counting continues without estimates", analytics.cam.id)
            return None, None
        hist = np.bincount(outcome, minlength=len(FACE_OUTCOMES))
        return (slots, age, gender), {FACE_OUTCOMES[i]: int(hist[i]) for i in np.flatnonzero(hist)}

    def _analyse(self) -> None:
        """Analytics thread: decode + NMS, tracking, analytics and aggregation, one frame at a time, in order."""
        lower_thread_priority(HELPER_NICE)
        timings = dict.fromkeys(STAGES, 0.0)
        while True:
            item = self._inferred.get()
            if item is None:
                break
            try:
                cam = item.reader.cam.id
                analytics = self.analytics[cam]
                tracked, detect_s = item.tracked, item.infer_s
                timings["track"] += item.track_s
                if tracked is None:  # not tracked by the worker (no attribute stage): decode and track here
                    t1 = time.perf_counter()
                    dets = item.detector.postprocess(item.outputs, item.shape)
                    item.outputs = []
                    detect_s += time.perf_counter() - t1
                    size = (item.shape[1], item.shape[0])
                    tracked = analytics.track(dets, item.t, size, item.generation, timings)
                timings["detect"] += detect_s
                if item.faces:
                    self.aggregator.count_faces(cam, item.faces)
                bucket = self.aggregator.open_bucket()  # the heatmap's distinct count is per this bucket
                result = analytics.analyse(tracked, timings, item.estimates, bucket)
                result.inference_s = detect_s
                t3 = time.perf_counter()
                self.aggregator.record(result)
                t4 = time.perf_counter()
                timings["sinks"] += t4 - t3
                with self._stats_lock:
                    for k, v in timings.items():
                        self.stats.timings[k] += v
                    self.stats.frames += 1
                    now = time.monotonic()
                    self.stats.last_at = now
                    if self.stats.frames == 1:
                        self.stats.first_at = now
                    self.stats.delays.append(now - item.wall)
                timings = dict.fromkeys(STAGES, 0.0)
            except Exception:
                log.exception("camera %s: frame processing failed; continuing", item.reader.cam.id)
            finally:
                self._inferred.task_done()

    # ---- supervisor side
    def all_finished(self) -> bool:
        return (
            all(r.status.finished for r in self.readers)
            and not any(r.busy or r.peek_time() for r in self.readers)
            and self._inferred.unfinished_tasks == 0  # read after busy: a frame is queued before busy clears
        )

    def tick(self) -> None:
        now = time.monotonic()
        dt, self.heartbeat = now - self.heartbeat, now
        self.aggregator.tick()
        for r in self.readers:  # down time per bucket, to the supervisor's tick (a quarter of a second)
            st = r.status
            since = st.down_since
            if st.down and since is not None:
                self.aggregator.count_down(st.camera, min(dt, max(0.0, time.time() - since)), since)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop readers, let workers finish their frame, drop what is left, flush the bucket to every sink."""
        deadline = time.monotonic() + timeout
        for r in self.readers:
            r.stop()
        for r in self.readers:
            r.join(max(0.1, deadline - time.monotonic()))
        self._stop.set()
        self._wake()
        for w in self._workers:
            w.join(max(0.1, deadline - time.monotonic()))
        if self._analytics_thread.is_alive():
            self._inferred.put(None)  # after every inferred frame: each one is counted before the flush
            self._analytics_thread.join(max(0.1, deadline - time.monotonic()))
        for r in self.readers:
            r.discard_pending()
        for cam, analytics in self.analytics.items():
            self.aggregator.add_attributes(cam, analytics.flush())  # groups whose window is still open
        self.aggregator.flush()
        self.aggregator.close()

    def statuses(self):
        return [r.status for r in self.readers]
