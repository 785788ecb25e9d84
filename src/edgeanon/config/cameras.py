"""One camera: its source, what is counted where on its picture, its movement scale, and the entrance lines
whose in/out give the site occupancy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edgeanon.config.base import Name, StrictModel, unique_names
from edgeanon.config.errors import at_field
from edgeanon.config.geometry import Exclude, Line, RegionBox, Zone
from edgeanon.config.sources import Source
from edgeanon.config.stages import InputSize


class HeatmapConfig(StrictModel):
    rows: int = Field(4, ge=1, le=8, description="Grid rows (at most 8: coarse on purpose, so no path can be traced).")
    cols: int = Field(4, ge=1, le=8, description="Grid columns (at most 8).")


class MovementConfig(StrictModel):
    """How heading, speed band and group size are measured on one camera (purpose ``flow``).

    Per camera, not global: the ground-plane scale depends on each camera's mounting height and angle, and the
    thresholds may differ between, say, a doorway and an escalator landing. The defaults are general figures
    for people walking in a store, not fitted to any clip.
    """

    px_per_metre: float | None = Field(
        None,
        gt=0,
        le=10000,
        allow_inf_nan=False,
        description="Ground-plane scale in pixels per metre, if measured (e.g. from floor tiles of known size). "
        "Empty: distances are estimated from each person's box height, assuming people are 1.7 m tall (rough: "
        "children, clipped boxes and steep views make it wrong by tens of percent).",
    )
    slow_below_mps: float = Field(
        0.5,
        gt=0,
        le=10,
        allow_inf_nan=False,
        description="A zone visit whose mean speed is below this (m/s) counts as 'slow' (typical walking is "
        "1.2-1.4 m/s; a general default, not fitted to a site).",
    )
    fast_above_mps: float = Field(
        1.8,
        gt=0,
        le=20,
        allow_inf_nan=False,
        description="A zone visit whose mean speed is above this (m/s) counts as 'fast'; in between is 'normal' "
        "(a general default, not fitted to a site).",
    )
    min_move_m: float = Field(
        1.0,
        ge=0,
        le=100,
        allow_inf_nan=False,
        description="A zone visit counts in the heading histogram only if the person's net displacement from "
        "entering to last being inside is at least this (m): someone who lingers has no heading (a general "
        "default, not fitted to a site).",
    )
    group_window_s: float = Field(
        2.0,
        gt=0,
        le=30,
        allow_inf_nan=False,
        description="Counted crossings of one line in one direction within this many seconds of a group's first "
        "crossing (and within group_distance_m) form one group (a general default, not fitted to a site).",
    )
    group_distance_m: float = Field(
        1.5,
        gt=0,
        le=20,
        allow_inf_nan=False,
        description="Maximum ground distance (m) from a crossing to some member of a group for it to join the "
        "group (a general default, not fitted to a site).",
    )

    @model_validator(mode="after")
    def _order(self) -> MovementConfig:
        if self.fast_above_mps <= self.slow_below_mps:
            raise ValueError(at_field(("fast_above_mps",), "must be greater than slow_below_mps"))
        return self


class Camera(StrictModel):
    id: Name
    source: Source = Field(description="Where frames come from: kind device, file or url.")
    fps: float = Field(10.0, gt=0, le=60, description="Target analysis rate; extra frames are skipped, not queued.")
    zones: list[Zone] = Field(default_factory=list, description="Named areas to count people in.")
    lines: list[Line] = Field(default_factory=list, description="Named lines to count crossings of.")
    exclude: list[Exclude] = Field(default_factory=list, description="Areas where detections are ignored.")
    heatmap: HeatmapConfig | None = Field(None, description="Optional coarse presence grid per bucket.")
    roi: Literal["auto", "full"] | RegionBox = Field(
        "auto",
        description="The region of the picture the detector looks at (people outside it are not seen): 'auto' "
        "is the bounding box of the zones and lines plus a margin for a person's height above them and for "
        "tracks to confirm before they reach a line (the whole frame with a heatmap, or with no zones and "
        "lines); 'full' is the whole frame; or a box {box: [x0, y0, x1, y1], normalized}. A smaller region "
        "is cheaper: with detector.input auto the model input shrinks with it.",
    )
    movement: MovementConfig | None = Field(
        None, description="Scale and thresholds for heading, speed band and group size (purpose flow); empty: defaults."
    )
    input: InputSize | None = Field(
        None, description="Model input size of this camera ('auto' or 'WxH'); empty: detector.input."
    )
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Give up opening the source after this long.")
    read_timeout_s: float = Field(
        5.0, gt=0, le=120, description="A read that blocks this long means the source is down."
    )
    reconnect_max_s: float = Field(4.0, gt=0, le=300, description="Cap of the exponential reconnect back-off.")

    @model_validator(mode="after")
    def _unique(self) -> Camera:
        unique_names("zones", [z.name for z in self.zones], ("zones",))
        unique_names("lines", [ln.name for ln in self.lines], ("lines",))
        return self


class EntranceRef(StrictModel):
    camera: Name = Field(description="Camera id.")
    line: Name = Field(description="Name of a line on that camera.")
