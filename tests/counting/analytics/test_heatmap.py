"""PresenceGrid: people (distinct confirmed tracks) per coarse cell per bucket, never person-frames."""

from __future__ import annotations

import random

import numpy as np
import pytest

from edgeanon.counting.aggregate import Aggregator
from edgeanon.counting.analytics import PresenceGrid
from edgeanon.counting.detections import Detections
from edgeanon.counting.results import FrameResult
from edgeanon.counting.tracking import Tracker, TrackerSettings
from tests.helpers.synthetic_tracks import box_at, frame, stream, walk

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


def test_a_person_counts_once_per_cell_however_many_frames():
    grid = PresenceGrid(1, 2, FRAME)
    total = np.zeros((1, 2), np.int64)
    for k in range(50):
        grid.update(frame(0.1 * k, [(0, box_at(100, 100), True, k == 0), (1, box_at(500, 100), True, k == 0)]))
        total += grid.drain()
    assert total.tolist() == [[1, 1]]
    assert grid.drain().tolist() == [[0, 0]]


def standing_person_updates(n_frames: int, fps: float = 10.0):
    """The real tracker following one person standing still (a fixed box every frame)."""
    tracker = Tracker(TrackerSettings())
    box = np.array([box_at(200, 300)], np.float32)
    return [tracker.update(Detections(box, np.full(1, 0.9, np.float32)), i / fps) for i in range(n_frames)]


@pytest.mark.parametrize("n_frames", [10, 100, 600])
def test_one_person_standing_still_is_one_person_and_is_suppressed_at_k5(n_frames):
    """The finding: one shopper standing 1 s at 10 fps used to be a cell of 10, published at k=5."""
    grid = PresenceGrid(4, 4, FRAME)
    clock = [1_700_000_000.0]
    agg = Aggregator({"cam": ([], [])}, 3600, [], clock=lambda: clock[0], purposes=frozenset({"heatmap"}), k=5)
    raw = np.zeros((4, 4), np.int64)
    for tu in standing_person_updates(n_frames):
        bucket = agg.open_bucket()
        grid.update(tu, bucket)
        heat = grid.drain()
        raw += heat
        agg.record(FrameResult("cam", None, {}, {}, {}, {}, {}, heat=heat, heat_bucket=bucket))
        clock[0] += 0.1
    assert raw.sum() == 1 and raw[2, 1] == 1  # anchor (200, 300): row 300 // 120, col 200 // 160
    assert agg.flush().cameras["cam"].heatmap.sum() == 0  # 1 < k


def test_each_bucket_counts_the_people_present_in_it_again():
    grid = PresenceGrid(1, 1, FRAME)
    counts = []
    for i, tu in enumerate(standing_person_updates(30)):
        grid.update(tu, bucket=0 if i < 10 else (60 if i < 20 else 120))
        counts.append(int(grid.drain().sum()))
    assert sum(counts[:10]) == sum(counts[10:20]) == sum(counts[20:]) == 1


def test_a_reused_slot_is_a_new_person():
    """Slot 0 ends, then a new track takes it in the same cell and bucket: two people, not one."""
    grid = PresenceGrid(1, 1, FRAME)
    tus = [
        frame(0.0, [(0, box_at(10, 10), True, True)], started=[0]),
        frame(0.1, [(0, box_at(10, 10), True, False)], ended=[(0, True)]),
        frame(0.2, [(0, box_at(12, 10), True, True)], started=[0]),
        frame(0.3, [(0, box_at(12, 10), True, False)]),
    ]
    total = 0
    for tu in tus:
        grid.update(tu, bucket=0)
        total += int(grid.drain().sum())
    assert total == 2


def random_tracks(rng: random.Random, n: int) -> dict[int, list]:
    """People walking between random points, some never confirmed, starting at random times."""
    tracks = {}
    for tid in range(n):
        t0 = round(rng.randrange(0, 60) * 0.1, 1)
        steps = rng.randrange(2, 40)
        a = (rng.uniform(-20, 660), rng.uniform(0, 500))
        b = (rng.uniform(-20, 660), rng.uniform(0, 500))
        pts = [(a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps) for i in range(steps)]
        confirm = rng.choice([None, 0, 2, steps // 2])
        tracks[tid] = walk(pts, t0=t0, confirm_at=confirm)
    return tracks


@pytest.mark.parametrize("seed", range(12))
def test_cells_are_exactly_the_distinct_confirmed_tracks_per_cell_per_bucket(seed):
    """Against a reference with Python sets, over random streams with slot reuse and bucket changes: each cell
    is the number of distinct confirmed tracks seen in it in that bucket, so never more than the bucket's
    distinct confirmed tracks."""
    rng = random.Random(seed)
    rows, cols = rng.choice([(1, 1), (2, 3), (8, 8)])
    tus = stream(random_tracks(rng, rng.randrange(5, 40)), capacity=48, end_after=rng.choice([1, 3]))
    edges = sorted(rng.sample(range(1, len(tus)), min(3, len(tus) - 1)))
    grid = PresenceGrid(rows, cols, FRAME, capacity=48)
    got: dict[int, np.ndarray] = {}
    want: dict[int, dict[int, set]] = {}
    people: dict[int, set] = {}
    for i, tu in enumerate(tus):
        bucket = sum(i >= e for e in edges)
        grid.update(tu, bucket)
        got[bucket] = got.get(bucket, np.zeros((rows, cols), np.int64)) + grid.drain()
        for (x1, _, x2, y2), tid, c in zip(tu.dets.xyxy, tu.dets.track_id, tu.confirmed, strict=True):
            if c:
                r = min(max(int(float(y2) * rows / FRAME[1]), 0), rows - 1)
                q = min(max(int((float(x1) + float(x2)) / 2 * cols / FRAME[0]), 0), cols - 1)
                want.setdefault(bucket, {}).setdefault(r * cols + q, set()).add(int(tid))
                people.setdefault(bucket, set()).add(int(tid))
    for bucket, cells in got.items():
        ref = np.zeros(rows * cols, np.int64)
        for cell, ids in want.get(bucket, {}).items():
            ref[cell] = len(ids)
        np.testing.assert_array_equal(cells.ravel(), ref)
        assert cells.max(initial=0) <= len(people.get(bucket, ()))


@pytest.mark.parametrize(("rows", "cols"), [(0, 4), (9, 1), (4, 9)])
def test_grid_size_is_bounded(rows, cols):
    with pytest.raises(ValueError, match="cells per side"):
        PresenceGrid(rows, cols, FRAME)
