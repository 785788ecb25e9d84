"""PresenceGrid: one count per confirmed anchor per frame in a coarse cell, drained per bucket."""

from __future__ import annotations

import pytest

from edgeanon.analytics import PresenceGrid
from tests.analytics.synth import box_at, frame

FRAME = (640, 480)


@pytest.mark.parametrize(
    ("anchors", "expected"),
    [
        pytest.param([], [[0, 0, 0, 0], [0, 0, 0, 0]], id="empty"),
        pytest.param([((10, 10), True)], [[1, 0, 0, 0], [0, 0, 0, 0]], id="top-left"),
        pytest.param([((639, 479), True)], [[0, 0, 0, 0], [0, 0, 0, 1]], id="bottom-right"),
        pytest.param([((320, 480), True)], [[0, 0, 0, 0], [0, 0, 1, 0]], id="on-bottom-edge"),
        pytest.param([((-5, 500), True)], [[0, 0, 0, 0], [1, 0, 0, 0]], id="beyond-frame-clamped"),
        pytest.param([((-400, 100), True)], [[1, 0, 0, 0], [0, 0, 0, 0]], id="far-left-clamped-same-row"),
        pytest.param(
            [((170, 100), True), ((170, 200), True), ((170, 300), True), ((170, 300), False)],
            [[0, 2, 0, 0], [0, 1, 0, 0]],
            id="several-and-tentative-ignored",
        ),
    ],
)
def test_cell_counts(anchors, expected):
    grid = PresenceGrid(2, 4, FRAME)
    grid.update(frame(0.0, [(i, box_at(*p), c, c) for i, (p, c) in enumerate(anchors)]))
    assert grid.drain().tolist() == expected


def test_counts_accumulate_over_frames_and_drain_resets():
    grid = PresenceGrid(1, 2, FRAME)
    for k in range(5):
        grid.update(frame(0.1 * k, [(0, box_at(100, 100), True, k == 0), (1, box_at(500, 100), True, k == 0)]))
    assert grid.drain().tolist() == [[5, 5]]
    assert grid.drain().tolist() == [[0, 0]]


@pytest.mark.parametrize(("rows", "cols"), [(0, 4), (9, 1), (4, 9)])
def test_grid_size_is_bounded(rows, cols):
    with pytest.raises(ValueError, match="cells per side"):
        PresenceGrid(rows, cols, FRAME)
