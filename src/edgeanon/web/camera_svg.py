"""One camera drawn for ``/setup``: a blank canvas of the frame's size with its grid, exclusion areas, zones,
lines (with their in side) and the latest person outlines. Never a pixel of the camera's image."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from edgeanon.web.page import COLORS, esc
from edgeanon.web.site import CameraView, LineView


def _pts(points: Sequence[tuple[float, float]], normalized: bool, size: tuple[int, int]) -> list[tuple[float, float]]:
    w, h = size
    return [(x * w, y * h) if normalized else (x, y) for x, y in points]


def _fmt(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def camera_svg(
    cam: CameraView,
    size: tuple[int, int],
    boxes: np.ndarray | None,
    region: tuple[int, int, int, int] | None = None,
) -> tuple[str, int]:
    """A blank canvas of the frame's size (grid, the detector's region when it is not the whole frame, exclusion
    areas, zones, lines with their in side, boxes) and the number of boxes drawn."""
    w, h = size
    u = max(w, h) / 400  # one "screen unit", so strokes and labels look alike at any resolution
    parts = _canvas(cam.id, w, h, u) + _region(region, size, u) + _areas(cam, size, u)
    parts += [_line(ln, size, u) for ln in cam.lines]
    outlines = _outlines(boxes, u)
    return "".join([*parts, *outlines, "</svg>"]), len(outlines)


def _halo(u: float) -> str:
    """Labels stay legible over boxes."""
    return f'stroke="#20262b" stroke-width="{2 * u:.2f}" paint-order="stroke"'


def _canvas(camera: str, w: int, h: int, u: float) -> list[str]:
    """The open ``<svg>``, its blank background and a 10 x 10 grid."""
    grid = f'stroke="#39424a" stroke-width="{u / 2:.2f}"'
    return [
        f'<svg data-camera="{esc(camera)}" data-w="{w}" data-h="{h}" viewBox="0 0 {w} {h}" '
        f'width="100%" style="max-width:{min(w, 1000)}px;display:block" role="img" '
        f'aria-label="{esc(camera)}: {w}x{h} canvas with zones, lines and live person outlines">',
        f'<rect class="canvas" x="0" y="0" width="{w}" height="{h}" fill="#20262b"/>',
    ] + [
        f'<line x1="{w * i / 10:.1f}" x2="{w * i / 10:.1f}" y1="0" y2="{h}" {grid}/>'
        f'<line y1="{h * i / 10:.1f}" y2="{h * i / 10:.1f}" x1="0" x2="{w}" {grid}/>'
        for i in range(1, 10)
    ]


def _region(region: tuple[int, int, int, int] | None, size: tuple[int, int], u: float) -> list[str]:
    """The roi (dashed, labelled): people outside it are not seen, which an installer must know when placing."""
    if region is None or region == (0, 0, *size):
        return []
    x0, y0, x1, y1 = region
    return [
        f'<rect class="roi" x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="#ffd54f" '
        f'stroke-dasharray="{4 * u:.1f}" stroke-width="{u:.2f}"/>'
        f'<text x="{x0 + 3 * u:.1f}" y="{y1 - 3 * u:.1f}" fill="#ffd54f" font-size="{9 * u:.1f}" {_halo(u)}>'
        "detector region (roi)</text>"
    ]


def _areas(cam: CameraView, size: tuple[int, int], u: float) -> list[str]:
    """Exclusion areas (grey, dashed), then zones in their colours with their names."""
    parts = [
        f'<polygon class="exclude" points="{_fmt(_pts(ex.polygon, ex.normalized, size))}" fill="#9e9e9e" '
        f'fill-opacity="0.35" stroke="#bdbdbd" stroke-dasharray="{2 * u:.1f}" stroke-width="{u:.2f}"/>'
        for ex in cam.exclude
    ]
    for i, z in enumerate(cam.zones):
        c = COLORS[i % len(COLORS)]
        pts = _pts(z.polygon, z.normalized, size)
        parts.append(
            f'<polygon class="zone" data-zone="{esc(z.name)}" points="{_fmt(pts)}" fill="{c}" fill-opacity="0.18" '
            f'stroke="{c}" stroke-width="{1.5 * u:.2f}"/>'
        )
        parts.append(
            f'<text x="{pts[0][0] + 3 * u:.1f}" y="{pts[0][1] + 10 * u:.1f}" font-size="{9 * u:.1f}" {_halo(u)} '
            f'fill="{c}">zone {esc(z.name)}</text>'
        )
    return parts


def _line(ln: LineView, size: tuple[int, int], u: float) -> str:
    """A counting line a->b with its name, and IN and OUT written on the two sides."""
    (ax, ay), (bx, by) = _pts([ln.a, ln.b], ln.normalized, size)
    dx, dy = bx - ax, by - ay
    length = float(np.hypot(dx, dy)) or 1.0
    nx, ny = dy / length, -dx / length  # screen-left of a->b (y down), as the line counter defines it
    if ln.in_side == "right":
        nx, ny = -nx, -ny
    mx, my = (ax + bx) / 2, (ay + by) / 2
    off = 14 * u
    halo = _halo(u)
    return (
        f'<line class="line" data-line="{esc(ln.name)}" x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" '
        f'stroke="#ffd54f" stroke-width="{2 * u:.2f}"/>'
        f'<circle cx="{bx:.1f}" cy="{by:.1f}" r="{3 * u:.1f}" fill="#ffd54f"/>'
        f'<text x="{ax + 4 * u:.1f}" y="{ay - 4 * u:.1f}" font-size="{9 * u:.1f}" {halo} fill="#ffd54f">'
        f"line {esc(ln.name)} (a→b)</text>"
        f'<text class="in-side" data-line="{esc(ln.name)}" x="{mx + nx * off:.1f}" y="{my + ny * off:.1f}" '
        f'font-size="{10 * u:.1f}" {halo} fill="#81c784" text-anchor="middle" dominant-baseline="middle">IN</text>'
        f'<text x="{mx - nx * off:.1f}" y="{my - ny * off:.1f}" font-size="{10 * u:.1f}" {halo} fill="#e57373" '
        'text-anchor="middle" dominant-baseline="middle">OUT</text>'
    )


def _outlines(boxes: np.ndarray | None, u: float) -> list[str]:
    """One outline per box with an area; a box with no area or a non-finite corner is left out."""
    if boxes is None:
        return []
    out = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        if not (np.isfinite([x1, y1, x2, y2]).all() and x2 > x1 and y2 > y1):
            continue
        out.append(
            f'<rect class="person" x="{x1:.0f}" y="{y1:.0f}" width="{x2 - x1:.0f}" height="{y2 - y1:.0f}" '
            f'fill="none" stroke="#4fc3f7" stroke-width="{1.5 * u:.2f}"/>'
        )
    return out
