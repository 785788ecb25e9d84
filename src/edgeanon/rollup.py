"""Roll-ups for `edgeanon export`: stored buckets summed into periods of the site's local time.

The input is the store's rows, which the aggregator suppressed before they were written. A roll-up only sums
them (or takes a maximum, or divides two sums), and then applies the small-cell rule again to the summed
attribute bins and heatmap cells (``suppress_cells``), so a roll-up minus its buckets reveals nothing that the
buckets did not already show. Every label comes from the stored rows, whose labels come from the config or a
fixed list in code.

One schema for every period, documented in the README: ``period_start`` (ISO 8601 in the site's timezone,
with its offset), ``period_seconds``, ``camera``, ``scope``, ``name``, ``metric``, ``value``. Without
``every`` a period is the stored bucket itself.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from edgeanon.analytics.zones import DWELL_BUCKETS_S
from edgeanon.sinks.store import DWELL_METRICS

Every = Literal["hour", "day"]
EVERY: tuple[Every, ...] = ("hour", "day")
COLUMNS = ("period_start", "period_seconds", "camera", "scope", "name", "metric", "value")
DWELL_PERCENTILES = (50, 90)
# Rows whose value is a maximum, or a point-in-time value (the last bucket's); every other stored metric adds.
_MAX = frozenset({"occupancy_max"})
_LAST = frozenset({"occupancy", "queue_wait_s"})

Key = tuple[str, str, str, str]  # camera, scope, name, metric


def suppress_cells(counts: dict[Key, float], k: int) -> tuple[dict[Key, float], dict[tuple[str, str], int]]:
    """The small-cell rule, applied again to rolled-up attribute bins and heatmap cells.

    Returns the counts with every cell of 0 < n < k suppressed (an attribute bin is left out, a heatmap cell
    reported as 0, like the aggregator does per bucket), and the number of suppressed cells per
    (camera, kind-of-cell). This is the one place a roll-up applies the rule: point it at the aggregator's
    rule when that rule changes.
    """
    kept: dict[Key, float] = {}
    hidden: dict[tuple[str, str], int] = {}
    for key, n in counts.items():
        cam, scope, _, metric = key
        if 0 < n < k:
            kind = metric.split("=", 1)[0] if scope == "attribute" else "heatmap"
            hidden[(cam, kind)] = hidden.get((cam, kind), 0) + 1
            if scope != "attribute":
                kept[key] = 0.0
        elif n > 0 or scope != "attribute":  # a heatmap cell of 0 is a measured zero; a bin of 0 is never kept
            kept[key] = n
    return kept, hidden


def _is_cell(key: Key) -> bool:
    return key[1] == "attribute" or (key[1] == "camera" and key[3].startswith("cell_"))


def period_of(start: float, every: Every | None, bucket_seconds: int, tz: ZoneInfo) -> tuple[float, float]:
    """(start, length in seconds) of the local-time period that holds a bucket starting at ``start``."""
    if every is None:
        return start, float(bucket_seconds)
    local = datetime.fromtimestamp(start, tz)
    if every == "hour":  # minutes and seconds past the local hour (right for half-hour offsets too)
        return start - (local.minute * 60 + local.second), 3600.0
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    following = (midnight.date() + timedelta(days=1)).isoformat()
    nxt = datetime.fromisoformat(following).replace(tzinfo=tz)
    return midnight.timestamp(), nxt.timestamp() - midnight.timestamp()  # 23 or 25 h on a DST change day


def dwell_percentile(counts: list[float], p: float) -> float | None:
    """The p-th percentile of dwell from the fixed histogram (per-bucket counts, not cumulative), by linear
    interpolation inside the bucket that holds it, like Prometheus' histogram_quantile; in the open last
    bucket, its lower bound (a "more than"). None when nobody was observed."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = p / 100 * total
    cum = 0.0
    lower = 0.0
    for bound, n in zip(DWELL_BUCKETS_S, counts, strict=True):
        if n > 0 and cum + n >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - cum) / n
        cum += n
        lower = bound if not math.isinf(bound) else lower
    return lower


def roll_up(
    rows: Iterable[Mapping[str, Any]], tz: ZoneInfo, every: Every | None = None, k: int = 1
) -> list[dict[str, Any]]:
    """Store rows (``AggregateStore.rows(..., attributes=True)``) -> export records in ``COLUMNS`` order."""
    sums: dict[tuple[float, float], dict[Key, float]] = {}
    last: dict[tuple[float, float], dict[Key, tuple[float, float]]] = {}
    for r in sorted(rows, key=lambda r: r["bucket_start"]):
        period = period_of(r["bucket_start"], every, int(r["bucket_seconds"]), tz)
        key: Key = (r["camera"], r["scope"], r["name"], r["metric"])
        value = float(r["value"])
        if r["metric"] in _LAST and r["scope"] != "attribute":
            last.setdefault(period, {})[key] = (r["bucket_start"], value)
            continue
        into = sums.setdefault(period, {})
        if r["metric"] in _MAX:
            into[key] = max(into.get(key, value), value)
        else:
            into[key] = into.get(key, 0.0) + value
    out: list[dict[str, Any]] = []
    for period in sorted(set(sums) | set(last)):
        values = dict(sums.get(period, {}))
        values.update({key: v for key, (_, v) in last.get(period, {}).items()})
        cells = {key: v for key, v in values.items() if _is_cell(key)}
        if cells:
            kept, hidden = suppress_cells(cells, k)
            for key in cells:
                values.pop(key)
            values.update(kept)
            for (cam, kind), n in hidden.items():
                metric = "heatmap_suppressed_cells" if kind == "heatmap" else f"{kind}_suppressed_bins"
                hkey = (cam, "camera", "", metric)
                values[hkey] = values.get(hkey, 0.0) + n
        values.update(_derived(values))
        start, length = period
        stamp = datetime.fromtimestamp(start, tz).isoformat()
        out += [
            dict(zip(COLUMNS, (stamp, int(length), *key, _number(v)), strict=True)) for key, v in sorted(values.items())
        ]
    return out


def _derived(values: Mapping[Key, float]) -> dict[Key, float]:
    """Means from sums (occupancy), and per zone the visits (people who left it) and dwell percentiles."""
    out: dict[Key, float] = {}
    dwell: dict[tuple[str, str], list[float]] = {}
    for (cam, scope, name, metric), v in values.items():
        if metric == "occupancy_sum":
            frames = values.get((cam, scope, name, "occupancy_frames"), 0.0)
            if frames > 0:
                out[(cam, scope, name, "occupancy_mean")] = v / frames
        elif scope == "zone" and metric in DWELL_METRICS:
            hist = dwell.setdefault((cam, name), [0.0] * len(DWELL_METRICS))
            hist[DWELL_METRICS.index(metric)] = v
    for (cam, zone), hist in dwell.items():
        visits = sum(hist)
        out[(cam, "zone", zone, "visits")] = visits
        for p in DWELL_PERCENTILES:
            q = dwell_percentile(hist, p)
            if q is not None:
                out[(cam, "zone", zone, f"dwell_p{p}_s")] = round(q, 1)
    return out


def _number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(float(v), 4)


def render(records: list[dict[str, Any]], fmt: Literal["csv", "json"]) -> str:
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r} (csv or json)")
