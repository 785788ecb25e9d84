"""What a detector worker hands to the analytics thread for one frame: numbers only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeanon.pixels.detector import BoxDecoder
from edgeanon.run.camera import Estimates, Tracked


@dataclass(slots=True)
class Inferred:
    """A frame after inference on its way to the analytics thread: numbers only, no pixels and no handle on
    anything that owns pixels (the reader, the detector): raw model outputs and the frozen decoder for them."""

    camera: str
    decoder: BoxDecoder
    outputs: list[np.ndarray]
    t: float
    wall: float
    generation: int
    infer_s: float
    # set when the worker already tracked the frame (cameras with an attribute stage)
    tracked: Tracked | None = None
    estimates: Estimates | None = None
    faces: dict[str, int] | None = None  # attribute stage outcomes (FACE_OUTCOMES) in this frame
    track_s: float = 0.0
    idle: bool = False  # not inferred (no motion, no track): counted with no detections
