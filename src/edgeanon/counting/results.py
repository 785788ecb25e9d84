"""The values that leave counting: per-frame results, time buckets, live counts, and the Sink protocol.

``FrameResult`` is what a camera's analytics produce for one frame; it goes only to the ``Aggregator``
(``counting.aggregate``), which folds it into suppressed ``Bucket`` values and derives ``LiveCounts`` from it.
Sinks see only those two. Plain data with fixed labels: nothing here knows about tracks or pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edgeanon.counting.analytics.zones import DwellHistogram
from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.guidebook import policy

DIRECTIONS = ("in", "out")
FATES = ("captured", "inferred", "dropped", "skipped", "idle")
AttributeKey = tuple[str, str, str]  # (kind, place, bin): a key of bins.KINDS, a zone or line name, one of its bins


@dataclass
class ZoneBucket:
    occupancy_sum: int = 0
    occupancy_frames: int = 0
    occupancy_max: int = 0
    dwell_counts: list[int] = field(default_factory=lambda: [0] * len(DWELL_BUCKETS_S))  # per bucket, not cumulative
    dwell_sum: float = 0.0
    queue_wait_s: float | None = None
    queue_wait_n: int = 0  # people the queue wait is the median of (below k it is withheld)

    @property
    def occupancy_mean(self) -> float:
        return self.occupancy_sum / self.occupancy_frames if self.occupancy_frames else 0.0

    @property
    def dwell_count(self) -> int:
        return sum(self.dwell_counts)


@dataclass
class LineBucket:
    in_: int = 0
    out: int = 0


@dataclass
class CameraBucket:
    frames: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FATES, 0))
    occupancy_sum: int = 0
    occupancy_frames: int = 0
    occupancy_max: int = 0
    zones: dict[str, ZoneBucket] = field(default_factory=dict)
    lines: dict[str, LineBucket] = field(default_factory=dict)
    heatmap: np.ndarray | None = None  # people per cell (distinct tracks); cells below k are 0
    # (kind, place, bin) -> people or groups; after suppression only whole families whose bins are all >= k.
    # How many were withheld is not published: even "some family was withheld" tells that its total is >= 1.
    attributes: dict[AttributeKey, int] = field(default_factory=dict)
    # attribute stage outcomes (bins.FACE_OUTCOMES -> tracks), only with the purpose "attributes": how many
    # confirmed tracks were estimated and why the others were not (a processing count, not a person attribute)
    faces: dict[str, int] = field(default_factory=dict)
    # seconds of this bucket the camera was down (failed, not looking), and since when (Unix time): an empty
    # aisle and a camera that saw nothing look the same in every other number
    down_s: float = 0.0
    down_since: float | None = None
    # the outputs its purposes allow (policy.OUTPUTS names): sinks write nothing for the others, not even zeros
    outputs: frozenset[str] = policy.OUTPUTS

    @property
    def occupancy_mean(self) -> float:
        return self.occupancy_sum / self.occupancy_frames if self.occupancy_frames else 0.0


@dataclass
class Bucket:
    """One closed (or, at shutdown, partial) time bucket; ``start`` is Unix seconds, aligned to ``length``."""

    start: int
    length: int
    cameras: dict[str, CameraBucket]
    site_in: int = 0
    site_out: int = 0
    site_occupancy: int = 0  # at the end of the bucket
    partial: bool = False
    outputs: frozenset[str] = policy.OUTPUTS  # what the purposes allow; sinks write nothing for the rest


@dataclass(slots=True)
class FrameResult:
    """What analytics produced for one inferred frame of one camera."""

    camera: str
    occupancy: int | None  # None when the occupancy purpose is not declared
    zone_occupancy: dict[str, int]
    crossings: dict[str, tuple[int, int]]  # line -> (in, out) in this frame
    dwell: dict[str, DwellHistogram]  # zone -> dwell observed in this frame (fixed buckets, no track ids)
    queue_length: dict[str, int]  # queue zone -> people in it
    queue_wait: dict[str, float | None]  # queue zone -> current wait estimate
    queue_wait_n: dict[str, int] = field(default_factory=dict)  # queue zone -> people the estimate is over
    # people first seen in each heatmap cell in this frame, counted once per cell per bucket ``heat_bucket``
    heat: np.ndarray | None = None
    heat_bucket: int | None = None  # the bucket start the heat's distinct count refers to (open_bucket)
    inference_s: float | None = 0.0  # None for an idle frame: not inferred
    # (kind, place, bin) -> count in this frame: kind a key of attributes.bins.KINDS, place a zone or line name
    # from the config, bin one of KINDS[kind]. Counts of visits/crossings/groups, never of a track.
    attributes: dict[AttributeKey, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveCounts:
    """What a sink may see per frame: instantaneous plain counts of one camera, built by the ``Aggregator``.

    No heatmap, no bins, no crossings, dwell or attribute counts and nothing about tracks: counted events leave
    only in a closed, suppressed ``Bucket`` (crossings timed to the frame would tell which crossings formed a
    group). ``queue_wait`` is None for a queue of fewer than k people, as in a bucket.
    """

    camera: str
    occupancy: int | None  # None when the occupancy purpose is not declared
    zone_occupancy: dict[str, int]
    queue_length: dict[str, int]  # queue zone -> people in it
    queue_wait: dict[str, float | None]  # queue zone -> current wait estimate, None below k people
    site_occupancy: int  # people in the site now (entrance lines' in minus out)
    inference_s: float | None = 0.0  # this frame's detector time (the Prometheus latency histogram); None: idle


class Sink(Protocol):
    """Receives aggregates only: ``on_bucket`` gets closed buckets after suppression, and ``on_frame`` optional
    live feedback as ``LiveCounts`` (instantaneous plain counts only). Both come from the ``Aggregator``, the one
    layer between analytics and every sink."""

    name: str

    def on_frame(self, live: LiveCounts) -> None: ...

    def on_bucket(self, bucket: Bucket) -> None: ...

    def close(self) -> None: ...
