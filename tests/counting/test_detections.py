from __future__ import annotations

import numpy as np
import pytest

from edgeanon.counting.detections import Detections


def _dets(n: int) -> Detections:
    xyxy = np.arange(n * 4, dtype=np.float32).reshape(n, 4)
    return Detections(xyxy, np.linspace(0.1, 0.9, n, dtype=np.float32))


@pytest.mark.parametrize(
    ("xyxy_shape", "score_shape", "track_shape", "error"),
    [
        ((3, 4), (3,), None, None),
        ((0, 4), (0,), (0,), None),
        ((3, 5), (3,), None, "xyxy"),
        ((4,), (1,), None, "xyxy"),
        ((3, 4), (2,), None, "score"),
        ((3, 4), (3,), (2,), "track_id"),
    ],
)
def test_shape_validation(xyxy_shape, score_shape, track_shape, error):
    args = (np.zeros(xyxy_shape, np.float32), np.zeros(score_shape, np.float32))
    tid = None if track_shape is None else np.zeros(track_shape, np.int64)
    if error is None:
        assert len(Detections(*args, tid)) == xyxy_shape[0]
    else:
        with pytest.raises(ValueError, match=error):
            Detections(*args, tid)


def test_boolean_mask_keeps_rows_parallel():
    d = _dets(5).with_track_ids(np.array([10, 11, 12, 13, 14]))
    kept = d[d.score > 0.5]
    assert len(kept) == 2
    np.testing.assert_array_equal(kept.track_id, [13, 14])
    np.testing.assert_array_equal(kept.xyxy, d.xyxy[3:])


def test_integer_index_returns_one_row():
    d = _dets(3)
    assert len(d[1]) == 1
    np.testing.assert_array_equal(d[1].xyxy[0], d.xyxy[1])


def test_anchor_is_bottom_centre():
    d = Detections(np.array([[10, 20, 30, 60]], np.float32), np.array([0.9], np.float32))
    np.testing.assert_array_equal(d.anchors, [[20, 60]])
    assert d.area[0] == 800


def test_empty():
    assert len(Detections.empty()) == 0
    assert Detections.empty().anchors.shape == (0, 2)
