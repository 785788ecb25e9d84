"""Retention for the log itself: which leading records are old enough to go, and the file that replaces the log.

A chain can only lose a prefix. The new file starts with an anchor that stands beside the chain (it carries the
hash of the last removed record as ``prev``), keeps the remaining records byte for byte, and ends with a chained
``audit_purge`` record that names the anchor's hash (see the package docstring).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgeanon.guidebook.audit.records import encode_line, epoch, iso, seal

DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class Purge:
    removed: int  # records removed
    content: bytes  # the whole new file: anchor, kept records, confirming record
    seq: int  # of the confirming record: the new last record
    head: str  # its hash: the new head


def plan_purge(
    lines: list[bytes],
    *,
    anchored: bool,
    now: float,
    retention_days: int,
    seq: int,
    head: str,
    key: bytes | None,
) -> Purge | None:
    """The purge of the verified log ``lines`` (``anchored``: line 1 is an earlier purge's anchor) at time ``now``,
    whose last record has ``seq`` and hash ``head``; None when no record is older than ``retention_days``."""
    cutoff_t = now - retention_days * DAY_S
    first = 1 if anchored else 0
    recs = [json.loads(raw) for raw in lines]
    cut = first
    while cut < len(recs) and epoch(recs[cut]["ts"]) < cutoff_t:
        cut += 1
    removed = cut - first
    if removed == 0:
        return None
    last = recs[cut - 1]
    ts, cutoff = iso(now), iso(cutoff_t)
    anchor: dict[str, Any] = {"seq": last["seq"], "ts": ts, "event": "audit_purge", "records": removed}
    anchor |= {"cutoff": cutoff, "prev": last["hash"]}
    seal(anchor, key)
    confirm: dict[str, Any] = {"seq": seq + 1, "ts": ts, "event": "audit_purge", "records": removed}
    confirm |= {"cutoff": cutoff, "anchor": anchor["hash"], "prev": head}
    seal(confirm, key)
    content = encode_line(anchor) + b"".join(lines[cut:]) + encode_line(confirm)
    return Purge(removed, content, confirm["seq"], confirm["hash"])
