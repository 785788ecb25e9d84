"""Movement attributes: zone/line event APIs, heading and speed band per zone visit, group size per line."""

from __future__ import annotations

import numpy as np
import pytest

from edgeanon.counting.analytics import LineCounter, ZoneAnalytics
from edgeanon.counting.analytics.lines import IN, OUT
from edgeanon.counting.analytics.movement import (
    LineGroups,
    MovementSettings,
    ZoneMotion,
    group_bin,
    heading_bins,
    speed_bins,
)
from edgeanon.counting.bins import GROUP_SIZES, HEADINGS, SPEED_BANDS
from edgeanon.counting.tracks import TrackUpdate
from tests.helpers.synthetic_tracks import box_at, frame, line_path, stream, walk

FRAME = (640, 480)
SQUARE = [(200, 200), (400, 200), (400, 400), (200, 400)]
PPM = MovementSettings(px_per_metre=100.0)  # 1 m = 100 px; SQUARE is 2 m wide


def zone_and_motion(settings: MovementSettings = PPM) -> tuple[ZoneAnalytics, ZoneMotion]:
    return ZoneAnalytics("z", np.array(SQUARE, float), 8, FRAME), ZoneMotion("z", 8, settings)


def run_zone(updates: list[TrackUpdate], settings: MovementSettings = PPM) -> tuple[dict, dict, list]:
    z, m = zone_and_motion(settings)
    exits = []
    for tu in updates:
        z.update(tu)
        m.update(tu, z.events)
        exits.append((tu.t, z.last_exited.tolist()))
    heading, speed = m.drain()
    h = {HEADINGS[i]: int(n) for i, n in enumerate(heading) if n}
    s = {SPEED_BANDS[i]: int(n) for i, n in enumerate(speed) if n}
    return h, s, [e for e in exits if e[1]]


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (0, -1, "n"),
        (1, -1, "ne"),
        (1, 0, "e"),
        (1, 1, "se"),
        (0, 1, "s"),
        (-1, 1, "sw"),
        (-1, 0, "w"),
        (-1, -1, "nw"),
        (0.41, -1, "n"),  # 22.3 degrees: still n
        (0.42, -1, "ne"),  # 22.8 degrees
        (-0.41, -1, "n"),
        (-0.42, -1, "nw"),
    ],
)
def test_heading_bins_are_clockwise_from_up(dx, dy, expected):
    assert HEADINGS[int(heading_bins(np.array([dx], float), np.array([dy], float))[0])] == expected


@pytest.mark.parametrize(
    ("mps", "expected"),
    [(0.0, "slow"), (0.49, "slow"), (0.5, "normal"), (1.3, "normal"), (1.8, "normal"), (1.81, "fast")],
)
def test_speed_bins(mps, expected):
    assert SPEED_BANDS[int(speed_bins(np.array([mps]), 0.5, 1.8)[0])] == expected


@pytest.mark.parametrize(("size", "label"), [(1, "1"), (2, "2"), (3, "3"), (4, "4+"), (9, "4+")])
def test_group_bin(size, label):
    assert GROUP_SIZES[group_bin(size)] == label


@pytest.mark.parametrize(
    ("p0", "p1", "heading"),
    [
        ((150, 300), (450, 300), "e"),
        ((450, 300), (150, 300), "w"),
        ((300, 450), (300, 150), "n"),
        ((150, 450), (450, 150), "ne"),
        ((450, 150), (150, 450), "sw"),
    ],
)
def test_walk_through_zone_gives_heading_and_speed(p0, p1, heading):
    # 31 frames at 0.1 s over the path; inside SQUARE for a stretch of 2 m (about 2.8 m diagonally)
    h, s, exits = run_zone(stream({1: walk(line_path(p0, p1, 31))}))
    assert h == {heading: 1}
    assert s == {"normal": 1}  # 300 px per 3 s = 1 m/s
    assert len(exits) == 1  # one visit, one exit event


def test_speed_band_from_net_displacement_and_time():
    # through the zone (x 200..400 = 2 m) at 0.4, 1.0 and 3.0 m/s
    for step, band in ((4.0, "slow"), (10.0, "normal"), (30.0, "fast")):
        n = int(300 / step) + 1
        pts = [(150 + step * i, 300.0) for i in range(n)]
        _, s, _ = run_zone(stream({1: walk(pts)}))
        assert s == {band: 1}, step


