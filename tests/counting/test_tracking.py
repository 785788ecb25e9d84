"""Tracker behaviour on synthetic detection sequences: ids, lifecycle, bounded slots, timing by seconds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgeanon.counting.detections import Detections
from edgeanon.counting.tracking import Tracker, TrackerSettings, greedy_match, iou_matrix
from edgeanon.counting.tracks import TrackUpdate

FPS = 10.0
W, H = 40.0, 100.0  # person box size in pixels


def boxes(centres: np.ndarray | list, w: float = W, h: float = H) -> np.ndarray:
    c = np.asarray(centres, np.float64).reshape(-1, 2)
    half = np.array([w / 2, h / 2])
    return np.concatenate([c - half, c + half], axis=1).astype(np.float32)


def dets(centres: np.ndarray | list, score: float | list = 0.9) -> Detections:
    b = boxes(centres)
    return Detections(b, np.broadcast_to(np.asarray(score, np.float32), (len(b),)).copy())


def walk(start: tuple[float, float], vel: tuple[float, float], t: float, rng: np.random.Generator, noise: float = 1.5):
    """Centre of a person walking at constant velocity (px/s), with detector jitter."""
    return np.asarray(start) + np.asarray(vel) * t + rng.normal(0.0, noise, 2)


def one_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(iou_matrix(a.astype(np.float64), b.astype(np.float64))[0, 0])


def ids_of(u: TrackUpdate) -> list[int]:
    assert u.dets.track_id is not None
    return u.dets.track_id.tolist()


# --- helpers: IoU and greedy assignment ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 1 / 3),
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),  # touching edges
        ([5, 5, 5, 5], [5, 5, 5, 5], 0.0),  # zero area: no NaN
    ],
)
def test_iou_matrix_values(a, b, expected):
    got = iou_matrix(np.array([a], np.float64), np.array([b], np.float64))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("margin", "expected"),
    [
        ((0.0, 0.0), 0.0),
        ((5.0, 5.0), 0.0),  # grown boxes just touch
        ((10.0, 0.0), 100 / 500),  # [-10, 0, 20, 10] vs [10, 0, 40, 10]
        ((10.0, 10.0), 300 / 1500),  # [-10, -10, 20, 20] vs [10, -10, 40, 20]
    ],
)
def test_buffered_iou_grows_both_boxes(margin, expected):
    a = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float64)
    b = np.array([[20, 0, 30, 10]], np.float64)
    got = iou_matrix(a, b, np.array([margin], np.float64))
    assert got[0, 0] == pytest.approx(expected)
    assert got[1, 0] == pytest.approx(1.0)  # identical boxes stay at IoU 1 whatever the buffer


def _reference_greedy(iou: np.ndarray, gate: float) -> set[tuple[int, int]]:
    """Textbook greedy: take pairs in descending IoU, skip used rows/cols."""
    used_r: set[int] = set()
    used_c: set[int] = set()
    out = set()
    for r, c in sorted(itertools.product(*map(range, iou.shape)), key=lambda rc: -iou[rc]):
        if iou[r, c] >= gate and iou[r, c] > 0 and r not in used_r and c not in used_c:
            out.add((r, c))
            used_r.add(r)
            used_c.add(c)
    return out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (6, 4), (9, 9)])
def test_greedy_match_equals_textbook_greedy(seed, shape):
    rng = np.random.default_rng(seed)
    # Sparse-ish random IoU matrices with chains of competing pairs, values distinct.
    iou = rng.uniform(0, 1, shape) * (rng.uniform(0, 1, shape) < 0.6)
    rows, cols = greedy_match(iou, 0.3)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == _reference_greedy(iou, 0.3)


def test_greedy_match_ties_and_empty():
    rows, cols = greedy_match(np.full((3, 3), 0.5), 0.3)
    assert len(rows) == 3 and sorted(rows.tolist()) == [0, 1, 2] and sorted(cols.tolist()) == [0, 1, 2]
    assert greedy_match(np.zeros((0, 4)), 0.3)[0].shape == (0,)
    assert greedy_match(np.full((2, 2), 0.2), 0.3)[0].shape == (0,)


# --- lifecycle ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("vel", [(0.0, 0.0), (80.0, 0.0), (-60.0, 40.0)])
def test_steady_single_track_keeps_one_id(vel):
    rng = np.random.default_rng(1)
    tr = Tracker()
    seen_ids, seen_slots, started = set(), set(), 0
    for k in range(60):
        t = k / FPS
        u = tr.update(dets([walk((400, 300), vel, t, rng)]), t)
        assert len(u.dets) == 1
        seen_ids.update(ids_of(u))
        seen_slots.update(u.slot.tolist())
        started += len(u.started)
        assert len(u.ended) == 0
    assert len(seen_ids) == 1 and len(seen_slots) == 1 and started == 1
    assert tr.active == 1


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_confirmation_after_exactly_n_hits(n):
    rng = np.random.default_rng(2)
    tr = Tracker(TrackerSettings(confirm_hits=n))
    confirmed, just = [], []
    for k in range(12):
        u = tr.update(dets([walk((300, 300), (50, 0), k / FPS, rng)]), k / FPS)
        confirmed.append(bool(u.confirmed[0]))
        just.append(bool(u.just_confirmed[0]))
    assert confirmed == [k >= n - 1 for k in range(12)]
    assert just == [k == n - 1 for k in range(12)]


@pytest.mark.parametrize("flicker_frames", [1, 2])
def test_flicker_never_confirms_and_its_slot_ends(flicker_frames):
    rng = np.random.default_rng(3)
    tr = Tracker()  # confirm_hits=3 > flicker_frames
    flicker_slot = None
    for k in range(20):
        t = k / FPS
        centres = [walk((200, 300), (60, 0), t, rng)]
        if 5 <= k < 5 + flicker_frames:
            centres.append([900.0, 500.0])
        u = tr.update(dets(centres), t)
        if k == 5:
            (flicker_slot,) = u.started.tolist()
        if flicker_slot is not None and flicker_slot in u.slot.tolist():
            assert not u.confirmed[u.slot.tolist().index(flicker_slot)]
        if k == 5 + flicker_frames:
            assert u.ended.tolist() == [flicker_slot]
            assert u.ended_confirmed.tolist() == [False]
        else:
            assert len(u.ended) == 0
    assert flicker_slot is not None
    assert tr.active == 1


@pytest.mark.parametrize("gap", [1, 3, 8])
def test_short_miss_is_reacquired_with_same_id_and_slot(gap):
    rng = np.random.default_rng(4)
    vel = (80.0, 0.0)
    # With gap=8 the person moves 72 px (> box width) while unseen: only the motion model can re-acquire.
    tr = Tracker()
    rows = []
    for k in range(40):
        t = k / FPS
        visible = not (20 <= k < 20 + gap)
        u = tr.update(dets([walk((100, 300), vel, t, rng)] if visible else []), t)
        assert len(u.ended) == 0
        if k > 0:
            assert len(u.started) == 0
        rows.extend(zip(ids_of(u), u.slot.tolist(), strict=True))
        assert len(u.dets) == int(visible)
    assert len(set(rows)) == 1
    assert len(rows) == 40 - gap


def test_long_miss_ends_confirmed_track_and_later_detection_gets_new_id():
    fps = 8.0  # 0.125 s steps are exact in binary, so the max_age boundary is exact
    tr = Tracker(TrackerSettings(max_age=1.0))
    ended_at = []
    first_id = None
    for k in range(30):
        t = k / fps
        centre = [[300.0, 300.0]]
        u = tr.update(dets(centre if k < 10 or k >= 25 else []), t)
        if k == 0:
            (first_id,) = ids_of(u)
        if len(u.ended):
            ended_at.append(k)
            assert u.ended_confirmed.tolist() == [True]
        if k == 25:
            (new_id,) = ids_of(u)
            assert new_id > first_id
            assert len(u.started) == 1 and not u.confirmed[0]
    # Last seen at k=9: unseen for exactly 1.0 s at k=17 (kept), 1.125 s at k=18 (ended).
    assert ended_at == [18]


@pytest.mark.parametrize(("dy", "occlude"), [(0.0, False), (12.0, False), (0.0, True), (12.0, True)])
def test_two_people_crossing_keep_their_ids(dy, occlude):
    rng = np.random.default_rng(5)
    tr = Tracker()
    a_start, a_vel = (100.0, 300.0), (100.0, 0.0)
    b_start, b_vel = (503.0, 300.0 + dy), (-100.0, 0.0)
    max_overlap = 0.0
    first = last = None
    for k in range(41):
        t = k / FPS
        a, b = walk(a_start, a_vel, t, rng), walk(b_start, b_vel, t, rng)
        overlap = one_iou(boxes([a]), boxes([b]))
        max_overlap = max(max_overlap, overlap)
        centres = [a] if occlude and overlap > 0.4 else [a, b]
        u = tr.update(dets(centres), t)
        by_x = dict(zip(u.dets.xyxy[:, 0].tolist(), ids_of(u), strict=True))
        if k == 5:
            first = [by_x[x] for x in sorted(by_x)]  # [left, right] = [A, B]
        if k == 40:
            last = [by_x[x] for x in sorted(by_x)]  # [left, right] = [B, A]
    assert max_overlap > 0.5  # the boxes really did overlap heavily
    assert first is not None and last is not None and last == first[::-1]
    assert tr.active == 2


# --- two-stage association ----------------------------------------------------------------------------


@pytest.mark.parametrize("score", [0.05, 0.3, 0.49, 0.55])
def test_detections_below_new_track_score_never_start_tracks(score):
    tr = Tracker()  # low 0.1, high 0.5, new_track 0.6
    for k in range(20):
        u = tr.update(dets([[300.0, 300.0]], score), k / FPS)
        assert len(u.dets) == 0 and len(u.started) == 0
    assert tr.active == 0


def test_weak_detections_extend_an_existing_track():
    rng = np.random.default_rng(6)
    tr = Tracker()
    seen = []
    for k in range(30):
        t = k / FPS
        score = 0.3 if 10 <= k < 20 else 0.9
        u = tr.update(dets([walk((100, 300), (50, 0), t, rng)], score), t)
        assert len(u.dets) == 1
        assert u.dets.score[0] == pytest.approx(score)
        seen.extend(ids_of(u))
    assert len(set(seen)) == 1


def test_weak_detection_does_not_revive_a_lost_track():
    tr = Tracker()
    for k in range(10):
        tr.update(dets([[300.0, 300.0]]), k / FPS)
    (tid,) = ids_of(tr.update(dets([[300.0, 300.0]]), 1.0))
    tr.update(Detections.empty(), 1.1)  # now lost (not matched in the previous update)
    for k in range(12, 15):
        u = tr.update(dets([[300.0, 300.0]], 0.3), k / FPS)
        assert len(u.dets) == 0
    u = tr.update(dets([[300.0, 300.0]], 0.9), 1.5)
    assert ids_of(u) == [tid]


@pytest.mark.parametrize(
    ("score", "shift", "matched"),
    [
        (0.9, 17.0, True),  # IoU 0.40 >= match_iou 0.3
        (0.3, 17.0, False),  # IoU 0.40 < low_match_iou 0.5
        (0.3, 10.0, True),  # IoU 0.60 >= low_match_iou
        (0.9, 28.0, False),  # IoU 0.18 < match_iou
    ],
)
def test_stage_gates(score, shift, matched):
    tr = Tracker()
    for k in range(10):
        tr.update(dets([[300.0, 300.0]]), k / FPS)
    d = dets([[300.0 + shift, 300.0]], score)
    assert (one_iou(d.xyxy, boxes([[300, 300]])) >= (0.3 if score >= 0.5 else 0.5)) == matched
    u = tr.update(d, 1.0)
    assert (len(u.dets) == 1 and len(u.started) == 0) == matched


# --- bounded state ------------------------------------------------------------------------------------


def _array_bytes(tr: Tracker) -> int:
    return sum(v.nbytes for v in vars(tr).values() if isinstance(v, np.ndarray))


def test_ten_thousand_people_use_few_slots():
    """40 lanes; in each lane a new person walks in every 4 frames and is seen for 3 frames."""
    lanes, period, visible, people = 40, 4, 3, 10_000
    tr = Tracker(TrackerSettings(max_age=0.3))
    assert not any(isinstance(v, (list, dict, set)) for v in vars(tr).values())
    bytes_before = _array_bytes(tr)
    lane_y = 100.0 + 120.0 * np.arange(lanes)
    offset = np.arange(lanes) % period  # stagger lanes
    n_frames = people // lanes * period
    ids: set[int] = set()
    max_slot = max_active = confirmed = ended = 0
    for k in range(n_frames + 10):
        age = (k - offset) % period
        on = (age < visible) & (k - offset >= 0) & (k - age < n_frames)
        centres = np.stack([200.0 + 10.0 * age[on], lane_y[on]], axis=1)
        u = tr.update(dets(centres), k / FPS)
        assert len(u.dets) == on.sum()
        ids.update(ids_of(u))
        if len(u.slot):
            max_slot = max(max_slot, int(u.slot.max()))
        max_active = max(max_active, tr.active)
        confirmed += int(u.just_confirmed.sum())
        ended += len(u.ended)
        assert u.ended_confirmed.all()
    assert len(ids) == people and confirmed == people and ended == people
    assert max_active <= 2 * lanes and max_slot < 3 * lanes
    assert tr.active == 0 and tr.overflow == 0
    assert _array_bytes(tr) == bytes_before


def test_capacity_overflow_is_counted_not_grown():
    tr = Tracker(TrackerSettings(capacity=4, max_age=0.3))
    bytes_before = _array_bytes(tr)
    centres = np.array([[100.0 + 150.0 * i, 300.0] for i in range(7)])
    scores = [0.7, 0.95, 0.65, 0.9, 0.85, 0.75, 0.8]  # the four best are people 1, 3, 4, 6
    u = tr.update(dets(centres, scores), 0.0)
    assert sorted(u.dets.score.tolist()) == pytest.approx([0.8, 0.85, 0.9, 0.95])
    assert tr.overflow == 3 and tr.active == 4
    for k in range(1, 5):
        u = tr.update(dets(centres, scores), k / FPS)
        assert tr.overflow == 3 * (k + 1) and tr.active == 4 and len(u.dets) == 4
    # The tracked four leave; their confirmed tracks hold the slots for max_age, then end, and only in the
    # following update do the slots go to the three people still waiting.
    rest = [0, 2, 5]
    for k in range(5, 15):
        u = tr.update(dets(centres[rest], [scores[i] for i in rest]), k / FPS)
        if len(u.ended):
            assert len(u.started) == 0 and len(u.dets) == 0
            ended_slots = set(u.ended.tolist())
        elif len(u.started):
            assert set(u.started.tolist()) <= ended_slots
            assert len(u.dets) == 3
            break
    else:
        pytest.fail("waiting people were never tracked")
    assert _array_bytes(tr) == bytes_before


def test_ended_slot_is_not_reused_in_the_same_update():
    tr = Tracker(TrackerSettings(capacity=1))
    u0 = tr.update(dets([[100.0, 300.0]]), 0.0)  # tentative track in slot 0
    u1 = tr.update(dets([[700.0, 300.0]]), 0.1)  # it misses and ends; the newcomer must wait
    assert u1.ended.tolist() == u0.started.tolist() == [0]
    assert len(u1.started) == 0 and len(u1.dets) == 0 and tr.overflow == 1
    u2 = tr.update(dets([[700.0, 300.0]]), 0.2)
    assert u2.started.tolist() == [0] and ids_of(u2) != ids_of(u0)


# --- time, reset, edge cases --------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["every_third_frame", "irregular"])
def test_skipped_frames_associate_by_elapsed_time(pattern):
    rng = np.random.default_rng(7)
    vel = (150.0, 0.0)
    times = list(np.arange(10) / FPS)  # warm-up at 10 fps so the velocity is known
    steps = [0.3] * 15 if pattern == "every_third_frame" else rng.choice([0.1, 0.2, 0.3], 20).tolist()
    for dt in steps:
        times.append(times[-1] + dt)
    # A 0.3 s gap moves the box 45 px > its width, and a per-frame (0.1 s) prediction leaves 30 px: IoU 0.14.
    assert one_iou(boxes([[0, 0]]), boxes([[45, 0]])) < 0.3
    assert one_iou(boxes([[0, 0]]), boxes([[30, 0]])) < 0.3
    tr = Tracker()
    seen = []
    for t in times:
        u = tr.update(dets([walk((100, 300), vel, t, rng, noise=1.0)]), t)
        seen.extend(ids_of(u))
    assert len(seen) == len(times) and len(set(seen)) == 1


@pytest.mark.parametrize(("speed", "buffer", "confirms"), [(80.0, 1.0, True), (150.0, 1.0, True), (120.0, 0.0, False)])
def test_newborn_track_confirms_at_low_frame_rate(speed, buffer, confirms):
    """At 0.3 s per frame a new walker moves most of a box width before the tracker knows its velocity."""
    assert one_iou(boxes([[0, 0]]), boxes([[speed * 0.3, 0]])) < 0.3  # plain IoU cannot link frames 1 and 2
    rng = np.random.default_rng(9)
    tr = Tracker(TrackerSettings(tentative_buffer=buffer))
    seen, confirmed = [], []
    for k in range(12):
        t = 0.3 * k
        u = tr.update(dets([walk((100, 300), (speed, 0), t, rng)]), t)
        seen.extend(ids_of(u))
        confirmed.extend(u.confirmed.tolist())
    assert (len(set(seen)) == 1 and confirmed == [k >= 2 for k in range(12)]) == confirms
    assert any(confirmed) == confirms


def test_reset_ends_everything():
    tr = Tracker()
    people = [[100.0, 300.0], [400.0, 300.0]]
    for k in range(5):
        tr.update(dets(people), k / FPS)
    u = tr.update(dets([*people, [800.0, 300.0]]), 0.5)  # third person is new: tentative
    old_ids = ids_of(u)
    confirmed_by_slot = dict(zip(u.slot.tolist(), u.confirmed.tolist(), strict=True))
    assert list(confirmed_by_slot.values()) == [True, True, False]
    tr.reset()
    assert tr.active == 0
    u = tr.update(dets([*people, [800.0, 300.0]]), 0.6)
    assert dict(zip(u.ended.tolist(), u.ended_confirmed.tolist(), strict=True)) == confirmed_by_slot
    # The people still there get new tracks, new ids and slots that did not just end.
    assert len(u.started) == 3 and not set(u.started.tolist()) & set(u.ended.tolist())
    assert min(ids_of(u)) > max(old_ids)
    assert tr.active == 3
    assert len(tr.update(dets(people), 0.7).ended) == 1  # the third person is gone: tentative ends


def test_empty_detections():
    tr = Tracker()
    u = tr.update(Detections.empty(), 0.0)
    assert len(u.dets) == 0 and u.slot.shape == (0,) and u.started.shape == (0,) and u.ended.shape == (0,)
    assert u.dets.track_id is not None and u.dets.track_id.shape == (0,)
    for k in range(1, 5):
        tr.update(dets([[300.0, 300.0]]), k / FPS)
    empty = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    ended = []
    for k in range(5, 30):
        u = tr.update(empty, k / FPS)
        assert len(u.dets) == 0
        ended.extend(u.ended_confirmed.tolist())
    assert ended == [True] and tr.active == 0


def test_output_is_detection_boxes_in_input_order():
    rng = np.random.default_rng(8)
    tr = Tracker()
    for k in range(12):
        centres = [walk((100, 300), (90, 0), k / FPS, rng), walk((700, 500), (-90, 0), k / FPS, rng)]
        d = dets(centres, [0.8, 0.3 if k >= 5 else 0.9])
        u = tr.update(d, k / FPS)
    np.testing.assert_array_equal(u.dets.xyxy, d.xyxy)  # not the filter's smoothed boxes
    np.testing.assert_array_equal(u.dets.score, d.score)
    assert u.dets.track_id is not None and u.dets.track_id.dtype == np.int64
    assert u.slot.dtype == np.int64 and u.confirmed.all()


@pytest.mark.parametrize(
    "bad_box",
    [[np.nan, 0, 10, 10], [0, 0, np.inf, 10], [10, 10, 10, 50], [10, 50, 30, 20]],
)
def test_invalid_boxes_are_ignored(bad_box):
    tr = Tracker()
    for k in range(8):
        xyxy = np.vstack([boxes([[300.0, 300.0]]), np.array([bad_box], np.float32)])
        u = tr.update(Detections(xyxy, np.array([0.9, 0.9], np.float32)), k / FPS)
        assert len(u.dets) == 1 and np.isfinite(u.dets.xyxy).all()
    assert tr.active == 1 and u.confirmed.all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"low_score": 0.6}, "low_score"),
        ({"new_track_score": 0.4}, "new_track_score"),
        ({"match_iou": 0.0}, "match_iou"),
        ({"low_match_iou": 1.5}, "low_match_iou"),
        ({"confirm_hits": 0}, "confirm_hits"),
        ({"max_age": -1.0}, "max_age"),
        ({"capacity": 0}, "capacity"),
        ({"accel_noise": 0.0}, "noise"),
        ({"tentative_buffer": -1.0}, "tentative_buffer"),
    ],
)
def test_settings_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrackerSettings(**kwargs)
