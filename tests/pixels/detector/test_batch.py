"""Batched inference (``detector.batch``): a batch gives each frame what a single run gives it, and leaves no
pixels behind in the batch input, also when the run raises."""

from __future__ import annotations

import numpy as np
import pytest

from edgeanon.pixels.detector import SessionSettings, load_detector
from tests.helpers.media import read_frames
from tests.helpers.onnx_graphs import constant_output_model, write_models_dir
from tests.test_privacy import preprocessor_buffers

FRAMES = (10, 120, 240)  # people at different places, so a frame's outputs can't pass for another's


@pytest.fixture(scope="module")
def detector():
    return load_detector("nanodet-coco-int8", SessionSettings(threads=2))


@pytest.fixture(scope="module")
def images():
    frames = read_frames(set(FRAMES))
    return [frames[i] for i in FRAMES]


def _dirty(det) -> list[str]:
    found = [name for pre in det.preprocessors() for name, a in preprocessor_buffers(pre).items() if a.any()]
    return found + [f"batch {size}" for size, b in det._batch_inputs.items() if b.array.any()]


def test_a_batch_gives_each_frame_its_single_run_outputs(detector, images):
    """Exact on the AVX-512 Xeon this was written on: onnxruntime's CPU convolutions loop over the images of a
    batch, so each image meets the same kernels as alone. The tolerance (1e-5 on outputs of order 1) only
    allows for a kernel that blocks a batch differently; the decoded boxes must match to 1e-3 px."""
    single = [detector.infer(image) for image in images]
    assert detector.batches
    for n in (3, 2):  # then a smaller batch: the first n slots of the same buffer
        batched = detector.infer_batch(images[:n])
        assert len(batched) == n
        for image, one, many in zip(images, single, batched, strict=False):
            for a, b in zip(one, many, strict=True):
                assert b.shape == a.shape and b.shape[0] == 1
                np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
            decode = detector.decoder_for(image.shape)
            d1, d2 = decode(one), decode(many)
            assert len(d1.xyxy) > 0
            np.testing.assert_allclose(d2.xyxy, d1.xyxy, rtol=0, atol=1e-3)
        assert _dirty(detector) == []
    assert set(detector._batch_inputs) == {(416, 320)}  # the clip's auto input size
    assert detector._batch_inputs[(416, 320)].capacity == 3  # allocated once, for the largest batch


class _Spy:
    """The real session; ``run`` records whether the batch input held pixels, and raises on call ``fail_at``."""

    def __init__(self, det, fail_at: int | None = None) -> None:
        self.det, self.session, self.fail_at, self.calls, self.had_pixels = det, det.session, fail_at, 0, []

    def run(self, names, feed):
        self.calls += 1
        self.had_pixels.append(any(b.array.any() for b in self.det._batch_inputs.values()))
        if self.calls == self.fail_at:
            raise RuntimeError("injected inference failure")
        return self.session.run(names, feed)

    def __getattr__(self, name):
        return getattr(self.session, name)


def test_the_batch_input_is_zeroed_after_every_run_and_after_a_failed_one(detector, images):
    spy = _Spy(detector, fail_at=2)
    detector.session = spy
    try:
        detector.infer_batch(images)
        assert _dirty(detector) == []
        with pytest.raises(RuntimeError, match="injected"):
            detector.infer_batch(images[:2])
        assert _dirty(detector) == []
    finally:
        detector.session = spy.session
    assert spy.had_pixels == [True, True], "the runs must have seen the frames, or the test proves nothing"


def test_a_model_with_a_fixed_batch_of_one_runs_frame_by_frame(tmp_path):
    """A batched feed would be refused by this model (input [1, 3, 64, 64]): the frames must go one by one."""
    out = np.array([[[32, 32, 20, 30, 0.9, 0], [10, 20, 8, 10, 0.7, 0]]], np.float32).transpose(0, 2, 1)
    stretch = {"width": 64, "height": 64, "color": "BGR", "resize": "stretch", "scale": 1.0}  # scrubbed to 0
    data = constant_output_model([1, 3, 64, 64], {"output0": out})
    d = write_models_dir(tmp_path / "m", "tiny-yolo", data, input=stretch)
    det = load_detector(models_directory=d, settings=SessionSettings(threads=1))
    assert not det.batches
    frames = [np.full((96, 128, 3), v, np.uint8) for v in (50, 90)]
    outputs = det.infer_batch(frames)
    assert len(outputs) == 2 and all(o[0].shape == (1, 6, 2) for o in outputs)
    np.testing.assert_array_equal(outputs[1][0], det.infer(frames[1])[0])
    assert det._batch_inputs == {} and _dirty(det) == []
