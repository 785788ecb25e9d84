"""Does a camera's geometry fit its frame? Zones, lines and exclude areas checked against the frame size.

The config alone cannot know the frame size, so a line drawn at [5000, 6000] on a 768x576 camera validates,
and then counts nothing for ever. These checks run where the size is known: ``check-config`` for file sources
(the container's stated size, no frame decoded) and the first frame of every camera at run time, which logs
an error and marks the camera not ready on /readyz.

Numbers only: a frame size in, problems out. Each problem carries the config path of the item it is about,
relative to the camera, so ``check-config`` can name its file line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from edgeanon.config.base import Point
from edgeanon.config.cameras import Camera
from edgeanon.config.geometry import RegionBox

MIN_ZONE_FRACTION = 0.01
"""A zone covering less of the frame than this is too small to hold a person's feet reliably: a typo or a
zone drawn for another resolution."""
MIN_LINE_FRACTION = 0.02
"""A line shorter than this fraction of the frame diagonal is crossed by almost nobody's path."""

Problem = tuple[tuple[str | int, ...], str]


def _pixels(points: Sequence[Point], normalized: bool, size: tuple[int, int]) -> list[tuple[float, float]]:
    w, h = size
    return [(x * w, y * h) for x, y in points] if normalized else [(float(x), float(y)) for x, y in points]


def _outside(points: Sequence[tuple[float, float]], size: tuple[int, int]) -> tuple[float, float] | None:
    w, h = size
    return next(((x, y) for x, y in points if x > w or y > h), None)  # the config refuses negative points


def _area(points: Sequence[tuple[float, float]]) -> float:
    n = len(points)
    return 0.5 * abs(sum(points[i][0] * points[i - 1][1] - points[i - 1][0] * points[i][1] for i in range(n)))


def _fmt(p: tuple[float, float]) -> str:
    return f"[{p[0]:g}, {p[1]:g}]"


def geometry_problems(cam: Camera, size: tuple[int, int]) -> list[Problem]:
    """Every zone, line and exclude area of ``cam`` that does not fit a ``size`` = (width, height) frame.

    - a point outside the frame (a zone, line or exclude area drawn for another resolution, or a typo);
    - a zone covering under ``MIN_ZONE_FRACTION`` of the frame;
    - a line shorter than ``MIN_LINE_FRACTION`` of the frame diagonal.
    """
    w, h = size
    frame = f"the {w}x{h} frame"
    out: list[Problem] = []
    for i, z in enumerate(cam.zones):
        pts = _pixels(z.polygon, z.normalized, size)
        p = _outside(pts, size)
        if p is not None:
            out.append((("zones", i, "polygon"), f"zone {z.name!r}: point {_fmt(p)} lies outside {frame}"))
            continue
        share = _area(pts) / (w * h)
        if share < MIN_ZONE_FRACTION:
            out.append(
                (
                    ("zones", i, "polygon"),
                    f"zone {z.name!r} covers {share:.2%} of {frame}, under {MIN_ZONE_FRACTION:.0%}: too small to "
                    "count in (drawn for another resolution?)",
                )
            )
    diag = math.hypot(w, h)
    for i, ln in enumerate(cam.lines):
        a, b = _pixels([ln.a, ln.b], ln.normalized, size)
        for key, p in (("a", a), ("b", b)):
            if _outside([p], size) is not None:
                out.append(((("lines", i, key)), f"line {ln.name!r}: {key} {_fmt(p)} lies outside {frame}"))
                break
        else:
            length = math.hypot(b[0] - a[0], b[1] - a[1])
            if length < MIN_LINE_FRACTION * diag:
                out.append(
                    (
                        ("lines", i),
                        f"line {ln.name!r} is {length:.0f} px long, under {MIN_LINE_FRACTION:.0%} of {frame}'s "
                        f"diagonal ({MIN_LINE_FRACTION * diag:.0f} px): almost nobody would cross it",
                    )
                )
    for i, ex in enumerate(cam.exclude):
        p = _outside(_pixels(ex.polygon, ex.normalized, size), size)
        if p is not None:
            out.append((("exclude", i, "polygon"), f"exclude area: point {_fmt(p)} lies outside {frame}"))
    return out + _region_problems(cam, size)


def _region_problems(cam: Camera, size: tuple[int, int]) -> list[Problem]:
    """An explicit ``roi`` box must lie in the frame, and every zone and line inside it: the detector sees
    nobody outside it, so a zone or line beyond its edge would count nothing there, silently."""
    if not isinstance(cam.roi, RegionBox):
        return []
    x0, y0, x1, y1 = cam.roi.box
    (x0, y0), (x1, y1) = _pixels([(x0, y0), (x1, y1)], cam.roi.normalized, size)
    if _outside([(x1, y1)], size) is not None:
        w, h = size
        return [(("roi", "box"), f"roi box {_fmt((x0, y0))}-{_fmt((x1, y1))} reaches outside the {w}x{h} frame")]
    box = f"the roi box {_fmt((x0, y0))}-{_fmt((x1, y1))}"
    out: list[Problem] = []
    items = [
        (("zones", i, "polygon"), f"zone {z.name!r}", _pixels(z.polygon, z.normalized, size))
        for i, z in enumerate(cam.zones)
    ]
    items += [
        (("lines", i), f"line {ln.name!r}", _pixels([ln.a, ln.b], ln.normalized, size))
        for i, ln in enumerate(cam.lines)
    ]
    for path, what, pts in items:
        p = next(((x, y) for x, y in pts if not (x0 <= x <= x1 and y0 <= y <= y1)), None)
        if p is not None:
            out.append((path, f"{what}: point {_fmt(p)} lies outside {box}, where the detector sees nobody"))
    return out
