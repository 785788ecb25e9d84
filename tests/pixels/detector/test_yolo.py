"""The yolo decoder on a synthetic [1, 4+C, N] export whose outputs are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from edgeanon.errors import ModelError
from edgeanon.pixels.detector import SessionSettings, Thresholds, load_detector
from tests.helpers.onnx_graphs import constant_output_model, write_models_dir

# columns: cx, cy, w, h, person, car  (model-input pixels of a 64x64 input)
ANCHORS = np.array(
    [
        [32, 32, 20, 30, 0.90, 0.10],  # kept
        [40, 40, 10, 10, 0.20, 0.95],  # a car: dropped
        [33, 32, 20, 30, 0.80, 0.00],  # overlaps the first: removed by NMS
        [10, 20, 8, 10, 0.70, 0.00],  # kept
        [60, 30, 2, 2, 0.99, 0.00],  # 4x4 px in the frame: below min_box 8
    ],
    np.float32,
)


@pytest.fixture
def yolo_dir(tmp_path):
    data = constant_output_model([1, 3, 64, 64], {"output0": ANCHORS.T[None]})
    return write_models_dir(tmp_path / "models", "tiny-yolo", data)


def test_exact_decoding_with_letterbox(yolo_dir):
    det = load_detector(models_directory=yolo_dir, settings=SessionSettings(threads=1))
    # 128x96 frame -> ratio 0.5, resized 64x48, padded 8 rows top: frame = (model - (0, 8)) * 2
    dets = det(np.full((96, 128, 3), 50, np.uint8))
    np.testing.assert_allclose(dets.xyxy, [[44, 18, 84, 78], [12, 14, 28, 34]], atol=1e-4)
    np.testing.assert_allclose(dets.score, [0.9, 0.7], atol=1e-6)


def test_transposed_export_layout(tmp_path):
    data = constant_output_model([1, 3, 64, 64], {"output0": ANCHORS[None]})  # [1, N, 4+C]
    d = write_models_dir(
        tmp_path / "m",
        "tiny-yolo-t",
        data,
        input={"width": 64, "height": 64, "color": "BGR", "resize": "stretch", "scale": 1.0},
    )
    det = load_detector(models_directory=d, settings=SessionSettings(threads=1))
    dets = det(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(dets.xyxy, [[22, 17, 42, 47], [6, 15, 14, 25]], atol=1e-4)


def test_thresholds_apply(yolo_dir):
    det = load_detector(
        models_directory=yolo_dir, settings=SessionSettings(threads=1), thresholds=Thresholds(score=0.75, min_box=1)
    )
    dets = det(np.zeros((96, 128, 3), np.uint8))
    np.testing.assert_allclose(dets.score, [0.99, 0.9], atol=1e-6)  # tiny box now allowed, 0.7 now too low


def test_wrong_output_layout_is_refused(tmp_path):
    data = constant_output_model([1, 3, 64, 64], {"output0": np.zeros((1, 9, 5), np.float32)})
    d = write_models_dir(tmp_path / "m", "bad-yolo", data)
    with pytest.raises(ModelError, match=r"do not match the yolo layout \[1, 6, N\]"):
        load_detector(models_directory=d)


def test_yolo_shaped_model_under_nanodet_entry_is_refused(tmp_path):
    data = constant_output_model([1, 3, 64, 64], {"output0": ANCHORS.T[None]})
    d = write_models_dir(tmp_path / "m", "mislabelled", data, family="nanodet")
    with pytest.raises(ModelError, match="do not match the nanodet layout"):
        load_detector(models_directory=d)
