"""What the MQTT sink publishes: every topic and JSON payload, from config names and fixed lists only.

Pure functions of a bucket or of the config's layout, kept apart from the connection and its threads
(``mqtt``), so what leaves can be read (and tested) without a broker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

from edgeanon import __version__
from edgeanon.counting.results import Bucket
from edgeanon.outputs.store_rows import bucket_rows

AVAILABLE, UNAVAILABLE = "online", "offline"
Layout = Mapping[str, tuple[Sequence[str], Sequence[str]]]  # camera -> (zones, lines), from the config


class Topics:
    """Every topic this sink publishes to, built from the prefix and config names only."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.status = f"{prefix}/status"
        self.bucket_site = f"{prefix}/bucket/site"
        self.site_occupancy = f"{prefix}/live/site/occupancy"

    def bucket_camera(self, camera: str) -> str:
        return f"{self.prefix}/bucket/camera/{camera}"

    def camera(self, camera: str, what: str) -> str:
        """``occupancy`` or ``up`` of one camera."""
        return f"{self.prefix}/live/camera/{camera}/{what}"

    def zone(self, camera: str, zone: str) -> str:
        return f"{self.prefix}/live/camera/{camera}/zone/{zone}/occupancy"

    def line(self, camera: str, line: str, direction: str) -> str:
        return f"{self.prefix}/live/camera/{camera}/line/{line}/{direction}"


def _number(v: float) -> int | float | None:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return int(v) if float(v).is_integer() else float(v)


def bucket_messages(bucket: Bucket, site: str, topics: Topics) -> list[tuple[str, bytes]]:
    """The bucket as (topic, JSON) pairs: one per camera, then the site. Values are the store's rows for the same
    bucket (``store_rows.bucket_rows``), grouped by scope, so the two never disagree."""
    head = {"bucket_start": int(bucket.start), "bucket_seconds": int(bucket.length), "partial": bool(bucket.partial)}
    cams: dict[str, dict] = {
        cam: {"site": site, "camera": cam, **head, "metrics": {}, "zones": {}, "lines": {}, "attributes": {}}
        for cam in bucket.cameras
    }
    site_msg: dict = {"site": site, "camera": "", **head}
    for cam, scope, name, metric, value in bucket_rows(bucket):
        v = _number(value)
        if scope == "site":
            site_msg[metric] = v
        elif scope == "camera":
            cams[cam]["metrics"][metric] = v
        else:  # zone or line
            cams[cam][f"{scope}s"].setdefault(name, {})[metric] = v
    for cam, cb in bucket.cameras.items():
        for (kind, place, bin_), n in sorted(cb.attributes.items()):
            if n > 0:  # after suppression: every bin left here counts at least k
                cams[cam]["attributes"].setdefault(kind, {}).setdefault(place, {})[bin_] = int(n)
    out = [(topics.bucket_camera(cam), _dumps(msg)) for cam, msg in cams.items()]
    out.append((topics.bucket_site, _dumps(site_msg)))
    return out


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def discovery_messages(
    site: str, discovery_prefix: str, layout: Layout, topics: Topics, zones: bool, lines: bool
) -> list[tuple[str, bytes]]:
    """Home Assistant discovery configs (retained): one sensor per zone occupancy and line direction, the site
    occupancy, and one binary sensor per camera for camera up. Ids come from config names only."""
    node = f"edgeanon_{site}"
    device = {
        "identifiers": [node],
        "name": f"edgeanon {site}",
        "manufacturer": "edgeanon",
        "model": "edgeanon people counter",
        "sw_version": __version__,
    }
    common = {"availability_topic": topics.status, "payload_available": AVAILABLE, "payload_not_available": UNAVAILABLE}
    out: list[tuple[str, bytes]] = []

    def add(component: str, object_id: str, name: str, state_topic: str, **extra: object) -> None:
        uid = f"{node}_{object_id}"
        cfg = {"name": name, "unique_id": uid, "object_id": uid, "state_topic": state_topic, "device": device}
        out.append((f"{discovery_prefix}/{component}/{node}/{object_id}/config", _dumps(cfg | common | extra)))

    people = {"unit_of_measurement": "people", "state_class": "measurement"}
    add("sensor", "site_occupancy", "Site occupancy", topics.site_occupancy, **people)
    for cam, (zone_names, line_names) in layout.items():
        add(
            "binary_sensor",
            f"{cam}_up",
            f"{cam} camera up",
            topics.camera(cam, "up"),
            device_class="connectivity",
            payload_on="1",
            payload_off="0",
        )
        for z in zone_names if zones else ():
            add("sensor", f"{cam}_zone_{z}_occupancy", f"{cam} {z} occupancy", topics.zone(cam, z), **people)
        for ln in line_names if lines else ():
            for d in ("in", "out"):
                add(
                    "sensor",
                    f"{cam}_line_{ln}_{d}",
                    f"{cam} {ln} {d}",
                    topics.line(cam, ln, d),
                    unit_of_measurement="people",
                    state_class="total_increasing",
                )
    return out
