"""Server-rendered HTML: the status page (``/``) for store staff and the setup page (``/setup``) for installers.

Neither page ever shows a camera image: there is none to show (frames are zeroed after inference). The status
page shows aggregates only. The setup page draws the latest frame's person boxes as outlines on a blank canvas
of the frame's size, with the configured zones, lines and exclusion areas on top, so an installer can place
geometry by watching where people walk. Those boxes live in memory for one frame, are never stored, logged or
exported, and the page sits behind auth when auth is on. Both pages are self-contained: inline CSS and SVG,
one small inline script on /setup, no external asset (the CSP in ``web.py`` enforces it).
"""

from __future__ import annotations

import base64
import hashlib
import html
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from edgeanon.config.cameras import Camera
from edgeanon.config.schema import Config
from edgeanon.counting.aggregate import Bucket, FrameResult
from edgeanon.outputs.live import CameraStatus

NO_IMAGE_LINE = "This page never shows camera images."
STATUS_REFRESH_S = 10
SETUP_REFRESH_S = 2
SETUP_MIN_INTERVAL_S = 1.0  # /setup's boxes change at most once a second, whoever polls
BOX_MAX_AGE_S = 3.0  # boxes older than this are not drawn (the camera stopped delivering)
CHART_HOURS = 6
# "In the store now" is entrance in minus out since local midnight, clamped at 0. When out exceeds in by more
# than this many people AND this share of in, the page warns: a line is probably misplaced or reversed.
DRIFT_MIN_PEOPLE = 5
DRIFT_SHARE = 0.10
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")

Boxes = Callable[[str], "np.ndarray | None"]  # camera id -> (n, 4) xyxy of the latest frame, in frame pixels


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


# ---------------------------------------------------------------- live state fed by the pipeline


