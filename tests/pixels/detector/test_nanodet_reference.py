"""The shipped conversion and decoder reproduce an independent reference (tests/data/reference)."""

from __future__ import annotations

import numpy as np
import pytest

from edgeanon.pixels.detector import InputGeometry, SessionSettings, Thresholds, load_detector
from tests.helpers.media import load_json, read_frames
from tests.helpers.paths import DATA

REF = load_json(DATA / "reference" / "nanodet-vtest-boxes.json")
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32).reshape(1, 3, 1, 1)


@pytest.fixture(scope="module")
def low_threshold_detector():
    # the reference was computed at the square 416x416 stretch (before issue 15's auto size), so pinned to it
    return load_detector(
        "nanodet-coco",
        SessionSettings(threads=2),
        Thresholds(score=0.3, iou=0.5, min_box=0),
        geometry=InputGeometry(input="416x416"),
    )


def test_zero_input_output_sums(fp32_detector):
    # The mean/std are folded into the graph, so feeding the mean gives "zeros after normalisation".
    sess = fp32_detector.session
    outs = sess.run(None, {fp32_detector.input_name: np.broadcast_to(MEAN_BGR, (1, 3, 416, 416)).copy()})
    sums = {str(tuple(o.shape)): float(o.sum()) for o in outs}
    assert set(sums) == set(REF["zero_input_output_sums"])
    for shape, want in REF["zero_input_output_sums"].items():
        assert sums[shape] == pytest.approx(want, rel=2e-3, abs=2e-3), shape


@pytest.mark.parametrize("frame_index", [0, 200])  # the reference frames inside the bundled cut
def test_boxes_match_reference(low_threshold_detector, frame_index):
    frame = read_frames({frame_index})[frame_index]
    dets = low_threshold_detector(frame)
    want = np.array(REF["frames"][str(frame_index)], np.float32)
    assert len(dets) == len(want)
    for row in want:
        dist = np.abs(dets.xyxy - row[:4]).max(axis=1)
        j = int(dist.argmin())
        assert dist[j] <= 1.0, (row, dets.xyxy[j])
        assert dets.score[j] == pytest.approx(row[4], abs=0.01)
