"""LineCounter: direction for every orientation, hysteresis, confirmation, frame edges, extent, slot reuse."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from edgeanon.counting.analytics import LineCounter
from edgeanon.counting.tracks import TrackUpdate
from tests.helpers.synthetic_tracks import box_at, frame, line_path, stream, walk

W, H = 640, 480


def run(counter: LineCounter, updates: list[TrackUpdate]) -> list[tuple[int, int]]:
    return [counter.update(tu) for tu in updates]


def totals(counter: LineCounter, updates: list[TrackUpdate]) -> tuple[int, int]:
    per_frame = run(counter, updates)
    assert (counter.total_in, counter.total_out) == tuple(map(sum, zip(*per_frame, strict=True)))
    return counter.total_in, counter.total_out


def one_walk(a, b, start, end, *, n=21, in_side="left", band=5.0, **kw) -> tuple[int, int]:
    counter = LineCounter("l", a, b, capacity=8, band_px=band, in_side=in_side, **kw)
    return totals(counter, stream({1: walk(line_path(start, end, n))}))


# (a, b, in_side, walk start, walk end, expected (in, out)); "in" = walker a->b's left hand on screen
ORIENTATIONS = [
    pytest.param((100, 240), (540, 240), "left", (320, 300), (320, 180), (1, 0), id="horizontal-right-up"),
    pytest.param((100, 240), (540, 240), "left", (320, 180), (320, 300), (0, 1), id="horizontal-right-down"),
    pytest.param((540, 240), (100, 240), "left", (320, 300), (320, 180), (0, 1), id="horizontal-reversed-up"),
    pytest.param((540, 240), (100, 240), "left", (320, 180), (320, 300), (1, 0), id="horizontal-reversed-down"),
    pytest.param((320, 50), (320, 430), "left", (200, 240), (440, 240), (1, 0), id="vertical-down-rightwards"),
    pytest.param((320, 50), (320, 430), "left", (440, 240), (200, 240), (0, 1), id="vertical-down-leftwards"),
    pytest.param((320, 430), (320, 50), "left", (200, 240), (440, 240), (0, 1), id="vertical-reversed-rightwards"),
    pytest.param((320, 430), (320, 50), "left", (440, 240), (200, 240), (1, 0), id="vertical-reversed-leftwards"),
    pytest.param((100, 100), (500, 400), "left", (200, 350), (400, 150), (1, 0), id="diagonal-up-right"),
    pytest.param((100, 100), (500, 400), "left", (400, 150), (200, 350), (0, 1), id="diagonal-down-left"),
    pytest.param((500, 400), (100, 100), "left", (200, 350), (400, 150), (0, 1), id="diagonal-reversed-up-right"),
    pytest.param((500, 400), (100, 100), "left", (400, 150), (200, 350), (1, 0), id="diagonal-reversed-down-left"),
    pytest.param((100, 240), (540, 240), "right", (320, 300), (320, 180), (0, 1), id="in-side-right-flips-up"),
    pytest.param((100, 240), (540, 240), "right", (320, 180), (320, 300), (1, 0), id="in-side-right-flips-down"),
]


@pytest.mark.parametrize(("a", "b", "in_side", "start", "end", "expected"), ORIENTATIONS)
def test_direction_for_every_orientation(a, b, in_side, start, end, expected):
    assert one_walk(a, b, start, end, in_side=in_side) == expected


def test_left_is_negative_cross_product_in_image_coordinates():
    """a=(0,0) -> b=(10,0) points right on screen; its left (a walker's left hand) is up, i.e. y < 0."""
    a, b, p_in = np.array([0.0, 0.0]), np.array([10.0, 0.0]), np.array([5.0, -10.0])
    d, v = b - a, p_in - a
    assert d[0] * v[1] - d[1] * v[0] < 0
    assert one_walk(a, b, (5, 10), (5, -10), band=1.0) == (1, 0)
    assert one_walk(a, b, (5, -10), (5, 10), band=1.0) == (0, 1)


@pytest.mark.parametrize(
    ("amplitude", "band", "expected"),
    [
        pytest.param(3.0, 5.0, (0, 0), id="jitter-inside-band"),
        pytest.param(4.9, 5.0, (0, 0), id="jitter-just-inside-band"),
        pytest.param(8.0, 5.0, (1, 1), id="beyond-band-counts-once-each-way"),
        pytest.param(3.0, 0.0, (1, 1), id="no-band-jitter-would-count"),
    ],
)
def test_hysteresis_standing_on_the_line(amplitude, band, expected):
    pts = [(320.0, 240.0 + amplitude * (-1) ** i) for i in range(60)]
    counter = LineCounter("l", (100, 240), (540, 240), capacity=4, band_px=band)
    assert totals(counter, stream({1: walk(pts)})) == expected


def test_jitter_after_approaching_from_one_side_counts_nothing():
    pts = line_path((320, 300), (320, 240), 10) + [(320.0, 240.0 + 4 * (-1) ** i) for i in range(40)]
    counter = LineCounter("l", (100, 240), (540, 240), capacity=4, band_px=5.0)
    assert totals(counter, stream({1: walk(pts)})) == (0, 0)


def test_back_and_forth_counts_in_once_and_out_once():
    pts: list[tuple[float, float]] = []
    for _ in range(10):
        pts += line_path((320, 300), (320, 180), 7) + line_path((320, 180), (320, 300), 7)
    counter = LineCounter("l", (100, 240), (540, 240), capacity=4)
    assert totals(counter, stream({1: walk(pts)})) == (1, 1)


def test_flicker_crossing_while_tentative_and_ending_unconfirmed_counts_nothing():
    counter = LineCounter("l", (100, 240), (540, 240), capacity=4)
    per_frame = run(counter, stream({1: walk(line_path((320, 300), (320, 180), 21), confirm_at=None)}))
    assert per_frame == [(0, 0)] * len(per_frame)


# path y = 300 - 6 i: beyond the band on the in side (y < 235) from frame 11 on
@pytest.mark.parametrize(
    ("confirm_at", "count_frame"),
    [
        pytest.param(3, 11, id="confirmed-before-crossing"),
        pytest.param(11, 11, id="confirmed-on-crossing-frame"),
        pytest.param(15, 15, id="crossed-tentative-counted-on-confirmation"),
        pytest.param(20, 20, id="confirmed-on-last-frame"),
        pytest.param(None, None, id="never-confirmed"),
    ],
)
def test_crossing_counted_exactly_once_when_confirmed(confirm_at, count_frame):
    counter = LineCounter("l", (100, 240), (540, 240), capacity=4)
    per_frame = run(counter, stream({1: walk(line_path((320, 300), (320, 180), 21), confirm_at=confirm_at)}))
    expected = [(0, 0)] * len(per_frame)
    if count_frame is not None:
        expected[count_frame] = (1, 0)
    assert per_frame == expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # lost before the line, re-acquired past it: the new track's first side is "in", no crossing
        pytest.param(((320, 300), (320, 250)), ((320, 225), (320, 180)), (0, 0), id="lost-before-found-after"),
        # lost after crossing: counted by the first track, the second adds nothing
        pytest.param(((320, 300), (320, 225)), ((320, 215), (320, 180)), (1, 0), id="lost-after-crossing"),
        # re-acquired on the same side: the new track crosses and counts
        pytest.param(((320, 300), (320, 270)), ((320, 260), (320, 180)), (1, 0), id="lost-and-found-before-line"),
    ],
)
def test_id_loss_and_reacquisition(first, second, expected):
    t1 = walk(line_path(*first, 6))
    t2 = walk(line_path(*second, 6), t0=t1[-1][0] + 0.5)
    counter = LineCounter("l", (100, 240), (540, 240), capacity=4)
    assert totals(counter, stream({1: t1, 2: t2})) == expected


