"""Per-frame analytics over tracker output: lines, zones, dwell, site occupancy, presence grid.

Everything here works on numbers only (a ``TrackUpdate``), never on frames, and never imports ``cv2`` or
capture code. Per-track state lives in numpy arrays indexed by the tracker's bounded ``slot``, so memory does
not grow with the number of people seen, and nothing keyed by a track id is kept or returned.
"""

from __future__ import annotations

from edgeanon.counting.analytics.geometry import (
    ExclusionMask,
    FrameSize,
    Polygon,
    contains_exact,
    ground_points,
    to_pixels,
)
from edgeanon.counting.analytics.heatmap import PresenceGrid
from edgeanon.counting.analytics.lines import LineCounter
from edgeanon.counting.analytics.occupancy import SiteOccupancy
from edgeanon.counting.analytics.zones import DwellHistogram, ZoneAnalytics

__all__ = [
    "DwellHistogram",
    "ExclusionMask",
    "FrameSize",
    "LineCounter",
    "Polygon",
    "PresenceGrid",
    "SiteOccupancy",
    "ZoneAnalytics",
    "contains_exact",
    "ground_points",
    "to_pixels",
]