class LiveBoxes:
    """The latest frame's confirmed person boxes per camera: one small array each, replaced on every frame.

    Only ``/setup`` reads it. Nothing here is stored, logged or exported, and nothing older than one frame
    is kept, so memory is bounded by the tracker's capacity per camera.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._latest: dict[str, tuple[float, np.ndarray]] = {}
        self._clock = clock

    def put(self, camera: str, xyxy: np.ndarray) -> None:
        self._latest[camera] = (self._clock(), np.array(xyxy, np.float32).reshape(-1, 4))  # one atomic replace

    def get(self, camera: str, max_age_s: float = BOX_MAX_AGE_S) -> np.ndarray | None:
        hit = self._latest.get(camera)
        if hit is None or self._clock() - hit[0] > max_age_s:
            return None
        return hit[1]


class ThrottledBoxes:
    """The boxes ``/setup`` may show: each camera's snapshot is taken at most once per ``min_interval_s``.

    Polling the page at the frame rate would otherwise rebuild trajectories. The limit is on the server and shared
    by every client, so neither a fast poller nor several clients together see more than one snapshot a second.
    """

    def __init__(self, boxes: Boxes, min_interval_s: float = SETUP_MIN_INTERVAL_S, clock=time.monotonic) -> None:
        self._boxes = boxes
        self._interval = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._taken: dict[str, tuple[float, np.ndarray | None]] = {}

    def __call__(self, camera: str) -> np.ndarray | None:
        now = self._clock()
        with self._lock:
            hit = self._taken.get(camera)
            if hit is None or not 0 <= now - hit[0] < self._interval:
                hit = (now, self._boxes(camera))
                self._taken[camera] = hit
            return hit[1]


class InstallerMode:
    """Whether ``/setup`` is on: only from a config's ``http.setup_until`` until that time passes.

    ``active()`` is asked on every request, so the page turns itself off at the deadline even if nobody notices;
    ``expired_now()`` is true exactly once, when the supervisor first sees the deadline pass (to audit it).
    """

    def __init__(self, until: float | None, clock: Callable[[], float] = time.time) -> None:
        self.until = until
        self._clock = clock
        self._announced = until is None or clock() >= until

    def active(self) -> bool:
        return self.until is not None and self._clock() < self.until

    def expired_now(self) -> bool:
        if self._announced or self.active():
            return False
        self._announced = True
        return True


class StatusSink:
    """The status page's numbers, taken from the same results that set the Prometheus gauges and counters.

    Today's in/out per line = the store's rows since local midnight (earlier runs today, read once at start)
    plus the crossings of every bucket this process has closed since (like ``/metrics``, never per frame).
    Both reset at the next local midnight.
    """

    name = "status"

    def __init__(self, cfg: Config, clock: Callable[[], float] = time.time) -> None:
        self._tz = ZoneInfo(cfg.aggregation.timezone)
        self._clock = clock
        self._lock = threading.Lock()
        self._day = self._today()
        self.zone_occupancy: dict[tuple[str, str], int] = {}
        self.camera_occupancy: dict[str, int] = {}
        self.site_occupancy = 0
        self._lines = {(c.id, ln.name): [0, 0] for c in cfg.cameras for ln in c.lines}

    def _today(self) -> datetime:
        local = datetime.fromtimestamp(self._clock(), self._tz)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    def midnight(self) -> float:
        """Unix time of the current local day's start."""
        return self._today().timestamp()

    def seed(self, rows: Iterable[dict]) -> None:
        """Add stored line rows (``AggregateStore.rows`` since local midnight) from earlier runs today."""
        with self._lock:
            for r in rows:
                key = (r["camera"], r["name"])
                if r["scope"] == "line" and key in self._lines and r["metric"] in ("in", "out"):
                    self._lines[key][r["metric"] == "out"] += int(r["value"])

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day = day
            for v in self._lines.values():
                v[:] = [0, 0]

    def on_frame(self, result: FrameResult, site_occupancy: int) -> None:
        with self._lock:
            self._roll()
            cam = result.camera
            if result.occupancy is not None:
                self.camera_occupancy[cam] = result.occupancy
            for zone, n in result.zone_occupancy.items():
                self.zone_occupancy[(cam, zone)] = n
            self.site_occupancy = site_occupancy

    def on_bucket(self, bucket: Bucket) -> None:
        with self._lock:
            self._roll()
            self.site_occupancy = bucket.site_occupancy
            for cam, cb in bucket.cameras.items():
                for line, lb in cb.lines.items():
                    v = self._lines.setdefault((cam, line), [0, 0])
                    v[0] += lb.in_
                    v[1] += lb.out

    def close(self) -> None:
        pass

    def entrances_today(self, entrances: Iterable[tuple[str, str]]) -> tuple[int, int]:
        """Today's in and out summed over the entrance lines (camera, line)."""
        totals = [self.today(cam, line) for cam, line in entrances]
        return sum(t[0] for t in totals), sum(t[1] for t in totals)

    def today(self, camera: str, line: str) -> tuple[int, int]:
        with self._lock:
            self._roll()
            n_in, n_out = self._lines.get((camera, line), (0, 0))
            return n_in, n_out


# ---------------------------------------------------------------- shared page frame

_CSS = """
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#263238;color:#fff;padding:10px 20px}header h1{font-size:19px;margin:0}
header p{margin:2px 0 0;font-size:13px;color:#cfd8dc}main{padding:12px 20px;max-width:1100px}
section.cam{background:#fff;border-radius:6px;padding:10px 16px;margin:0 0 14px;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:4px 0 8px}.state{font-size:12px;padding:2px 8px;border-radius:9px;margin-left:8px;color:#fff}
.up{background:#2e7d32}.down{background:#c62828}.closed,.finished{background:#757575}
table{border-collapse:collapse;margin:4px 16px 8px 0;display:inline-table;vertical-align:top}
th,td{padding:3px 10px;border-bottom:1px solid #e0e0e0;text-align:left}td.num{text-align:right;font-size:18px}
.muted{color:#666;font-size:13px}footer{padding:8px 20px 20px;font-size:13px;color:#555}
.warn{color:#8a1c1c;background:#fde8e8;padding:6px 8px;border-radius:4px}
.noimg{font-weight:600}svg text{font-family:system-ui,sans-serif}.alert{color:#b71c1c;font-weight:600;font-size:13px}
"""


