"""Frame -> model input, written into buffers allocated once and reused for every frame."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edgeanon.pixels.detector.manifest import InputSpec


class Preprocessor:
    """Resize on uint8, split into channel planes, widen each plane into the float input.

    Normalisation lives in the graph. ``cv2.split`` into preallocated planes and three contiguous
    uint8->float32 copies cost about half of one strided, transposing copy (benchmarks/results/RESULTS.md).
    Every buffer here holds (downscaled) pixels, so ``scrub`` zeroes them all once inference is done.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.input = np.zeros((1, 3, spec.height, spec.width), np.float32)
        self._resized = np.zeros((spec.height, spec.width, 3), np.uint8)
        self._planes = [np.zeros((spec.height, spec.width), np.uint8) for _ in range(3)]
        # input channel c comes from plane _order[c] of the BGR frame
        self._order = (0, 1, 2) if spec.color == "BGR" else (2, 1, 0)
        self._mappings: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._split = _split_writes_in_place(self._resized, self._planes)
        # OpenCV starts its thread pool at the first parallel call, and new threads inherit the nice value
        # of their creator: resize once here (the thread building the detector), not first in a niced reader.
        warm = np.zeros((2 * spec.height, 2 * spec.width, 3), np.uint8)
        cv2.resize(warm, (spec.width, spec.height), dst=self._resized, interpolation=cv2.INTER_LINEAR)
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

    def _layout(self, h: int, w: int) -> tuple[float, float, int, int, int, int]:
        """(scale x, scale y, left, top, inner width, inner height) of an h x w frame in the model input."""
        spec = self.spec
        if spec.resize == "stretch":
            return w / spec.width, h / spec.height, 0, 0, spec.width, spec.height
        r = min(spec.width / w, spec.height / h)
        nw, nh = round(w * r), round(h * r)
        return 1 / r, 1 / r, (spec.width - nw) // 2, (spec.height - nh) // 2, nw, nh

    def mapping(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """(scale, offset) with frame = (model - offset) * scale, for a frame of h x w pixels.

        Derived from the frame size alone, never from the last frame preprocessed, so decoding may run
        in another thread while this preprocessor already works on the next frame (of any size).
        """
        m = self._mappings.get((h, w))
        if m is None:
            sx, sy, left, top, _, _ = self._layout(h, w)
            m = (np.array([sx, sy], np.float32), np.array([left, top], np.float32))
            if len(self._mappings) < 16:  # bounded: frame sizes change rarely (a reconnect, a new stream)
                self._mappings[(h, w)] = m
        return m

    def _geometry(self, h: int, w: int) -> None:
        spec = self.spec
        self._frame_shape = (h, w)
        sx, sy, left, top, nw, nh = self._layout(h, w)
        self.scale[:] = (sx, sy)
        self.offset[:] = (left, top)
        if spec.resize == "stretch":
            self._inner = None
            return
        self._inner = np.zeros((nh, nw, 3), np.uint8)
        self._resized[:] = int(spec.pad_value)

    def __call__(
        self, frame: npt.NDArray[np.uint8], out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]:
        """The model input for ``frame``: ``self.input``, or, with ``out`` (a (3, H, W) slot of a batch buffer,
        ``pixels.detector.batch``), written into ``out`` and returned; the caller then zeroes ``out``."""
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
        chw = self.input[0] if out is None else out
        if self._split:
            cv2.split(self._resized, self._planes)
            for c, i in enumerate(self._order):
                np.copyto(chw[c], self._planes[i], casting="unsafe")
        else:  # an OpenCV whose binding would allocate new planes: never leave pixel copies behind
            src = self._resized if spec.color == "BGR" else self._resized[:, :, ::-1]
            np.copyto(chw, src.transpose(2, 0, 1), casting="unsafe")
        if self._scale_only:
            chw *= spec.scale
        elif self._normalise:
            if spec.scale != 1.0:
                chw *= spec.scale
            chw -= self._mean
            chw *= self._inv_std
        return self.input if out is None else out

    def scrub(self) -> None:
        """Zero every buffer that held pixels of the last frame."""
        self.input.fill(0)
        self._resized.fill(0 if self._inner is None else int(self.spec.pad_value))
        for p in self._planes:
            p.fill(0)
        if self._inner is not None:
            self._inner.fill(0)


def _split_writes_in_place(image: npt.NDArray[np.uint8], planes: list[npt.NDArray[np.uint8]]) -> bool:
    """Whether ``cv2.split(image, planes)`` fills the given arrays (checked once, on the zeroed buffers)."""
    out = cv2.split(image, planes)
    return len(out) == len(planes) and all(o.ctypes.data == p.ctypes.data for o, p in zip(out, planes, strict=True))
