"""SiteOccupancy: in minus out, clamped at 0, reset at local midnight (Asia/Tokyo, via an injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

import pytest

from edgeanon.counting.analytics import SiteOccupancy


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        pytest.param([(3, 1)], [2], id="in-minus-out"),
        pytest.param([(0, 3), (2, 0)], [0, 2], id="clamped-then-counts-up"),
        pytest.param([(2, 0), (1, 5), (1, 0)], [2, 0, 1], id="exit-of-someone-inside-before-start"),
        pytest.param([(5, 5), (0, 0)], [0, 0], id="balanced"),
    ],
)
def test_in_minus_out_clamped_at_zero(adds, expected):
    occ = SiteOccupancy("Asia/Tokyo", now=Clock(datetime(2024, 3, 1, 3, 0, tzinfo=UTC)))
    assert [occ.add(i, o) for i, o in adds] == expected
    assert occ.value == expected[-1]


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        pytest.param(timedelta(seconds=59), 4, id="23:59:59-JST-same-day"),
        pytest.param(timedelta(seconds=61), 0, id="00:00:01-JST-next-day"),
        pytest.param(timedelta(hours=9, minutes=1), 0, id="next-morning"),
    ],
)
def test_resets_at_tokyo_midnight(later, expected):
    clock = Clock(datetime(2024, 3, 1, 14, 59, 0, tzinfo=UTC))  # 23:59:00 in Tokyo
    occ = SiteOccupancy("Asia/Tokyo", now=clock)
    occ.add(5, 1)
    clock.now += later
    assert occ.value == expected


def test_utc_midnight_does_not_reset_tokyo_day():
    clock = Clock(datetime(2024, 3, 1, 23, 59, tzinfo=UTC))  # 08:59 on 2 March in Tokyo
    occ = SiteOccupancy("Asia/Tokyo", now=clock)
    occ.add(3, 0)
    clock.now += timedelta(minutes=2)  # 00:01 UTC, 09:01 Tokyo
    assert occ.add(1, 0) == 4
    assert str(occ.day) == "2024-03-02"


def test_counts_after_reset_start_from_zero():
    clock = Clock(datetime(2024, 3, 1, 14, 0, tzinfo=UTC))
    occ = SiteOccupancy("Asia/Tokyo", now=clock)
    occ.add(10, 2)
    clock.now += timedelta(hours=2)  # 01:00 next day in Tokyo, no read in between
    assert occ.add(1, 3) == 0
    assert occ.add(2, 0) == 2


def test_naive_clock_is_refused():
    with pytest.raises(ValueError, match="aware"):
        SiteOccupancy("Asia/Tokyo", now=lambda: datetime(2024, 3, 1, 12, 0))


def test_unknown_timezone_is_refused():
    with pytest.raises(ZoneInfoNotFoundError):
        SiteOccupancy("Asia/Nowhere")


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        SiteOccupancy("UTC").add(-1, 0)
