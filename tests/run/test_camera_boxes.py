"""``CameraCounting.last_boxes``: the newest frame's confirmed boxes, what /setup draws, with no track ids."""

from __future__ import annotations

import numpy as np
import yaml

from edgeanon.config.loader import parse_config
from edgeanon.counting.detections import Detections
from edgeanon.run.camera import CameraCounting
from tests.helpers.pipeline import DEFAULT_CONFIG

SIZE = (768, 576)


def counting() -> CameraCounting:
    cfg = parse_config(DEFAULT_CONFIG.read_text(), "default")
    return CameraCounting(cfg.cameras[0], cfg)


def person(x: float) -> Detections:
    return Detections(np.array([[x, 200.0, x + 40.0, 300.0]], np.float32), np.array([0.9], np.float32))


def test_last_boxes_are_the_confirmed_tracks_of_the_newest_frame():
    c = counting()
    assert c.last_boxes.shape == (0, 4) and c.last_boxes.dtype == np.float32
    confirm = yaml.safe_load(DEFAULT_CONFIG.read_text()).get("tracker", {}).get("confirm_hits", 3)
    timings = {"track": 0.0}
    for i in range(confirm - 1):  # tentative: not shown
        c.track(person(100.0 + i), 0.1 * i, SIZE, 0, timings)
        assert c.last_boxes.shape == (0, 4)
    c.track(person(100.0 + confirm), 0.1 * confirm, SIZE, 0, timings)
    boxes = c.last_boxes
    assert boxes.dtype == np.float32 and boxes.shape == (1, 4)
    np.testing.assert_array_equal(boxes, [[100.0 + confirm, 200.0, 140.0 + confirm, 300.0]])
    boxes[:] = -1  # a copy: the caller cannot change what the next reader sees
    assert (c.last_boxes >= 0).all()
    c.track(Detections.empty(), 0.1 * (confirm + 1), SIZE, 0, timings)
    # a lost track coasts (still present) but has no box this frame: nothing is drawn
    assert c.last_boxes.shape == (0, 4)
