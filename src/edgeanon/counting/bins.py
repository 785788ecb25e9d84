"""The fixed label sets of every attribute and of the dwell histogram: exported label values come from here or
from the config, never from data.

Kept free of numpy, OpenCV and onnxruntime, so analytics and sinks can import the labels without touching
anything that sees pixels.
"""

from __future__ import annotations

import math

# Coarse age groups (年代), no finer than ten years, as the guidebook's worked example counts them.
AGE_BANDS: tuple[str, ...] = ("<20", "20s", "30s", "40s", "50s", "60+")
AGE_EDGES: tuple[float, ...] = (20.0, 30.0, 40.0, 50.0, 60.0)  # lower bounds of AGE_BANDS[1:]
GENDERS: tuple[str, ...] = ("female", "male")
# Screen directions of travel, clockwise from "up" (image y points down), 45 degrees each.
HEADINGS: tuple[str, ...] = ("n", "ne", "e", "se", "s", "sw", "w", "nw")
SPEED_BANDS: tuple[str, ...] = ("slow", "normal", "fast")
GROUP_SIZES: tuple[str, ...] = ("1", "2", "3", "4+")

# Every attribute kind that can reach a sink, with its bins. "place" is a zone or line name from the config.
KINDS: dict[str, tuple[str, ...]] = {
    "heading": HEADINGS,  # per zone, once per visit
    "speed": SPEED_BANDS,  # per zone, once per visit
    "group_size": GROUP_SIZES,  # per line, once per group crossing
    "age_band": AGE_BANDS,  # per line crossing or zone exit, opt-in (purpose "attributes")
    "gender": GENDERS,  # per line crossing or zone exit, opt-in (purpose "attributes")
}


def age_band(age: float) -> int:
    """Index into AGE_BANDS of an estimated age in years."""
    return sum(age >= edge for edge in AGE_EDGES)


# What happened when the attribute stage looked at a confirmed track (``pixels.faces.stage.Outcome`` is built from
# this tuple: its codes are these positions). Counted per camera, so "faces too small" on a high, wide camera is
# visible instead of a silent absence of estimates.
FACE_OUTCOMES: tuple[str, ...] = ("estimated", "person_too_small", "no_face", "face_too_small")

# Upper bounds (inclusive) of the dwell histogram buckets, in seconds: the ``le`` labels of the dwell histogram
# and the names of its stored rows (DWELL_METRICS), so they live with the other fixed label sets.
DWELL_BUCKETS_S: tuple[float, ...] = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, math.inf)


def _bound_label(bound: float) -> str:
    return "inf" if math.isinf(bound) else (str(int(bound)) if float(bound).is_integer() else str(bound))


# The store's (and the roll-up's) metric name of each dwell bucket, in DWELL_BUCKETS_S order.
DWELL_METRICS: tuple[str, ...] = tuple(f"dwell_count_le_{_bound_label(b)}" for b in DWELL_BUCKETS_S)