def test_lingering_visit_has_speed_but_no_heading():
    # walks in, wanders 40 cm and stays 10 s: net displacement under min_move_m (1 m)
    pts = [(300.0 + 20 * np.sin(i / 5), 300.0 + 20 * np.cos(i / 7)) for i in range(100)]
    h, s, exits = run_zone(stream({1: walk(pts)}))
    assert h == {}
    assert s == {"slow": 1}
    assert len(exits) == 1


def test_box_height_scale_without_px_per_metre():
    # boxes are 100 px tall = 1.7 m, so 1 px = 1.7 cm; crossing SQUARE (200 px = 3.4 m) in 2 s = 1.7 m/s
    pts = [(150 + 10 * i, 300.0) for i in range(31)]
    h, s, _ = run_zone(stream({1: walk(pts, dt=0.1)}), MovementSettings())
    assert h == {"e": 1} and s == {"normal": 1}
    pts = [(150 + 12 * i, 300.0) for i in range(26)]  # 1.2 px/frame more: 2.04 m/s > fast_above 1.8
    _, s, _ = run_zone(stream({1: walk(pts, dt=0.1)}), MovementSettings())
    assert s == {"fast": 1}


def test_unconfirmed_and_short_visits():
    pts = line_path((150, 300), (450, 300), 31)
    h, s, exits = run_zone(stream({1: walk(pts, confirm_at=None)}))
    assert (h, s, exits) == ({}, {}, [])  # a tentative track's visit ends without an event
    # two frames inside: 0.1 s, no speed; 40 px = 0.4 m, no heading
    h, s, exits = run_zone(stream({1: walk([(300, 300), (340, 300), (500, 300), (500, 300)])}))
    assert (h, s) == ({}, {}) and len(exits) == 1


def test_two_people_counted_separately_and_visit_is_one_exit_with_grace():
    a = walk(line_path((150, 300), (450, 300), 31))
    b = walk(line_path((300, 450), (300, 150), 31), t0=1.0)
    # c steps out for 0.5 s (under the 1 s exit grace) and back: one visit, one exit, net heading e
    c_pts = (
        [(250.0 + 5 * i, 300.0) for i in range(10)]
        + [(420.0, 300.0)] * 5
        + [(300.0 + 10 * i, 350.0) for i in range(20)]
    )
    c = walk(c_pts, t0=0.05)
    h, _, exits = run_zone(stream({1: a, 2: b, 3: c}))
    assert h == {"e": 2, "n": 1}
    assert sum(len(e[1]) for e in exits) == 3


def test_slot_reused_in_the_same_frame_reads_the_old_visit_first():
    z, m = zone_and_motion()
    t = 0.0
    z.update(frame(t, [(0, box_at(210, 300), True, True)], started=[0]))
    m.update(frame(t, [(0, box_at(210, 300), True, True)], started=[0]), z.events)
    for i in range(1, 20):  # walks east 180 px = 1.8 m in 1.9 s
        tu = frame(i * 0.1, [(0, box_at(210 + 10 * i, 300), True, False)])
        z.update(tu)
        m.update(tu, z.events)
    # the track ends and a new one takes slot 0 in the same frame, inside the zone
    tu = frame(2.0, [(0, box_at(300, 390), False, False)], started=[0], ended=[(0, True)])
    z.update(tu)
    assert z.events.exited.tolist() == [0] and z.events.exited_early == 1
    m.update(tu, z.events)
    heading, speed = m.drain()
    assert heading[HEADINGS.index("e")] == 1 and heading.sum() == 1
    assert speed[SPEED_BANDS.index("normal")] == 1  # 1.8 m / 1.9 s
    assert z.events.entered.tolist() == [True]  # the new track's visit began


def test_line_last_counted_lists_each_counted_crossing():
    line = LineCounter("door", (0, 240), (640, 240), 8, band_px=5)
    # two tentative tracks cross down (out of the left-hand "in" side), confirmed later; one crosses back
    a = walk([(100, 200), (100, 300), (100, 300), (100, 200)], confirm_at=2)
    b = walk([(300, 200), (300, 300), (300, 300), (300, 300)], confirm_at=2)
    events = []
    for tu in stream({1: a, 2: b}):
        n_in, n_out = line.update(tu)
        slots, codes = line.last_counted
        assert len(slots) == n_in + n_out and np.isin(slots, tu.slot).all()
        events.append(sorted(zip(slots.tolist(), codes.tolist(), strict=True)))
    assert events[:4] == [[], [], [(0, OUT), (1, OUT)], [(0, IN)]]


