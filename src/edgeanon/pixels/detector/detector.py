"""Person detector: preprocessing, one onnxruntime run, vectorised decoding and NMS."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.counting.detections import Detections
from edgeanon.errors import ModelError
from edgeanon.pixels.detector.manifest import ModelEntry, read_verified, resolve
from edgeanon.pixels.detector.nanodet import NanoDetDecoder
from edgeanon.pixels.detector.preprocess import Preprocessor
from edgeanon.pixels.detector.session import SessionSettings, build_session, warm_up
from edgeanon.pixels.detector.yolo import YoloDecoder


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Defaults are the model authors' usual operating point, not tuned to any clip."""

    score: float = 0.5
    iou: float = 0.5
    min_box: float = 8.0  # pixels: both sides of a kept box are at least this long
    max_box: float | None = None  # pixels: neither side longer than this (None: no limit)


class PersonDetector:
    """Holds one session and its preallocated buffers; not thread-safe, use one per worker."""

    def __init__(
        self,
        name: str,
        entry: ModelEntry,
        path: Path,
        model_bytes: bytes,
        settings: SessionSettings = SessionSettings(),
        thresholds: Thresholds = Thresholds(),
    ) -> None:
        self.name = name
        self.entry = entry
        self.path = path
        self.settings = settings
        self.thresholds = thresholds
        self.session = build_session(model_bytes, path, settings)
        spec = entry.input
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{path}: expected one input, the model has {len(inputs)}")
        want = [1, 3, spec.height, spec.width]
        got = list(inputs[0].shape)
        if got != want:
            raise ModelError(f"{path}: input shape is {got}, the manifest says {want} (wrong model for this entry?)")
        if inputs[0].type != "tensor(float)":
            raise ModelError(f"{path}: input type is {inputs[0].type}, expected tensor(float)")
        self.input_name = inputs[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        shapes = [o.shape for o in self.session.get_outputs()]
        if entry.family == "nanodet":
            self.decoder: NanoDetDecoder | YoloDecoder = NanoDetDecoder(
                shapes,
                spec.width,
                spec.height,
                len(entry.classes),
                entry.person_class,
                entry.strides or (8, 16, 32),
                entry.reg_max if entry.reg_max is not None else 10,
                where=str(path),
            )
        else:
            self.decoder = YoloDecoder(shapes, len(entry.classes), entry.person_class, where=str(path))
        self.preprocess = Preprocessor(spec)
        warm_up(self.session, {self.input_name: self.preprocess.input})
        # Summed seconds per step, read by the benchmark's stage breakdown (a few perf_counter calls per frame).
        self.preprocess_s = 0.0
        self.inference_s = 0.0
        self.postprocess_s = 0.0

    @property
    def threads(self) -> int:
        from edgeanon.pixels.detector.session import physical_cores

        return self.settings.threads or physical_cores()

    def infer(self, frame: npt.NDArray[np.uint8], before_run: Callable[[], None] | None = None) -> list[np.ndarray]:
        """Preprocess and run; the pixel buffers are zeroed before this returns.

        ``before_run`` is called between preprocessing and ``session.run`` (the pipeline hands the previous
        frame's results on there, so their Python work overlaps the run, which holds no GIL).
        """
        t0 = time.perf_counter()
        try:
            feed = {self.input_name: self.preprocess(frame)}
            t1 = time.perf_counter()
            self.preprocess_s += t1 - t0
            if before_run is not None:
                before_run()
                t1 = time.perf_counter()
            out = self.session.run(self.output_names, feed)
            self.inference_s += time.perf_counter() - t1
            return out
        finally:
            self.preprocess.scrub()

    def postprocess(self, outputs: list[np.ndarray], frame_shape: tuple[int, ...]) -> Detections:
        t0 = time.perf_counter()
        try:
            return self._postprocess(outputs, frame_shape)
        finally:
            self.postprocess_s += time.perf_counter() - t0

    def _postprocess(self, outputs: list[np.ndarray], frame_shape: tuple[int, ...]) -> Detections:
        t = self.thresholds
        boxes, scores = self.decoder.decode(outputs, t.score)
        if scores.size == 0:
            return Detections.empty()
        h, w = frame_shape[:2]
        scale, offset = self.preprocess.mapping(h, w)
        boxes -= np.tile(offset, 2)
        boxes *= np.tile(scale, 2)
        np.clip(boxes, 0, (w, h, w, h), out=boxes)
        bw = boxes[:, 2] - boxes[:, 0]
        bh = boxes[:, 3] - boxes[:, 1]
        keep = (bw >= t.min_box) & (bh >= t.min_box)
        if t.max_box is not None:
            keep &= (bw <= t.max_box) & (bh <= t.max_box)
        if not keep.all():
            boxes, scores, bw, bh = boxes[keep], scores[keep], bw[keep], bh[keep]
            if scores.size == 0:
                return Detections.empty()
        xywh = np.stack([boxes[:, 0], boxes[:, 1], bw, bh], axis=1)
        # NMSBoxes returns the kept indices already sorted by descending score
        keep_idx = np.asarray(cv2.dnn.NMSBoxes(xywh, scores, t.score, t.iou), dtype=np.int64).reshape(-1)
        return Detections(boxes[keep_idx], scores[keep_idx])

    def __call__(self, frame: npt.NDArray[np.uint8]) -> Detections:
        shape = frame.shape
        return self.postprocess(self.infer(frame), shape)


def load_detector(
    model: str | None = None,
    settings: SessionSettings = SessionSettings(),
    thresholds: Thresholds = Thresholds(),
    models_directory: Path | None = None,
) -> PersonDetector:
    """Resolve a manifest name, verify the file's sha256, and build a warmed-up detector."""
    name, entry, path = resolve(model, models_directory)
    data = read_verified(path, entry)
    return PersonDetector(name, entry, path, data, settings, thresholds)
