"""Roll-ups for `edgeanon export`: stored buckets summed into periods of the site's local time.

The input is the store's rows, which the aggregator suppressed before they were written. A roll-up only sums
them (or takes a maximum, or divides two sums), and then applies the aggregator's small-cell rule again to the
sums (``suppress_period``, which calls ``aggregate.suppress``), so a roll-up minus its buckets reveals nothing
that the buckets did not already show. Every label comes from the stored rows, whose labels come from the config or a
fixed list in code.

One schema for every period, documented in the README: ``period_start`` (ISO 8601 in the site's timezone,
with its offset), ``period_seconds``, ``camera``, ``scope``, ``name``, ``metric``, ``value``. Without
``every`` a period is the stored bucket itself.

It lives in ``counting/`` beside the aggregator because its one guarantee is the aggregator's own small-cell
rule: it must call ``aggregate.suppress``, which no output may import. It reads plain row dicts, so it needs
nothing from the store but the row format.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from edgeanon.counting.aggregate import suppress
from edgeanon.counting.bins import DWELL_BUCKETS_S, DWELL_METRICS
from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, ZoneBucket

Every = Literal["hour", "day"]
EVERY: tuple[Every, ...] = ("hour", "day")
COLUMNS = ("period_start", "period_seconds", "camera", "scope", "name", "metric", "value")
DWELL_PERCENTILES = (50, 90)
# Rows whose value is a maximum, or a point-in-time value (the last bucket's); every other stored metric adds.
_MAX = frozenset({"occupancy_max"})
_LAST = frozenset({"occupancy", "queue_wait_s"})

Key = tuple[str, str, str, str]  # camera, scope, name, metric


_CELL = re.compile(r"cell_(\d+)_(\d+)")  # a heatmap cell of people (not a pre-v3 ``..._person_frames`` row)


def suppress_period(values: dict[Key, float], k: int) -> dict[Key, float]:
    """The aggregator's own small-cell rule (``aggregate.suppress``), applied again to a rolled-up period.

    The period's attribute bins, heatmap cells, dwell counts and line in/out are put back into buckets, one per
    camera, and suppressed exactly as the aggregator suppresses a bucket; what it withholds is left out (a bin)
    or reported as 0 (a cell, a dwell count). A sum of suppressed buckets has nothing new to withhold, so this
    is a guard: if the rule or the sums ever change, a roll-up still never shows what a bucket could not.
    """
    cams: dict[str, CameraBucket] = {}
    shapes: dict[str, tuple[int, int]] = {}
    for (cam, scope, name, metric), v in values.items():
        cb = cams.setdefault(cam, CameraBucket())
        if scope == "attribute":
            kind, _, bin_ = metric.partition("=")
            cb.attributes[(kind, name, bin_)] = int(v)
        elif scope == "camera" and (m := _CELL.fullmatch(metric)):
            r, c = int(m[1]), int(m[2])
            rows, cols = shapes.get(cam, (0, 0))
            shapes[cam] = (max(rows, r + 1), max(cols, c + 1))
        elif scope == "zone" and metric in DWELL_METRICS:
            zb = cb.zones.setdefault(name, ZoneBucket())
            zb.dwell_counts[DWELL_METRICS.index(metric)] = int(v)
        elif scope == "zone" and metric == "dwell_sum_s":
            cb.zones.setdefault(name, ZoneBucket()).dwell_sum = v
        elif scope == "line" and metric in ("in", "out"):
            lb = cb.lines.setdefault(name, LineBucket())
            lb.in_, lb.out = (int(v), lb.out) if metric == "in" else (lb.in_, int(v))
    for cam, (rows, cols) in shapes.items():
        grid = np.zeros((rows, cols), np.int64)
        for r in range(rows):
            for c in range(cols):
                grid[r, c] = int(values.get((cam, "camera", "", f"cell_{r}_{c}"), 0))
        cams[cam].heatmap = grid
    for cb in cams.values():
        for zb in cb.zones.values():
            zb.queue_wait_n = k  # not the rule's business here: a roll-up carries only already published waits
    suppress(Bucket(0, 0, cams), k)
    out = {key: v for key, v in values.items() if key[1] != "attribute"}
    for cam, cb in cams.items():
        out.update(
            {(cam, "attribute", place, f"{kind}={bin_}"): float(n) for (kind, place, bin_), n in cb.attributes.items()}
        )
        if cb.heatmap is not None:
            rows, cols = cb.heatmap.shape
            for r in range(rows):
                for c in range(cols):
                    if (cam, "camera", "", f"cell_{r}_{c}") in values:
                        out[(cam, "camera", "", f"cell_{r}_{c}")] = float(cb.heatmap[r, c])
        for zone, zb in cb.zones.items():
            for metric, n in zip(DWELL_METRICS, zb.dwell_counts, strict=True):
                if (cam, "zone", zone, metric) in values:
                    out[(cam, "zone", zone, metric)] = float(n)
            if (cam, "zone", zone, "dwell_sum_s") in values:
                out[(cam, "zone", zone, "dwell_sum_s")] = zb.dwell_sum
    return out


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
        values = suppress_period(values, k)
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