def test_five_people_crossing_in_the_same_frame_all_count():
    tracks = {i: walk(line_path((100 + 100 * i, 300), (100 + 100 * i, 180), 11)) for i in range(5)}
    tracks[9] = walk(line_path((50, 180), (50, 300), 11))  # and one going out at the same moment
    counter = LineCounter("l", (0, 240), (640, 240), capacity=16)
    per_frame = run(counter, stream(tracks))
    assert (5, 1) in per_frame
    assert sum(1 for c in per_frame if c != (0, 0)) == 1


# lines drawn at the frame edge, with boxes clipped to the frame and slivers under 8 px never detected;
# box sizes whose aspect is not the assumed 0.4 show the estimate need not be exact
EDGES = [
    pytest.param((2, 0), (2, H), (-40, 300), (200, 300), (1, 0), id="left-edge-enter"),
    pytest.param((2, 0), (2, H), (200, 300), (-40, 300), (0, 1), id="left-edge-leave"),
    pytest.param((W - 2, H), (W - 2, 0), (W + 40, 300), (400, 300), (1, 0), id="right-edge-enter"),
    pytest.param((W - 2, H), (W - 2, 0), (400, 300), (W + 40, 300), (0, 1), id="right-edge-leave"),
    pytest.param((0, H - 2), (W, H - 2), (320, H + 60), (320, 300), (1, 0), id="bottom-edge-enter"),
    pytest.param((0, H - 2), (W, H - 2), (320, 300), (320, H + 60), (0, 1), id="bottom-edge-leave"),
    # partly visible the whole time, walking along the left border: never fully in view, counts nothing
    pytest.param((2, 0), (2, H), (0, 100), (0, 450), (0, 0), id="left-edge-walk-along"),
]


