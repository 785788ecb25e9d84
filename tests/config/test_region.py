"""The detector's region of interest: how ``cameras[].roi`` resolves on a frame, and the checks on a box."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edgeanon.config.cameras import Camera
from edgeanon.config.loader import load_config
from edgeanon.config.placement import geometry_problems
from edgeanon.config.region import ABOVE, CROSS_S, region_of
from edgeanon.counting.analytics.geometry import ground_xy
from tests.helpers.paths import ROOT

SOURCE = {"kind": "file", "path": "x.avi"}


def cam(**over: object) -> Camera:
    return Camera.model_validate({"id": "c", "source": SOURCE, **over})


LINE = {"name": "door", "a": [200, 300], "b": [600, 300]}


def test_default_config_region_follows_the_rule_by_hand():
    cfg = load_config(ROOT / "configs" / "default.yaml")
    # road zone and crossing line span y 150..420 over the whole width; 3 confirm hits at 10 fps = 0.3 s, a
    # brisk walker crosses the picture in CROSS_S = 2 s: travel 0.15 of a side; above adds ABOVE (0.2) more
    travel = 3 / 10 / CROSS_S
    assert travel == pytest.approx(0.15) and ABOVE == 0.2
    bottom = int(np.ceil(420 + travel * 576))
    assert region_of(cfg.cameras[0], (768, 576), cfg.tracker.confirm_hits) == (0, 0, 768, bottom) == (0, 0, 768, 507)


def test_auto_region_is_the_geometry_plus_margins():
    c = cam(lines=[LINE], fps=10)
    x0, y0, x1, y1 = region_of(c, (1000, 1000), 3)
    assert (x0, x1) == (200 - 150, 600 + 150)  # travel 0.15 x 1000 either side
    assert y0 == 0 and y1 == 450  # above: 0.15 + 0.2 of 1000 = 350 -> clamped at the top


def test_slower_camera_gets_a_wider_margin_capped():
    fast = region_of(cam(lines=[LINE], fps=30), (1000, 1000), 3)  # travel 0.05 (the floor)
    slow = region_of(cam(lines=[LINE], fps=1), (1000, 1000), 3)  # 1.5 -> capped at 0.3
    assert fast[0] == 150 and fast[2] == 650
    assert slow[0] == 0 and slow[2] == 900


@pytest.mark.parametrize(
    "over",
    [
        {"roi": "full", "lines": [LINE]},
        {"lines": [LINE], "heatmap": {"rows": 2, "cols": 2}},  # the grid covers the frame
        {},  # nothing drawn: the whole picture counts occupancy
    ],
)
def test_whole_frame_cases(over):
    assert region_of(cam(**over), (640, 480), 3) == (0, 0, 640, 480)


def test_explicit_box_in_pixels_and_normalized():
    assert region_of(cam(roi={"box": [10.5, 20, 300, 200.2]}), (640, 480), 3) == (10, 20, 300, 201)
    assert region_of(cam(roi={"box": [0.25, 0.5, 0.75, 1.0], "normalized": True}), (640, 480), 3) == (
        160,
        240,
        480,
        480,
    )


@pytest.mark.parametrize(
    ("roi", "message"),
    [
        ({"box": [100, 100, 50, 200]}, "is empty"),
        ({"box": [0.1, 0.1, 1.5, 0.9], "normalized": True}, "outside 0-1"),
        ("half", "auto"),
    ],
)
def test_bad_roi_is_refused(roi, message):
    with pytest.raises(ValidationError, match=message):
        cam(roi=roi)


def test_explicit_box_must_hold_the_zones_and_lines_and_fit_the_frame():
    c = cam(roi={"box": [0, 0, 400, 400]}, lines=[LINE])
    problems = geometry_problems(c, (640, 480))
    assert problems == [
        (("lines", 0), "line 'door': point [600, 300] lies outside the roi box [0, 0]-[400, 400], where the "
         "detector sees nobody")
    ]  # fmt: skip
    wide = cam(roi={"box": [0, 0, 700, 400]})
    assert geometry_problems(wide, (640, 480))[0][0] == ("roi", "box")
    assert geometry_problems(cam(roi={"box": [0, 0, 640, 480]}, lines=[LINE]), (640, 480)) == []


def test_ground_point_is_corrected_at_the_region_border_as_at_the_frame_border():
    # a 40x100 person, half cut by the left border at x = 100: the visible box is 20 px wide
    box = np.array([[100.0, 200.0, 120.0, 300.0]])
    x_frame, _ = ground_xy(box - [100, 0, 100, 0], (640, 480))  # the same cut by the frame's own border
    x_region, _ = ground_xy(box, (100, 0, 640, 480))
    assert x_region[0] == pytest.approx(x_frame[0] + 100)
    assert x_region[0] < 110  # the visible middle (110) is moved outwards
    x_plain, _ = ground_xy(box + np.array([50, 0, 50, 0]), (100, 0, 640, 480))  # not at the border: unchanged
    assert x_plain[0] == pytest.approx(160)
