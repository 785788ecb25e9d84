"""Movement attributes from track motion alone (purpose ``flow``): heading and speed band per zone visit, group
size per line crossing. No extra model, no pixels: only the boxes in a ``TrackUpdate``.

Semantics:

- **Zone visit.** Exactly the visit of :class:`~edgeanon.counting.analytics.zones.ZoneAnalytics` (entry at the first
  inside frame, exit after ``exit_grace_s`` outside or when the track ends; confirmed tracks only), read from
  its ``events``: one visit gives at most one heading and one speed band, emitted when the visit ends.
- **Heading.** The direction of the net ground-point displacement from the first to the last inside position
  of the visit, in 8 screen directions (``bins.HEADINGS``: "n" is up in the image, clockwise, 45 degrees
  each). Net, not path: someone who browses and walks back out where they came in has no meaningful heading.
  A visit whose net displacement is under ``min_move_m`` counts in no heading bin at all.
- **Speed band.** Net displacement / time between the first and last inside frames. Net rather than path
  length because box jitter adds path length to someone standing still (3 px per frame at 10 fps is already
  30 px/s); the cost is that a person who wanders inside the zone counts as slower than they walked, which is
  what "slow" is meant to capture. Visits shorter than ``MIN_SPEED_VISIT_S`` give no speed (one or two frames
  say nothing about speed).
- **Metres.** Pixels become metres with ``px_per_metre`` when configured; otherwise with the person's own box
  height, assumed ``PERSON_HEIGHT_M`` tall (the mean over the visit; for a group the mean of the two people's
  heights). Rough: children, steep views and boxes clipped by the frame bias it by tens of percent.
- **Group size.** Counted crossings of the same line in the same direction join a pending group when they
  come within ``group_window_s`` of the group's first crossing and within ``group_distance_m`` of one of its
  members; otherwise they start a new group. A group is emitted once, binned 1 / 2 / 3 / 4+, in the first
  ``update`` after its window has passed, or by ``flush`` (shutdown, rebuild), so no group is lost.
- **Bounded state.** Per-track values live in arrays of length ``capacity`` indexed by slot, overwritten when
  a visit begins; pending groups are a short list of positions (no slots, no ids), at most ``max_pending``
  groups of at most ``MAX_GROUP_POINTS`` points. Per frame the work is vectorised; Python runs per event only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edgeanon.counting.analytics.geometry import FrameSize, Visible, ground_xy
from edgeanon.counting.analytics.lines import LineCounter
from edgeanon.counting.analytics.zones import ZoneEvents
from edgeanon.counting.bins import GROUP_SIZES, HEADINGS, SPEED_BANDS
from edgeanon.counting.tracks import TrackUpdate

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

PERSON_HEIGHT_M = 1.7
"""Assumed height of a person when no ground-plane scale is configured."""
MIN_SPEED_VISIT_S = 0.5
"""Visits shorter than this give no speed band."""
MAX_GROUP_POINTS = 16
"""Positions kept per pending group (more members still count towards its size)."""


@dataclass(frozen=True, slots=True)
class MovementSettings:
    """Scale and thresholds; see ``config.MovementConfig`` for what each means."""

    px_per_metre: float | None = None
    slow_below_mps: float = 0.5
    fast_above_mps: float = 1.8
    min_move_m: float = 1.0
    group_window_s: float = 2.0
    group_distance_m: float = 1.5

    def __post_init__(self) -> None:
        if self.px_per_metre is not None and not self.px_per_metre > 0:
            raise ValueError("px_per_metre must be positive")
        if not 0 < self.slow_below_mps < self.fast_above_mps:
            raise ValueError("need 0 < slow_below_mps < fast_above_mps")
        if self.min_move_m < 0 or not self.group_window_s > 0 or not self.group_distance_m > 0:
            raise ValueError("min_move_m must be >= 0, group_window_s and group_distance_m > 0")


def heading_bins(dx: F64, dy: F64) -> I64:
    """Index into ``HEADINGS`` of displacements (image y points down, so "n" is dy < 0)."""
    angle = np.degrees(np.arctan2(dx, -dy))  # clockwise from up, -180..180
    return (np.floor((angle + 22.5) / 45.0).astype(np.int64)) % len(HEADINGS)


def speed_bins(mps: F64, slow_below: float, fast_above: float) -> I64:
    """Index into ``SPEED_BANDS``: slow below ``slow_below``, fast above ``fast_above``, normal between."""
    return np.where(mps < slow_below, 0, np.where(mps > fast_above, 2, 1)).astype(np.int64)


def group_bin(size: int) -> int:
    """Index into ``GROUP_SIZES`` (1, 2, 3, 4+)."""
    return min(size, len(GROUP_SIZES)) - 1


class ZoneMotion:
    """Heading histogram and speed bands of one zone's visits; feed it the zone's ``events`` every frame."""

    __slots__ = ("_hn", "_hsum", "_t0", "_t1", "_x0", "_x1", "_y0", "_y1", "heading", "name", "settings", "speed")

    def __init__(self, name: str, capacity: int, settings: MovementSettings = MovementSettings()) -> None:
        if capacity <= 0:
            raise ValueError(f"zone {name!r}: capacity must be positive")
        self.name = name
        self.settings = settings
        self._x0, self._y0, self._t0 = (np.zeros(capacity) for _ in range(3))  # first inside position, time
        self._x1, self._y1, self._t1 = (np.zeros(capacity) for _ in range(3))  # last inside position, time
        self._hsum = np.zeros(capacity)  # sum of box heights while inside (metres from pixels)
        self._hn = np.zeros(capacity)
        self.heading = np.zeros(len(HEADINGS), np.int64)  # visits per heading since the last drain
        self.speed = np.zeros(len(SPEED_BANDS), np.int64)

    def update(self, tu: TrackUpdate, events: ZoneEvents) -> None:
        """Advance one frame, after the zone's own ``update`` produced ``events`` for the same ``tu``."""
        k = events.exited_early
        self._finish(events.exited[:k])  # their slots are about to hold a new track's visit
        if events.inside.size and np.count_nonzero(events.inside):
            b = np.asarray(tu.dets.xyxy, np.float64)
            x, y = ground_xy(b)  # the zone's own anchor, so position and membership agree
            h = b[:, 3] - b[:, 1]
            ent, ins = events.entered, events.inside
            s = tu.slot[ent]
            self._x0[s], self._y0[s], self._t0[s] = x[ent], y[ent], tu.t
            self._hsum[s] = 0.0
            self._hn[s] = 0.0
            s = tu.slot[ins]
            self._x1[s], self._y1[s], self._t1[s] = x[ins], y[ins], tu.t
            self._hsum[s] += h[ins]
            self._hn[s] += 1.0
        self._finish(events.exited[k:])

    def _finish(self, slots: I64) -> None:
        if not slots.size:
            return
        st = self.settings
        dx, dy = self._x1[slots] - self._x0[slots], self._y1[slots] - self._y0[slots]
        if st.px_per_metre is not None:
            m_per_px = np.full(slots.size, 1.0 / st.px_per_metre)
        else:
            mean_h = self._hsum[slots] / np.maximum(self._hn[slots], 1.0)
            m_per_px = PERSON_HEIGHT_M / np.maximum(mean_h, 1.0)
        dist_m = np.hypot(dx, dy) * m_per_px
        moved = dist_m >= st.min_move_m
        if np.count_nonzero(moved):
            np.add.at(self.heading, heading_bins(dx[moved], dy[moved]), 1)
        dt = self._t1[slots] - self._t0[slots]
        timed = dt >= MIN_SPEED_VISIT_S
        if np.count_nonzero(timed):
            np.add.at(self.speed, speed_bins(dist_m[timed] / dt[timed], st.slow_below_mps, st.fast_above_mps), 1)

    def drain(self) -> tuple[I64, I64]:
        """(heading counts, speed band counts) since the previous drain."""
        out = self.heading.copy(), self.speed.copy()
        self.heading[:] = 0
        self.speed[:] = 0
        return out


