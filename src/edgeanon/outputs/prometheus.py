"""Prometheus exposition from a private registry; label values come only from the config or fixed lists."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from edgeanon import __version__
from edgeanon.counting.bins import DWELL_BUCKETS_S, FACE_OUTCOMES, KINDS
from edgeanon.counting.results import DIRECTIONS, FATES, Bucket, LiveCounts
from edgeanon.guidebook import policy
from edgeanon.outputs.live import CameraStatus

disable_created_metrics()  # `_created` timestamps per series only add noise to a device's exposition

INFERENCE_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)


class _CameraHealth(Collector):
    """Reads camera state at scrape time, so the exposed counters are the capture counters themselves."""

    def __init__(self, statuses: Callable[[], Iterable[CameraStatus]]) -> None:
        self._statuses = statuses

    def collect(self):
        up = GaugeMetricFamily("edgeanon_camera_up", "1 while the camera delivers frames.", labels=["camera"])
        fps = GaugeMetricFamily("edgeanon_camera_fps", "Measured analysis frame rate.", labels=["camera"])
        frames = CounterMetricFamily(
            "edgeanon_frames",
            "Captured frames and the fate of each: inferred, dropped (a newer frame replaced it "
            "before inference), skipped (pacing) or idle (not inferred: no motion and no track, "
            "detector.skip_idle; counted in occupancy means at the tracker's occupancy, 0 with no track). "
            "captured = inferred + dropped + skipped + idle. Every frame is zeroed when its fate is decided.",
            labels=["camera", "fate"],
        )
        reconnects = CounterMetricFamily(
            "edgeanon_camera_reconnects", "Source reopen attempts after a failure.", labels=["camera"]
        )
        view_ok = GaugeMetricFamily(
            "edgeanon_camera_view_ok",
            "0 when the view check finds the camera moved, covered or out of focus against its usual view; "
            "1 otherwise, also while the usual view is still being learnt.",
            labels=["camera"],
        )
        for st in self._statuses():
            c = st.counters.accounted()  # captured counted with the fate: the equation holds in every scrape
            view_ok.add_metric([st.camera], 0.0 if st.view_ok is False else 1.0)
            up.add_metric([st.camera], 1.0 if st.up else 0.0)
            fps.add_metric([st.camera], st.fps if st.up else 0.0)
            for fate in FATES:
                frames.add_metric([st.camera, fate], float(c[fate]))
            reconnects.add_metric([st.camera], float(st.reconnects))
        yield from (up, fps, frames, reconnects, view_ok)


class _DwellHistograms(Collector):
    """Zone dwell as a Prometheus histogram built from closed buckets' suppressed dwell counts (a zone's bucket
    with fewer than k visits adds nothing), in the analytics' fixed buckets; no raw observation is kept."""

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        self.counts = {k: np.zeros(len(DWELL_BUCKETS_S), np.int64) for k in keys}
        self.sums = dict.fromkeys(keys, 0.0)

    def collect(self):
        fam = HistogramMetricFamily(
            "edgeanon_zone_dwell_seconds",
            "Time people spent in a zone, observed as they leave it, added per closed bucket; a bucket in which "
            "fewer than privacy.k people left the zone adds nothing.",
            labels=["camera", "zone"],
        )
        for (cam, zone), counts in self.counts.items():
            cum = np.cumsum(counts)
            buckets = [
                ("+Inf" if math.isinf(b) else repr(b), float(c)) for b, c in zip(DWELL_BUCKETS_S, cum, strict=True)
            ]
            fam.add_metric([cam, zone], buckets, self.sums[(cam, zone)])
        yield fam


