"""ZoneAnalytics: occupancy, dwell observed on exit and on track end, buckets, grace, queue wait estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgeanon.counting.analytics import Polygon, ZoneAnalytics
from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.counting.tracks import TrackUpdate
from tests.helpers.synthetic_tracks import Obs, box_at, frame, stream

FRAME = (640, 480)
SQUARE = [(200, 200), (400, 200), (400, 400), (200, 400)]
IN, OUT = (300.0, 300.0), (500.0, 300.0)


def zone(**kw) -> ZoneAnalytics:
    return ZoneAnalytics("z", np.array(SQUARE, float), capacity=8, frame_size=FRAME, **kw)


def visit(spans: list[tuple[float, float, tuple[float, float]]], *, dt: float = 0.5, confirm_at_t: float | None = 0.0):
    """Observations every ``dt`` over spans of (t_from, t_to inclusive, anchor)."""
    out: list[Obs] = []
    for t0, t1, (x, y) in spans:
        for t in np.arange(t0, t1 + dt / 2, dt):
            conf = confirm_at_t is not None and t >= confirm_at_t
            out.append((round(float(t), 6), *box_at(x, y), conf))
    return out


def run(z: ZoneAnalytics, updates: list[TrackUpdate]) -> list[int]:
    return [z.update(tu) for tu in updates]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param([], 0, id="empty"),
        pytest.param([(IN, True), (IN, True), (OUT, True)], 2, id="two-in-one-out"),
        pytest.param([(IN, True), (IN, False)], 1, id="tentative-not-counted"),
        pytest.param([((200.5, 399.5), True), ((199.5, 300), True)], 1, id="boundary"),
    ],
)
def test_occupancy(rows, expected):
    z = zone()
    tu = frame(0.0, [(i, box_at(*p), c, c) for i, (p, c) in enumerate(rows)], started=range(len(rows)))
    assert z.update(tu) == expected
    assert z.occupancy == expected


def test_dwell_observed_on_exit_after_grace():
    z = zone(exit_grace_s=1.0)
    ups = stream({1: visit([(0, 20, IN), (20.5, 25, OUT)])})
    observed_at = []
    for tu in ups:
        z.update(tu)
        h = z.drain_dwell()
        if h.count:
            observed_at.append((tu.t, h.counts.tolist(), h.sum_s))
    assert observed_at == [(21.0, [0, 0, 1, 0, 0, 0, 0, 0, 0], 20.0)]


def test_dwell_observed_when_track_ends_inside():
    z = zone()
    run(z, stream({1: visit([(0, 7, IN)])}))
    h = z.drain_dwell()
    assert (h.counts.tolist(), h.sum_s) == ([0, 1, 0, 0, 0, 0, 0, 0, 0], 7.0)


@pytest.mark.parametrize(
    ("spans", "confirm_at_t", "expected_count", "expected_sum"),
    [
        pytest.param([(0, 7, IN)], None, 0, 0.0, id="unconfirmed-ends-inside"),
        pytest.param([(0, 7, IN), (7.5, 9, OUT)], None, 0, 0.0, id="unconfirmed-leaves"),
        pytest.param([(0, 10, IN), (10.5, 13, OUT)], 2.0, 1, 10.0, id="confirmed-inside-entry-from-first-frame"),
        pytest.param([(0, 3, OUT), (3.5, 13, OUT)], 0.0, 0, 0.0, id="never-inside"),
    ],
)
def test_dwell_only_for_confirmed_tracks(spans, confirm_at_t, expected_count, expected_sum):
    z = zone()
    run(z, stream({1: visit(spans, confirm_at_t=confirm_at_t)}))
    h = z.drain_dwell()
    assert (h.count, h.sum_s) == (expected_count, expected_sum)


@pytest.mark.parametrize(
    ("grace", "expected"),
    [
        pytest.param(1.0, (1, 10.0), id="short-step-out-is-one-visit"),
        pytest.param(0.0, (2, 9.0), id="no-grace-splits-the-visit"),
    ],
)
def test_exit_grace(grace, expected):
    z = zone(exit_grace_s=grace)
    run(z, stream({1: visit([(0, 5, IN), (5.5, 5.5, OUT), (6, 10, IN), (10.5, 12, OUT)])}))
    h = z.drain_dwell()
    assert (h.count, h.sum_s) == expected


@pytest.mark.parametrize(
    ("dwell", "bucket"),
    [(0.0, 0), (5.0, 0), (5.5, 1), (29.5, 2), (30.0, 2), (1800.0, 7), (4000.0, 8)],
)
def test_dwell_bucket_upper_bounds_are_inclusive(dwell, bucket):
    z = zone()
    obs = [(0.0, *box_at(*IN), True), (dwell, *box_at(*IN), True), (dwell + 2, *box_at(*OUT), True)]
    run(z, stream({1: [o for i, o in enumerate(obs) if i != 1 or dwell > 0]}))
    h = z.drain_dwell()
    expected = [0] * len(DWELL_BUCKETS_S)
    expected[bucket] = 1
    assert h.counts.tolist() == expected
    assert h.bounds == DWELL_BUCKETS_S and h.bounds[-1] == math.inf


def test_drain_resets():
    z = zone()
    run(z, stream({1: visit([(0, 7, IN)])}))
    assert z.drain_dwell().count == 1
    assert (z.drain_dwell().count, z.drain_dwell().sum_s) == (0, 0.0)


def queue_people(dwells: list[float], t0: float) -> dict[int, list[Obs]]:
    """Person i is in the queue for dwells[i] seconds, one after another from t0, then walks out."""
    tracks, t = {}, t0
    for i, d in enumerate(dwells):
        tracks[i] = [(t, *box_at(*IN), True), (t + d, *box_at(*IN), True), (t + d + 2, *box_at(*OUT), True)]
        t += d + 5
    return tracks


@pytest.mark.parametrize(
    ("window", "samples", "expected"),
    [
        pytest.param(600.0, 64, 25.0, id="old-sample-outside-window"),
        pytest.param(1e9, 64, 30.0, id="all-samples"),
        pytest.param(1e9, 2, 35.0, id="ring-buffer-keeps-last-two"),
    ],
)
def test_queue_wait_is_median_of_recent_dwell(window, samples, expected):
    z = zone(queue=True, queue_window_s=window, queue_samples=samples)
    assert z.estimated_wait_s is None
    tracks = {99: [(0.0, *box_at(*IN), True), (1000.0, *box_at(*IN), True), (1002.0, *box_at(*OUT), True)]}
    tracks.update(queue_people([10, 20, 30, 40], t0=1700.0))
    run(z, stream(tracks))
    assert z.estimated_wait_s == expected


def test_queue_wait_forgets_everything_after_the_window():
    z = zone(queue=True, queue_window_s=60.0)
    ups = stream(queue_people([10, 20], t0=0.0))
    run(z, [*ups, TrackUpdate.empty(ups[-1].t + 30.0)])
    assert z.estimated_wait_s == 15.0
    z.update(TrackUpdate.empty(ups[-1].t + 120.0))
    assert z.estimated_wait_s is None


def test_queue_length_is_current_occupancy_and_plain_zone_has_no_wait():
    q, plain = zone(queue=True), zone()
    ups = stream({1: visit([(0, 3, IN), (3.5, 6, OUT)]), 2: visit([(0, 6, IN)])})
    lengths = [(q.update(tu), q.queue_length) for tu in ups]
    assert all(a == b for a, b in lengths)
    assert [a for a, _ in lengths][:3] == [2, 2, 2] and lengths[8][0] == 1
    run(plain, ups)
    assert plain.estimated_wait_s is None and q.estimated_wait_s is not None


def test_polygon_for_another_frame_size_is_refused():
    with pytest.raises(ValueError, match="built for"):
        ZoneAnalytics("z", Polygon(SQUARE, (320, 240)), capacity=4, frame_size=FRAME)


@pytest.mark.parametrize("buckets", [(5.0, 1.0, math.inf), (5.0, 10.0), ()])
def test_bad_buckets_are_refused(buckets):
    with pytest.raises(ValueError, match="buckets"):
        zone(dwell_buckets=buckets)
