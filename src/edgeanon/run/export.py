"""`edgeanon export`: the stored aggregates of one site, read through its config, printed as CSV or JSON.

Retention is applied before anything is read, and every purge is audited, this one too; when the running service
holds the audit log, nothing is purged here and nothing past the retention is printed all the same.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from edgeanon.config.schema import Config
from edgeanon.counting.rollup import render, roll_up
from edgeanon.errors import EdgeanonError
from edgeanon.guidebook.audit.writer import AuditBusy, AuditLog
from edgeanon.outputs.store import AggregateStore


def parse_time(value: str | None, flag: str, timezone: str = "UTC") -> float | None:
    """ISO 8601 date or time; without an offset it is read in ``timezone`` (the site's)."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise EdgeanonError(
            f"{flag}: {value!r} is not an ISO 8601 date or time (e.g. 2026-11-26 or 2026-11-26T09:00+09:00)"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(timezone))).timestamp()


def export(
    cfg: Config,
    *,
    since: str | None = None,
    until: str | None = None,
    camera: str | None = None,
    every: Literal["hour", "day"] | None = None,
    fmt: Literal["csv", "json"] = "csv",
) -> int:
    """Print the rows between ``since`` and ``until`` (ISO 8601, as typed after --since/--until); the exit code."""
    path = cfg.storage.store_path()
    tz = cfg.aggregation.timezone
    start, end = parse_time(since, "--since", tz), parse_time(until, "--until", tz)
    if start is not None and end is not None and start >= end:  # an empty answer would hide the mistake
        raise EdgeanonError(f"--since {since} is not before --until {until}")
    if not path.is_file():
        raise EdgeanonError(f"{path}: no aggregate store yet (run `edgeanon run` first)")
    days = cfg.retention.aggregates_days
    try:  # retention is applied first, and every purge is audited: this purge too
        audit: AuditLog | None = AuditLog(
            cfg.storage.audit_path(), retention_days=cfg.retention.audit_days, key=cfg.storage.audit_key()
        )
    except AuditBusy:
        audit = None  # the running service holds the log; it purges (and audits) hourly itself
    try:
        if audit is not None:
            log = audit

            def on_purge(rows: int, cutoff: float) -> None:
                if rows:  # an export that deleted nothing changed nothing: no record on every read
                    log.record("purge", table="aggregates", rows=rows, cutoff=cutoff, by="export")

            store = AggregateStore(path, retention_days=days, on_purge=on_purge)
        else:
            store = AggregateStore(path, retention_days=days, purge_on_open=False)
            start = max(start or 0.0, time.time() - days * 86400)  # print nothing past retention all the same
        try:
            # another site's store read through this config would be labelled with this site's names
            store.claim_site(cfg.storage.site or cfg.operator.name, cfg.storage.allow_mixed_sites)
            if camera is not None:
                known = {c.id for c in cfg.cameras} | set(store.cameras())
                if camera not in known:
                    raise EdgeanonError(f"--camera {camera!r}: no such camera (known: {', '.join(sorted(known))})")
            rows = store.rows(start, end, camera, attributes=True)
        finally:
            store.close()
    finally:
        if audit is not None:
            audit.close()
    sys.stdout.write(render(roll_up(rows, ZoneInfo(tz), every, cfg.privacy.k), fmt))
    return 0
