"""The whole config of one site: ``Config`` composes the parts, and checks what needs more than one of them
(purposes against analytics, tracker against detector thresholds, entrances against camera lines, installer mode
against auth). Parts are frozen pydantic models with ``extra="forbid"``; ``loader`` reads them from YAML."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from edgeanon.config.base import StrictModel, unique_names
from edgeanon.config.cameras import Camera, EntranceRef
from edgeanon.config.errors import at_field
from edgeanon.config.governance import Operator, Privacy, Purpose, Retention, Schedule
from edgeanon.config.http_server import SETUP_MAX_AHEAD_S, HttpConfig
from edgeanon.config.names import is_loopback
from edgeanon.config.outputs import MqttConfig, PushConfig, Storage
from edgeanon.config.stages import (
    ATTRIBUTE_JUSTIFICATION_MIN,
    AggregationConfig,
    AttributesConfig,
    DetectorConfig,
    TrackerConfig,
)
from edgeanon.guidebook import policy


class Config(StrictModel):
    """One site: who is accountable, why it counts, its cameras and what to count."""

    operator: Operator = Field(description="Who operates the cameras and answers questions (guidebook: planning).")
    purposes: list[Purpose] = Field(
        min_length=1, description="Why the site counts people; every analytic needs a declared purpose."
    )
    retention: Retention = Field(default_factory=Retention)
    privacy: Privacy = Field(default_factory=Privacy)
    schedule: Schedule | None = Field(None, description="Opening hours; without it the cameras run all day.")
    storage: Storage = Field(default_factory=Storage)
    push: PushConfig | None = Field(
        None, description="Also push the metrics to a Prometheus Pushgateway (boxes that head office cannot scrape)."
    )
    mqtt: MqttConfig | None = Field(
        None, description="Also publish the aggregates to an MQTT broker (store systems, Home Assistant)."
    )
    cameras: list[Camera] = Field(min_length=1, description="The cameras of this site.")
    entrances: list[EntranceRef] = Field(
        default_factory=list, description="Lines whose in/out together give the site occupancy."
    )
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    aggregation: AggregationConfig = Field(default_factory=AggregationConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    attributes: AttributesConfig | None = Field(
        None,
        description="Opt-in coarse age band and gender estimation; needs the purpose 'attributes' with a "
        "justification.",
    )

    @property
    def purpose_ids(self) -> frozenset[str]:
        return frozenset(p.id for p in self.purposes)

    def setup_until_ts(self) -> float | None:
        """``http.setup_until`` as a Unix time; a time without an offset is local to ``aggregation.timezone``."""
        until = self.http.setup_until
        if until is None:
            return None
        if until.tzinfo is None:
            until = until.replace(tzinfo=ZoneInfo(self.aggregation.timezone))
        return until.timestamp()

    @model_validator(mode="after")
    def _setup_mode(self) -> Config:
        """Installer mode shows live per-person outlines: it must expire soon, and never be open to a network."""
        until = self.setup_until_ts()
        if until is None:
            return self
        if until - time.time() > SETUP_MAX_AHEAD_S:
            raise ValueError(
                at_field(
                    ("http", "setup_until"),
                    "is more than 24 h ahead; installer mode shows live outlines of people, so it must expire "
                    "within a day of loading the config",
                )
            )
        if self.http.auth is None and not is_loopback(self.http.host):
            raise ValueError(
                at_field(
                    ("http", "setup_until"),
                    f"installer mode needs http.auth when http.host ({self.http.host}) is not loopback: anyone who "
                    "can reach the port would see live outlines of people",
                )
            )
        return self

    @model_validator(mode="after")
    def _purposes(self) -> Config:
        declared = [p.id for p in self.purposes]
        for i, pid in enumerate(declared):
            if pid in declared[:i]:
                raise ValueError(at_field(("purposes", i), f"purpose {pid!r} is declared twice"))
        have = set(declared)

        def need(ok: bool, path: tuple[str | int, ...], what: str, purposes: str) -> None:
            if not ok:
                raise ValueError(at_field(path, policy.refusal("R1-purpose", f"{what} needs the purpose {purposes}")))

        for ci, cam in enumerate(self.cameras):
            for li in range(len(cam.lines)):
                need("flow" in have, ("cameras", ci, "lines", li), "counting line crossings", "'flow'")
            for zi, zone in enumerate(cam.zones):
                need(
                    bool(have & {"occupancy", "dwell", "queue"}),
                    ("cameras", ci, "zones", zi),
                    "a zone",
                    "'occupancy', 'dwell' or 'queue'",
                )
                if zone.queue:
                    need("queue" in have, ("cameras", ci, "zones", zi, "queue"), "a queue zone", "'queue'")
            if cam.heatmap is not None:
                need("heatmap" in have, ("cameras", ci, "heatmap"), "a heatmap", "'heatmap'")
            if cam.movement is not None:
                need("flow" in have, ("cameras", ci, "movement"), "movement settings", "'flow'")
        if self.entrances:
            need("occupancy" in have, ("entrances",), "site occupancy from entrances", "'occupancy'")
        self._attribute_purpose(have)
        return self

    def _attribute_purpose(self, have: set[str]) -> None:
        """``attributes.estimate`` and the purpose ``attributes`` come together, with a real justification."""
        estimate = self.attributes.estimate if self.attributes is not None else []
        if estimate and "attributes" not in have:
            raise ValueError(
                at_field(
                    ("attributes", "estimate"),
                    policy.refusal("R1-purpose", "estimating attributes needs the purpose 'attributes'"),
                )
            )
        if "attributes" not in have:
            return
        i = next(i for i, p in enumerate(self.purposes) if p.id == "attributes")
        if not estimate:
            raise ValueError(
                at_field(
                    ("purposes", i, "id"),
                    policy.refusal(
                        "R1-purpose", "the purpose 'attributes' without attributes.estimate (say what is estimated)"
                    ),
                )
            )
        if min(len(t.strip()) for t in self.purposes[i].justifications) < ATTRIBUTE_JUSTIFICATION_MIN:
            raise ValueError(
                at_field(
                    ("purposes", i, "justification"),
                    policy.refusal(
                        "R1-purpose",
                        f"the purpose 'attributes' needs a specific justification (at least "
                        f"{ATTRIBUTE_JUSTIFICATION_MIN} characters saying why age band or gender is needed)",
                    ),
                )
            )
        for ci, cam in enumerate(self.cameras):  # age band and gender are keyed by place: zone or line name
            zones = {z.name for z in cam.zones}
            for li, ln in enumerate(cam.lines):
                if ln.name in zones:
                    raise ValueError(
                        at_field(
                            ("cameras", ci, "lines", li, "name"),
                            f"{ln.name!r} names both a zone and a line; with attributes every place name must be "
                            "unique on a camera",
                        )
                    )

    @model_validator(mode="after")
    def _refs(self) -> Config:
        if self.tracker.low_score > self.detector.score:
            raise ValueError(at_field(("tracker", "low_score"), "must not exceed detector.score"))
        if self.tracker.new_track_score < self.detector.score:
            raise ValueError(at_field(("tracker", "new_track_score"), "must be at least detector.score"))
        unique_names("cameras", [c.id for c in self.cameras], ("cameras",))
        lines = {(c.id, ln.name) for c in self.cameras for ln in c.lines}
        for i, e in enumerate(self.entrances):
            if (e.camera, e.line) not in lines:
                raise ValueError(at_field(("entrances", i), f"{e.camera}/{e.line}: no such camera line"))
        return self
