"""管理時 (management): retention proportionate to the purposes, endpoints behind authentication and TLS, the
installer mode off, and credentials kept safe (``credentials``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeanon.config.names import is_loopback
from edgeanon.config.schema import Config
from edgeanon.guidebook import policy
from edgeanon.guidebook.assess.credentials import check_cleartext_passwords, check_credentials
from edgeanon.guidebook.assess.item import Item, Status
from edgeanon.guidebook.notice.content import installer_until

RETENTION_OPERATIONAL_DAYS = 180  # occupancy/flow/queue only: live decisions and hour/weekday planning
RETENTION_LAYOUT_DAYS = 366  # with dwell or heatmap: compare a floor layout with the same season last year
# Outputs whose use is comparing seasons (floor layout, product range); without them counts serve live decisions.
_SEASONAL_OUTPUTS = frozenset({"zone_dwell", "heatmap", "age_band", "gender"})


def check_management(cfg: Config, path: str | Path | None) -> list[Item]:
    items = [_retention(cfg), *_endpoint(cfg)]
    installer = _installer_mode(cfg)
    if installer is not None:
        items.append(installer)
    items.append(check_credentials(cfg, path))
    items.append(check_cleartext_passwords(cfg))
    return items


def _retention(cfg: Config) -> Item:
    days = cfg.retention.aggregates_days
    allowed = policy.allowed_outputs(cfg.purpose_ids)
    operational = not allowed & _SEASONAL_OUTPUTS
    limit = RETENTION_OPERATIONAL_DAYS if operational else RETENTION_LAYOUT_DAYS
    why = (
        "occupancy, flow and queue counts serve live staffing and safety decisions and hour-of-day / weekday "
        "planning, for which about two seasons of weekly patterns are enough"
        if operational
        else "dwell and heatmap compare floor layouts"
        + (", and age band and gender statistics the product range," if "age_band" in allowed else "")
        + " across seasons, which needs at most a year to compare with the same season last year"
    )
    return Item(
        "management",
        "management.retention",
        "Aggregate retention proportionate to the purposes",
        "warn" if days > limit else "pass",
        (
            f"{days} days is more than the {limit} days these purposes need: {why}. Shorten "
            "retention.aggregates_days, or keep long-term trends as coarser summaries and say why in the "
            "justification."
            if days > limit
            else f"{days} days, within {limit}: {why}. The aggregate store deletes anything older."
        ),
    )


def _configured(section: Any) -> bool:
    """A future optional section (``http.auth``, ``http.tls``): absent, None, False, empty or disabled = off."""
    if section is None or section is False:
        return False
    if isinstance(section, dict):
        return bool(section) and section.get("enabled", True) is not False
    return getattr(section, "enabled", True) is not False


def _endpoint(cfg: Config) -> tuple[Item, Item]:
    """Who can reach /metrics and the pages: authentication, then TLS."""
    host = cfg.http.host
    loop = is_loopback(host)
    auth = _configured(getattr(cfg.http, "auth", None))
    tls = _configured(getattr(cfg.http, "tls", None))
    shown = host or "(all interfaces)"
    title = "Endpoints not exposed without authentication"
    if loop:
        reason = f"bound to loopback {shown}: only this device can reach /metrics and the pages" + (
            " (authentication also configured)." if auth else "."
        )
        auth_item = Item("management", "management.endpoint-auth", title, "pass", reason)
    elif auth:
        reason = f"bound to {shown}, reachable from the network, with http.auth configured."
        auth_item = Item("management", "management.endpoint-auth", title, "pass", reason)
    else:
        reason = (
            f"bound to {shown}, reachable from the network, with no http.auth: anyone on the network can read the "
            "aggregates and the status pages. Configure http.auth, or bind to 127.0.0.1 behind an authenticating "
            "reverse proxy."
        )
        auth_item = Item("management", "management.endpoint-auth", title, "fail", reason)
    if loop:
        status: Status = "pass"
        reason = "loopback only: traffic never leaves the device, TLS is not needed."
    elif tls:
        status, reason = "pass", f"bound to {shown} with http.tls configured."
    else:
        status = "warn"
        reason = (
            f"bound to {shown} without http.tls: the basic-auth password and the aggregates cross the network in "
            "clear text. Configure http.tls or terminate TLS in a reverse proxy."
        )
    tls_item = Item("management", "management.endpoint-tls", "TLS on a network-reachable endpoint", status, reason)
    return auth_item, tls_item


def _installer_mode(cfg: Config) -> Item | None:
    """``http.setup_until``: while it has not passed, /setup shows live outlines of people."""
    if getattr(cfg.http, "setup_until", None) is None:
        return None
    title = "Installer mode (/setup) off in normal operation"
    until = installer_until(cfg)
    if until is None:
        return Item(
            "management", "management.installer-mode", title, "pass", "http.setup_until has passed: /setup is off."
        )
    return Item(
        "management",
        "management.installer-mode",
        title,
        "warn",
        f"installer mode is on until {until}: /setup shows live outlines of people, and the notice says so. Remove "
        "http.setup_until once zones and lines are placed.",
    )