def _page(title: str, header: str, body: str, head_extra: str = "", tail: str = "", setup: bool = False) -> str:
    """``setup``: link /setup, which exists only while the installer mode is on."""
    setup_link = '<a href="/setup">setup</a> · ' if setup else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{head_extra}'
        f"<style>{_CSS}</style></head><body><header>{header}</header><main>{body}</main>{tail}"
        f'<footer><p class="noimg">{NO_IMAGE_LINE}</p>'
        f'<p><a href="/">status</a> · {setup_link}<a href="/notice">notice (お知らせ)</a> · '
        '<a href="/metrics">metrics</a></p></footer></body></html>\n'
    )


def _state(s: CameraStatus | None, tz: ZoneInfo | None = None) -> tuple[str, str]:
    """(css class, label) of a camera."""
    if s is None:
        return "down", "unknown"
    if s.up:
        return "up", "up"
    if s.finished:
        return "finished", "finished"
    if s.closed:
        return "closed", "closed (outside opening hours)"
    if s.down and s.down_since is not None:
        return "down", f"DOWN since {datetime.fromtimestamp(s.down_since, tz):%Y-%m-%d %H:%M:%S%z}"
    return "down", "down"


def _view_and_geometry(s: CameraStatus) -> list[str]:
    """The camera view check's verdict, and zones or lines that miss the frame: both mean counts are wrong."""
    out = []
    if s.view_ok is None:
        out.append('<p class="muted" data-view="learning">View check: learning the usual view</p>')
    elif s.view_ok:
        out.append('<p class="muted" data-view="ok">View check: as usual</p>')
    else:
        out.append(
            f'<p class="alert" data-view="changed">View check: not as usual ({_e(", ".join(s.view_problems))}). '
            "Moved, covered or out of focus? Zones and lines may count the wrong place.</p>"
        )
    out += [f'<p class="alert" data-geometry>Not counting right: {_e(m)}</p>' for m in s.geometry_errors]
    return out


def drift(n_in: int, n_out: int) -> bool:
    """Out exceeds in by more than ``DRIFT_MIN_PEOPLE`` and by more than ``DRIFT_SHARE`` of in."""
    return n_out - n_in > max(DRIFT_MIN_PEOPLE, DRIFT_SHARE * n_in)


# ---------------------------------------------------------------- status page


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]] = field(default_factory=list)  # (bucket start, mean people)


def occupancy_series(rows: Iterable[dict], camera: Camera) -> list[Series]:
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
            f'<text x="{lx + 22}" y="{ly}" font-size="12">{_e(s.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


