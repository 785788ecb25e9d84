"""What the pages show of the site's config: plain, frozen values, built from the config by ``run.views``.

The pages read only these, never the config models, so ``web/`` does not depend on how the config is parsed
and a page can be tested with a hand-made site.
"""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ZoneView:
    name: str
    polygon: tuple[Point, ...]
    normalized: bool  # points are 0-1 fractions of the frame width and height


@dataclass(frozen=True, slots=True)
class LineView:
    name: str
    a: Point
    b: Point
    normalized: bool
    in_side: str  # "left" or "right" of a->b, as the line counter defines it


@dataclass(frozen=True, slots=True)
class AreaView:
    """An exclusion area: drawn on /setup, never counted."""

    polygon: tuple[Point, ...]
    normalized: bool


@dataclass(frozen=True, slots=True)
class CameraView:
    id: str
    zones: tuple[ZoneView, ...] = ()
    lines: tuple[LineView, ...] = ()
    exclude: tuple[AreaView, ...] = ()


@dataclass(frozen=True, slots=True)
class SiteView:
    operator: str  # the accountable operator's name, in the page header
    timezone: str  # IANA name: "today" and every time shown are local to it
    bucket_seconds: int
    outputs: frozenset[str]  # what the declared purposes allow (``policy.allowed_outputs``)
    cameras: tuple[CameraView, ...] = ()
    entrances: tuple[tuple[str, str], ...] = ()  # (camera, line) pairs whose in minus out is the site occupancy
    setup_until: str = "None"  # ``http.setup_until`` as written in the config, shown on /setup
