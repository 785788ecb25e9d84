"""What the guidebook asks a site to declare: who is accountable, why it counts, how long it keeps what, what it
shares, and when it runs."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edgeanon.config.base import StrictModel
from edgeanon.config.errors import at_field
from edgeanon.guidebook import policy


class Operator(StrictModel):
    name: str = Field(min_length=1, max_length=200, description="Legal name of the business operating the cameras.")
    accountable: str = Field(min_length=1, max_length=200, description="Person or role accountable for the cameras.")
    contact: str = Field(
        min_length=3, max_length=200, description="One inquiry contact for the public: email, phone or URL."
    )
    notice_url: str | None = Field(None, description="Where the notice is published on the web.")

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str) -> str:
        if not (
            re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v)
            or re.fullmatch(r"\+?[0-9][0-9 ()-]{5,}", v)
            or re.match(r"https?://\S+$", v)
        ):
            raise ValueError("must be an email address, a phone number or an http(s) URL")
        return v


class Justification(StrictModel):
    """A justification in both notice languages, so the Japanese notice never shows English text."""

    ja: str = Field(min_length=1, max_length=1000, description="The justification in Japanese (Japanese notice).")
    en: str = Field(min_length=1, max_length=1000, description="The justification in English (English notice).")


class Purpose(StrictModel):
    id: str = Field(description=f"One of: {', '.join(policy.PURPOSES)}.")
    justification: Annotated[str, Field(min_length=1, max_length=1000)] | Justification = Field(
        description="Why this purpose needs cameras, in words a customer can follow; shown in the notice. One text "
        "for both notices, or {ja: ..., en: ...} with one per language.",
    )

    def justification_in(self, lang: str) -> str:
        """The text for a notice in ``lang`` ("ja" or "en"); a plain string serves both."""
        j = self.justification
        return j if isinstance(j, str) else (j.ja if lang == "ja" else j.en)

    @property
    def justifications(self) -> tuple[str, ...]:
        """Every text given (one or two), for checks that each must pass."""
        j = self.justification
        return (j,) if isinstance(j, str) else (j.ja, j.en)

    @field_validator("id")
    @classmethod
    def _known(cls, v: str) -> str:
        key = v.strip().lower().replace("-", "_").replace(" ", "_")
        if key in policy.FORBIDDEN_PURPOSES:
            raise ValueError(policy.refusal(policy.FORBIDDEN_PURPOSES[key], f"purpose {v!r}"))
        if key not in policy.PURPOSES:
            raise ValueError(f"unknown purpose {v!r}; declare one of: {', '.join(policy.PURPOSES)}")
        return key


class Retention(StrictModel):
    raw_frames_seconds: int = Field(
        0, description="How long raw frames are kept: must be 0 (frames are zeroed right after inference)."
    )
    aggregates_days: int = Field(
        90, ge=1, description=f"Days aggregates are kept in the store (at most {policy.MAX_AGGREGATE_RETENTION_DAYS})."
    )
    audit_days: int = Field(
        400, ge=1, description=f"Days audit records are kept (at most {policy.MAX_AUDIT_RETENTION_DAYS})."
    )

    @field_validator("raw_frames_seconds")
    @classmethod
    def _no_frames(cls, v: int) -> int:
        if v != 0:
            raise ValueError(policy.refusal("R2-discard", f"keeping raw frames for {v} s"))
        return v

    @field_validator("aggregates_days")
    @classmethod
    def _agg_max(cls, v: int) -> int:
        if v > policy.MAX_AGGREGATE_RETENTION_DAYS:
            raise ValueError(
                policy.refusal(
                    "R6-retention", f"{v} days is above the policy maximum of {policy.MAX_AGGREGATE_RETENTION_DAYS}"
                )
            )
        return v

    @field_validator("audit_days")
    @classmethod
    def _audit_max(cls, v: int) -> int:
        if v > policy.MAX_AUDIT_RETENTION_DAYS:
            raise ValueError(
                policy.refusal(
                    "R6-retention", f"{v} days is above the policy maximum of {policy.MAX_AUDIT_RETENTION_DAYS}"
                )
            )
        return v


class ThirdParty(StrictModel):
    provided: bool = Field(False, description="Whether aggregates are given to anyone outside the operator.")
    recipients: list[str] = Field(default_factory=list, description="Named recipients, when provided.")

    @model_validator(mode="after")
    def _named(self) -> ThirdParty:
        if self.provided and not self.recipients:
            raise ValueError(
                at_field(("recipients",), "name every recipient when aggregates are provided to third parties")
            )
        return self


class Privacy(StrictModel):
    k: int = Field(
        5,
        ge=1,
        le=100,
        description="Small-cell threshold: heatmap cells, dwell histograms, queue waits and attribute breakdowns "
        "of fewer than k people in a bucket are suppressed (a breakdown as a whole). Plain counts (occupancy, "
        "in/out) are not.",
    )
    third_party: ThirdParty = Field(default_factory=ThirdParty)


class OpeningHours(StrictModel):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, description="Days these hours apply to: mon, tue, wed, thu, fri, sat, sun."
    )
    open: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Local opening time, HH:MM.")
    close: str = Field(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$", description="Local closing time, HH:MM.")

    @model_validator(mode="after")
    def _order(self) -> OpeningHours:
        if self.close <= self.open:
            raise ValueError(at_field(("close",), "must be after open (split overnight hours into two entries)"))
        return self


class Schedule(StrictModel):
    hours: list[OpeningHours] = Field(
        min_length=1, description="When counting is needed. Outside these hours the cameras are not opened at all."
    )