class PrometheusSink:
    """Only the families whose purpose is declared exist at all, so an undeclared number has no name here."""

    name = "prometheus"

    def __init__(
        self,
        layout: dict[str, tuple[list[str], list[str], list[str]]],  # camera -> (zones, lines, queue zones)
        model_sha256: str,
        statuses: Callable[[], Iterable[CameraStatus]],
        heatmap_shape: tuple[int, int] | None = None,
        purposes: frozenset[str] = frozenset(policy.PURPOSES),
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        allowed = policy.allowed_outputs(purposes)
        Info("edgeanon_build", "Version and model of this process.", registry=r).info(
            {"version": __version__, "model_sha256": model_sha256}
        )
        r.register(_CameraHealth(statuses))
        self.inference = Histogram(
            "edgeanon_inference_seconds",
            "Detector time per inferred frame (preprocess to NMS); idle frames are not observed.",
            ["camera"],
            buckets=INFERENCE_BUCKETS,
            registry=r,
        )
        self.buckets = Counter("edgeanon_buckets", "Aggregate buckets published to the sinks.", registry=r)
        self.crossings = self.zone_occupancy = self.camera_occupancy = self.site_occupancy = None
        self.queue_length = self.queue_wait = self.heat = None
        self.dwell: _DwellHistograms | None = None
        # attribute kind -> (counter, place names per camera); incremented only from closed, suppressed buckets
        self.attributes: dict[str, tuple[Counter, dict[str, list[str]]]] = {}
        families = (
            # kind, metric name, HELP, place label, where the kind is counted
            (
                "heading",
                "edgeanon_zone_heading",
                "Zone visits by direction of travel (8 screen directions, n = up)"
                " in closed buckets; a place's whole breakdown is left out of a bucket when a bin is below k.",
                "zone",
                "zones",
            ),
            (
                "speed",
                "edgeanon_zone_speed",
                "Zone visits by speed band (slow, normal, fast) in closed buckets; a place's whole breakdown is left "
                "out of a bucket when a bin is below k.",
                "zone",
                "zones",
            ),
            (
                "group_size",
                "edgeanon_line_groups",
                "Groups crossing a line together, by size (1, 2, 3, 4+), in "
                "closed buckets; a place's whole breakdown is left out of a bucket when a bin is below k.",
                "line",
                "lines",
            ),
            (
                "age_band",
                "edgeanon_age_band",
                "People by machine-estimated age band at a line or zone exit, in "
                "closed buckets; a place's whole breakdown is left out of a bucket when a bin is below k.",
                "place",
                "both",
            ),
            (
                "gender",
                "edgeanon_gender",
                "People by machine-estimated gender at a line or zone exit, in closed "
                "buckets; a place's whole breakdown is left out of a bucket when a bin is below k.",
                "place",
                "both",
            ),
        )
        label = {"heading": "heading", "speed": "speed", "group_size": "size", "age_band": "age_band"}
        for kind, metric, doc, place, where in families:
            if policy.ATTRIBUTE_OUTPUTS[kind] not in allowed:
                continue
            places = {
                cam: (zones if where != "lines" else []) + (lines if where != "zones" else [])
                for cam, (zones, lines, _) in layout.items()
            }
            counter = Counter(metric, doc, ["camera", place, label.get(kind, kind)], registry=r)
            self.attributes[kind] = (counter, places)
        self.faces: Counter | None = None
        if {"age_band", "gender"} & allowed:
            self.faces = Counter(
                "edgeanon_attribute_faces",
                "Confirmed tracks the attribute stage looked at, by outcome: estimated, or skipped because the "
                "person box (person_too_small) or the face found (face_too_small) is below attributes.min_face_px, "
                "or no face was found (no_face). Counted in closed buckets.",
                ["camera", "outcome"],
                registry=r,
            )
        if "line_crossings" in allowed:
            self.crossings = Counter(
                "edgeanon_line_crossings",
                "People crossing a configured line, added when a bucket closes.",
                ["camera", "line", "direction"],
                registry=r,
            )
        if "zone_occupancy" in allowed:
            self.zone_occupancy = Gauge(
                "edgeanon_zone_occupancy", "People currently in a configured zone.", ["camera", "zone"], registry=r
            )
        if "camera_occupancy" in allowed:
            self.camera_occupancy = Gauge(
                "edgeanon_camera_occupancy",
                "People in view, i.e. in the camera's roi (the region the detector looks at): confirmed tracks, "
                "including people hidden for less than tracker.max_age.",
                ["camera"],
                registry=r,
            )
        if "site_occupancy" in allowed:
            self.site_occupancy = Gauge(
                "edgeanon_site_occupancy",
                "People inside the site: entrance in minus out since local midnight, >= 0.",
                registry=r,
            )
        if "zone_dwell" in allowed:
            self.dwell = _DwellHistograms([(cam, z) for cam, (zones, _, _) in layout.items() for z in zones])
            r.register(self.dwell)
        if "queue_length" in allowed:
            self.queue_length = Gauge(
                "edgeanon_queue_length", "People in a queue zone.", ["camera", "zone"], registry=r
            )
            self.queue_wait = Gauge(
                "edgeanon_queue_wait_seconds",
                "Median time in the queue of people who left it in the last 10 minutes (NaN when fewer than "
                "privacy.k did).",
                ["camera", "zone"],
                registry=r,
            )
        if "heatmap" in allowed and heatmap_shape:
            self.heat = Gauge(
                "edgeanon_heatmap_presence",
                "People per coarse grid cell in the last closed bucket, each person counted once per cell "
                "(cells below privacy.k are 0).",
                ["camera", "row", "col"],
                registry=r,
            )
        # Create every series up front so dashboards see zeros, not gaps.
        for cam, (zones, lines, queues) in layout.items():
            self.inference.labels(cam)
            if self.camera_occupancy is not None:
                self.camera_occupancy.labels(cam)
            for z in zones:
                if self.zone_occupancy is not None:
                    self.zone_occupancy.labels(cam, z)
            for q in queues:
                if self.queue_length is not None and self.queue_wait is not None:
                    self.queue_length.labels(cam, q)
                    self.queue_wait.labels(cam, q)
            for ln in lines:
                for d in DIRECTIONS:
                    if self.crossings is not None:
                        self.crossings.labels(cam, ln, d)
            for kind, (counter, places) in self.attributes.items():
                for place in places[cam]:
                    for bin_ in KINDS[kind]:
                        counter.labels(cam, place, bin_)
            if self.faces is not None:
                for outcome in FACE_OUTCOMES:
                    self.faces.labels(cam, outcome)

    def on_frame(self, live: LiveCounts) -> None:
        cam = live.camera
        if live.inference_s is not None:  # None: an idle frame, not inferred
            self.inference.labels(cam).observe(live.inference_s)
        if self.camera_occupancy is not None and live.occupancy is not None:
            self.camera_occupancy.labels(cam).set(live.occupancy)
        if self.zone_occupancy is not None:
            for zone, n in live.zone_occupancy.items():
                self.zone_occupancy.labels(cam, zone).set(n)
        if self.queue_length is not None and self.queue_wait is not None:
            for zone, n in live.queue_length.items():
                self.queue_length.labels(cam, zone).set(n)
            for zone, wait in live.queue_wait.items():
                self.queue_wait.labels(cam, zone).set(wait if wait is not None else float("nan"))
        if self.site_occupancy is not None:
            self.site_occupancy.set(live.site_occupancy)

    def on_bucket(self, bucket: Bucket) -> None:
        """Counters of people move only here, by a closed bucket's suppressed values: their increments between
        scrapes are then bucket totals, never single crossings or single dwell observations with their times."""
        if self.site_occupancy is not None:
            self.site_occupancy.set(bucket.site_occupancy)
        if not bucket.partial:
            self.buckets.inc()
        for cam, cb in bucket.cameras.items():
            if self.dwell is not None:
                for zone, zb in cb.zones.items():
                    if (cam, zone) in self.dwell.counts and zb.dwell_count:
                        self.dwell.counts[(cam, zone)] += np.asarray(zb.dwell_counts, np.int64)
                        self.dwell.sums[(cam, zone)] += zb.dwell_sum
            if self.crossings is not None:
                for line, lb in cb.lines.items():
                    if lb.in_:
                        self.crossings.labels(cam, line, "in").inc(lb.in_)
                    if lb.out:
                        self.crossings.labels(cam, line, "out").inc(lb.out)
        self._attributes(bucket)
        if self.heat is None:
            return
        for cam, cb in bucket.cameras.items():
            if cb.heatmap is None:
                continue
            for (row, col), v in zip(*_cells(cb.heatmap), strict=True):
                self.heat.labels(cam, str(row), str(col)).set(v)

    def _attributes(self, bucket: Bucket) -> None:
        """Attribute counters move only here, from a bucket the aggregator has already k-suppressed."""
        for cam, cb in bucket.cameras.items():
            for (kind, place, bin_), n in cb.attributes.items():
                fam = self.attributes.get(kind)
                if fam is not None and n > 0:
                    fam[0].labels(cam, place, bin_).inc(n)
            if self.faces is not None:
                for outcome, n in cb.faces.items():
                    if n > 0:
                        self.faces.labels(cam, outcome).inc(n)

    def close(self) -> None:
        pass


def _cells(grid):
    rows, cols = grid.shape
    idx = [(r, c) for r in range(rows) for c in range(cols)]
    return idx, [float(grid[r, c]) for r, c in idx]