@pytest.mark.parametrize("size", [(40.0, 100.0), (50.0, 100.0), (34.0, 110.0)])
@pytest.mark.parametrize(("a", "b", "start", "end", "expected"), EDGES)
def test_line_at_the_frame_edge(a, b, start, end, expected, size):
    obs = walk(line_path(start, end, 41), size=size, frame_size=(W, H), min_visible_px=8)
    counter = LineCounter("edge", a, b, capacity=4, frame_size=(W, H))
    assert totals(counter, stream({1: obs})) == expected


def test_edge_line_without_frame_size_misses_entries():
    """Why the clipped-box correction exists: the plain anchor of a clipped box is already past x=2."""
    obs = walk(line_path((-40, 300), (200, 300), 41), frame_size=(W, H), min_visible_px=8)
    counter = LineCounter("edge", (2, 0), (2, H), capacity=4)
    assert totals(counter, stream({1: obs})) == (0, 0)


def test_edge_box_flickering_between_clipped_and_unclipped_does_not_count():
    """A person standing at the left border whose box edge jitters across x=0: the estimate is continuous."""
    boxes = [(0.0 if i % 2 else 1.5, 200.0, 41.5, 300.0) for i in range(40)]
    obs = [(0.1 * i, *b, True) for i, b in enumerate(boxes)]
    counter = LineCounter("edge", (12, 0), (12, H), capacity=4, frame_size=(W, H))
    assert totals(counter, stream({1: obs})) == (0, 0)


def test_top_edge_line_cannot_count_documented_limitation():
    """Feet are never seen above a line at the top border: a person walking in from the top is first seen
    below it, which is their initial side. Documented in lines.py; draw such lines lower."""
    obs = walk(line_path((320, -60), (320, 300), 41), frame_size=(W, H), min_visible_px=8)
    counter = LineCounter("top", (W, 2), (0, 2), capacity=4, frame_size=(W, H))
    assert totals(counter, stream({1: obs})) == (0, 0)


@pytest.mark.parametrize(
    ("path", "margin", "expected"),
    [
        pytest.param([(250, 200), (350, 200)], 0.0, (1, 0), id="through-the-middle"),
        pytest.param([(250, 350), (350, 350)], 0.0, (0, 0), id="beyond-the-end"),
        pytest.param([(250, 50), (350, 50)], 0.0, (0, 0), id="before-the-start"),
        pytest.param([(250, 305), (350, 305)], 0.0, (0, 0), id="just-past-the-end"),
        pytest.param([(250, 305), (350, 305)], 10.0, (1, 0), id="just-past-the-end-within-margin"),
        pytest.param([(250, 200), (250, 400), (350, 400), (350, 200)], 0.0, (0, 0), id="round-the-end"),
        pytest.param([(250, 310), (350, 270)], 0.0, (1, 0), id="diagonal-path-meeting-the-segment"),
        pytest.param([(250, 290), (350, 330)], 0.0, (0, 0), id="diagonal-path-missing-the-segment"),
    ],
)
def test_segment_extent(path, margin, expected):
    pts: list[tuple[float, float]] = []
    for p, q in pairwise(path):
        pts += line_path(p, q, 21)[:-1]
    pts.append(path[-1])
    counter = LineCounter("short", (300, 100), (300, 300), capacity=4, margin_px=margin)
    assert totals(counter, stream({1: walk(pts)})) == expected


