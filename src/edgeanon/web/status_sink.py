"""The status page's live numbers, fed like every other sink: people now per camera and zone, today's in/out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from edgeanon.counting.results import Bucket, LiveCounts
from edgeanon.web.site import SiteView


class StatusSink:
    """The status page's numbers, taken from the same results that set the Prometheus gauges and counters.

    Today's in/out per line = the store's rows since local midnight (earlier runs today, read once at start)
    plus the crossings of every bucket this process has closed since (like ``/metrics``, never per frame).
    Both reset at the next local midnight.
    """

    name = "status"

    def __init__(self, site: SiteView, clock: Callable[[], float] = time.time) -> None:
        self._tz = ZoneInfo(site.timezone)
        self._clock = clock
        self._lock = threading.Lock()
        self._day = self._today()
        self.zone_occupancy: dict[tuple[str, str], int] = {}
        self.camera_occupancy: dict[str, int] = {}
        self.site_occupancy = 0
        self._lines = {(c.id, ln.name): [0, 0] for c in site.cameras for ln in c.lines}

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

    def on_frame(self, live: LiveCounts) -> None:
        with self._lock:
            self._roll()
            cam = live.camera
            if live.occupancy is not None:
                self.camera_occupancy[cam] = live.occupancy
            for zone, n in live.zone_occupancy.items():
                self.zone_occupancy[(cam, zone)] = n
            self.site_occupancy = live.site_occupancy

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
