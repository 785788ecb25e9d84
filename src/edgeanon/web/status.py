"""``/``: the status page for store staff. Per camera up/down, people now per zone, today's in/out per line,
and an occupancy chart; aggregates only, never an image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from edgeanon.outputs.live import CameraStatus
from edgeanon.web.chart import CHART_HOURS, chart_svg, occupancy_series
from edgeanon.web.page import camera_state, esc, page
from edgeanon.web.setup import InstallerMode
from edgeanon.web.site import CameraView, SiteView
from edgeanon.web.status_sink import StatusSink

STATUS_REFRESH_S = 10
# "In the store now" is entrance in minus out since local midnight, clamped at 0. When out exceeds in by more
# than this many people AND this share of in, the page warns: a line is probably misplaced or reversed.
DRIFT_MIN_PEOPLE = 5
DRIFT_SHARE = 0.10


def _view_and_geometry(s: CameraStatus) -> list[str]:
    """The camera view check's verdict, and zones or lines that miss the frame: both mean counts are wrong."""
    out = []
    if s.view_ok is None:
        out.append('<p class="muted" data-view="learning">View check: learning the usual view</p>')
    elif s.view_ok:
        out.append('<p class="muted" data-view="ok">View check: as usual</p>')
    else:
        out.append(
            f'<p class="alert" data-view="changed">View check: not as usual ({esc(", ".join(s.view_problems))}). '
            "Moved, covered or out of focus? Zones and lines may count the wrong place.</p>"
        )
    out += [f'<p class="alert" data-geometry>Not counting right: {esc(m)}</p>' for m in s.geometry_errors]
    return out


def drift(n_in: int, n_out: int) -> bool:
    """Out exceeds in by more than ``DRIFT_MIN_PEOPLE`` and by more than ``DRIFT_SHARE`` of in."""
    return n_out - n_in > max(DRIFT_MIN_PEOPLE, DRIFT_SHARE * n_in)


class StatusPage:
    """``/``: per camera up/down, people now per zone, today's in/out per line, and an occupancy chart.

    Each section shows only what the declared purposes allow (``SiteView.outputs``, from ``policy``)."""

    def __init__(
        self,
        site: SiteView,
        statuses: Callable[[], Iterable[CameraStatus]],
        live: StatusSink,
        rows: Callable[[float, float], list[dict]] | None = None,  # (since, until) -> store rows
        clock: Callable[[], float] = time.time,
        installer: InstallerMode | None = None,
    ) -> None:
        self.site = site
        self._installer = installer
        self._statuses = statuses
        self._live = live
        self._rows = rows
        self._clock = clock
        self._tz = ZoneInfo(site.timezone)

    def render(self) -> str:
        now = self._clock()
        since = now - CHART_HOURS * 3600
        rows = self._rows(since, now) if self._rows is not None else []
        statuses = {s.camera: s for s in self._statuses()}
        body = []
        if self.site.entrances and "site_occupancy" in self.site.outputs:
            body.append(self._site_section())
        body += [self._camera_section(cam, statuses.get(cam.id), rows, since, now) for cam in self.site.cameras]
        local = datetime.fromtimestamp(now, self._tz)
        header = (
            f"<h1>{esc(self.site.operator)}: people counts</h1>"
            f"<p>{local:%Y-%m-%d %H:%M:%S} ({esc(self.site.timezone)}) · counts only, no images, "
            f"no identities · refreshes every {STATUS_REFRESH_S} s</p>"
        )
        refresh = f'<meta http-equiv="refresh" content="{STATUS_REFRESH_S}">'
        setup = self._installer is not None and self._installer.active()
        return page("edgeanon status", header, "".join(body), refresh, setup=setup)

    def _site_section(self) -> str:
        """In the store now: entrances in minus out today, with a warning when out drifts above in."""
        n_in, n_out = self._live.entrances_today(self.site.entrances)
        warn = ""
        if drift(n_in, n_out):
            warn = (
                f'<p class="warn" data-site="drift">Out exceeds in by {n_out - n_in} today: more people left '
                "than came in. An entrance line is probably misplaced, reversed or missing a door; check it "
                "on /setup.</p>"
            )
        return (
            '<section class="cam"><h2>In the store now</h2><table><tr><td class="num" data-site="occupancy">'
            f"{self._live.site_occupancy}</td><td>people</td></tr></table>"
            f'<p class="muted" data-site="definition">Entrances in today (<span data-site="in">{n_in}</span>) '
            f'minus out today (<span data-site="out">{n_out}</span>) since local midnight, never below 0. '
            "It counts from midnight, so people inside at midnight, or a door without a line, make it drift; "
            f"a warning shows when out exceeds in by more than {DRIFT_MIN_PEOPLE} people and "
            f"{DRIFT_SHARE:.0%} of in.</p>{warn}</section>"
        )

    def _camera_section(
        self, cam: CameraView, s: CameraStatus | None, rows: list[dict], since: float, now: float
    ) -> str:
        cls, label = camera_state(s, self._tz)
        parts = [f'<section class="cam" data-camera="{esc(cam.id)}">']
        parts.append(f'<h2>{esc(cam.id)}<span class="state {cls}" data-state="{cls}">{esc(label)}</span></h2>')
        if s is not None and not s.up and s.last_error and not (s.closed or s.finished):
            parts.append(f'<p class="muted">last error: {esc(s.last_error)}</p>')
        if s is not None:
            parts += _view_and_geometry(s)
        outputs = self.site.outputs
        if "camera_occupancy" in outputs:
            n = self._live.camera_occupancy.get(cam.id)
            parts.append(
                '<table><tr><th>People in view</th></tr><tr><td class="num" '
                f'data-camera-occupancy="{esc(cam.id)}">{"–" if n is None else n}</td></tr></table>'
            )
        if cam.zones and "zone_occupancy" in outputs:
            parts.append(self._zones_table(cam))
        if cam.lines and "line_crossings" in outputs:
            parts.append(self._lines_table(cam))
        if "camera_occupancy" in outputs:
            bucket_s = self.site.bucket_seconds
            parts.append(
                f'<p class="muted">Mean people per {bucket_s} s bucket, '
                f"last {CHART_HOURS} hours (from the aggregate store):</p>"
            )
            parts.append(chart_svg(occupancy_series(rows, cam), since, now, self._tz, bucket_s))
        parts.append("</section>")
        return "".join(parts)

    def _zones_table(self, cam: CameraView) -> str:
        parts = ["<table><tr><th>Zone</th><th>People now</th></tr>"]
        for z in cam.zones:
            n = self._live.zone_occupancy.get((cam.id, z.name))
            parts.append(
                f'<tr><td>{esc(z.name)}</td><td class="num" data-zone="{esc(z.name)}">'
                f"{'–' if n is None else n}</td></tr>"
            )
        parts.append("</table>")
        return "".join(parts)

    def _lines_table(self, cam: CameraView) -> str:
        parts = ["<table><tr><th>Line</th><th>In today</th><th>Out today</th></tr>"]
        for ln in cam.lines:
            n_in, n_out = self._live.today(cam.id, ln.name)
            parts.append(
                f'<tr><td>{esc(ln.name)}</td><td class="num" data-line="{esc(ln.name)}" data-dir="in">{n_in}</td>'
                f'<td class="num" data-line="{esc(ln.name)}" data-dir="out">{n_out}</td></tr>'
            )
        parts.append("</table>")
        return "".join(parts)
