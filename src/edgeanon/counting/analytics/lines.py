"""Directional line crossing counts, vectorised over one frame's tracks, with bounded per-slot state.

Semantics, all per track (a track is one tracker life; a re-acquired person is a new track):

- **Side.** The ground point's signed distance to the infinite line a->b decides its side, but only beyond
  ``band_px``: inside the band the previous side holds (hysteresis), so jitter or a person standing on the line
  never counts. A track's first out-of-band position is its initial side, with no crossing: a person first
  seen already past the line (a new track after an ID switch, someone stepping out of occlusion) counts
  nothing.
- **Crossing.** An out-of-band side change. It counts only if the straight path between the last out-of-band
  position on the old side and the first on the new side meets the line within the segment (``margin_px``
  either side of its ends), so walking round the end of a short line counts nothing.
- **Direction.** "in" is the left-hand side of a walker going from ``a`` to ``b`` as seen on screen (for
  a=(0, 0), b=(10, 0) that is y < 0: image y points down); ``in_side="right"`` swaps it. out->in counts
  ``in``; in->out counts ``out``. Each track counts at most one ``in`` and one ``out``, however often it goes
  back and forth, so hovering at a doorway cannot inflate counts.
- **Confirmation.** Crossings made while a track is tentative are remembered in its slot and counted in the
  frame it becomes confirmed (people entering at a frame edge cross before the tracker trusts them); they are
  dropped if it ends unconfirmed, so detector flicker gives no phantom counts.
- **Frame edges.** With ``frame_size`` given, ground points come from :func:`geometry.ground_xy`, which
  estimates where a person whose box is clipped by the left, right or bottom border really stands (full width
  from the height and an assumed aspect ratio). A person entering across a line drawn at the very edge is then
  first seen on its outer side and counts, and one leaving counts as their estimated feet pass it; without the
  correction their clipped anchor (half the *visible* width in) is already past the line, so an edge line
  never counts. Someone only ever partly visible along the border stays near the outer side and counts
  nothing. A line near the top border cannot count: feet are never seen above it, so draw such lines at
  least one person height down.
- **Events.** After each ``update``, ``last_counted`` is ``(slots, codes)``: one entry per crossing counted in
  that frame (exactly the crossings in the returned totals), ``codes`` being ``IN`` (1) or ``OUT`` (2). A slot
  appears twice if its ``in`` and its ``out`` are both counted in the frame (both remembered while tentative).
  Every slot is a row of this frame's ``tu.slot``. Consumers (group size, age band and gender per line) read
  it before the next ``update``; it carries no track id.
- **Bounded state.** Side, last position and crossing flags live in arrays of length ``capacity`` indexed by
  slot, reset when the slot starts a track and when it ends; nothing is keyed by track id.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from edgeanon.counting.analytics._lifecycle import split_ended
from edgeanon.counting.analytics.geometry import FrameSize, Visible, ground_xy
from edgeanon.counting.tracks import TrackUpdate

_IN, _OUT = np.uint8(1), np.uint8(2)
IN, OUT = 1, 2
"""Direction codes of ``LineCounter.last_counted``."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_NO_EVENTS = (_frozen(np.zeros(0, np.int64)), _frozen(np.zeros(0, np.uint8)))