class StatusPage:
    """``/``: per camera up/down, people now per zone, today's in/out per line, and an occupancy chart."""

    def __init__(
        self,
        cfg: Config,
        statuses: Callable[[], Iterable[CameraStatus]],
        live: StatusSink,
        rows: Callable[[float, float], list[dict]] | None = None,  # (since, until) -> store rows
        clock: Callable[[], float] = time.time,
        installer: InstallerMode | None = None,
    ) -> None:
        self.cfg = cfg
        self._installer = installer
        self._statuses = statuses
        self._live = live
        self._rows = rows
        self._clock = clock
        self._tz = ZoneInfo(cfg.aggregation.timezone)

    def render(self) -> str:
        now = self._clock()
        since = now - CHART_HOURS * 3600
        rows = self._rows(since, now) if self._rows is not None else []
        statuses = {s.camera: s for s in self._statuses()}
        has_cam_occ = "occupancy" in self.cfg.purpose_ids
        body = []
        if self.cfg.entrances and has_cam_occ:
            n_in, n_out = self._live.entrances_today((e.camera, e.line) for e in self.cfg.entrances)
            warn = ""
            if drift(n_in, n_out):
                warn = (
                    f'<p class="warn" data-site="drift">Out exceeds in by {n_out - n_in} today: more people left '
                    "than came in. An entrance line is probably misplaced, reversed or missing a door; check it "
                    "on /setup.</p>"
                )
            body.append(
                '<section class="cam"><h2>In the store now</h2><table><tr><td class="num" data-site="occupancy">'
                f"{self._live.site_occupancy}</td><td>people</td></tr></table>"
                f'<p class="muted" data-site="definition">Entrances in today (<span data-site="in">{n_in}</span>) '
                f'minus out today (<span data-site="out">{n_out}</span>) since local midnight, never below 0. '
                "It counts from midnight, so people inside at midnight, or a door without a line, make it drift; "
                f"a warning shows when out exceeds in by more than {DRIFT_MIN_PEOPLE} people and "
                f"{DRIFT_SHARE:.0%} of in.</p>{warn}</section>"
            )
        for cam in self.cfg.cameras:
            s = statuses.get(cam.id)
            cls, label = _state(s, self._tz)
            parts = [f'<section class="cam" data-camera="{_e(cam.id)}">']
            parts.append(f'<h2>{_e(cam.id)}<span class="state {cls}" data-state="{cls}">{_e(label)}</span></h2>')
            if s is not None and not s.up and s.last_error and not (s.closed or s.finished):
                parts.append(f'<p class="muted">last error: {_e(s.last_error)}</p>')
            if s is not None:
                parts += _view_and_geometry(s)
            if has_cam_occ:
                n = self._live.camera_occupancy.get(cam.id)
                parts.append(
                    '<table><tr><th>People in view</th></tr><tr><td class="num" '
                    f'data-camera-occupancy="{_e(cam.id)}">{"–" if n is None else n}</td></tr></table>'
                )
            if cam.zones and has_cam_occ:
                parts.append("<table><tr><th>Zone</th><th>People now</th></tr>")
                for z in cam.zones:
                    n = self._live.zone_occupancy.get((cam.id, z.name))
                    parts.append(
                        f'<tr><td>{_e(z.name)}</td><td class="num" data-zone="{_e(z.name)}">'
                        f"{'–' if n is None else n}</td></tr>"
                    )
                parts.append("</table>")
            if cam.lines and "flow" in self.cfg.purpose_ids:
                parts.append("<table><tr><th>Line</th><th>In today</th><th>Out today</th></tr>")
                for ln in cam.lines:
                    n_in, n_out = self._live.today(cam.id, ln.name)
                    parts.append(
                        f'<tr><td>{_e(ln.name)}</td><td class="num" data-line="{_e(ln.name)}" data-dir="in">{n_in}</td>'
                        f'<td class="num" data-line="{_e(ln.name)}" data-dir="out">{n_out}</td></tr>'
                    )
                parts.append("</table>")
            if has_cam_occ:
                series = occupancy_series(rows, cam)
                parts.append(
                    f'<p class="muted">Mean people per {self.cfg.aggregation.bucket_seconds} s bucket, '
                    f"last {CHART_HOURS} hours (from the aggregate store):</p>"
                )
                parts.append(chart_svg(series, since, now, self._tz, self.cfg.aggregation.bucket_seconds))
            parts.append("</section>")
            body.append("".join(parts))
        local = datetime.fromtimestamp(now, self._tz)
        header = (
            f"<h1>{_e(self.cfg.operator.name)}: people counts</h1>"
            f"<p>{local:%Y-%m-%d %H:%M:%S} ({_e(self.cfg.aggregation.timezone)}) · counts only, no images, "
            f"no identities · refreshes every {STATUS_REFRESH_S} s</p>"
        )
        refresh = f'<meta http-equiv="refresh" content="{STATUS_REFRESH_S}">'
        setup = self._installer is not None and self._installer.active()
        return _page("edgeanon status", header, "".join(body), refresh, setup=setup)


# ---------------------------------------------------------------- setup page

