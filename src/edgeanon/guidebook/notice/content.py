"""What the notice reports, derived from the config alone and the same in every language.

``kept_aggregates`` and ``movement_aggregates`` say which aggregates the site can produce (``assess`` checks the
same lists), ``estimated_attributes`` what the attribute stage estimates, ``installer_until`` whether /setup's
installer mode is on, and ``facts`` gathers everything one notice states. Which purpose allows what is asked of
``policy`` only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from edgeanon.config.schema import Config
from edgeanon.guidebook import policy


@dataclass(frozen=True, slots=True)
class Kept:
    """One kind of aggregate the site keeps: a policy output (or the queue pair), where it comes from."""

    # camera_occupancy, zone_occupancy, site_occupancy, line_crossings, zone_dwell, heatmap, queue, attributes;
    # from movement_aggregates: zone_movement, line_groups
    output: str
    purpose: str  # the declared purpose that allows it
    names: tuple[str, ...]  # cameras, zones or lines it is counted over (config names)
    grids: tuple[str, ...] = ()  # heatmap only: distinct "rows×cols" grids
    estimate: tuple[str, ...] = ()  # attributes only: policy.ATTRIBUTE_ESTIMATES listed in attributes.estimate


def _kept(output: str, allowed_by: str, names: tuple[str, ...], **extra: tuple[str, ...]) -> Kept:
    """A ``Kept`` whose purpose is the one that allows the policy output ``allowed_by``."""
    return Kept(output, policy.purpose_of(allowed_by), names, **extra)


def kept_aggregates(cfg: Config) -> list[Kept]:
    """The aggregates the config can produce: an output allowed by a declared purpose over configured geometry.

    This mirrors ``policy.PURPOSES`` and the config's purpose checks: camera occupancy for every camera and zone
    occupancy for every zone (occupancy), site occupancy from the entrance lines (occupancy), crossings per line
    (flow), dwell per zone (dwell), the coarse grid per heatmap camera (heatmap), queue length and wait per queue
    zone (queue), and estimated age band and gender per zone and line (attributes, counted as a person leaves a
    zone or crosses a line). The movement statistics flow adds are in ``movement_aggregates``. A declared purpose
    with no entry in either is declared but unused.
    """
    allowed = policy.allowed_outputs(cfg.purpose_ids)
    zones = _names([(c.id, z.name) for c in cfg.cameras for z in c.zones])
    queue_zones = _names([(c.id, z.name) for c in cfg.cameras for z in c.zones if z.queue])
    lines = _names([(c.id, ln.name) for c in cfg.cameras for ln in c.lines])
    out: list[Kept] = []
    if "camera_occupancy" in allowed:
        out.append(_kept("camera_occupancy", "camera_occupancy", tuple(c.id for c in cfg.cameras)))
    if "zone_occupancy" in allowed and zones:
        out.append(_kept("zone_occupancy", "zone_occupancy", zones))
    if "site_occupancy" in allowed and cfg.entrances:
        out.append(_kept("site_occupancy", "site_occupancy", _names([(e.camera, e.line) for e in cfg.entrances])))
    if "line_crossings" in allowed and lines:
        out.append(_kept("line_crossings", "line_crossings", lines))
    if "zone_dwell" in allowed and zones:
        out.append(_kept("zone_dwell", "zone_dwell", zones))
    heat = [c for c in cfg.cameras if c.heatmap is not None]
    if "heatmap" in allowed and heat:
        grids = tuple(dict.fromkeys(f"{c.heatmap.rows}×{c.heatmap.cols}" for c in heat if c.heatmap))
        out.append(_kept("heatmap", "heatmap", tuple(c.id for c in heat), grids=grids))
    if "queue_length" in allowed and queue_zones:
        out.append(_kept("queue", "queue_length", queue_zones))
    places = _names(
        [(c.id, p) for c in cfg.cameras for p in (*(z.name for z in c.zones), *(ln.name for ln in c.lines))]
    )
    estimate = estimated_attributes(cfg)
    if estimate and places:
        out.append(_kept("attributes", policy.ATTRIBUTE_OUTPUTS[estimate[0]], places, estimate=estimate))
    return out


def movement_aggregates(cfg: Config) -> list[Kept]:
    """The movement statistics the purpose ``flow`` adds, from track motion alone (no extra model): heading and
    speed band per zone visit (every zone), group size per crossing group (every line), suppressed
    like every attribute breakdown (``aggregate.suppress``)."""
    allowed = policy.allowed_outputs(cfg.purpose_ids)
    out: list[Kept] = []
    zones = _names([(c.id, z.name) for c in cfg.cameras for z in c.zones])
    lines = _names([(c.id, ln.name) for c in cfg.cameras for ln in c.lines])
    if zones and {"zone_heading", "zone_speed"} <= allowed:
        out.append(_kept("zone_movement", "zone_heading", zones))
    if lines and "line_group_size" in allowed:
        out.append(_kept("line_groups", "line_group_size", lines))
    return out


def estimated_attributes(cfg: Config) -> tuple[str, ...]:
    """What the attribute stage estimates (in ``policy.ATTRIBUTE_ESTIMATES`` order): empty unless a declared
    purpose allows it and ``attributes.estimate`` lists it (the config requires both together)."""
    attrs = getattr(cfg, "attributes", None)
    if attrs is None:
        return ()
    allowed = policy.allowed_outputs(cfg.purpose_ids)
    wanted = set(getattr(attrs, "estimate", ()) or ())
    return tuple(a for a in policy.ATTRIBUTE_ESTIMATES if a in wanted and policy.ATTRIBUTE_OUTPUTS[a] in allowed)


# The order of "what is kept" in the notice: each movement statistic next to the count it refines.
KEPT_ORDER = (
    "camera_occupancy",
    "zone_occupancy",
    "site_occupancy",
    "line_crossings",
    "line_groups",
    "zone_dwell",
    "zone_movement",
    "heatmap",
    "queue",
    "attributes",
)


def _names(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    """Display names: the bare name, or ``camera/name`` when the same name is used on two cameras."""
    count: dict[str, int] = {}
    for _, n in dict.fromkeys(pairs):
        count[n] = count.get(n, 0) + 1
    return tuple(dict.fromkeys(n if count[n] == 1 else f"{c}/{n}" for c, n in pairs))


def installer_until(cfg: Config, now: float | None = None) -> str | None:
    """When the installer mode (``http.setup_until``) ends, in local time, if it is on now; else None."""
    until = cfg.setup_until_ts()
    if until is None or until <= (time.time() if now is None else now):
        return None
    return datetime.fromtimestamp(until, ZoneInfo(cfg.aggregation.timezone)).strftime("%Y-%m-%d %H:%M")


ContactKind = Literal["email", "phone", "url"]


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything one notice states, in the config's words; the language adds only the prose around it."""

    operator: str
    accountable: str
    contact: str
    contact_kind: ContactKind
    notice_url: str | None
    purposes: tuple[tuple[str, str], ...]  # (purpose id, justification in the notice's language)
    cameras: tuple[str, ...]
    kept: tuple[Kept, ...]  # in KEPT_ORDER
    bucket_seconds: int
    k: int
    retention_days: int
    third_party: bool
    recipients: tuple[str, ...]
    hours: tuple[tuple[tuple[str, ...], str, str], ...] | None  # (days, open, close); None: no schedule
    estimate: tuple[str, ...]  # estimated attributes (age_band, gender); empty: none
    installer_until: str | None  # local "YYYY-MM-DD HH:MM" while /setup's installer mode is on; None: off

    @property
    def attributes(self) -> bool:
        return bool(self.estimate)


