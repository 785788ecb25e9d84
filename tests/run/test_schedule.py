"""The opening-hours clock: the config's windows, read in the site's timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edgeanon.config.governance import OpeningHours, Schedule
from edgeanon.run.schedule import OpenClock

WEEKDAYS = Schedule(hours=[OpeningHours(days=["mon", "tue", "wed", "thu", "fri"], open="10:00", close="20:00")])


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [
        (datetime(2026, 12, 7, 1, 0, tzinfo=UTC), True),  # Monday 10:00 in Tokyo: opening minute
        (datetime(2026, 12, 7, 0, 59, tzinfo=UTC), False),  # Monday 09:59 in Tokyo
        (datetime(2026, 12, 7, 11, 0, tzinfo=UTC), False),  # Monday 20:00 in Tokyo: closing is exclusive
        (datetime(2026, 12, 6, 3, 0, tzinfo=UTC), False),  # Sunday noon in Tokyo
    ],
)
def test_windows_are_read_in_the_site_timezone(utc: datetime, is_open: bool) -> None:
    assert OpenClock(WEEKDAYS, "Asia/Tokyo", now=lambda: utc).is_open() is is_open


def test_no_schedule_is_always_open() -> None:
    assert OpenClock(None, "Asia/Tokyo", now=lambda: datetime(2026, 12, 6, 3, 0, tzinfo=UTC)).is_open()
