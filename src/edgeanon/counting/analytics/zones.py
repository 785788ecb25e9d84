"""Zone occupancy, dwell-time histograms and queue wait estimates, vectorised over one frame's tracks.

- **Occupancy** is instantaneous: confirmed tracks matched in this frame whose anchor (bottom-centre) is
  inside the polygon. Tracks coasting unmatched are not counted: the number is what the camera sees now.
- **Visits and dwell.** A track's visit starts at the first frame its anchor is inside (tentative frames
  included, so the dwell of someone confirmed after walking in is not cut short) and ends when it is seen
  outside and has not been inside for ``exit_grace_s`` (time hysteresis: boundary jitter and a step out and
  back do not split a visit), or when the track ends. The dwell is last-inside minus first-inside time, so a
  track's coasting time before it expires is not added. It is observed only for confirmed tracks; a
  tentative track's visit is dropped like the track.
- **Events.** After each ``update``, ``events`` (a :class:`ZoneEvents`) has the masks ``inside`` and ``entered``
  over this frame's rows (a visit began in this frame, tentative tracks included) and ``exited``, also
  ``last_exited``: the slots of the confirmed visits that ended in this frame, exactly those whose dwell was
  observed, so one visit is one exit event: a track seen outside for ``exit_grace_s``, or a track that ended
  while in a visit. A tentative track's visit ends without an event. The first ``exited_early`` of them are
  tracks whose slot the tracker handed to a new track in this same frame (see ``split_ended``): a consumer
  with per-slot state must read those before resetting ``tu.started``, and the rest after this frame's rows.
- **Histogram.** Dwell times go into fixed buckets (upper bounds in seconds, Prometheus ``le`` style), so the
  exported label values are a fixed list in the code, never data.
- **Queue zones** also keep the last ``queue_samples`` dwell times with their observation times (no track
  ids) in a ring buffer. ``estimated_wait_s`` is the median dwell of people who *left* the queue zone in the
  last ``queue_window_s`` seconds: robust to a few passers-by and lost tracks, but it lags behind a queue that
  is suddenly growing, and is ``None`` when nobody left recently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from edgeanon.counting.analytics._lifecycle import split_ended
from edgeanon.counting.analytics.geometry import FrameSize, Polygon, ground_xy
from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.counting.tracks import TrackUpdate

_NO_SLOTS = np.zeros(0, np.int64)
_NO_SLOTS.flags.writeable = False
_NO_ROWS = np.zeros(0, bool)
_NO_ROWS.flags.writeable = False


@dataclass(frozen=True, slots=True)
class DwellHistogram:
    """Dwell observations since the last drain: per-bucket counts (not cumulative) and their sum."""

    bounds: tuple[float, ...]
    counts: npt.NDArray[np.int64]
    sum_s: float

    @property
    def count(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True, slots=True)
class ZoneEvents:
    """One ``ZoneAnalytics.update``'s events; arrays are only valid until the next update.

    - ``inside``, ``entered``: (n,) masks over the frame's rows: anchor inside; a visit began in this frame.
    - ``exited``: slots of the confirmed visits that ended in this frame (one event per visit, exactly the
      visits whose dwell was observed).
    - ``exited_early``: the first this many of ``exited`` are tracks whose slot a new track took over in this
      same frame; read their per-slot state before resetting ``tu.started``, the rest after the rows.
    """

    inside: npt.NDArray[np.bool_]
    entered: npt.NDArray[np.bool_]
    exited: npt.NDArray[np.int64]
    exited_early: int


class ZoneAnalytics:
    """Occupancy and dwell for one polygon; per-track state is three arrays of length ``capacity``."""

    __slots__ = (
        "_bounds",
        "_counts",
        "_entry_t",
        "_events",
        "_grace",
        "_in_visit",
        "_last_in",
        "_now",
        "_q_dwell",
        "_q_i",
        "_q_t",
        "_sum",
        "_window",
        "name",
        "occupancy",
        "polygon",
        "queue",
    )

    def __init__(
        self,
        name: str,
        polygon: Polygon | npt.ArrayLike,
        capacity: int,
        frame_size: FrameSize,
        *,
        queue: bool = False,
        dwell_buckets: tuple[float, ...] = DWELL_BUCKETS_S,
        exit_grace_s: float = 1.0,
        queue_window_s: float = 600.0,
        queue_samples: int = 64,
    ) -> None:
        if capacity <= 0 or queue_samples <= 0:
            raise ValueError(f"zone {name!r}: capacity and queue_samples must be positive")
        b = tuple(float(x) for x in dwell_buckets)
        if not b or b[-1] != math.inf or any(x >= y for x, y in pairwise(b)):
            raise ValueError(f"zone {name!r}: dwell buckets must increase and end with inf, got {dwell_buckets}")
        self.name = name
        self.polygon = polygon if isinstance(polygon, Polygon) else Polygon(polygon, frame_size)
        if self.polygon.frame_size != (int(frame_size[0]), int(frame_size[1])):
            raise ValueError(f"zone {name!r}: polygon was built for {self.polygon.frame_size}, not {frame_size}")
        self.queue = queue
        self._bounds = b
        self._grace = float(exit_grace_s)
        self._window = float(queue_window_s)
        self._in_visit = np.zeros(capacity, bool)
        self._entry_t = np.zeros(capacity, np.float64)
        self._last_in = np.zeros(capacity, np.float64)
        self._counts = np.zeros(len(b), np.int64)
        self._sum = 0.0
        self._q_dwell = np.zeros(queue_samples, np.float64)
        self._q_t = np.full(queue_samples, np.nan)  # NaN: empty, never "recent"
        self._q_i = 0
        self._now = -math.inf
        self.occupancy = 0
        self._events = ZoneEvents(_NO_ROWS, _NO_ROWS, _NO_SLOTS, 0)

    @property
    def queue_length(self) -> int:
        """People in the zone now (the occupancy, under its queue name)."""
        return self.occupancy

    @property
    def estimated_wait_s(self) -> float | None:
        """Median dwell of those who left this queue zone within the last ``queue_window_s``; None if none."""
        recent = self._q_dwell[self._q_t >= self._now - self._window]
        return float(np.median(recent)) if recent.size else None

    @property
    def wait_samples(self) -> int:
        """How many people's dwell ``estimated_wait_s`` is the median of (the aggregator hides it below k)."""
        return int(np.count_nonzero(self._q_t >= self._now - self._window))

    def drain_dwell(self) -> DwellHistogram:
        """Dwell observations since the previous drain, for the aggregator's time bucket."""
        out = DwellHistogram(self._bounds, self._counts.copy(), self._sum)
        self._counts[:] = 0
        self._sum = 0.0
        return out

    def _observe(self, dwell: npt.NDArray[np.float64], t: float) -> None:
        np.add.at(self._counts, np.searchsorted(self._bounds, dwell, side="left"), 1)
        self._sum += float(dwell.sum())
        if self.queue:
            k = len(self._q_dwell)
            dwell = dwell[-k:]
            idx = (self._q_i + np.arange(dwell.size)) % k
            self._q_dwell[idx] = dwell
            self._q_t[idx] = t
            self._q_i = (self._q_i + dwell.size) % k

    def _end(self, slots: npt.NDArray[np.int64], confirmed: npt.NDArray[np.bool_], t: float) -> npt.NDArray[np.int64]:
        """End the visits of ended tracks; returns the slots of the confirmed visits observed."""
        if not slots.size:
            return _NO_SLOTS
        visiting = self._in_visit[slots] & confirmed
        s = _NO_SLOTS
        if np.count_nonzero(visiting):
            s = slots[visiting]
            self._observe(self._last_in[s] - self._entry_t[s], t)
        self._in_visit[slots] = False
        return s

    def update(self, tu: TrackUpdate) -> int:
        """Advance one frame; returns the occupancy (also kept in ``.occupancy``)."""
        t = tu.t
        self._now = t
        (early, early_c), (late, late_c) = split_ended(tu)
        first = self._end(early, early_c, t)
        self._in_visit[tu.started] = False
        inside = entered = _NO_ROWS
        left = _NO_SLOTS
        if len(tu.dets):
            self.occupancy, inside, entered, left = self._rows(tu)
        else:
            self.occupancy = 0
        last = self._end(late, late_c, t)
        exited = np.concatenate([first, left, last]) if first.size + last.size else left
        self._events = ZoneEvents(inside, entered, exited, int(first.size))
        return self.occupancy

    @property
    def events(self) -> ZoneEvents:
        """What happened in the last ``update`` (see the module docstring, "Events")."""
        return self._events

    @property
    def last_exited(self) -> npt.NDArray[np.int64]:
        """Slots of the confirmed visits that ended in the last ``update`` (one per visit)."""
        return self._events.exited

    def _rows(self, tu: TrackUpdate) -> tuple[int, npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Per-row inside/entered masks, plus the slots whose visit ended by walking out (a per-frame result,
        returned rather than kept, so the object's state is exactly its fixed per-slot arrays)."""
        t, slot = tu.t, tu.slot
        left_slots = _NO_SLOTS
        inside = self.polygon.contains_xy(*ground_xy(tu.dets.xyxy))
        was = self._in_visit[slot]
        entered = inside & ~was
        self._entry_t[slot[entered]] = t
        s_in = slot[inside]
        self._last_in[s_in] = t
        self._in_visit[s_in] = True
        away = was & ~inside
        if np.count_nonzero(away):
            left = away & (t - self._last_in[slot] >= self._grace)
            self._in_visit[slot[left]] = False
            seen = left & tu.confirmed
            if np.count_nonzero(seen):
                s = slot[seen]
                self._observe(self._last_in[s] - self._entry_t[s], t)
                left_slots = s
        return int(np.count_nonzero(inside & tu.confirmed)), inside, entered, left_slots