def groups_of(tracks: dict, settings: MovementSettings = PPM, *, flush: bool = True) -> dict[str, int]:
    line = LineCounter("door", (0, 240), (640, 240), 16, band_px=5)
    g = LineGroups("door", settings)
    for tu in stream(tracks, capacity=16):
        line.update(tu)
        g.update(tu, line)
    if flush:
        g.flush()
    counts = g.drain()
    return {GROUP_SIZES[i]: int(n) for i, n in enumerate(counts) if n}


def down(x: float, t0: float) -> list:
    """A person crossing the line y=240 downwards at x, counted at t0 + 0.1."""
    return walk([(x, 200.0), (x, 280.0), (x, 320.0)], t0=t0)


@pytest.mark.parametrize(
    ("people", "expected"),
    [
        pytest.param([(100, 0.0)], {"1": 1}, id="alone"),
        pytest.param([(100, 0.0), (150, 0.5)], {"2": 1}, id="pair-0.5m"),
        pytest.param([(100, 0.0), (260, 0.5)], {"1": 2}, id="too-far-1.6m"),
        pytest.param([(100, 0.0), (150, 2.5)], {"1": 2}, id="too-late"),
        pytest.param([(100, 0.0), (200, 0.5), (300, 1.0)], {"3": 1}, id="chain-each-1m-from-a-member"),
        pytest.param([(100, 0.0), (130, 0.2), (160, 0.4), (190, 0.6), (220, 0.8)], {"4+": 1}, id="five"),
        pytest.param([(100, 0.0), (150, 0.5), (500, 0.5), (600, 5.0)], {"2": 1, "1": 2}, id="mixed"),
    ],
)
def test_group_sizes(people, expected):
    tracks = {i + 1: down(x, t0) for i, (x, t0) in enumerate(people)}
    assert groups_of(tracks) == expected


def test_opposite_directions_are_different_groups():
    up = walk([(120.0, 320.0), (120.0, 280.0), (120.0, 200.0)], t0=0.0)
    assert groups_of({1: down(100, 0.0), 2: up}) == {"1": 2}


def test_group_is_emitted_once_its_window_passed_and_flush_emits_the_rest():
    tracks = {1: down(100, 0.0), 2: down(150, 0.3), 3: down(400, 10.0)}
    assert groups_of(tracks, flush=False) == {"2": 1}  # the last group's window never passed
    assert groups_of(tracks, flush=True) == {"2": 1, "1": 1}


def test_pending_groups_are_bounded():
    line = LineCounter("door", (0, 240), (640, 240), 64, band_px=5)
    g = LineGroups("door", PPM, max_pending=4)
    tracks = {i + 1: down(20 + 60 * i, 0.0) for i in range(10)}  # 0.6 m apart... but 10 separate groups
    g2 = LineGroups("door", MovementSettings(px_per_metre=100.0, group_distance_m=0.1), max_pending=4)
    for tu in stream(tracks, capacity=64):
        line.update(tu)
        g.update(tu, line)
        g2.update(tu, line)
        assert g2.pending <= 4
    g.flush()
    g2.flush()
    assert int(g.drain()[GROUP_SIZES.index("4+")]) == 1
    assert int(g2.drain().sum()) == 10  # all ten singles emitted, the oldest early


def test_state_is_bounded_arrays_of_capacity():
    z, m = zone_and_motion()
    before = {k: getattr(m, k).shape for k in m.__slots__ if isinstance(getattr(m, k), np.ndarray)}
    for k in range(20):
        run = stream({i: walk(line_path((150, 300 + i), (450, 300), 11), t0=k * 2.0) for i in range(6)})
        for tu in run:
            z.update(tu)
            m.update(tu, z.events)
    after = {k: getattr(m, k).shape for k in m.__slots__ if isinstance(getattr(m, k), np.ndarray)}
    assert before == after and all(s in ((8,), (len(HEADINGS),), (len(SPEED_BANDS),)) for s in after.values())
