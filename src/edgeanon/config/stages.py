"""Site-wide settings of the pipeline's stages: the person detector, the tracker, the opt-in attribute
estimation, and the time buckets of aggregation."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator

from edgeanon.config.base import StrictModel
from edgeanon.config.errors import at_field
from edgeanon.guidebook import policy

_SIZE = re.compile(r"^([0-9]{1,5})x([0-9]{1,5})$")


def _input_size(v: str) -> str:
    """``auto`` or ``WxH`` (normalised: lower case, no spaces); whether the model runs at WxH is checked at start-up,
    once the model is known (its sides must be multiples of the manifest's ``input.multiple``)."""
    word = v.strip().lower().replace(" ", "")
    m = _SIZE.match(word)
    if word != "auto" and (m is None or int(m.group(1)) == 0 or int(m.group(2)) == 0):
        raise ValueError(f"{v!r} is neither 'auto' nor a size like '416x320' (width x height in pixels)")
    return word


InputSize = Annotated[
    str,
    AfterValidator(_input_size),
    Field(
        description="Model input size: 'auto' (the frame's long side at the model's trained size, e.g. 768x576 "
        "runs at 416x320) or 'WxH' with sides that are multiples of the model's input.multiple (32 for NanoDet)."
    ),
]


class DetectorConfig(StrictModel):
    model: str | None = Field(None, description="Model name from the models manifest; empty means its default.")
    threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="onnxruntime threads per session; empty: the physical cores shared out between the sessions.",
    )
    spinning: bool = Field(
        False,
        description="Let idle onnxruntime threads spin: slightly faster inference, but it burns CPU that capture "
        "and other cameras need (see benchmarks/results).",
    )
    score: float = Field(0.5, gt=0, lt=1, description="Person score threshold.")
    iou: float = Field(0.5, gt=0, lt=1, description="NMS IoU threshold.")
    min_box: float = Field(8.0, ge=0, description="Ignore boxes with a side shorter than this (pixels).")
    max_box: float | None = Field(None, gt=0, description="Ignore boxes with a side longer than this (pixels).")
    sessions: int | None = Field(
        None,
        ge=1,
        le=8,
        description="Detector sessions (worker threads) shared by all cameras; each has `threads`. Empty: one per "
        "camera, up to the physical cores (cameras are independent work: single-thread sessions side by side "
        "carried more cameras than one session with all the cores, see benchmarks/results/NOTES.md).",
    )
    batch: int = Field(
        1,
        ge=1,
        le=16,
        description="Most frames per inference run: ready frames of other cameras with the same input size join "
        "one batched run (1: off, the default: on the 2-core Xeon measured, a batch was no cheaper per frame and "
        "raised the delay; see benchmarks/results/BATCH.md). Cameras with an attribute stage always run alone.",
    )
    skip_idle: bool = Field(
        True,
        description="Skip inference on a frame that shows no motion against the last inferred frame while the "
        "camera has no track: it is counted as fate `idle`, at the tracker's occupancy (0 with no track).",
    )
    input: InputSize = "auto"
    resize: Literal["stretch", "letterbox"] | None = Field(
        None,
        description="How a frame becomes the input: stretch (each side scaled on its own; with auto only the "
        "rounding to a multiple of 32 is stretched) or letterbox (aspect kept, borders padded). Empty: the "
        "model manifest's (stretch for NanoDet).",
    )


class TrackerConfig(StrictModel):
    low_score: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="Detections between this and detector.score only extend existing tracks (ByteTrack's second "
        "stage), so people who are partly hidden for a moment keep their track.",
    )
    new_track_score: float = Field(0.6, gt=0, le=1, description="Minimum score to start a new track.")
    confirm_hits: int = Field(3, ge=1, le=30, description="Consecutive detections before a track counts.")
    max_age: float = Field(1.0, gt=0, le=30, description="Seconds a lost track is kept before it ends.")
    capacity: int = Field(256, ge=8, le=4096, description="Maximum simultaneous tracks per camera (bounded memory).")


def _estimate(word: str) -> str:
    problem = policy.attribute_problem(word)
    if problem is not None:
        raise ValueError(problem)
    return word.strip().lower()


EstimateName = Annotated[
    str, AfterValidator(_estimate), Field(description=f"One of: {', '.join(policy.ATTRIBUTE_ESTIMATES)}.")
]
ATTRIBUTE_JUSTIFICATION_MIN = 20  # characters, stripped: "marketing" alone says nothing a customer can predict


class AttributesConfig(StrictModel):
    """Opt-in machine estimation of coarse attributes (purpose ``attributes``); anything else is refused."""

    estimate: list[EstimateName] = Field(
        default_factory=list,
        description="Attributes to estimate: age_band (10-year bins, e.g. <20, 20s ... 60+) and/or gender. Race, "
        "ethnicity, emotion, religion, disability, health, identity and face embeddings are refused.",
    )
    min_face_px: int = Field(
        32, ge=12, le=1024, description="Skip (and count) faces smaller than this many pixels on a side."
    )
    face_score: float = Field(0.6, gt=0, lt=1, description="Face detector score threshold.")
    threads: int = Field(1, ge=1, le=64, description="onnxruntime threads of the face and attribute models.")

    @field_validator("estimate")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        for i, word in enumerate(v):
            if word in v[:i]:
                raise ValueError(at_field((i,), f"{word!r} is listed twice"))
        return v

    @property
    def enabled(self) -> bool:
        """Whether anything is estimated at all (an empty list loads no model)."""
        return bool(self.estimate)


class AggregationConfig(StrictModel):
    bucket_seconds: int = Field(60, ge=10, le=3600, description="Length of one aggregate time bucket.")
    timezone: str = Field("Asia/Tokyo", description="IANA timezone of the site (for day boundaries).")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r}") from None
        return v
