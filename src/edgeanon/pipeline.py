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

from edgeanon import policy
from edgeanon.aggregate import Aggregator, FrameResult, Sink
from edgeanon.analytics import ExclusionMask, LineCounter, Polygon, PresenceGrid, SiteOccupancy, ZoneAnalytics
from edgeanon.analytics.geometry import to_pixels
from edgeanon.capture import CameraReader, Fate, Frame, lower_thread_priority
from edgeanon.config import Camera, Config, FileSource
from edgeanon.detections import Detections
from edgeanon.detector import PersonDetector, SessionSettings, Thresholds, load_detector
from edgeanon.schedule import OpeningHours
from edgeanon.tracking import Tracker, TrackerSettings

log = logging.getLogger("edgeanon.pipeline")

STAGES = ("detect", "track", "analytics", "sinks")


def _points(points: Sequence[tuple[float, float]], normalized: bool, size: tuple[int, int]) -> np.ndarray:
    return to_pixels(points, size) if normalized else np.asarray(points, np.float64)


class CameraAnalytics:
    """Per-camera tracker and analytics, built on the first frame (normalised zones need its size)."""

    def __init__(self, cam: Camera, cfg: Config) -> None:
        self.cam = cam
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
        self.exclude: ExclusionMask | None = None
        self.heat: PresenceGrid | None = None

    def _build(self, size: tuple[int, int]) -> None:
        cam, cap = self.cam, self.capacity
        diag = float(np.hypot(*size))
        zone_outputs = {"zone_occupancy", "zone_dwell", "queue_length"} & self.allowed
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
        self.exclude = (
            ExclusionMask([_points(e.polygon, e.normalized, size) for e in cam.exclude], size) if cam.exclude else None
        )
        want_heat = cam.heatmap is not None and "heatmap" in self.allowed
        self.heat = PresenceGrid(cam.heatmap.rows, cam.heatmap.cols, size) if want_heat else None
        self.size = size

    def process(
        self, dets: Detections, t: float, size: tuple[int, int], generation: int, timings: dict[str, float]
    ) -> FrameResult:
        t0 = time.perf_counter()
        if size != self.size:
            if self.size is not None:
                log.warning("camera %s: frame size changed from %s to %s; zones rebuilt", self.cam.id, self.size, size)
            self.tracker.reset()
            self.tracker.update(Detections.empty(), t)  # ends every old track before analytics are rebuilt
            self._build(size)
            self.generation = generation
        elif generation != self.generation:
            self.tracker.reset()  # a reconnect: old tracks end (their dwell is observed), no carry-over
            self.generation = generation
        if self.exclude is not None and len(dets):
            dets = dets[self.exclude.keep(dets.anchors)]
        tu = self.tracker.update(dets, t)
        t1 = time.perf_counter()
        allowed = self.allowed
        crossings = {ln.name: ln.update(tu) for ln in self.lines}
        zone_all = {z.name: z.update(tu) for z in self.zones}
        zone_occ = zone_all if "zone_occupancy" in allowed else {}
        dwell = {}
        for z in self.zones:
            h = z.drain_dwell()  # always drained, so state stays bounded; exported only under "dwell"
            if h.count and "zone_dwell" in allowed:
                dwell[z.name] = h
        queues = [z for z in self.zones if z.queue and "queue_length" in allowed]
        queue_length = {z.name: zone_all[z.name] for z in queues}
        queue_wait = {z.name: z.estimated_wait_s for z in queues}
        heat = None
        if self.heat is not None:
            self.heat.update(tu)
            heat = self.heat.drain()
        t2 = time.perf_counter()
        timings["track"] += t1 - t0
        timings["analytics"] += t2 - t1
        return FrameResult(
            camera=self.cam.id,
            # people in view: confirmed tracks, incl. people hidden for under max_age
            occupancy=self.tracker.present if "camera_occupancy" in allowed else None,
            zone_occupancy=zone_occ,
            crossings=crossings,
            dwell=dwell,
            queue_length=queue_length,
            queue_wait=queue_wait,
            heat=heat,
        )

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
        hours: OpeningHours | None = None,
    ) -> None:
        self.cfg = cfg
        self._ready = threading.Condition()
        self.hours = hours or OpeningHours(cfg.schedule, cfg.aggregation.timezone)
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
        self.analytics = {cam.id: CameraAnalytics(cam, cfg) for cam in cfg.cameras}
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
        """The oldest waiting frame of a camera that no other worker holds; None when stopped (or none, if not wait)."""
        with self._ready:
            while not self._stop.is_set():
                best, best_t = None, None
                for r in self.readers:
                    holder = self._held.get(r.cam.id)
                    if holder is not None and holder != me:
                        continue
                    t = r.peek_time()
                    if t is not None and (best_t is None or t < best_t):
                        best, best_t = r, t
                if best is not None:
                    frame = best.take()
                    if frame is not None:
                        self._held[best.cam.id] = me
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

            try:
                t0 = time.perf_counter()
                try:
                    shape = frame.buffer.shape
                    outputs = detector.infer(frame.buffer, before_run=hand_on_previous)
                finally:
                    reader.release(frame, Fate.INFERRED)  # pixels are zeroed here; only numbers from now on
                infer_s = time.perf_counter() - t0
                pending = _Inferred(reader, detector, outputs, shape, frame.t, frame.wall, reader.generation, infer_s)
            except Exception:
                log.exception("camera %s: frame processing failed; continuing", cam)
                hand_on_previous()
                self._unhold(me, keep=None)

    def _analyse(self) -> None:
        """Analytics thread: decode + NMS, tracking, analytics and aggregation, one frame at a time, in order."""
        lower_thread_priority(HELPER_NICE)
        timings = dict.fromkeys(STAGES, 0.0)
        while True:
            item = self._inferred.get()
            if item is None:
                break
            try:
                t1 = time.perf_counter()
                dets = item.detector.postprocess(item.outputs, item.shape)
                item.outputs = []
                t2 = time.perf_counter()
                detect_s = item.infer_s + (t2 - t1)
                timings["detect"] += detect_s
                size = (item.shape[1], item.shape[0])
                cam = item.reader.cam.id
                result = self.analytics[cam].process(dets, item.t, size, item.generation, timings)
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
        self.heartbeat = time.monotonic()
        self.aggregator.tick()

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
        self.aggregator.flush()
        self.aggregator.close()

    def statuses(self):
        return [r.status for r in self.readers]