@dataclass(slots=True)
class _Group:
    code: int  # the line's direction code (lines.IN / lines.OUT)
    t0: float  # time of its first crossing
    size: int = 0
    points: list[tuple[float, float, float]] = field(default_factory=list)  # ground x, y and box height, pixels


class LineGroups:
    """Group sizes of one line's counted crossings; feed it the line's ``last_counted`` every frame."""

    __slots__ = ("_aspect", "_frame_size", "_max_pending", "_pending", "counts", "name", "settings")

    def __init__(
        self,
        name: str,
        settings: MovementSettings = MovementSettings(),
        *,
        frame_size: FrameSize | Visible | None = None,
        person_aspect: float = 0.4,
        max_pending: int = 256,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        self.name = name
        self.settings = settings
        self._frame_size = frame_size
        self._aspect = person_aspect
        self._max_pending = max_pending
        self._pending: list[_Group] = []  # oldest first
        self.counts = np.zeros(len(GROUP_SIZES), np.int64)  # groups per size bin since the last drain

    @property
    def pending(self) -> int:
        return len(self._pending)

    def update(self, tu: TrackUpdate, counter: LineCounter) -> None:
        """Advance one frame, after ``counter.update(tu)``: close groups whose window passed, add the crossings."""
        self._close(tu.t)
        slots, codes = counter.last_counted
        if not slots.size:
            return
        rows = [int(np.flatnonzero(tu.slot == s)[0]) for s in slots.tolist()]  # per event: events are rare
        b = np.asarray(tu.dets.xyxy, np.float64)[rows]
        x, y = ground_xy(b, self._frame_size, aspect=self._aspect)
        h = y - b[:, 1]  # full height, as estimated for a box clipped at the bottom border
        for i, code in enumerate(codes.tolist()):
            self._add(int(code), tu.t, float(x[i]), float(y[i]), float(h[i]))

    def flush(self) -> None:
        """Emit every pending group now (shutdown, rebuild): a group is never lost, only possibly cut short."""
        for g in self._pending:
            self.counts[group_bin(g.size)] += 1
        self._pending.clear()

    def drain(self) -> I64:
        out = self.counts.copy()
        self.counts[:] = 0
        return out

    def _close(self, t: float) -> None:
        window = self.settings.group_window_s
        if self._pending and t - self._pending[0].t0 > window:
            keep = []
            for g in self._pending:
                if t - g.t0 > window:
                    self.counts[group_bin(g.size)] += 1
                else:
                    keep.append(g)
            self._pending = keep

    def _metres(self, a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
        px = math.hypot(a[0] - b[0], a[1] - b[1])
        ppm = self.settings.px_per_metre
        if ppm is not None:
            return px / ppm
        return px * PERSON_HEIGHT_M / max(0.5 * (a[2] + b[2]), 1.0)

    def _add(self, code: int, t: float, x: float, y: float, h: float) -> None:
        p = (x, y, h)
        st = self.settings
        for g in self._pending:
            near = g.code == code and t - g.t0 <= st.group_window_s
            if near and any(self._metres(p, q) <= st.group_distance_m for q in g.points):
                g.size += 1
                if len(g.points) < MAX_GROUP_POINTS:
                    g.points.append(p)
                return
        if len(self._pending) >= self._max_pending:  # bounded: the oldest group is emitted early
            old = self._pending.pop(0)
            self.counts[group_bin(old.size)] += 1
        self._pending.append(_Group(code, t, 1, [p]))
