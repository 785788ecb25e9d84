"""Synthetic tracker output: per-track trajectories -> a consistent stream of ``TrackUpdate`` values.

Analytics tests must not depend on the real tracker, so this builds what a tracker would hand over: slots
allocated lowest-free-first and reused only from the frame after a track ended (as the tracker promises),
``started`` on a track's first frame, ``just_confirmed`` on its first confirmed frame, and ``ended`` a fixed
time after its last observation, with ``ended_confirmed`` set from its history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

import numpy as np

from edgeanon.counting.detections import Detections
from edgeanon.counting.tracks import TrackUpdate

Obs = tuple[float, float, float, float, float, bool]
"""One observation: (t, x1, y1, x2, y2, confirmed)."""

BOX_W, BOX_H = 40.0, 100.0


def box_at(x: float, y: float, w: float = BOX_W, h: float = BOX_H) -> tuple[float, float, float, float]:
    """The box whose bottom-centre (anchor) is (x, y)."""
    return x - w / 2, y - h, x + w / 2, y


def walk(
    points: Sequence[tuple[float, float]],
    *,
    t0: float = 0.0,
    dt: float = 0.1,
    confirm_at: int | None = 0,
    size: tuple[float, float] = (BOX_W, BOX_H),
    frame_size: tuple[int, int] | None = None,
    min_visible_px: float = 0.0,
) -> list[Obs]:
    """Observations of a person whose anchor visits ``points`` (one per frame, every ``dt`` from ``t0``).

    ``confirm_at`` is the index of the first confirmed observation (None: never confirmed). With
    ``frame_size`` boxes are clipped to the frame like a detector does, and frames where less than
    ``min_visible_px`` of the box width or height is visible are dropped (the detector misses them).
    """
    out: list[Obs] = []
    for i, (x, y) in enumerate(points):
        x1, y1, x2, y2 = box_at(x, y, *size)
        if frame_size is not None:
            w, h = frame_size
            x1, x2 = min(max(x1, 0.0), w), min(max(x2, 0.0), w)
            y1, y2 = min(max(y1, 0.0), h), min(max(y2, 0.0), h)
            if min(x2 - x1, y2 - y1) < max(min_visible_px, 1e-9):
                continue
        out.append((t0 + i * dt, x1, y1, x2, y2, confirm_at is not None and i >= confirm_at))
    return out


def line_path(p0: tuple[float, float], p1: tuple[float, float], n: int) -> list[tuple[float, float]]:
    """``n`` evenly spaced anchor points from p0 to p1 inclusive."""
    xs = np.linspace(p0[0], p1[0], n)
    ys = np.linspace(p0[1], p1[1], n)
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def stream(
    tracks: Mapping[int, Sequence[Obs]], *, capacity: int = 64, end_after: int = 1, dt: float = 0.1
) -> list[TrackUpdate]:
    """Frames at the union of all observation times and end times; a track ends (is in ``ended``, its slot free
    from the next frame on) ``end_after * dt`` seconds after its last observation, as after ``max_age``."""
    if end_after < 1:
        raise ValueError("end_after must be >= 1")
    for tid, obs in tracks.items():
        ts = [o[0] for o in obs]
        if not obs or any(b <= a for a, b in pairwise(ts)):
            raise ValueError(f"track {tid}: observations must be non-empty with increasing times")
        flags = [o[5] for o in obs]
        if any(a and not b for a, b in pairwise(flags)):
            raise ValueError(f"track {tid}: a confirmed track cannot become tentative again")
    end_t = {tid: round(obs[-1][0] + end_after * dt, 9) for tid, obs in tracks.items()}
    times = sorted({o[0] for obs in tracks.values() for o in obs} | set(end_t.values()))
    index = {t: i for i, t in enumerate(times)}
    end_frame = {tid: index[t] for tid, t in end_t.items()}
    first = {tid: index[obs[0][0]] for tid, obs in tracks.items()}
    at: dict[int, list[tuple[int, Obs]]] = {}
    for tid, obs in tracks.items():
        for o in obs:
            at.setdefault(index[o[0]], []).append((tid, o))

    free = list(range(capacity))
    slot_of: dict[int, int] = {}
    was_confirmed: dict[int, bool] = {}
    out: list[TrackUpdate] = []
    for f, t in enumerate(times):
        started = [tid for tid in sorted(tracks) if first[tid] == f]
        for tid in started:
            if not free:
                raise ValueError(f"more than {capacity} live tracks at t={t}")
            free.sort()
            slot_of[tid] = free.pop(0)
            was_confirmed[tid] = False
        rows = sorted(at.get(f, []))
        xyxy = np.array([o[1:5] for _, o in rows], np.float32).reshape(-1, 4)
        conf = np.array([o[5] for _, o in rows], bool)
        just = np.array([o[5] and not was_confirmed[tid] for tid, o in rows], bool)
        for tid, o in rows:
            was_confirmed[tid] = was_confirmed[tid] or o[5]
        ended = [tid for tid in sorted(tracks) if end_frame[tid] == f]
        dets = Detections(xyxy, np.ones(len(rows), np.float32), np.array([tid for tid, _ in rows], np.int64))
        out.append(
            TrackUpdate(
                dets=dets,
                slot=np.array([slot_of[tid] for tid, _ in rows], np.int64),
                confirmed=conf,
                just_confirmed=just,
                started=np.array([slot_of[tid] for tid in started], np.int64),
                ended=np.array([slot_of[tid] for tid in ended], np.int64),
                ended_confirmed=np.array([was_confirmed[tid] for tid in ended], bool),
                t=float(t),
            )
        )
        free.extend(slot_of.pop(tid) for tid in ended)
    return out


def frame(
    t: float,
    rows: Iterable[tuple[int, tuple[float, float, float, float], bool, bool]] = (),
    *,
    started: Sequence[int] = (),
    ended: Sequence[tuple[int, bool]] = (),
) -> TrackUpdate:
    """One hand-written TrackUpdate: rows of (slot, xyxy, confirmed, just_confirmed), ended (slot, confirmed)."""
    r = list(rows)
    xyxy = np.array([b for _, b, _, _ in r], np.float32).reshape(-1, 4)
    return TrackUpdate(
        dets=Detections(xyxy, np.ones(len(r), np.float32), np.arange(len(r), dtype=np.int64)),
        slot=np.array([s for s, _, _, _ in r], np.int64),
        confirmed=np.array([c for _, _, c, _ in r], bool),
        just_confirmed=np.array([j for _, _, _, j in r], bool),
        started=np.array(started, np.int64),
        ended=np.array([s for s, _ in ended], np.int64),
        ended_confirmed=np.array([c for _, c in ended], bool),
        t=t,
    )
