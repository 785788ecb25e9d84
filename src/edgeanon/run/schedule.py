"""Opening hours: outside them the cameras are not opened at all (the guidebook's proportionality)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from edgeanon.config.governance import Schedule
from edgeanon.config.names import DAYS


class OpenClock:
    """Whether the site is open now: the config's ``OpeningHours`` windows checked against the clock.

    ``is_open()`` reads the time in the site's timezone; no schedule means always open.
    """

    def __init__(
        self, schedule: Schedule | None, timezone: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._tz = ZoneInfo(timezone)
        self._now = now
        self._windows: list[tuple[int, str, str]] = []
        if schedule is not None:
            for h in schedule.hours:
                self._windows += [(DAYS.index(d), h.open, h.close) for d in h.days]

    def is_open(self) -> bool:
        if not self._windows:
            return True
        local = self._now().astimezone(self._tz)
        hhmm = local.strftime("%H:%M")
        day = local.weekday()
        return any(d == day and start <= hhmm < end for d, start, end in self._windows)
