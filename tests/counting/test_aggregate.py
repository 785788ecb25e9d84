"""The aggregation layer: buckets, purpose enforcement at run time, small-cell suppression."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import generate_latest

from edgeanon.counting.aggregate import Aggregator
from edgeanon.counting.analytics.zones import DwellHistogram
from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.counting.results import FrameResult
from edgeanon.guidebook.policy import PolicyError
from edgeanon.outputs.prometheus import PrometheusSink
from tests.helpers.pipeline import RecordingSink

LAYOUT = {"cam": (["z"], ["l"])}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def result(**kw) -> FrameResult:
    base = dict(
        camera="cam",
        occupancy=None,
        zone_occupancy={},
        crossings={},
        dwell={},
        queue_length={},
        queue_wait={},
        heat=None,
    )
    base.update(kw)
    return FrameResult(**base)


HIST = DwellHistogram(DWELL_BUCKETS_S, np.array([1, 0, 0, 0, 0, 0, 0, 0, 0]), 3.0)


@pytest.mark.parametrize(
    ("purposes", "fields", "needs"),
    [
        ({"flow"}, {"occupancy": 3}, "occupancy"),
        ({"flow"}, {"zone_occupancy": {"z": 1}}, "occupancy"),
        ({"occupancy"}, {"crossings": {"l": (1, 0)}}, "flow"),
        ({"occupancy"}, {"dwell": {"z": HIST}}, "dwell"),
        ({"occupancy"}, {"queue_length": {"z": 2}}, "queue"),
        ({"occupancy"}, {"queue_wait": {"z": 30.0}}, "queue"),
        ({"occupancy"}, {"heat": np.ones((2, 2), np.int64)}, "heatmap"),
    ],
)
def test_undeclared_output_is_refused_at_run_time(purposes, fields, needs):
    sink = RecordingSink()
    agg = Aggregator(LAYOUT, 60, [sink], purposes=frozenset(purposes))
    with pytest.raises(PolicyError, match=rf"refused: .*needs a declared purpose \({needs}\).*Rule R1-purpose"):
        agg.record(result(**fields))
    assert sink.frames == []  # nothing reached a sink


def test_declared_outputs_pass_and_accumulate():
    clock = Clock(1_000_020.0)
    sink = RecordingSink()
    agg = Aggregator(LAYOUT, 60, [sink], purposes=frozenset({"occupancy", "flow", "dwell"}), clock=clock)
    agg.record(result(occupancy=2, zone_occupancy={"z": 1}, crossings={"l": (1, 0)}))
    agg.record(result(occupancy=4, zone_occupancy={"z": 3}, crossings={"l": (0, 2)}, dwell={"z": HIST}))
    clock.t = 1_000_080.0  # next bucket: the first closes on the next record or tick
    agg.tick()
    (b,) = sink.buckets
    cb = b.cameras["cam"]
    assert b.start == 1_000_020 // 60 * 60 and not b.partial
    assert (cb.occupancy_mean, cb.occupancy_max) == (3.0, 4)
    assert (cb.zones["z"].occupancy_max, cb.zones["z"].dwell_count, cb.zones["z"].dwell_sum) == (3, 1, 3.0)
    assert (cb.lines["l"].in_, cb.lines["l"].out) == (1, 2)
    agg.record(result(occupancy=1))
    partial = agg.flush()
    assert partial.partial and partial.cameras["cam"].occupancy_frames == 1
    assert sink.buckets[-1] is partial


@pytest.mark.parametrize(
    ("k", "cells", "expected", "suppressed"),
    [
        (5, [[0, 1], [4, 10]], [[0, 0], [0, 10]], 2),
        (1, [[0, 1], [4, 10]], [[0, 1], [4, 10]], 0),
        (3, [[3, 2], [0, 0]], [[3, 0], [0, 0]], 1),
    ],
)
def test_small_cells_are_suppressed_before_every_sink(k, cells, expected, suppressed):
    sink = RecordingSink()
    agg = Aggregator(LAYOUT, 60, [sink], purposes=frozenset({"occupancy", "heatmap"}), k=k)
    agg.record(result(occupancy=1, heat=np.array(cells, np.int64)))
    bucket = agg.flush()
    np.testing.assert_array_equal(bucket.cameras["cam"].heatmap, expected)
    assert np.count_nonzero(np.array(cells) != bucket.cameras["cam"].heatmap) == suppressed
    assert bucket.cameras["cam"].occupancy_max == 1  # plain counts are never suppressed


def test_prometheus_has_no_family_for_undeclared_purposes():
    sink = PrometheusSink({"cam": (["z"], ["l"], [])}, "0" * 64, list, purposes=frozenset({"flow"}))
    text = generate_latest(sink.registry).decode()
    assert "edgeanon_line_crossings_total" in text
    for absent in (
        "edgeanon_zone_occupancy",
        "edgeanon_camera_occupancy",
        "edgeanon_site_occupancy",
        "edgeanon_zone_dwell_seconds",
        "edgeanon_queue_length",
        "edgeanon_heatmap_presence",
    ):
        assert absent not in text


def test_a_broken_sink_does_not_stop_the_others():
    class Broken:
        name = "broken"

        def on_frame(self, *_):
            raise OSError("disk on fire")

        on_bucket = on_frame

        def close(self):
            pass

    good = RecordingSink()
    agg = Aggregator(LAYOUT, 60, [Broken(), good], purposes=frozenset({"occupancy"}))
    agg.record(result(occupancy=1))
    agg.flush()
    assert len(good.frames) == 1 and len(good.buckets) == 1 and agg.sink_errors == 2


def prom_value(text: str, name: str, labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{{labels}}} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{labels}}} not exposed")


def test_prometheus_dwell_and_crossings_move_only_by_closed_suppressed_buckets():
    """Per-frame increments would time single crossings and show a lone person's dwell; the counters move by
    closed buckets only, and a zone's dwell from fewer than k people never moves them at all."""
    clock = Clock(1_700_000_040.5)
    prom = PrometheusSink({"cam": (["z"], ["l"], ["z"])}, "0" * 64, list)
    agg = Aggregator(LAYOUT, 60, [prom], clock=clock, k=5)
    dwell = 'camera="cam",le="5.0",zone="z"'
    crossings = 'camera="cam",direction="in",line="l"'
    agg.record(result(dwell={"z": HIST}, crossings={"l": (1, 0)}, queue_wait={"z": 3.0}, queue_wait_n={"z": 1}))
    text = generate_latest(prom.registry).decode()
    assert prom_value(text, "edgeanon_line_crossings_total", crossings) == 0.0  # not per frame
    assert prom_value(text, "edgeanon_zone_dwell_seconds_bucket", dwell) == 0.0
    assert np.isnan(prom_value(text, "edgeanon_queue_wait_seconds", 'camera="cam",zone="z"'))  # 1 person < k
    clock.t += 60
    agg.tick()  # the bucket closes: one crossing (a plain count) shows, one person's dwell does not
    text = generate_latest(prom.registry).decode()
    assert prom_value(text, "edgeanon_line_crossings_total", crossings) == 1.0
    assert prom_value(text, "edgeanon_zone_dwell_seconds_count", 'camera="cam",zone="z"') == 0.0
    assert prom_value(text, "edgeanon_zone_dwell_seconds_sum", 'camera="cam",zone="z"') == 0.0
    for _ in range(5):
        agg.record(result(dwell={"z": HIST}, queue_wait={"z": 4.0}, queue_wait_n={"z": 5}))
    text = generate_latest(prom.registry).decode()
    assert prom_value(text, "edgeanon_queue_wait_seconds", 'camera="cam",zone="z"') == 4.0  # 5 people: shown
    assert prom_value(text, "edgeanon_zone_dwell_seconds_bucket", dwell) == 0.0
    clock.t += 60
    agg.tick()
    text = generate_latest(prom.registry).decode()
    assert prom_value(text, "edgeanon_zone_dwell_seconds_bucket", dwell) == 5.0
    assert prom_value(text, "edgeanon_zone_dwell_seconds_sum", 'camera="cam",zone="z"') == 15.0
