"""The only value that leaves the pixel zone: boxes and scores, no pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_EMPTY_BOXES = np.zeros((0, 4), np.float32)
_EMPTY_SCORES = np.zeros((0,), np.float32)


@dataclass(frozen=True, slots=True)
class Detections:
    """Parallel arrays, one row per detected person.

    ``xyxy`` is float32 (n, 4) in frame pixels, ``score`` float32 (n,), ``track_id`` int64 (n,)
    once a tracker has run. Track ids are process-local and must never be exported.
    """

    xyxy: npt.NDArray[np.float32]
    score: npt.NDArray[np.float32]
    track_id: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (n, 4), got {self.xyxy.shape}")
        n = self.xyxy.shape[0]
        if self.score.shape != (n,):
            raise ValueError(f"score must have shape ({n},), got {self.score.shape}")
        if self.track_id is not None and self.track_id.shape != (n,):
            raise ValueError(f"track_id must have shape ({n},), got {self.track_id.shape}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(_EMPTY_BOXES, _EMPTY_SCORES)

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.integer] | slice) -> Detections:
        """Boolean-mask or index selection, e.g. ``dets[dets.score > 0.5]``."""
        if isinstance(index, (int, np.integer)):
            index = np.array([index])
        return Detections(
            self.xyxy[index],
            self.score[index],
            None if self.track_id is None else self.track_id[index],
        )

    def with_track_ids(self, track_id: npt.NDArray[np.int64]) -> Detections:
        return Detections(self.xyxy, self.score, track_id)

    @property
    def anchors(self) -> npt.NDArray[np.float32]:
        """Bottom-centre points (n, 2): where a person stands, used by zones and lines."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) * 0.5
        return np.stack([x, self.xyxy[:, 3]], axis=1)

    @property
    def area(self) -> npt.NDArray[np.float32]:
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return wh[:, 0] * wh[:, 1]
