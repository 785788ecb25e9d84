"""Turning a model's raw outputs into person boxes in frame pixels: everything decoding needs, frozen.

A ``BoxDecoder`` holds no pixels, no session and no buffer: the decoder family (its precomputed anchor
centres for one input size), the model-input -> image -> frame mapping, and the thresholds. The image is the
frame or a region of it (a crop at ``origin``); boxes are clipped to that region and come out in frame pixels.
The detector hands one out per image, input size and origin, so its outputs can be decoded in another thread
(the analytics thread) while the detector already works on the next frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.counting.detections import Detections
from edgeanon.pixels.detector.nanodet import NanoDetDecoder
from edgeanon.pixels.detector.yolo import YoloDecoder


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Defaults are the model authors' usual operating point, not tuned to any clip."""

    score: float = 0.5
    iou: float = 0.5
    min_box: float = 8.0  # pixels: both sides of a kept box are at least this long
    max_box: float | None = None  # pixels: neither side longer than this (None: no limit)


@dataclass(frozen=True, slots=True)
class BoxDecoder:
    """Decodes, maps to frame pixels, filters by size and applies NMS; ``size`` (w, h) is the whole frame's."""

    family: NanoDetDecoder | YoloDecoder
    scale: npt.NDArray[np.float32]  # (2,): image = (model - offset) * scale
    offset: npt.NDArray[np.float32]  # (2,)
    size: tuple[int, int]  # frame (width, height): what tracking and the zones are in
    thresholds: Thresholds
    origin: tuple[int, int] = (0, 0)  # where the image's top-left pixel is in the frame: frame = image + origin
    image: tuple[int, int] | None = None  # image (width, height) if it is a region of the frame; None: the frame

    def __call__(self, outputs: Sequence[np.ndarray]) -> Detections:
        t = self.thresholds
        boxes, scores = self.family.decode(outputs, t.score)
        if scores.size == 0:
            return Detections.empty()
        w, h = self.image or self.size
        boxes -= np.tile(self.offset, 2)
        boxes *= np.tile(self.scale, 2)
        np.clip(boxes, 0, (w, h, w, h), out=boxes)
        if self.origin != (0, 0):
            boxes += np.array(self.origin * 2, np.float32)
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
