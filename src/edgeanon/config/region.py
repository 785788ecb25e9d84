"""The rectangle of the picture the detector looks at: a camera's ``roi`` resolved for one frame size.

``auto`` must not cost counts. Zones count people by where they stand (the bottom of their box), so the region
reaches above the zones and lines by ``ABOVE`` of the frame height: the body of a person standing at the far
edge of a zone, where people look smallest, stays inside it. Line crossings count only confirmed tracks, so
the region also reaches out on every side by the distance a walker covers while the tracker confirms them
(``confirm_hits`` frames at the camera's rate), taking a close, brisk walker who crosses the whole picture in
``CROSS_S`` seconds. These are general figures for ceiling or wall cameras in a store, not fitted to a clip;
a camera with people taller than ``ABOVE`` of its picture at the far edge of a zone needs a larger explicit
box or ``full``.
"""

from __future__ import annotations

import math

from edgeanon.config.cameras import Camera
from edgeanon.config.geometry import RegionBox

ABOVE = 0.2
"""Fraction of the frame height added above the zones and lines for the body of a person standing there."""
CROSS_S = 2.0
"""Seconds a close, brisk walker takes to cross the whole picture (a 3 m wide view at 1.4 m/s)."""
TRAVEL_MIN, TRAVEL_MAX = 0.05, 0.3
"""Bounds of the confirmation margin, as a fraction of the frame side."""

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, x1 and y1 exclusive


def region_of(cam: Camera, size: tuple[int, int], confirm_hits: int) -> Rect:
    """The detector's rectangle on a ``size`` = (width, height) frame, clamped to the frame, in whole pixels."""
    w, h = size
    roi = cam.roi
    if isinstance(roi, RegionBox):
        sx, sy = (w, h) if roi.normalized else (1, 1)
        x0, y0, x1, y1 = roi.box
        return _clamp(x0 * sx, y0 * sy, x1 * sx, y1 * sy, w, h)
    if roi == "full" or cam.heatmap is not None or not (cam.zones or cam.lines):
        return (0, 0, w, h)
    xs: list[float] = []
    ys: list[float] = []
    for z in cam.zones:
        for x, y in z.polygon:
            xs.append(x * w if z.normalized else x)
            ys.append(y * h if z.normalized else y)
    for ln in cam.lines:
        for x, y in (ln.a, ln.b):
            xs.append(x * w if ln.normalized else x)
            ys.append(y * h if ln.normalized else y)
    travel = min(TRAVEL_MAX, max(TRAVEL_MIN, confirm_hits / cam.fps / CROSS_S))
    return _clamp(
        min(xs) - travel * w, min(ys) - (ABOVE + travel) * h, max(xs) + travel * w, max(ys) + travel * h, w, h
    )


def _clamp(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> Rect:
    """Round outwards to whole pixels and clamp to the frame; never empty (at least one pixel)."""
    a = min(max(0, math.floor(x0)), w - 1)
    b = min(max(0, math.floor(y0)), h - 1)
    return (a, b, max(a + 1, min(w, math.ceil(x1))), max(b + 1, min(h, math.ceil(y1))))
