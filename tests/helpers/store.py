"""Deterministic buckets for the store tests; also imported by the subprocess that the kill -9 test kills."""

from __future__ import annotations

import numpy as np

from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, ZoneBucket

T0 = 1_700_000_040  # 2023-11-14T22:14:00Z, aligned to 60 s
DAY = 86400


def make_bucket(start: int, seed: int = 0, length: int = 60) -> Bucket:
    """Two cameras with two zones, a line and an 8 x 8 heatmap each; every value depends on ``seed``."""
    s = seed

    def zone(k: int) -> ZoneBucket:
        return ZoneBucket(
            occupancy_sum=10 * s + k,
            occupancy_frames=20 + s,
            occupancy_max=(s + k) % 7,
            dwell_counts=[(s * (j + 1) + k) % 5 for j in range(len(DWELL_BUCKETS_S))],
            dwell_sum=1.5 * s + k,
            queue_wait_s=None if (s + k) % 3 == 0 else 2.5 * s + k,
        )

    cams = {
        cam: CameraBucket(
            frames={"captured": 100 + s, "inferred": 90 + ci, "dropped": s % 4, "skipped": ci, "idle": s % 3},
            occupancy_sum=3 * s + ci,
            occupancy_frames=90 + ci,
            occupancy_max=(s + ci) % 8,
            zones={"queue": zone(ci), "shelf": zone(ci + 1)},
            lines={"door": LineBucket(s % 6, (s + ci) % 4)},
            heatmap=np.arange(64, dtype=np.int64).reshape(8, 8) * (s + ci + 1),
        )
        for ci, cam in enumerate(("entrance", "aisle"))
    }
    return Bucket(start, length, cams, site_in=s, site_out=s // 2, site_occupancy=s % 9)


def small_bucket(start: int, captured: int = 1, length: int = 60) -> Bucket:
    """One camera, no zones or lines: 9 camera rows (5 frame counts, down_seconds, 3 occupancy) + 3 site rows."""
    frames = {"captured": captured, "inferred": captured, "dropped": 0, "skipped": 0, "idle": 0}
    return Bucket(start, length, {"cam": CameraBucket(frames=frames)})
