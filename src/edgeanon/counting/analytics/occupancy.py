"""Site occupancy: people in minus people out through the entrance lines since local midnight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SiteOccupancy:
    """A running in-minus-out count that restarts at 0 at each local midnight of ``timezone``.

    The count is clamped at 0 after every ``add``: people who were already inside when counting started
    (device restart, the day's reset, a missed entry) and then leave would otherwise drive it negative and
    keep it wrong all day. The clamp absorbs such exits instead. The day boundary uses the wall clock (the
    only clock that knows the local date) through the injectable ``now``, which must return an aware datetime.
    """

    __slots__ = ("_day", "_now", "_tz", "_value", "timezone")

    def __init__(self, timezone: str, now: Callable[[], datetime] = _utc_now) -> None:
        self.timezone = timezone
        self._tz = ZoneInfo(timezone)  # unknown names raise ZoneInfoNotFoundError here, at start-up
        self._now = now
        self._value = 0
        self._day = self._today()

    def _today(self) -> date:
        now = self._now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now.astimezone(self._tz).date()

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day = day
            self._value = 0

    def add(self, n_in: int, n_out: int) -> int:
        """Apply one frame's (or bucket's) entrance counts; returns the new value."""
        if n_in < 0 or n_out < 0:
            raise ValueError("counts must be non-negative")
        self._roll()
        self._value = max(0, self._value + n_in - n_out)
        return self._value

    @property
    def value(self) -> int:
        self._roll()
        return self._value

    @property
    def day(self) -> date:
        """The local date the current value belongs to."""
        self._roll()
        return self._day
