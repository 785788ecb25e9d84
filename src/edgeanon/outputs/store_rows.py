"""A closed bucket as store rows: one number per (camera, scope, name, metric), every label from the config or
from a fixed list in the code, and how a row merges into one already stored.

The MQTT sink publishes the same rows, so the store and the broker never disagree.
"""

from __future__ import annotations

from typing import Literal

from edgeanon.counting.bins import DWELL_METRICS
from edgeanon.counting.results import FATES, Bucket

MergeRule = Literal["add", "max", "replace"]
Row = tuple[str, str, str, str, float]  # camera, scope, name, metric, value


def merge_rule(metric: str) -> MergeRule:
    """How a value merges into an existing row: counts and sums add, maxima max, point-in-time values replace."""
    if metric in ("queue_wait_s", "occupancy"):  # a wait estimate, the site occupancy at the bucket's end
        return "replace"
    if metric == "occupancy_max":
        return "max"
    return "add"


def attribute_rows(bucket: Bucket) -> list[tuple[str, str, str, str, int]]:
    """(camera, kind, place, bin, count) of the bucket's attribute bins: after suppression, so all >= k."""
    return [
        (cam, kind, place, bin_, int(n))
        for cam, cb in bucket.cameras.items()
        for (kind, place, bin_), n in sorted(cb.attributes.items())
        if n > 0
    ]


def bucket_rows(bucket: Bucket) -> list[Row]:
    """Flatten a bucket into store rows. Zeros are written (a measured zero differs from a gap); a missing
    queue wait estimate and an absent heatmap are not."""
    out: list[Row] = []
    for cam, cb in bucket.cameras.items():
        outputs = cb.outputs  # nothing, not even a zero, for an output whose purpose is not declared
        out += [(cam, "camera", "", f"frames_{fate}", cb.frames.get(fate, 0)) for fate in FATES]
        out.append((cam, "camera", "", "down_seconds", round(cb.down_s, 2)))  # failed, not looking: not "nobody came"
        if "camera_occupancy" in outputs:
            out += [
                (cam, "camera", "", "occupancy_sum", cb.occupancy_sum),
                (cam, "camera", "", "occupancy_frames", cb.occupancy_frames),
                (cam, "camera", "", "occupancy_max", cb.occupancy_max),
            ]
        if cb.heatmap is not None:
            rows, cols = cb.heatmap.shape
            # people per cell (0 also for a cell withheld below k: how many were withheld is not published)
            out += [(cam, "camera", "", f"cell_{r}_{c}", cb.heatmap[r, c]) for r in range(rows) for c in range(cols)]
        for zone, zb in cb.zones.items():
            if "zone_occupancy" in outputs:
                out += [
                    (cam, "zone", zone, "occupancy_sum", zb.occupancy_sum),
                    (cam, "zone", zone, "occupancy_frames", zb.occupancy_frames),
                    (cam, "zone", zone, "occupancy_max", zb.occupancy_max),
                ]
            if "zone_dwell" in outputs:
                out += [(cam, "zone", zone, m, n) for m, n in zip(DWELL_METRICS, zb.dwell_counts, strict=True)]
                out.append((cam, "zone", zone, "dwell_sum_s", zb.dwell_sum))
            if zb.queue_wait_s is not None:
                out.append((cam, "zone", zone, "queue_wait_s", zb.queue_wait_s))
        for line, lb in cb.lines.items():
            out += [(cam, "line", line, "in", lb.in_), (cam, "line", line, "out", lb.out)]
        # the attribute bins themselves go to attribute_counts (attribute_rows); how many were withheld is not
        # published (aggregate.suppress says why)
        out += [(cam, "camera", "", f"faces_{outcome}", n) for outcome, n in cb.faces.items()]
    if "site_occupancy" in bucket.outputs:
        out += [
            ("", "site", "", "in", bucket.site_in),
            ("", "site", "", "out", bucket.site_out),
            ("", "site", "", "occupancy", bucket.site_occupancy),
        ]
    return [(c, s, n, m, float(v)) for c, s, n, m, v in out]  # float(): numpy scalars do not bind