# Refreshes the drawings in place (so the cursor read-out stays), and shows the cursor in frame pixels and
# normalised coordinates: what an installer types into the config.
SETUP_SCRIPT = (
    "(()=>{const P=document.getElementById('pos');"
    "function hook(){document.querySelectorAll('svg[data-camera]').forEach(s=>{s.onmousemove=e=>{"
    "const p=new DOMPoint(e.clientX,e.clientY).matrixTransform(s.getScreenCTM().inverse());"
    "const w=+s.dataset.w,h=+s.dataset.h;P.textContent=s.dataset.camera+': x '+Math.round(p.x)+', y '+"
    "Math.round(p.y)+' px = normalised ['+(p.x/w).toFixed(3)+', '+(p.y/h).toFixed(3)+']';};});}"
    "async function tick(){try{const r=await fetch(location.pathname,{cache:'no-store',credentials:'same-origin'});"
    "if(r.ok){const d=new DOMParser().parseFromString(await r.text(),'text/html');const n=d.getElementById('cams');"
    "if(n){document.getElementById('cams').replaceWith(n);hook();B.dataset.refreshed=+(B.dataset.refreshed||0)+1;}}}"
    f"catch(e){{}}setTimeout(tick,{SETUP_REFRESH_S * 1000});}}const B=document.body;B.dataset.live='on';hook();"
    f"setTimeout(tick,{SETUP_REFRESH_S * 1000});}})();"
)
SETUP_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SETUP_SCRIPT.encode()).digest()).decode()}'"
)


def _pts(points: Sequence[tuple[float, float]], normalized: bool, size: tuple[int, int]) -> list[tuple[float, float]]:
    w, h = size
    return [(x * w, y * h) if normalized else (x, y) for x, y in points]


