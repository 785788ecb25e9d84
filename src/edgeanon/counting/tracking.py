"""Ephemeral multi-object tracker in the ByteTrack style, with all state in fixed-size arrays.

Why this shape:

- **Bounded state.** Every per-track quantity is a row of an array of length ``capacity`` (a "slot").
  Slots are reused after a track ends, so memory is fixed at construction however many people pass
  (design invariant 2). When every slot is busy, further detections are not tracked and are counted
  in ``Tracker.overflow``; nothing grows.
- **Two-stage association (ByteTrack), plus a rescue stage for newborn tracks.**
  1. Confident detections (``score >= high_score``) are matched against every live track: tentative,
     confirmed, and confirmed-but-lost within ``max_age``.
  1b. Confident detections left over are matched against tentative tracks still unmatched, with both
     boxes buffered by the predicted position's standard deviation (see ``iou_matrix``). A newborn
     track has no velocity yet; at 3 fps (pacing) a walking person moves about a box width between
     frames, so with plain IoU the track would miss, end, be re-born, and never confirm, i.e. the person
     would never be counted. On the 10 fps test clip taken every third frame this turned 60 ids (22
     confirmed) into 24 ids (21 confirmed). Confirmed tracks never get a buffer, so a lost track does
     not widen its reach to grab a passer-by.
  2. Weak detections (``low_score <= score < high_score``) may then only *extend* tracks matched in the
     previous update and still unmatched: an occluded person keeps their track, but a weak detection
     can neither start a track nor revive a lost one, which keeps phantom tracks (and counts) out.
     Weak detections carry a track for at most ``max_age`` after its last confident match; otherwise a
     track passing a cone or a sign (which the detector scores 0.3-0.4) would stay on it for good.
- **IoU gating convention.** The cost of a pair is ``1 - IoU`` of the detection box and the track's
  *predicted* box. A pair may match only if ``IoU >= match_iou`` (stages 1 and 1b, buffered IoU in 1b)
  or ``IoU >= low_match_iou`` (stage 2), i.e. ``cost <= 1 - gate``, and never at ``IoU == 0``.
- **Greedy assignment, vectorised per round.** Each round accepts every pair that is the best of both
  its row and its column and passes the gate, then masks those rows and columns. The global best pair is
  always mutual-best, so each round makes progress, and for distinct IoUs the result equals classic
  greedy matching (take pairs in descending IoU). Rounds are few in practice (people rarely form long
  chains of overlapping boxes), and each round is a handful of numpy calls, so there is no Python loop
  over boxes. Greedy is not globally optimal like the Hungarian method, but with IoU gating in sparse
  scenes it agrees almost always and it avoids scipy (~48 MB RSS on a small box).
- **Lifecycle.** New tracks start from unmatched confident detections with ``score >= new_track_score``
  and are tentative until ``confirm_hits`` consecutive matched updates; a tentative track that misses
  one update ends at once (a flicker never confirms). A confirmed track that is unmatched for longer than
  ``max_age`` seconds ends.

Slots ended in an update (or by ``reset``) are reported in ``TrackUpdate.ended`` and are not handed to a
new track in that same update, so analytics can finalise a row before it is reset by ``started``.
Track ids are a per-tracker counter, process-local, for debugging only; they must never be exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from edgeanon.counting.detections import Detections
from edgeanon.counting.tracks import TrackUpdate

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

_NO_INT = np.zeros(0, np.int64)
_NO_BOOL = np.zeros(0, bool)
# Row layout of the per-slot Kalman state: (slot, row, coordinate) with coordinates (cx, cy, w, h).
_X, _V, _P00, _P01, _P11 = range(5)


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Tracker parameters; defaults follow ByteTrack's usual operating point.

    Gates are minimum IoU between a detection and a track's predicted box (cost ``1 - IoU`` must be at
    most ``1 - gate``). The motion noises are in box heights, so they do not depend on the camera's
    resolution or the person's distance. ``accel_noise`` 0.5 is a bit calmer than ByteTrack's
    (about 1.0 h/sqrt(s) at 30 fps): at 5-15 fps it halves the velocity error of a steady walker, which
    matters when a lost track coasts for up to ``max_age``, and still follows a 90 degree turn within
    about 0.5 s.
    """

    high_score: float = 0.5  # stage-1 detections
    low_score: float = 0.1  # stage-2 detections (score in [low, high))
    new_track_score: float = 0.6  # minimum score to start a new track
    match_iou: float = 0.3  # min IoU for stage-1 association
    low_match_iou: float = 0.5  # min IoU for stage-2 association
    confirm_hits: int = 3  # consecutive matched updates to confirm a track
    max_age: float = 1.0  # seconds a lost confirmed track is kept before it ends
    capacity: int = 256  # max simultaneous tracks = number of state slots
    position_noise: float = 0.05  # measurement std of each box coordinate, in box heights
    accel_noise: float = 0.5  # velocity random walk std per sqrt(second), in box heights
    tentative_buffer: float = 1.0  # stage-1b buffer for tentative tracks, in std of predicted position; 0: off

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_score <= self.high_score <= 1.0:
            raise ValueError("need 0 <= low_score <= high_score <= 1")
        if not self.high_score <= self.new_track_score <= 1.0:
            raise ValueError("need high_score <= new_track_score <= 1")
        for name in ("match_iou", "low_match_iou"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.confirm_hits < 1:
            raise ValueError("confirm_hits must be >= 1")
        if not self.max_age >= 0.0:
            raise ValueError("max_age must be >= 0 seconds")
        if self.capacity < 1:
            raise ValueError("capacity must be >= 1")
        if not (self.position_noise > 0.0 and self.accel_noise > 0.0):
            raise ValueError("position_noise and accel_noise must be > 0")
        if not self.tentative_buffer >= 0.0:
            raise ValueError("tentative_buffer must be >= 0")


def iou_matrix(a: F64, b: F64, margin: F64 | None = None) -> F64:
    """IoU of every box in ``a`` (n, 4) with every box in ``b`` (m, 4), xyxy, by broadcasting.

    ``margin`` (m, 2), if given, is a buffer (x, y) in pixels added on every side of *both* boxes of each
    pair whose column is ``b[j]`` (buffered IoU): two boxes a known distance apart then overlap more
    the larger the buffer, which lets an uncertain prediction reach a detection that moved further.
    """
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh_a = a[:, 2:] - a[:, :2]
    wh_b = b[:, 2:] - b[:, :2]
    if margin is None:
        area_a = (wh_a[:, 0] * wh_a[:, 1])[:, None]
        area_b = wh_b[:, 0] * wh_b[:, 1]
        wh = np.clip(br - tl, 0.0, None)
    else:
        grow = 2.0 * margin
        wh_a2 = wh_a[:, None, :] + grow[None]  # (n, m, 2): row boxes grown by each column's buffer
        area_a = wh_a2[..., 0] * wh_a2[..., 1]
        wh_b2 = wh_b + grow
        area_b = wh_b2[:, 0] * wh_b2[:, 1]
        wh = np.clip(br - tl + grow[None], 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-12)


def greedy_match(iou: F64, gate: float) -> tuple[I64, I64]:
    """Greedy one-to-one matching of rows to columns by descending IoU, gated at ``iou >= gate > 0``.

    Each round accepts all mutual-best pairs at once (see the module docstring); returns (rows, cols).
    """
    n_rows, n_cols = iou.shape
    if n_rows == 0 or n_cols == 0:
        return _NO_INT, _NO_INT
    w = np.where((iou >= gate) & (iou > 0.0), iou, -1.0)
    rows_all = np.arange(n_rows)
    out_r: list[I64] = []
    out_c: list[I64] = []
    while True:
        best_c = w.argmax(1)
        best_r = w.argmax(0)
        ok = (w[rows_all, best_c] >= 0.0) & (best_r[best_c] == rows_all)
        if not ok.any():
            break
        r = rows_all[ok]
        c = best_c[ok]
        out_r.append(r)
        out_c.append(c)
        w[r, :] = -1.0
        w[:, c] = -1.0
    if not out_r:
        return _NO_INT, _NO_INT
    return np.concatenate(out_r), np.concatenate(out_c)


def _associate(det_xyxy: F64, track_xyxy: F64, gate: float, margin: F64 | None = None) -> tuple[I64, I64]:
    if det_xyxy.shape[0] == 0 or track_xyxy.shape[0] == 0:
        return _NO_INT, _NO_INT
    return greedy_match(iou_matrix(det_xyxy, track_xyxy, margin), gate)


def _xyxy_to_cxcywh(b: F64) -> F64:
    out = np.empty_like(b)
    out[:, :2] = (b[:, :2] + b[:, 2:]) * 0.5
    out[:, 2:] = b[:, 2:] - b[:, :2]
    return out


class _Prediction(NamedTuple):
    """The live tracks of one update: their slots, Kalman state, time since last seen and predicted xyxy boxes."""

    live: I64
    state: F64
    dt: F64
    xyxy: F64


class Tracker:
    """Tracks people across frames; one instance per camera, not thread-safe.

    Motion model: a constant-velocity Kalman filter per box coordinate (cx, cy, w, h), each coordinate an
    independent 2-state (position, velocity) filter. Decoupling keeps the covariance at three numbers per
    coordinate, so predict and update are plain elementwise numpy over all matched tracks at once (no
    per-track 8x8 matrices as in ByteTrack). Process noise is the continuous white-acceleration model,
    discretised exactly for the elapsed time ``dt``; noise scales with the box height as in ByteTrack.

    The filter state of a track stays at the time of its last measurement. Its predicted box for any frame
    is ``x + v * (t - t_seen)``, and when it is matched, predict and update run once with that ``dt``.
    For this noise model one step of ``dt1 + dt2`` equals two steps, so skipped frames (pacing) and missed
    detections need no per-frame work, and prediction follows elapsed time, not frame count.
    """

    def __init__(self, settings: TrackerSettings = TrackerSettings()) -> None:
        self.settings = settings
        cap = settings.capacity
        self._kf = np.zeros((cap, 5, 4), np.float64)  # rows _X, _V, _P00, _P01, _P11 per slot
        self._t_seen = np.zeros(cap, np.float64)  # time of the last matched detection
        self._t_strong = np.zeros(cap, np.float64)  # time of the last confident (stage 1/1b) match
        self._hits = np.zeros(cap, np.int64)  # consecutive matched updates
        self._ids = np.zeros(cap, np.int64)
        self._alive = np.zeros(cap, bool)
        self._confirmed = np.zeros(cap, bool)
        self._matched_prev = np.zeros(cap, bool)  # matched in the previous update: eligible for stage 2
        self._reset_pending = np.zeros(cap, bool)  # dropped by reset(), reported as ended on the next update
        self._next_id = 1
        # Detections that would have started a track but found no free slot, summed over updates (a person
        # left untracked for ten frames adds ten).
        self.overflow = 0

    @property
    def active(self) -> int:
        """Number of live tracks (tentative, confirmed and lost-but-kept)."""
        return int(np.count_nonzero(self._alive))

    @property
    def present(self) -> int:
        """Confirmed tracks not yet ended: people in view, including those hidden for less than ``max_age``."""
        return int(np.count_nonzero(self._alive & self._confirmed))

    def reset(self) -> None:
        """Drop every track, e.g. after a camera reconnect; the slots are reported ended on the next update."""
        self._reset_pending |= self._alive
        self._alive[:] = False
        self._matched_prev[:] = False

    def update(self, dets: Detections, t: float) -> TrackUpdate:
        """Associate one frame's detections; ``t`` is the frame's monotonic time in seconds.

        The result holds every detection that belongs to a track in this frame, in input order, with its own
        box and score: matched ones and those that started a track (``started``). Detections left untracked
        (weak and unmatched, below ``new_track_score``, or no free slot) are dropped.
        """
        s = self.settings
        t = float(t)
        xyxy = np.asarray(dets.xyxy, np.float64)
        score = dets.score
        # Boxes that are not finite or have no area would poison the filter (noise scales with height).
        valid = np.isfinite(xyxy).all(1) & (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        high = valid & (score >= s.high_score)
        low = valid & (score >= s.low_score) & ~high
        free_before = ~(self._alive | self._reset_pending)  # slots ending in this update are not reused in it

        pred = self._predict(t)
        m_det, m_col, strong_col = self._match(xyxy, high.nonzero()[0], low.nonzero()[0], pred, t)
        m_slot = pred.live[m_col]
        just = self._correct(m_slot, pred.state[m_col], pred.dt[m_col], xyxy[m_det], t)
        self._t_strong[pred.live[strong_col]] = t
        matched = np.zeros_like(self._alive)
        matched[m_slot] = True
        ended, ended_confirmed = self._expire(matched, t)

        # Start tentative tracks from unmatched confident detections, on slots free before this update.
        unused = high.copy()
        unused[m_det] = False
        new_det = (unused & (score >= s.new_track_score)).nonzero()[0]
        new_slot, new_det = self._start(new_det, score, free_before.nonzero()[0], xyxy, t)
        self._matched_prev[:] = matched
        self._matched_prev[new_slot] = True

        out_det = np.concatenate([m_det, new_det])
        out_slot = np.concatenate([m_slot, new_slot])
        out_just = np.concatenate([just, self._confirmed[new_slot]])
        order = np.argsort(out_det, kind="stable")
        out_det, out_slot, out_just = out_det[order], out_slot[order], out_just[order]
        out = Detections(dets.xyxy[out_det], dets.score[out_det], self._ids[out_slot])
        return TrackUpdate(out, out_slot, self._confirmed[out_slot], out_just, new_slot, ended, ended_confirmed, t)

    def _predict(self, t: float) -> _Prediction:
        """Predicted boxes of the live tracks at time ``t``, from the state at each track's last measurement."""
        live = self._alive.nonzero()[0]
        state = self._kf[live]
        dt = np.maximum(t - self._t_seen[live], 0.0)
        pred = state[:, _X] + state[:, _V] * dt[:, None]
        np.maximum(pred[:, 2:], 1.0, out=pred[:, 2:])
        half = pred[:, 2:] * 0.5
        return _Prediction(live, state, dt, np.concatenate([pred[:, :2] - half, pred[:, :2] + half], axis=1))

    def _match(self, xyxy: F64, high_idx: I64, low_idx: I64, pred: _Prediction, t: float) -> tuple[I64, I64, I64]:
        """The association stages 1, 1b and 2 (see the module docstring).

        Returns the matched detections, their columns in ``pred``, and the columns matched by a confident
        detection (stages 1 and 1b).
        """
        s = self.settings
        # Stage 1: confident detections against every live track.
        r1, c1 = _associate(xyxy[high_idx], pred.xyxy, s.match_iou)
        open_cols = np.ones(pred.live.size, bool)
        open_cols[c1] = False
        left = np.ones(high_idx.size, bool)
        left[r1] = False
        rest_high = high_idx[left]
        r1b, c1b = self._rescue_tentative(xyxy[rest_high], pred, open_cols)
        open_cols[c1b] = False
        # Stage 2: weak detections against tracks matched last update and still unmatched, and only for
        # max_age after their last confident match: a track that walks past a cone or a sign must not live
        # on, matched to that static low-score detection, as a phantom person.
        strong_recent = t - self._t_strong[pred.live] <= s.max_age
        cand = (open_cols & self._matched_prev[pred.live] & strong_recent).nonzero()[0]
        r2, c2 = _associate(xyxy[low_idx], pred.xyxy[cand], s.low_match_iou)
        strong = np.concatenate([c1, c1b])
        return np.concatenate([high_idx[r1], rest_high[r1b], low_idx[r2]]), np.concatenate([strong, cand[c2]]), strong

    def _rescue_tentative(self, rest: F64, pred: _Prediction, open_cols: BOOL) -> tuple[I64, I64]:
        """Stage 1b: confident detections left over against unmatched tentative tracks, with both boxes buffered.

        The buffer is the predicted position's std: a newborn track has no velocity yet, so at a low frame rate
        it would otherwise be re-born every frame and never counted. Returns (rows of rest, columns of pred).
        """
        s = self.settings
        tent = (open_cols & ~self._confirmed[pred.live]).nonzero()[0]
        if not (rest.shape[0] and tent.size and s.tentative_buffer > 0.0):
            return _NO_INT, _NO_INT
        st, d = pred.state[tent], pred.dt[tent, None]
        q = (s.accel_noise * st[:, _X, 3:4]) ** 2
        var = st[:, _P00, :2] + d * (2.0 * st[:, _P01, :2] + d * st[:, _P11, :2]) + q * d**3 / 3.0
        margin = s.tentative_buffer * np.sqrt(var)
        r1b, c1b = _associate(rest, pred.xyxy[tent], s.match_iou, margin)
        return r1b, tent[c1b]

    def _expire(self, matched: BOOL, t: float) -> tuple[I64, BOOL]:
        """End tentative tracks that missed, confirmed ones unseen for longer than max_age, and reset ones.

        Returns the ended slots and which of them were confirmed.
        """
        s = self.settings
        alive = self._alive
        unmatched = alive & ~matched
        end = unmatched & (~self._confirmed | (t - self._t_seen > s.max_age) | (t - self._t_strong > s.max_age))
        end |= self._reset_pending
        ended = end.nonzero()[0]
        ended_confirmed = self._confirmed[ended]
        alive[end] = False
        self._reset_pending[:] = False
        return ended, ended_confirmed

    def _correct(self, slot: I64, state: F64, dt: F64, xyxy: F64, t: float) -> BOOL:
        """Kalman predict (by ``dt``) and update of matched slots; returns which became confirmed now."""
        s = self.settings
        if slot.size == 0:
            return _NO_BOOL
        z = _xyxy_to_cxcywh(xyxy)
        x, v, p00, p01, p11 = (state[:, i] for i in range(5))
        d = dt[:, None]
        q = (s.accel_noise * x[:, 3:4]) ** 2
        x = x + v * d
        p00 = p00 + d * (2.0 * p01 + d * p11) + q * d**3 / 3.0
        p01 = p01 + d * p11 + q * d**2 / 2.0
        p11 = p11 + q * d
        gain_denominator = p00 + (s.position_noise * z[:, 3:4]) ** 2
        k0 = p00 / gain_denominator
        k1 = p01 / gain_denominator
        resid = z - x
        self._kf[slot] = np.stack(
            [x + k0 * resid, v + k1 * resid, (1.0 - k0) * p00, (1.0 - k0) * p01, p11 - k1 * p01], axis=1
        )
        self._t_seen[slot] = t
        hits = self._hits[slot] + 1
        self._hits[slot] = hits
        just = ~self._confirmed[slot] & (hits >= s.confirm_hits)
        self._confirmed[slot[just]] = True
        return just

    def _start(self, det: I64, score: npt.NDArray[np.floating], free: I64, xyxy: F64, t: float) -> tuple[I64, I64]:
        """Allocate free slots to new detections (best scores first); returns (slots, detections)."""
        if det.size == 0:
            return _NO_INT, _NO_INT
        if det.size > free.size:
            self.overflow += int(det.size - free.size)
            det = det[np.argsort(-score[det], kind="stable")[: free.size]]
        slot = free[: det.size]
        s = self.settings
        z = _xyxy_to_cxcywh(xyxy[det])
        h = z[:, 3:4]
        st = self._kf[slot]
        st[:, _X] = z
        st[:, _V] = 0.0
        # Initial uncertainty: position twice the measurement noise, velocity about one box height per
        # second (a walking person), so the first few matches mostly set the velocity.
        st[:, _P00] = (2.0 * s.position_noise * h) ** 2
        st[:, _P01] = 0.0
        st[:, _P11] = h**2
        self._kf[slot] = st
        self._t_seen[slot] = t
        self._t_strong[slot] = t
        self._hits[slot] = 1
        self._ids[slot] = np.arange(self._next_id, self._next_id + slot.size)
        self._next_id += int(slot.size)
        self._alive[slot] = True
        self._confirmed[slot] = s.confirm_hits <= 1
        return slot, det
