"""Batches across cameras (``detector.batch``): which ready frames join a worker's run, and that one run.

A base of ``run.runner.Runner``, kept apart so the runner stays readable: it reads the runner's config,
analytics, turns (``run.turns``) and region views. The measurements behind the default (1, off) are in
benchmarks/results/BATCH.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from edgeanon.pixels.capture import CameraReader
from edgeanon.pixels.detector import BoxDecoder, PersonDetector
from edgeanon.pixels.frames import Fate, Frame
from edgeanon.run.inferred import Inferred

if TYPE_CHECKING:
    from edgeanon.config.schema import Config
    from edgeanon.run.camera import CameraCounting
    from edgeanon.run.turns import Turns


@dataclass(slots=True)
class Job:
    """A frame taken for a batch, with the view of its camera's region (dropped before the frame's release)."""

    reader: CameraReader
    frame: Frame
    image: npt.NDArray[np.uint8] | None
    decoder: BoxDecoder


class Batches:
    """Takes batch-mates in fair turns and runs a group of frames, one ``session.run`` per input size."""

    cfg: Config
    analytics: dict[str, CameraCounting]
    turns: Turns
    _sizes: dict[str, tuple[int, int]]  # camera id -> the model input size of its last frame
    _region_input: Callable[..., tuple[npt.NDArray[np.uint8], tuple[int, int], BoxDecoder]]

    def _take_more(self, me: int, first: CameraReader, n: int) -> list[tuple[CameraReader, Frame]]:
        """Up to ``n`` more frames to batch with ``first``'s, without waiting: other cameras whose last frame had
        the input size of ``first``'s last and that have no attribute stage, taken in the same fairness order."""
        size = self._sizes.get(first.cam.id)
        if n <= 0 or size is None or not self._batchable(first):
            return []
        return self.turns.take_more(me, first, n, lambda r: self._batch_mate(r) and self._sizes.get(r.cam.id) == size)

    def _batchable(self, reader: CameraReader) -> bool:
        # The attribute stage needs its frame's pixels after inference: that camera runs alone.
        return self.analytics[reader.cam.id].traits is None

    def _batch_mate(self, reader: CameraReader) -> bool:
        """With idle skipping, only a camera with a track open joins another's run: its frame is inferred anyway.
        One without is motion-tested first, taken alone (``_released_idle``)."""
        analytics = self.analytics[reader.cam.id]
        return self._batchable(reader) and (not self.cfg.detector.skip_idle or analytics.tracker.active)

    def _infer_group(
        self,
        detector: PersonDetector,
        group: list[tuple[CameraReader, Frame]],
        pending: list[Inferred],
        before_run: Callable[[], None],
    ) -> None:
        """One run per input size in ``group`` (one size, unless a camera's frame size just changed), results
        appended to ``pending``. Every frame is released, also when a step raises."""
        unreleased = {id(frame): (reader, frame) for reader, frame in group}
        parts: dict[tuple[int, int], list[Job]] = {}
        try:
            for reader, frame in group:
                image, size, decoder = self._region_input(detector, reader.cam, frame.buffer)
                parts.setdefault(size, []).append(Job(reader, frame, image, decoder))
                del image  # held by the job only, until the run
            for size, part in parts.items():
                for job in part:
                    del unreleased[id(job.frame)]  # _infer_batch releases them, whatever happens
                pending.extend(self._infer_batch(detector, part, size, before_run))
        finally:
            for job in (job for part in parts.values() for job in part):
                job.image = None  # a view of the frame's pixels: nothing keeps it past the release
            for reader, frame in unreleased.values():
                reader.release(frame, Fate.INFERRED)

    def _infer_batch(
        self,
        detector: PersonDetector,
        jobs: list[Job],
        size: tuple[int, int],
        before_run: Callable[[], None],
    ) -> list[Inferred]:
        """Regions of frames of several cameras at one input size, one ``session.run``; all frames released right
        after it."""
        t0 = time.perf_counter()
        try:
            images = [job.image for job in jobs if job.image is not None]
            outputs = detector.infer_batch(images, size, before_run=before_run)
        finally:
            images = []
            for job in jobs:
                job.image = None  # a view of the frame's pixels: nothing keeps it past the release
                job.reader.release(job.frame, Fate.INFERRED)  # pixels are zeroed here; only numbers from now on
        share = (time.perf_counter() - t0) / len(jobs)
        return [
            Inferred(job.reader.cam.id, job.decoder, out, job.frame.t, job.frame.wall, job.reader.generation, share)
            for job, out in zip(jobs, outputs, strict=True)
        ]