def _fmt(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def camera_svg(cam: Camera, size: tuple[int, int], boxes: np.ndarray | None) -> tuple[str, int]:
    """A blank canvas of the frame's size (grid, exclusion areas, zones, lines with their in side, boxes) and the
    number of boxes drawn."""
    w, h = size
    u = max(w, h) / 400  # one "screen unit", so strokes and labels look alike at any resolution
    halo = f'stroke="#20262b" stroke-width="{2 * u:.2f}" paint-order="stroke"'  # labels stay legible over boxes
    parts = [
        f'<svg data-camera="{_e(cam.id)}" data-w="{w}" data-h="{h}" viewBox="0 0 {w} {h}" '
        f'width="100%" style="max-width:{min(w, 1000)}px;display:block" role="img" '
        f'aria-label="{_e(cam.id)}: {w}x{h} canvas with zones, lines and live person outlines">',
        f'<rect class="canvas" x="0" y="0" width="{w}" height="{h}" fill="#20262b"/>',
    ]
    grid = f'stroke="#39424a" stroke-width="{u / 2:.2f}"'
    parts += [
        f'<line x1="{w * i / 10:.1f}" x2="{w * i / 10:.1f}" y1="0" y2="{h}" {grid}/>'
        f'<line y1="{h * i / 10:.1f}" y2="{h * i / 10:.1f}" x1="0" x2="{w}" {grid}/>'
        for i in range(1, 10)
    ]
    parts += [
        f'<polygon class="exclude" points="{_fmt(_pts(ex.polygon, ex.normalized, size))}" fill="#9e9e9e" '
        f'fill-opacity="0.35" stroke="#bdbdbd" stroke-dasharray="{2 * u:.1f}" stroke-width="{u:.2f}"/>'
        for ex in cam.exclude
    ]
    for i, z in enumerate(cam.zones):
        c = COLORS[i % len(COLORS)]
        pts = _pts(z.polygon, z.normalized, size)
        parts.append(
            f'<polygon class="zone" data-zone="{_e(z.name)}" points="{_fmt(pts)}" fill="{c}" fill-opacity="0.18" '
            f'stroke="{c}" stroke-width="{1.5 * u:.2f}"/>'
        )
        parts.append(
            f'<text x="{pts[0][0] + 3 * u:.1f}" y="{pts[0][1] + 10 * u:.1f}" font-size="{9 * u:.1f}" {halo} '
            f'fill="{c}">zone {_e(z.name)}</text>'
        )
    for ln in cam.lines:
        (ax, ay), (bx, by) = _pts([ln.a, ln.b], ln.normalized, size)
        dx, dy = bx - ax, by - ay
        length = float(np.hypot(dx, dy)) or 1.0
        nx, ny = dy / length, -dx / length  # screen-left of a->b (y down), as the line counter defines it
        if ln.in_side == "right":
            nx, ny = -nx, -ny
        mx, my = (ax + bx) / 2, (ay + by) / 2
        off = 14 * u
        parts.append(
            f'<line class="line" data-line="{_e(ln.name)}" x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" '
            f'stroke="#ffd54f" stroke-width="{2 * u:.2f}"/>'
            f'<circle cx="{bx:.1f}" cy="{by:.1f}" r="{3 * u:.1f}" fill="#ffd54f"/>'
            f'<text x="{ax + 4 * u:.1f}" y="{ay - 4 * u:.1f}" font-size="{9 * u:.1f}" {halo} fill="#ffd54f">'
            f"line {_e(ln.name)} (a→b)</text>"
            f'<text class="in-side" data-line="{_e(ln.name)}" x="{mx + nx * off:.1f}" y="{my + ny * off:.1f}" '
            f'font-size="{10 * u:.1f}" {halo} fill="#81c784" text-anchor="middle" dominant-baseline="middle">IN</text>'
            f'<text x="{mx - nx * off:.1f}" y="{my - ny * off:.1f}" font-size="{10 * u:.1f}" {halo} fill="#e57373" '
            'text-anchor="middle" dominant-baseline="middle">OUT</text>'
        )
    n = 0
    if boxes is not None:
        for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
            if not (np.isfinite([x1, y1, x2, y2]).all() and x2 > x1 and y2 > y1):
                continue
            n += 1
            parts.append(
                f'<rect class="person" x="{x1:.0f}" y="{y1:.0f}" width="{x2 - x1:.0f}" height="{y2 - y1:.0f}" '
                f'fill="none" stroke="#4fc3f7" stroke-width="{1.5 * u:.2f}"/>'
            )
    parts.append("</svg>")
    return "".join(parts), n


class SetupPage:
    """``/setup``: geometry and live outlines per camera, refreshed every couple of seconds."""

    def __init__(self, cfg: Config, statuses: Callable[[], Iterable[CameraStatus]], boxes: Boxes) -> None:
        self.cfg = cfg
        self._statuses = statuses
        self._boxes = boxes

    def render(self) -> str:
        statuses = {s.camera: s for s in self._statuses()}
        body = [
            '<p class="muted">Person outlines are the latest frame\'s tracked people, drawn on a blank canvas of the '
            "frame's size. Move the cursor over a canvas to read coordinates for the config. "
            "Outlines are never stored, logged or exported.</p>",
            '<p id="pos" class="muted">cursor: –</p><div id="cams">',
        ]
        for cam in self.cfg.cameras:
            s = statuses.get(cam.id)
            cls, label = _state(s, ZoneInfo(self.cfg.aggregation.timezone))
            size = s.frame_size if s is not None else None
            head = f'<h2>{_e(cam.id)}<span class="state {cls}">{_e(label)}</span>'
            if size is None:
                body.append(
                    f'<section class="cam" data-camera="{_e(cam.id)}">{head}</h2><p class="muted">Waiting for the '
                    "first frame: the frame size is not known yet.</p></section>"
                )
                continue
            svg, n = camera_svg(cam, size, self._boxes(cam.id) if s is not None and s.up else None)
            body.append(
                f'<section class="cam" data-camera="{_e(cam.id)}">{head}'
                f'<span class="muted"> {size[0]}×{size[1]} px · <span data-people="{_e(cam.id)}">{n}</span> '
                f"people outlined</span></h2>{svg}</section>"
            )
        body.append("</div>")
        header = (
            "<h1>Setup: zones, lines and live outlines</h1><p>for installers · no camera image is ever shown, "
            f"only outlines · refreshes every {SETUP_REFRESH_S} s · installer mode until "
            f"{_e(self.cfg.http.setup_until)}, then this page is off</p>"
        )
        head = f'<noscript><meta http-equiv="refresh" content="{SETUP_REFRESH_S}"></noscript>'
        return _page("edgeanon setup", header, "".join(body), head, f"<script>{SETUP_SCRIPT}</script>", setup=True)