def test_reused_slot_forgets_the_previous_tracks_pending_crossing():
    t1 = walk(line_path((320, 300), (320, 180), 11), confirm_at=None)  # tentative crossing, never confirmed
    t2 = walk(line_path((320, 180), (320, 170), 5), t0=5.0, confirm_at=2)  # same slot, already on the in side
    counter = LineCounter("l", (100, 240), (540, 240), capacity=1)
    assert totals(counter, stream({1: t1, 2: t2}, capacity=1)) == (0, 0)


OUT_BOX, IN_BOX = box_at(320, 300), box_at(320, 180)


def test_slot_ended_and_restarted_in_one_frame_keeps_the_new_tracks_state():
    counter = LineCounter("l", (100, 240), (540, 240), capacity=1)
    f0 = frame(0.0, [(0, OUT_BOX, True, True)], started=[0])
    f1 = frame(0.1, [(0, IN_BOX, True, True)], started=[0], ended=[(0, True)])  # new track, first seen "in"
    f2 = frame(0.2, [(0, OUT_BOX, True, False)])  # the new track walks out
    assert run(counter, [f0, f1, f2]) == [(0, 0), (0, 0), (0, 1)]


def test_track_matched_and_ended_in_the_same_frame_still_counts():
    counter = LineCounter("l", (100, 240), (540, 240), capacity=1)
    f0 = frame(0.0, [(0, OUT_BOX, True, True)], started=[0])
    f1 = frame(0.1, [(0, IN_BOX, True, False)], ended=[(0, True)])
    f2 = frame(0.2, [(0, OUT_BOX, True, True)], started=[0])  # a new track: no history
    assert run(counter, [f0, f1, f2]) == [(0, 0), (1, 0), (0, 0)]


def reference_count(a, b, band, margin, tracks) -> tuple[int, int]:
    """Plain per-track loop with the documented semantics, to check the vectorised version against."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    length = float(np.hypot(*d))
    n_in = n_out = 0
    for obs in tracks.values():
        side, last, got, confirmed = 0, None, set(), False
        pending: set[str] = set()
        for _, bx1, _, bx2, by2, conf in obs:
            x1, x2, y2 = (float(np.float32(v)) for v in (bx1, bx2, by2))  # as stored in Detections
            p = np.array([(x1 + x2) / 2, y2]) - a
            s = (d[1] * p[0] - d[0] * p[1]) / length  # left of a->b on screen is positive
            u = float(p @ d) / length**2
            new = 1 if s > band else -1 if s < -band else 0
            if new and side and new != side:
                u0, s0 = last
                ux = u0 + (u - u0) * s0 / (s0 - s)
                if -margin / length <= ux <= 1 + margin / length:
                    pending.add("in" if new > 0 else "out")
            if new:
                side, last = new, (u, s)
            confirmed = confirmed or conf
            if confirmed:
                got |= pending
        n_in += "in" in got
        n_out += "out" in got
    return n_in, n_out


@pytest.mark.parametrize("seed", range(6))
def test_matches_a_plain_per_track_reference(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(100, 540, 2), rng.uniform(100, 540, 2)
    band, margin = float(rng.uniform(0, 8)), float(rng.uniform(0, 20))
    tracks = {}
    for tid in range(20):
        n = int(rng.integers(10, 60))
        velocity = rng.uniform(-12, 12, 2)
        steps = (rng.normal(0, 4, (n, 2)) + velocity).cumsum(axis=0) + rng.uniform(50, 590, 2)
        confirm_at = int(rng.integers(0, n + 3)) if rng.random() < 0.9 else None
        obs = walk([tuple(p) for p in steps], t0=float(rng.uniform(0, 3)), confirm_at=confirm_at)
        tracks[tid] = [(round(o[0], 6), *o[1:]) for o in obs]
    counter = LineCounter("r", a, b, capacity=32, band_px=band, margin_px=margin)
    got = totals(counter, stream(tracks, capacity=32))
    assert got == reference_count(a, b, band, margin, tracks)
    assert sum(got) > 0  # the random walks do cross: guard against a vacuous comparison
