"""The status page's occupancy chart: mean people per stored bucket, drawn as inline SVG."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from edgeanon.web.page import COLORS, esc
from edgeanon.web.site import CameraView

CHART_HOURS = 6


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]] = field(default_factory=list)  # (bucket start, mean people)


def occupancy_series(rows: Iterable[dict], camera: CameraView) -> list[Series]:
    """Mean occupancy per bucket (occupancy_sum / occupancy_frames): people in view, then each zone."""
    sums: dict[tuple[str, str, int], list[float]] = {}
    for r in rows:
        if r["camera"] != camera.id or r["metric"] not in ("occupancy_sum", "occupancy_frames"):
            continue
        key = (r["scope"], r["name"], int(r["bucket_start"]))
        pair = sums.setdefault(key, [0.0, 0.0])
        pair[r["metric"] == "occupancy_frames"] += r["value"]
    out = [Series("in view")] + [Series(z.name) for z in camera.zones]
    by_name = {("camera", ""): out[0], **{("zone", z.name): s for z, s in zip(camera.zones, out[1:], strict=True)}}
    for (scope, name, start), (total, frames) in sorted(sums.items(), key=lambda kv: kv[0][2]):
        series = by_name.get((scope, name))
        if series is not None and frames > 0:
            series.points.append((start, total / frames))
    return [s for s in out if s.points]


def chart_svg(series: Sequence[Series], since: float, until: float, tz: ZoneInfo, bucket_s: int) -> str:
    """A small line chart; a gap longer than two buckets (device off, camera closed) breaks the line."""
    w, h, left, right, top, bottom = 640, 170, 36, 110, 10, 24
    pw, ph = w - left - right, h - top - bottom
    if not series:
        return f'<p class="muted">No closed buckets in the last {CHART_HOURS} hours yet.</p>'
    peak = max(v for s in series for _, v in s.points)
    ymax = max(2, int(np.ceil(peak)))
    ymax += ymax % 2  # even, so the middle grid line is a whole number of people
    span = max(until - since, 1.0)

    def x(t: float) -> float:
        return left + pw * (t - since) / span

    def y(v: float) -> float:
        return top + ph * (1 - v / ymax)

    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="occupancy over the last {CHART_HOURS} hours">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#bbb"/>',
    ]
    for v in sorted({0, ymax // 2, ymax}):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v}</text>')
    hour = datetime.fromtimestamp(since, tz).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while hour.timestamp() <= until:
        tx = x(hour.timestamp())
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{top + ph}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{tx:.1f}" y="{h - 8}" font-size="11" text-anchor="middle">{hour:%H:%M}</text>')
        hour += timedelta(hours=1)
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        runs: list[list[tuple[float, float]]] = []
        for t, v in s.points:
            if not runs or t - runs[-1][-1][0] > 2 * bucket_s:
                runs.append([])
            runs[-1].append((t + bucket_s / 2, v))
        for run in runs:
            pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            shape = "polyline" if len(run) > 1 else "circle"
            if shape == "polyline":
                parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.8"/>')
            else:
                parts.append(f'<circle cx="{x(run[0][0]):.1f}" cy="{y(run[0][1]):.1f}" r="2.5" fill="{color}"/>')
        ly, lx = top + 14 + 16 * i, w - right + 10
        parts.append(
            f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" stroke-width="3"/>'
            f'<text x="{lx + 22}" y="{ly}" font-size="12">{esc(s.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
