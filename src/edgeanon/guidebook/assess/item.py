"""One checklist line and the guidebook phases the lines are grouped by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["pass", "warn", "fail"]

PHASES: dict[str, str] = {
    "planning": "Planning (企画時)",
    "notice": "Prior notice (事前告知時)",
    "acquisition": "Acquisition (取得時)",
    "handling": "Handling (取扱い時)",
    "management": "Management (管理時)",
}


@dataclass(frozen=True, slots=True)
class Item:
    """One checklist line. ``phase`` is a key of ``PHASES``; ``id`` is stable (``phase.check[.subject]``)."""

    phase: str
    id: str
    title: str
    status: Status
    reason: str
