"""What reaches a sink per frame: a ``LiveCounts`` built by the aggregator, never the raw ``FrameResult``."""

from __future__ import annotations

import dataclasses

import numpy as np

from edgeanon.counting.aggregate import Aggregator
from edgeanon.counting.analytics.zones import DwellHistogram
from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.counting.results import FrameResult, LiveCounts
from tests.helpers.pipeline import RecordingSink

# Everything a live sink may read. A new field here needs a reason in the aggregator's docstring: a per-frame
# crossing, dwell, heatmap or attribute count would bypass small-cell suppression.
LIVE_FIELDS = {"camera", "occupancy", "zone_occupancy", "queue_length", "queue_wait", "site_occupancy", "inference_s"}
NEVER_LIVE = {"crossings", "dwell", "heat", "heat_bucket", "attributes", "queue_wait_n", "track_id", "boxes", "bins"}


def test_live_counts_carry_only_instantaneous_plain_counts():
    names = {f.name for f in dataclasses.fields(LiveCounts)}
    assert names == LIVE_FIELDS
    assert not names & NEVER_LIVE


def test_sinks_get_live_counts_without_heatmap_attributes_or_crossings():
    sink = RecordingSink()
    agg = Aggregator(
        {"cam": (["q"], ["door"])},
        60,
        [sink],
        site_occupancy=lambda: 3,
        clock=lambda: 1_700_000_000.0,
        k=2,
    )
    hist = DwellHistogram(DWELL_BUCKETS_S, np.array([1] + [0] * (len(DWELL_BUCKETS_S) - 1)), 2.0)
    full = FrameResult(
        "cam",
        4,
        {"q": 2},
        crossings={"door": (1, 0)},
        dwell={"q": hist},
        queue_length={"q": 2},
        queue_wait={"q": 12.0},
        queue_wait_n={"q": 1},  # fewer than k people: the live view must not show it
        heat=np.ones((2, 2), np.int64),
        heat_bucket=1_699_999_980,
        inference_s=0.02,
        attributes={("speed", "q", "slow"): 1},
    )
    agg.record(full)
    (live,) = sink.frames
    assert type(live) is LiveCounts
    assert not NEVER_LIVE & {name for name in dir(live) if not name.startswith("_")}
    assert live == LiveCounts("cam", 4, {"q": 2}, {"q": 2}, {"q": None}, site_occupancy=3, inference_s=0.02)
    agg.record(dataclasses.replace(full, queue_wait_n={"q": 2}, heat=None, heat_bucket=None))
    assert sink.frames[-1].queue_wait == {"q": 12.0}  # k people or more: shown, as in a bucket
