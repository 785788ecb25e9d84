"""The attribute stage: the only code, besides capture and the person detector, that sees pixels.

It runs on the frame before the frame is released, once per confirmed track, and returns only bin indices.
Every buffer that ever holds pixels (the 256x256 face-detector input, the 64x64 face crop) or face geometry
(detector outputs, the face box, the warp matrices) is allocated once in ``__init__`` and zeroed before
``estimate`` returns, exceptions included. Regions are cut from the frame as views and warped straight into
those buffers, so no other copy of a face is ever made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.counting.bins import FACE_OUTCOMES
from edgeanon.pixels.detector.manifest import read_verified, resolve
from edgeanon.pixels.detector.session import SessionSettings, build_session
from edgeanon.pixels.faces.detector import SIZE, FaceDetector
from edgeanon.pixels.faces.estimate import CROP, FACE_MARGIN, FaceAttributes

HEAD_FRACTION = 0.4  # the top of a person box that holds the head, standing or seated
HEAD_WIDEN = 0.1  # widen the head region by this fraction of the box width on each side (arms, tilted heads)


@dataclass(frozen=True)
class AttributeSettings:
    """Which attributes are wanted and when a face is too small to estimate them honestly."""

    age: bool
    gender: bool
    min_face_px: int = 32  # faces smaller than this (in frame pixels) are skipped and counted
    face_score: float = 0.6
    threads: int = 1

    def __post_init__(self) -> None:
        if not (self.age or self.gender):
            raise ValueError("AttributeSettings: at least one of age and gender must be wanted")
        if self.min_face_px < 1 or not 0.0 < self.face_score < 1.0 or self.threads < 1:
            raise ValueError("AttributeSettings: min_face_px >= 1, 0 < face_score < 1 and threads >= 1")


# What happened when the stage looked at a track: the codes are positions in ``bins.FACE_OUTCOMES``, the label
# set the counts are exported under, so the two cannot drift apart (ESTIMATED = 0, PERSON_TOO_SMALL = 1, ...).
Outcome = IntEnum("Outcome", [(label.upper(), i) for i, label in enumerate(FACE_OUTCOMES)])


def _load(task: str, directory: Path | None, threads: int):
    _, entry, path = resolve(None, directory, task=task)  # type: ignore[arg-type]
    return build_session(read_verified(path, entry), path, SessionSettings(threads=threads, spinning=False))


class AttributeStage:
    """Face detection on the head region of each person box, then the wanted estimators on the face crop."""

    def __init__(self, settings: AttributeSettings, models_dir: Path | None = None) -> None:
        self.settings = settings
        self.detector = FaceDetector(_load("face", models_dir, settings.threads))
        self.models = FaceAttributes(
            _load("age", models_dir, settings.threads) if settings.age else None,
            _load("gender", models_dir, settings.threads) if settings.gender else None,
        )
        self._face = np.zeros(5, np.float32)  # x0, y0, x1, y1 in frame pixels, score
        self._warp = np.zeros((2, 3), np.float64)  # affine region -> model input
        self.runs = 0  # face-detector runs
        self.faces = 0  # faces that reached the estimators
        self.seconds = 0.0  # wall time inside estimate()
        self.face_seconds = 0.0
        self.age_seconds = 0.0
        self.gender_seconds = 0.0
        self._warm_up()

    def _warm_up(self) -> None:
        """First runs allocate arenas; keep them out of timings. Inputs are zeros, outputs are zeroed after."""
        try:
            self.detector.run()
            if self.models.age is not None:
                self.models.age.run()
            if self.models.gender is not None:
                self.models.gender.run()
        finally:
            self._clear()

    @property
    def pixel_buffers(self) -> tuple[npt.NDArray[np.generic], ...]:
        """Every array holding pixels, face geometry or model outputs; all zero whenever estimate() is not running."""
        return (
            self.detector.input,
            self.models.crop,
            *self.detector.outputs,
            *self.models.outputs,
            self._face,
            self._warp,
        )

    def _clear(self) -> None:
        self.detector.clear()
        self.models.clear()
        self._face.fill(0.0)
        self._warp.fill(0.0)

    def estimate(
        self, frame: npt.NDArray[np.uint8], boxes: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.uint8]]:
        """frame: (H, W, 3) uint8 BGR at its own resolution; boxes: (n, 4) float32 xyxy person boxes in frame pixels.

        Returns age_band int8 (n,) (index into ``counting.bins.AGE_BANDS``, -1 unknown), gender int8 (n,)
        (index into ``counting.bins.GENDERS``, -1) and outcome uint8 (n,) (Outcome).
        """
        n = len(boxes)
        age = np.full(n, -1, np.int8)
        gender = np.full(n, -1, np.int8)
        outcome = np.empty(n, np.uint8)
        t0 = time.perf_counter()
        try:
            for i in range(n):
                outcome[i] = self._one(frame, boxes[i], age, gender, i)
        finally:
            self._clear()
            self.seconds += time.perf_counter() - t0
        return age, gender, outcome

    def _one(
        self,
        frame: npt.NDArray[np.uint8],
        box: npt.NDArray[np.float32],
        age: npt.NDArray[np.int8],
        gender: npt.NDArray[np.int8],
        i: int,
    ) -> Outcome:
        region = self._head_region(frame, box)
        if region is None:
            return Outcome.PERSON_TOO_SMALL
        outcome = self._find_face(frame, region)
        if outcome is not None:
            return outcome
        self._crop_face(frame)
        self.faces += 1
        if self.models.age is not None:
            t = time.perf_counter()
            age[i] = self.models.estimate_age()
            self.age_seconds += time.perf_counter() - t
        if self.models.gender is not None:
            t = time.perf_counter()
            gender[i] = self.models.estimate_gender()
            self.gender_seconds += time.perf_counter() - t
        self.models.crop.fill(0)
        return Outcome.ESTIMATED

    def _head_region(
        self, frame: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]
    ) -> tuple[int, int, int, int] | None:
        """The top of the person box, widened and clipped to the frame (x0, y0, x1, y1); None if too small."""
        h, w = frame.shape[:2]
        bx0, by0, bx1, by1 = (float(v) for v in box)
        widen = HEAD_WIDEN * (bx1 - bx0)
        x0, y0 = max(0, int(bx0 - widen)), max(0, int(by0))
        x1, y1 = min(w, int(np.ceil(bx1 + widen))), min(h, int(np.ceil(by0 + HEAD_FRACTION * (by1 - by0))))
        if min(x1 - x0, y1 - y0) < self.settings.min_face_px:
            return None
        return x0, y0, x1, y1

    def _find_face(self, frame: npt.NDArray[np.uint8], region: tuple[int, int, int, int]) -> Outcome | None:
        """Run the face detector on the head region; the best face goes to ``self._face`` (frame pixels).

        Returns None when a face big enough was found, else why not.
        """
        s = self.settings
        x0, y0, x1, y1 = region
        # Letterbox the head region (a view of the frame) into the 256x256 input; outside it the border is zero,
        # so a neighbour's face cannot be picked up.
        scale = SIZE / max(x1 - x0, y1 - y0)
        m = self._warp
        m.fill(0.0)
        m[0, 0] = m[1, 1] = scale
        cv2.warpAffine(frame[y0:y1, x0:x1], m, (SIZE, SIZE), dst=self.detector.input[0], flags=cv2.INTER_LINEAR)
        t = time.perf_counter()
        self.detector.run()
        self.runs += 1
        best = self.detector.best_box(s.face_score)
        self.detector.clear()
        self.face_seconds += time.perf_counter() - t
        if best is None:
            return Outcome.NO_FACE
        face = self._face
        face[:4] = best[:4] / scale
        face[[0, 2]] += x0
        face[[1, 3]] += y0
        best.fill(0.0)
        if min(face[2] - face[0], face[3] - face[1]) < s.min_face_px:
            return Outcome.FACE_TOO_SMALL
        return None

    def _crop_face(self, frame: npt.NDArray[np.uint8]) -> None:
        """Square crop around ``self._face`` with IMDB-WIKI's margin, warped from the frame into the estimators'
        input; beyond the frame edge is zero. The face box and the warp are zeroed once used."""
        face = self._face
        m = self._warp
        side = float(max(face[2] - face[0], face[3] - face[1])) * (1.0 + 2.0 * FACE_MARGIN)
        c = CROP / side
        m[0, 0] = m[1, 1] = c
        m[0, 2] = -(float(face[0] + face[2]) / 2 - side / 2) * c
        m[1, 2] = -(float(face[1] + face[3]) / 2 - side / 2) * c
        face.fill(0.0)
        cv2.warpAffine(frame, m, (CROP, CROP), dst=self.models.crop[0], flags=cv2.INTER_AREA)
        m.fill(0.0)
