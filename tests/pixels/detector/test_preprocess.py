"""The plane-wise preprocessing must give exactly the tensor of the plain resize-then-transpose recipe."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgeanon.pixels.detector.manifest import InputSpec
from edgeanon.pixels.detector.preprocess import Preprocessor


def reference(frame: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The obvious recipe: resize (or letterbox), reorder channels, one transposing float copy."""
    w, h = spec.width, spec.height
    if spec.resize == "stretch":
        img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        r = min(w / frame.shape[1], h / frame.shape[0])
        nw, nh = round(frame.shape[1] * r), round(frame.shape[0] * r)
        img = np.full((h, w, 3), int(spec.pad_value), np.uint8)
        left, top = (w - nw) // 2, (h - nh) // 2
        img[top : top + nh, left : left + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    if spec.color == "RGB":
        img = img[:, :, ::-1]
    out = img.transpose(2, 0, 1).astype(np.float32)[None]
    if spec.scale != 1.0:
        out *= spec.scale
    return out


@pytest.mark.parametrize("color", ["BGR", "RGB"])
@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
@pytest.mark.parametrize("shape", [(576, 768), (480, 640), (720, 1280)])
def test_planes_give_the_reference_tensor_exactly(color, resize, shape):
    spec = InputSpec(width=416, height=416, color=color, resize=resize)
    pre = Preprocessor(spec)
    rng = np.random.default_rng(7)
    for _ in range(2):  # the second frame reuses every buffer
        frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        got = pre(frame).copy()
        np.testing.assert_array_equal(got, reference(frame, spec))
        pre.scrub()


def test_scrub_zeroes_every_pixel_buffer():
    spec = InputSpec(width=416, height=416, color="RGB")
    pre = Preprocessor(spec)
    pre(np.full((576, 768, 3), 200, np.uint8))
    pre.scrub()
    assert not pre.input.any()
    assert not pre._resized.any()
    assert all(not p.any() for p in pre._planes)
