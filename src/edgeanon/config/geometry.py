"""Where on a camera's picture things are counted: zones, lines, exclude areas and the region the detector
looks at, with the checks that keep a polygon simple. (Checks against the actual frame size are in
``placement``; the region a camera's ``roi: auto`` resolves to is in ``region``.)"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edgeanon.config.base import FiniteFloat, Name, Point, StrictModel


class Zone(StrictModel):
    name: Name
    polygon: list[Point] = Field(min_length=3, max_length=64, description="Corner points [x, y], in order.")
    normalized: bool = Field(False, description="Points are 0-1 fractions of the frame width and height.")
    queue: bool = Field(False, description="Also estimate queue length and waiting time for this zone.")

    @model_validator(mode="after")
    def _check(self) -> Zone:
        _check_points(self.polygon, self.normalized)
        _check_polygon(self.polygon)
        return self


class Line(StrictModel):
    name: Name
    a: Point = Field(description="First point [x, y].")
    b: Point = Field(description="Second point [x, y].")
    normalized: bool = Field(False, description="Points are 0-1 fractions of the frame width and height.")
    in_side: Literal["left", "right"] = Field(
        "left", description="Which side of the directed line a->b is 'in', as seen on screen by a walker from a to b."
    )
    band: float = Field(
        0.01,
        ge=0,
        le=0.2,
        description="Hysteresis half-width as a fraction of the frame diagonal: a person must move this far past "
        "the line before a crossing counts, so jitter on the line never counts.",
    )

    @model_validator(mode="after")
    def _check(self) -> Line:
        _check_points([self.a, self.b], self.normalized)
        if self.a == self.b:
            raise ValueError("a and b are the same point")
        return self


class Exclude(StrictModel):
    polygon: list[Point] = Field(
        min_length=3, max_length=64, description="Detections whose feet fall here are ignored."
    )
    normalized: bool = Field(False, description="Points are 0-1 fractions of the frame width and height.")

    @model_validator(mode="after")
    def _check(self) -> Exclude:
        _check_points(self.polygon, self.normalized)
        _check_polygon(self.polygon)
        return self


class RegionBox(StrictModel):
    box: tuple[FiniteFloat, FiniteFloat, FiniteFloat, FiniteFloat] = Field(
        description="[x0, y0, x1, y1]: the left, top, right and bottom edges of the rectangle the detector sees."
    )
    normalized: bool = Field(False, description="Edges are 0-1 fractions of the frame width and height.")

    @model_validator(mode="after")
    def _check(self) -> RegionBox:
        x0, y0, x1, y1 = self.box
        _check_points([(x0, y0), (x1, y1)], self.normalized)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"box {list(self.box)} is empty: x1 must exceed x0 and y1 must exceed y0")
        return self


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_meet(p: Point, q: Point, r: Point, s: Point) -> bool:
    """Whether segments pq and rs share a point (crossing, touching or overlapping), in exact arithmetic on the
    given floats: orientation signs plus the collinear bounding-box cases."""
    d1, d2, d3, d4 = _cross(r, s, p), _cross(r, s, q), _cross(p, q, r), _cross(p, q, s)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(a: Point, b: Point, c: Point, d: float) -> bool:  # c on segment ab, given c is collinear with it
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return on(r, s, p, d1) or on(r, s, q, d2) or on(p, q, r, d3) or on(p, q, s, d4)


def _check_polygon(points: list[Point]) -> None:
    """A zone or exclude polygon must be a simple polygon with an area.

    Counting decides "inside" by the even-odd rule, so a polygon whose edges cross (a bow-tie, corners listed
    out of order) silently leaves out the parts covered twice: refuse it, saying which edges cross."""
    n = len(points)
    for i in range(n):
        for j in range(i):
            if points[i] == points[j]:
                raise ValueError(f"corners {j} and {i} are the same point {list(points[i])}")
    if all(_cross(points[0], points[1], p) == 0 for p in points[2:]):
        raise ValueError("polygon has no area (all its points are on one line)")
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_meet(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                raise ValueError(
                    f"polygon crosses itself: edge {i}-{(i + 1) % n} meets edge {j}-{(j + 1) % n}; list the corners "
                    "in order around the area (clockwise or anticlockwise)"
                )


def _check_points(points: list[Point], normalized: bool) -> None:
    for x, y in points:
        if normalized and not (0 <= x <= 1 and 0 <= y <= 1):
            raise ValueError(f"normalized point {[x, y]} is outside 0-1")
        if not normalized and (x < 0 or y < 0 or x > 16384 or y > 16384):
            raise ValueError(f"pixel point {[x, y]} is outside 0-16384")
