"""Memory does not grow with the number of people: 100k tracks through capacity-16 analytics."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from edgeanon.counting.analytics import LineCounter, PresenceGrid, ZoneAnalytics
from edgeanon.counting.detections import Detections
from edgeanon.counting.tracks import TrackUpdate

CAPACITY = 16
PER_FRAME = 5  # a track holds its slot for 3 frames (seen, seen, ended), so 15 of 16 slots are busy
FRAME = (640, 480)


def churn(n_tracks: int) -> Iterator[TrackUpdate]:
    """Every track is new, confirmed at once, seen twice (below the line y=240, then above it, inside the zone
    both times) and ended in the third frame; slots are reused from the frame after."""
    free = list(range(CAPACITY))
    by_frame: dict[int, np.ndarray] = {}  # slots of the tracks started in each frame
    none = np.zeros(0, np.int64)
    score = np.ones(2 * PER_FRAME, np.float32)
    ids = np.zeros(2 * PER_FRAME, np.int64)
    x = 100.0 + 100.0 * np.arange(PER_FRAME)
    first = np.stack([x - 20, np.full(PER_FRAME, 160.0), x + 20, np.full(PER_FRAME, 260.0)], axis=1)
    second = first - np.array([0, 40, 0, 40])
    boxes = np.concatenate([first, second]).astype(np.float32)
    started_total, f = 0, 0
    while True:
        ended = by_frame.pop(f - 2, none)
        previous = by_frame.get(f - 1, none)
        started = none
        if started_total < n_tracks:
            started = by_frame[f] = np.array([free.pop(0) for _ in range(PER_FRAME)], np.int64)
            started_total += PER_FRAME
        if not (started.size or previous.size or ended.size):
            return
        n = started.size + previous.size
        yield TrackUpdate(
            dets=Detections(
                np.concatenate([boxes[: started.size], boxes[PER_FRAME : PER_FRAME + previous.size]]),
                score[:n],
                ids[:n],
            ),
            slot=np.concatenate([started, previous]),
            confirmed=np.ones(n, bool),
            just_confirmed=np.concatenate([np.ones(started.size, bool), np.zeros(previous.size, bool)]),
            started=started,
            ended=ended,
            ended_confirmed=np.ones(ended.size, bool),
            t=0.1 * f,
        )
        free.extend(ended.tolist())
        f += 1


def sizes(obj: object) -> dict[str, object]:
    """Shape and identity of every array and length of every container an analytic holds."""
    out: dict[str, object] = {}
    for name in obj.__slots__:
        v = getattr(obj, name)
        if isinstance(v, np.ndarray):
            out[name] = (v.shape, v.dtype, id(v))
        elif isinstance(v, (list, dict, set, tuple)):
            out[name] = len(v)
    return out


def test_state_stays_bounded_over_100k_tracks():
    n_tracks = 100_000
    line = LineCounter("door", (0, 240), (640, 240), CAPACITY)
    zone = ZoneAnalytics("hall", [(0, 100), (640, 100), (640, 300), (0, 300)], CAPACITY, FRAME, queue=True)
    grid = PresenceGrid(4, 4, FRAME)
    analytics = (line, zone, grid)
    before = [sizes(a) for a in analytics]
    assert all(any(isinstance(v, tuple) and v[0] == (CAPACITY,) for v in s.values()) for s in before[:2])
    for k, tu in enumerate(churn(n_tracks)):
        for a in analytics:
            a.update(tu)
        if k % 5000 == 0:
            assert [sizes(a) for a in analytics] == before
    assert [sizes(a) for a in analytics] == before
    # every track crossed once and visited the zone once: slot reuse never leaked or lost state
    assert (line.total_in, line.total_out) == (n_tracks, 0)
    dwell = zone.drain_dwell()
    assert dwell.count == n_tracks
    assert grid.drain().sum() == 2 * n_tracks


def test_zone_state_is_its_fixed_arrays_when_people_walk_out():
    """A visit ended by walking out (not by the track ending) leaves no per-frame array behind: the soak's
    constant-state check once saw 8 extra bytes, one slot of such an event kept between frames."""
    zone = ZoneAnalytics("hall", [(0, 100), (640, 100), (640, 300), (0, 300)], CAPACITY, FRAME, exit_grace_s=0.0)
    before = sizes(zone)
    slot = np.array([3], np.int64)
    one = np.ones(1, bool)
    no = np.zeros(0, np.int64)
    walked_out = 0
    for f, y in enumerate((250.0, 250.0, 400.0, 400.0)):  # inside twice, then outside (anchor = bottom edge)
        box = np.array([[300, y - 100, 340, y]], np.float32)
        tu = TrackUpdate(
            dets=Detections(box, np.ones(1, np.float32), np.zeros(1, np.int64)),
            slot=slot,
            confirmed=one,
            just_confirmed=one if f == 0 else ~one,
            started=slot if f == 0 else no,
            ended=no,
            ended_confirmed=np.zeros(0, bool),
            t=0.1 * f,
        )
        zone.update(tu)
        walked_out += zone.last_exited.size
        assert sizes(zone) == before
    assert walked_out == 1 and zone.drain_dwell().count == 1
