"""Frame -> model input, written into buffers allocated once and reused for every frame."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.detector.manifest import InputSpec


class Preprocessor:
    """Resize on uint8, then one transposing copy into the float input; normalisation lives in the graph.

    Both buffers hold (downscaled) pixels, so ``scrub`` zeroes them once inference is done.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.input = np.zeros((1, 3, spec.height, spec.width), np.float32)
        self._resized = np.zeros((spec.height, spec.width, 3), np.uint8)
        self._inner: np.ndarray | None = None  # letterbox: the resized image before padding
        # Mapping back to frame pixels: frame = (model - offset) * scale
        self.scale = np.ones(2, np.float32)
        self.offset = np.zeros(2, np.float32)
        self._frame_shape: tuple[int, int] = (0, 0)
        self._scale_only = spec.scale != 1.0 and spec.mean is None and spec.std is None
        mean = np.asarray(spec.mean if spec.mean is not None else (0, 0, 0), np.float32)
        std = np.asarray(spec.std if spec.std is not None else (1, 1, 1), np.float32)
        self._mean = mean.reshape(3, 1, 1)
        self._inv_std = (1.0 / std).reshape(3, 1, 1)
        self._normalise = spec.mean is not None or spec.std is not None

    def _geometry(self, h: int, w: int) -> None:
        spec = self.spec
        self._frame_shape = (h, w)
        if spec.resize == "stretch":
            self.scale[:] = (w / spec.width, h / spec.height)
            self.offset[:] = 0
            self._inner = None
            return
        r = min(spec.width / w, spec.height / h)
        nw, nh = round(w * r), round(h * r)
        left, top = (spec.width - nw) // 2, (spec.height - nh) // 2
        self.scale[:] = (1 / r, 1 / r)
        self.offset[:] = (left, top)
        self._inner = np.zeros((nh, nw, 3), np.uint8)
        self._resized[:] = int(spec.pad_value)

    def __call__(self, frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        h, w = frame.shape[:2]
        if (h, w) != self._frame_shape:
            self._geometry(h, w)
        spec = self.spec
        if self._inner is None:
            cv2.resize(frame, (spec.width, spec.height), dst=self._resized, interpolation=cv2.INTER_LINEAR)
        else:
            nh, nw = self._inner.shape[:2]
            cv2.resize(frame, (nw, nh), dst=self._inner, interpolation=cv2.INTER_LINEAR)
            left, top = int(self.offset[0]), int(self.offset[1])
            self._resized[top : top + nh, left : left + nw] = self._inner
        src = self._resized if spec.color == "BGR" else self._resized[:, :, ::-1]
        chw = self.input[0]
        np.copyto(chw, src.transpose(2, 0, 1), casting="unsafe")
        if self._scale_only:
            chw *= spec.scale
        elif self._normalise:
            if spec.scale != 1.0:
                chw *= spec.scale
            chw -= self._mean
            chw *= self._inv_std
        return self.input

    def scrub(self) -> None:
        """Zero every buffer that held pixels of the last frame."""
        self.input.fill(0)
        self._resized.fill(0 if self._inner is None else int(self.spec.pad_value))
        if self._inner is not None:
            self._inner.fill(0)