class LineCounter:
    """Counts ``in``/``out`` crossings of the segment a->b; state is a few arrays of length ``capacity``."""

    __slots__ = (
        "_aspect",
        "_band",
        "_dir",
        "_flags",
        "_frame_size",
        "_hi",
        "_lo",
        "_s_last",
        "_side",
        "_u_last",
        "a",
        "b",
        "last_counted",
        "name",
        "total_in",
        "total_out",
    )

    def __init__(
        self,
        name: str,
        a: npt.ArrayLike,
        b: npt.ArrayLike,
        capacity: int,
        *,
        band_px: float = 5.0,
        in_side: Literal["left", "right"] = "left",
        margin_px: float = 0.0,
        frame_size: FrameSize | Visible | None = None,
        person_aspect: float = 0.4,
    ) -> None:
        self.name = name
        self.a = np.asarray(a, np.float64).reshape(2)
        self.b = np.asarray(b, np.float64).reshape(2)
        d = self.b - self.a
        length = float(np.hypot(d[0], d[1]))
        if not length > 0:
            raise ValueError(f"line {name!r}: a and b must differ")
        if in_side not in ("left", "right"):
            raise ValueError(f"line {name!r}: in_side must be 'left' or 'right', got {in_side!r}")
        if band_px < 0 or margin_px < 0 or capacity <= 0:
            raise ValueError(f"line {name!r}: band_px, margin_px must be >= 0 and capacity > 0")
        # (p - a) . _dir[0] is u in [0, 1] along the segment; (p - a) . _dir[1] is the signed distance
        normal = np.array([d[1], -d[0]]) / length  # screen-left of a->b when y points down
        if in_side == "right":
            normal = -normal
        self._dir = ((float(d[0]) / length**2, float(d[1]) / length**2), (float(normal[0]), float(normal[1])))
        self._band = float(band_px)
        self._lo = -margin_px / length
        self._hi = 1.0 + margin_px / length
        self._frame_size = frame_size
        self._aspect = person_aspect
        self._side = np.zeros(capacity, np.int8)  # +1 in side, -1 out side, 0 not yet seen out of band
        self._u_last = np.zeros(capacity, np.float64)  # last out-of-band position: along the segment
        self._s_last = np.zeros(capacity, np.float64)  # ... and signed distance
        self._flags = np.zeros(capacity, np.uint8)  # _IN/_OUT crossed (maybe unconfirmed), << 2: counted
        self.total_in = 0
        self.total_out = 0
        self.last_counted: tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]] = _NO_EVENTS

    def _reset(self, slots: npt.NDArray[np.int64]) -> None:
        if slots.size:
            self._side[slots] = 0
            self._flags[slots] = 0

    def update(self, tu: TrackUpdate) -> tuple[int, int]:
        """Advance one frame; returns the (in, out) counted in it. Slots of one frame must be distinct."""
        _, (late, _) = split_ended(tu)  # ending only resets a slot, so a reused slot needs nothing early
        self._reset(tu.started)
        self.last_counted = _NO_EVENTS
        n_in = n_out = 0
        if len(tu.dets):
            n_in, n_out = self._rows(tu)
        self._reset(late)  # counted crossings are final; tentative ones die with the track
        return n_in, n_out

    def _rows(self, tu: TrackUpdate) -> tuple[int, int]:
        slot = tu.slot
        x, y = ground_xy(tu.dets.xyxy, self._frame_size, aspect=self._aspect)
        x, y = x - self.a[0], y - self.a[1]
        (du, dv), (nu, nv) = self._dir
        u = x * du + y * dv  # position along the segment, 0 at a and 1 at b
        s = x * nu + y * nv  # signed distance, positive on the "in" side
        new = (s > self._band).view(np.int8) - (s < -self._band).view(np.int8)
        old = self._side[slot]
        flags = self._flags[slot]
        turned = new * old < 0
        if np.count_nonzero(turned):
            u0, s0 = self._u_last[slot], self._s_last[slot]
            with np.errstate(divide="ignore", invalid="ignore"):
                ux = u0 + (u - u0) * (s0 / (s0 - s))  # where the straight path meets the line
            hit = turned & (ux >= self._lo) & (ux <= self._hi)
            flags |= np.where(hit, np.where(new > 0, _IN, _OUT), 0).astype(np.uint8)
        moved = new != 0
        ms = slot[moved]
        self._side[ms] = new[moved]
        self._u_last[ms] = u[moved]
        self._s_last[ms] = s[moved]
        # count what this frame's confirmed tracks have crossed and not yet counted: their fresh crossings
        # and, on the frame they are confirmed, those remembered from their tentative frames
        due = flags & ~(flags >> 2) & (_IN | _OUT)
        due *= tu.confirmed
        self._flags[slot] = flags | (due << 2)
        if not np.count_nonzero(due):
            return 0, 0
        r_in, r_out = np.flatnonzero(due & _IN), np.flatnonzero(due & _OUT)
        n_in, n_out = r_in.size, r_out.size
        codes = np.concatenate([np.full(n_in, IN, np.uint8), np.full(n_out, OUT, np.uint8)])
        self.last_counted = (np.concatenate([slot[r_in], slot[r_out]]), codes)
        self.total_in += n_in
        self.total_out += n_out
        return n_in, n_out
