"""Runs cameras: readers -> detector workers -> per-camera counting -> the aggregator and its sinks.

One ``Runner`` per process. Reader threads keep the newest frame of each camera; a small pool of
detector workers (one onnxruntime session each) takes frames in fair turns (``run.turns``), alone or in
batches of several cameras (``detector.batch``), and releases the pixels as soon as inference returns;
from then on only numbers move: raw model outputs and a frozen ``BoxDecoder`` go to the analytics thread,
which decodes, tracks and counts (``run.camera``). The supervisor loop closes buckets and reports liveness.
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edgeanon.config.cameras import Camera
from edgeanon.config.errors import ConfigError
from edgeanon.config.region import region_of
from edgeanon.config.schema import Config
from edgeanon.config.sources import FileSource
from edgeanon.counting.aggregate import Aggregator
from edgeanon.counting.analytics import SiteOccupancy
from edgeanon.counting.bins import FACE_OUTCOMES
from edgeanon.counting.detections import Detections
from edgeanon.counting.results import Sink
from edgeanon.pixels.capture import CameraReader, lower_thread_priority
from edgeanon.pixels.detector import BoxDecoder, PersonDetector, load_detector
from edgeanon.pixels.detector.geometry import size_problem
from edgeanon.pixels.frames import Fate, Frame
from edgeanon.run.batches import Batches
from edgeanon.run.camera import CameraCounting, Estimates, Tracked
from edgeanon.run.inferred import Inferred
from edgeanon.run.schedule import OpenClock
from edgeanon.run.settings import (
    attribute_settings,
    detector_thresholds,
    input_geometry,
    session_settings,
    sessions_and_threads,
)
from edgeanon.run.turns import Turns

log = logging.getLogger("edgeanon.pipeline")  # the name users filter their logs by; kept from before the split

STAGES = ("detect", "track", "analytics", "sinks")


QUIET_WAIT_S = 1.0  # longest an idle candidate waits for the analytics thread to count earlier frames


STOP_GRACE_S = 10.0  # beyond stop's timeout, how long the analytics thread may take to make room for the end mark
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


class Runner(Batches):
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
        self._stop = threading.Event()
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
        self.analytics = {r.cam.id: CameraCounting(r.cam, cfg, r.status) for r in self.readers}
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
        self.detectors = self._checked(detectors)
        self.stats = RunStats()
        self.decode_s = 0.0  # seconds decoding model outputs in the analytics thread (stage "postprocess")
        self._stats_lock = threading.Lock()
        self.turns = Turns(self.readers, self._stop)
        self._sizes: dict[str, tuple[int, int]] = {}  # camera id -> the model input size of its last frame
        self._regions: dict[tuple[str, int, int], tuple[int, int, int, int]] = {}  # (camera, w, h) -> roi
        # The attribute stage exists only with the purpose "attributes": otherwise its module and models are
        # never even imported. One per detector worker, since each holds its own pixel buffers.
        self.stages = self._make_stages() if any(a.traits is not None for a in self.analytics.values()) else []
        self._workers = [
            threading.Thread(target=self._work, args=(i, d), name=f"detect-{i}", daemon=True)
            for i, d in enumerate(self.detectors)
        ]
        self._inferred: queue.Queue[Inferred | None] = queue.Queue(max(INFERRED_QUEUE, cfg.detector.batch))
        self._analytics_thread = threading.Thread(target=self._analyse, name="analytics", daemon=True)
        self.heartbeat = time.monotonic()

    def _make_detector(self) -> PersonDetector:
        cfg = self.cfg
        return load_detector(
            cfg.detector.model, session_settings(cfg), detector_thresholds(cfg), geometry=input_geometry(cfg)
        )

    def _checked(self, given: Sequence[PersonDetector] | None) -> list[PersonDetector]:
        """The given detectors or new ones, with each camera's input size checked against the model (``edgeanon
        run`` checks this with file and line first)."""
        sessions = sessions_and_threads(self.cfg)[0]
        detectors = list(given) if given is not None else [self._make_detector() for _ in range(sessions)]
        spec = detectors[0].entry.input
        for i, cam in enumerate(self.cfg.cameras):
            problem = size_problem(cam.input, spec) if cam.input else None
            if problem is not None:
                raise ConfigError(f"cameras.{i}.input: {problem} ({detectors[0].name})")
        problem = size_problem(self.cfg.detector.input, spec)
        if problem is not None:
            raise ConfigError(f"detector.input: {problem} ({detectors[0].name})")
        # each camera's input setting: its own, else the site's (also when the detectors were built elsewhere)
        self._inputs = {cam.id: cam.input or self.cfg.detector.input for cam in self.cfg.cameras}
        return detectors

    def _make_stages(self) -> list:
        from edgeanon.pixels.faces.stage import AttributeStage  # loads models: only when declared

        assert self.cfg.attributes is not None
        settings = attribute_settings(self.cfg.attributes)
        return [AttributeStage(settings) for _ in self.detectors]

    def stage_seconds(self) -> dict[str, float]:
        """Summed seconds per stage, with decoding (done in the reader threads, in parallel) as ``decode``."""
        with self._stats_lock:
            out = {"decode": sum(r.decode_s for r in self.readers), **self.stats.timings}
        for part in ("preprocess", "inference", "postprocess"):  # parts of "detect", summed over the sessions
            out[part] = sum(getattr(d, f"{part}_s", 0.0) for d in self.detectors)
        out["postprocess"] += self.decode_s  # decoded in the analytics thread, not by a detector
        return out

    @property
    def model_sha256(self) -> str:
        return self.detectors[0].entry.sha256

    def _wake(self) -> None:
        self.turns.wake()

    def start(self) -> None:
        """Detectors are already warm (constructed); start analytics and workers, then readers."""
        self._analytics_thread.start()
        for w in self._workers:
            w.start()
        for r in self.readers:
            r.start()

    def _hand_on(self, item: Inferred, me: int, keep: Collection[str]) -> None:
        if not item.idle:
            self.analytics[item.camera].frames_sent += 1  # before the put: quiet() then waits for it
        self._inferred.put(item)  # bounded: blocks when analytics fall behind
        self.turns.unhold(me, keep)

    def _hand_on_all(self, pending: list[Inferred], me: int, keep: Collection[str]) -> None:
        """Queue the pending results in order, then empty ``pending``. A camera whose result is still to be
        queued stays held, so no other worker queues that camera's next frame first."""
        for i, item in enumerate(pending):
            self._hand_on(item, me, {*keep, *(p.camera for p in pending[i + 1 :])})
        pending.clear()

    def _work(self, me: int, detector: PersonDetector) -> None:
        """Detector worker: the only code that sees pixels. Preprocess, infer, release, hand on the numbers.

        The previous run's outputs are handed to the analytics thread just before the next ``session.run``,
        while onnxruntime holds no GIL, so the analytics' Python never delays this thread's preprocessing.
        With no next frame waiting they are handed on at once. A camera stays held by one worker until its
        results are queued, so each camera's frames reach analytics in order.
        """
        pending: list[Inferred] = []
        while True:
            got = self.turns.take(me, wait=not pending)
            if got is None:
                if not pending:
                    break  # stopped
                self._hand_on_all(pending, me, keep=())
                continue
            if self._released_idle(me, detector, *got, pending):
                continue
            group = [got, *self._take_more(me, got[0], self.cfg.detector.batch - 1)]
            cams = {reader.cam.id for reader, _ in group}
            hand_on_previous = functools.partial(self._hand_on_all, pending, me, cams)  # called before the run
            try:
                if len(group) == 1:
                    pending.append(self._infer_one(me, detector, *got, hand_on_previous))
                else:
                    self._infer_group(detector, group, pending, hand_on_previous)
            except Exception:
                log.exception("camera %s: frame processing failed; continuing", ", ".join(sorted(cams)))
                self._hand_on_all(pending, me, keep=())
                self.turns.unhold(me)

    def _released_idle(
        self, me: int, detector: PersonDetector, reader: CameraReader, frame: Frame, pending: list[Inferred]
    ) -> bool:
        """Whether the frame was released as ``idle`` before any preprocessing (``_skip_idle``); its stand-in is
        then appended to ``pending``. Taken alone, so only its own camera stays held while earlier results go."""
        if not self.cfg.detector.skip_idle:
            return False
        cam = reader.cam.id
        try:
            hand_on_previous = functools.partial(self._hand_on_all, pending, me, {cam})
            idle = self._skip_idle(detector, reader, frame, self.analytics[cam], hand_on_previous)
        except Exception:  # the frame was released (``_skip_idle`` releases it once the motion test has said idle)
            log.exception("camera %s: frame processing failed; continuing", cam)
            self._hand_on_all(pending, me, keep=())
            self.turns.unhold(me)
            return True
        if idle is not None:
            pending.append(idle)
        return idle is not None

    def _infer_one(
        self, me: int, detector: PersonDetector, reader: CameraReader, frame: Frame, before_run: Callable[[], None]
    ) -> Inferred:
        """One frame, one run; a camera with an attribute stage is tracked and estimated here, before release."""
        analytics = self.analytics[reader.cam.id]
        t0 = time.perf_counter()
        tracked = estimates = faces = None
        timings = {"track": 0.0}
        try:
            image, size, decoder = self._region_input(detector, reader.cam, frame.buffer)
            outputs = detector.infer(image, size, before_run=before_run)
            del image  # a view of the frame's pixels: nothing keeps it past the release
            if analytics.traits is not None:
                # The attribute stage needs the frame and the tracker's verdict on which boxes are
                # confirmed tracks, so this camera is tracked here, before the release.
                dets = decoder(outputs)
                outputs = []
                tracked = analytics.track(dets, frame.t, decoder.size, reader.generation, timings)
                estimates, faces = self._estimate(me, analytics, tracked, frame.buffer)
        finally:
            reader.release(frame, Fate.INFERRED)  # pixels are zeroed here; only numbers from now on
        infer_s = time.perf_counter() - t0 - timings["track"]
        return Inferred(
            reader.cam.id, decoder, outputs, frame.t, frame.wall, reader.generation, infer_s,
            tracked, estimates, faces, timings["track"],
        )  # fmt: skip

    def _skip_idle(
        self,
        detector: PersonDetector,
        reader: CameraReader,
        frame: Frame,
        analytics: CameraCounting,
        hand_on_previous: Callable[[], None],
    ) -> Inferred | None:
        """Release a frame as ``idle`` if the camera has no track and nothing moved against the motion test's
        reference, and return what stands for it: no detections, counted like any frame (occupancy means include
        it at the tracker's occupancy, and tracks age). None: the frame must be inferred (``pixels.motion``).

        While a track is open the test is skipped (it costs about a resize), so the reference is the last frame
        inferred while the camera had none: when the people have left, the scene matches it again."""

        def quiet() -> bool:
            hand_on_previous()  # the previous inferred frame may start a track: let the analytics count it
            return analytics.quiet(QUIET_WAIT_S)

        if analytics.tracker.active:  # a track is open: inferred anyway, so the motion test is not even run
            return None
        t0 = time.perf_counter()
        try:
            _, _, decoder = self._region_input(detector, reader.cam, frame.buffer)
            region = self._region_of(reader.cam, *decoder.size)  # where the detector looks
            if reader.motion.must_infer(frame.buffer, quiet, region, reader.generation):
                return None
        except Exception:  # the test is an optimisation: the frame is inferred, as without it
            log.exception("camera %s: motion test failed; inferring the frame", analytics.cam.id)
            return None
        timings = {"track": 0.0}
        tracked = None
        try:
            if analytics.traits is not None:  # this camera is tracked in the worker (see _work)
                tracked = analytics.track(Detections.empty(), frame.t, decoder.size, reader.generation, timings)
        finally:
            reader.release(frame, Fate.IDLE)  # zeroed like any frame
        idle_s = time.perf_counter() - t0 - timings["track"]
        return Inferred(
            analytics.cam.id, decoder, [], frame.t, frame.wall, reader.generation, idle_s,
            tracked, None, None, timings["track"], idle=True,
        )  # fmt: skip

    def _region_input(
        self, detector: PersonDetector, cam: Camera, pixels: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.uint8], tuple[int, int], BoxDecoder]:
        """The camera's region of the frame as a view (no copy), its model input size and the decoder that maps
        the outputs back to frame pixels; the region is resolved once per camera and frame size. The size is
        remembered per camera: batch-mates are chosen by it (``_take_more``)."""
        h, w = pixels.shape[:2]
        x0, y0, x1, y1 = self._region_of(cam, w, h)
        image = pixels[y0:y1, x0:x1]
        size = self._sizes[cam.id] = detector.input_size_for(self._inputs[cam.id], x1 - x0, y1 - y0, w, h)
        return image, size, detector.decoder_for(image.shape, size, (x0, y0), pixels.shape)

    def _region_of(self, cam: Camera, w: int, h: int) -> tuple[int, int, int, int]:
        """The camera's roi on a w x h frame, resolved (and logged) once per camera and frame size."""
        key = (cam.id, w, h)
        region = self._regions.get(key)
        if region is None:
            region = region_of(cam, (w, h), self.cfg.tracker.confirm_hits)
            if len(self._regions) < 64:  # bounded: frame sizes change rarely (a reconnect, a new stream)
                self._regions[key] = region
            if region != (0, 0, w, h):
                log.info("camera %s: the detector looks at %s of the %dx%d frame (roi)", cam.id, list(region), w, h)
        return region

    def _estimate(
        self, me: int, analytics: CameraCounting, tracked: Tracked, pixels: npt.NDArray[np.uint8]
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
                cam = item.camera
                analytics = self.analytics[cam]
                tracked, detect_s = item.tracked, item.infer_s
                timings["track"] += item.track_s
                if tracked is None:  # not tracked by the worker (no attribute stage): decode and track here
                    t1 = time.perf_counter()
                    dets = Detections.empty() if item.idle else item.decoder(item.outputs)
                    item.outputs = []
                    decode_s = time.perf_counter() - t1
                    detect_s += decode_s
                    self.decode_s += decode_s
                    tracked = analytics.track(dets, item.t, item.decoder.size, item.generation, timings)
                timings["detect"] += detect_s
                if item.faces:
                    self.aggregator.count_faces(cam, item.faces)
                bucket = self.aggregator.open_bucket()  # the heatmap's distinct count is per this bucket
                result = analytics.analyse(tracked, timings, item.estimates, bucket)
                result.inference_s = None if item.idle else detect_s
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
                log.exception("camera %s: frame processing failed; continuing", item.camera)
            finally:
                if not item.idle:
                    self.analytics[item.camera].counted()  # an idle candidate of this camera may wait for it
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
            try:  # after every inferred frame: each one is counted before the flush
                self._inferred.put(None, timeout=max(0.1, deadline - time.monotonic()) + STOP_GRACE_S)
            except queue.Full:  # analytics stuck (a sink that never returns): flush what is counted, never hang
                log.error(
                    "stop: the analytics thread took no frame for %.0f s; flushing the bucket without the %d "
                    "frame(s) still queued (thread stacks follow on stderr)",
                    timeout + STOP_GRACE_S,
                    self._inferred.qsize(),
                )
                with contextlib.suppress(AttributeError, OSError, ValueError):  # stderr closed: the log says it
                    faulthandler.dump_traceback(all_threads=True)
            else:
                self._analytics_thread.join(max(0.1, deadline - time.monotonic()))
        for r in self.readers:
            r.discard_pending()
            r.motion.clear()  # after the workers' join: the small grey copies are zeroed
        for cam, analytics in self.analytics.items():
            self.aggregator.add_attributes(cam, analytics.flush())  # groups whose window is still open
        self.aggregator.flush()
        self.aggregator.close()

    def statuses(self):
        return [r.status for r in self.readers]