def contact_kind(contact: str) -> ContactKind:
    if "@" in contact and not contact.lower().startswith(("http://", "https://")):
        return "email"
    if contact.lower().startswith(("http://", "https://")):
        return "url"
    return "phone"


def facts(cfg: Config, lang: str) -> Facts:
    """The facts of the notice in ``lang`` (which only picks the justification a purpose gives in it)."""
    op = cfg.operator
    contact = op.contact.strip()
    hours = None
    if cfg.schedule is not None:
        hours = tuple((tuple(h.days), h.open, h.close) for h in cfg.schedule.hours)
    kept = sorted([*kept_aggregates(cfg), *movement_aggregates(cfg)], key=lambda k: KEPT_ORDER.index(k.output))
    return Facts(
        operator=op.name.strip(),
        accountable=op.accountable.strip(),
        contact=contact,
        contact_kind=contact_kind(contact),
        notice_url=(op.notice_url or "").strip() or None,
        purposes=tuple((p.id, p.justification_in(lang).strip()) for p in cfg.purposes),
        cameras=tuple(c.id for c in cfg.cameras),
        kept=tuple(kept),
        bucket_seconds=cfg.aggregation.bucket_seconds,
        k=cfg.privacy.k,
        retention_days=cfg.retention.aggregates_days,
        third_party=cfg.privacy.third_party.provided,
        recipients=tuple(r.strip() for r in cfg.privacy.third_party.recipients),
        hours=hours,
        estimate=estimated_attributes(cfg),
        installer_until=installer_until(cfg),
    )
