"""The US equity / equity-options business calendar (America/New_York)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from positions_mcp.domain.calendar import (
    DEFAULT_EXERCISE_CUTOFF,
    NEW_YORK,
    business_days_until,
    exercise_cutoff_passed,
    expiration_business_day,
    is_business_day,
    is_early_close,
    is_holiday,
    is_market_open,
    new_york,
    next_business_day,
    next_expiry_business_day,
    next_market_open,
    previous_business_day,
    regular_session,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- holidays and business days ----------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # New Year's Day
        date(2026, 1, 19),  # Martin Luther King Jr. Day
        date(2026, 2, 16),  # Washington's Birthday
        date(2026, 4, 3),  # Good Friday (an exchange holiday, not a federal one)
        date(2026, 5, 25),  # Memorial Day
        date(2026, 6, 19),  # Juneteenth
        date(2026, 7, 3),  # Independence Day observed (July 4 is a Saturday)
        date(2026, 9, 7),  # Labor Day
        date(2026, 11, 26),  # Thanksgiving
        date(2026, 12, 25),  # Christmas
    ],
)
def test_2026_exchange_holidays(day: date) -> None:
    assert day.weekday() < 5
    assert is_holiday(day)
    assert not is_business_day(day)
    assert regular_session(day) is None


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 10, 12),  # Columbus Day: a federal holiday, the exchanges are open
        date(2026, 11, 11),  # Veterans Day: likewise
        date(2026, 4, 2),  # the Thursday before Good Friday
        date(2026, 11, 27),  # the day after Thanksgiving (early close)
    ],
)
def test_open_days_that_look_like_holidays(day: date) -> None:
    assert not is_holiday(day)
    assert is_business_day(day)


def test_weekends_are_not_business_days() -> None:
    assert not is_business_day(date(2026, 4, 4))  # Saturday
    assert not is_business_day(date(2026, 4, 5))  # Sunday
    assert is_business_day(date(2026, 4, 6))  # Monday


def test_early_closes() -> None:
    assert is_early_close(date(2026, 11, 27))  # day after Thanksgiving
    assert is_early_close(date(2026, 12, 24))  # Christmas Eve, a Thursday
    assert is_early_close(date(2025, 7, 3))  # July 3 when July 4 is a Friday
    assert not is_early_close(date(2026, 7, 3))  # a full holiday that year
    assert not is_early_close(date(2026, 11, 26))  # closed, not early
    assert not is_early_close(date(2026, 11, 25))
    assert not is_early_close(date(2027, 12, 24))  # Christmas observed on Friday Dec 24, 2027
    open_, close = regular_session(date(2026, 11, 27))  # type: ignore[misc]
    assert (open_.time(), close.time()) == (time(9, 30), time(13, 0))
    assert open_.tzinfo is NEW_YORK


def test_regular_session_times() -> None:
    open_, close = regular_session(date(2026, 11, 25))  # type: ignore[misc]
    assert open_ == datetime(2026, 11, 25, 9, 30, tzinfo=NEW_YORK)
    assert close == datetime(2026, 11, 25, 16, 0, tzinfo=NEW_YORK)
    assert open_.astimezone(UTC) == utc(2026, 11, 25, 14, 30)  # EST, UTC-5


def test_next_and_previous_business_day() -> None:
    assert next_business_day(date(2026, 4, 2)) == date(2026, 4, 6)  # over Good Friday + weekend
    assert previous_business_day(date(2026, 4, 6)) == date(2026, 4, 2)
    assert next_business_day(date(2026, 11, 25)) == date(2026, 11, 27)  # over Thanksgiving
    assert previous_business_day(date(2026, 11, 27)) == date(2026, 11, 25)
    assert next_business_day(date(2026, 12, 24)) == date(2026, 12, 28)  # Christmas + weekend
    assert next_business_day(date(2026, 12, 31)) == date(2027, 1, 4)  # New Year's Day + weekend
    assert previous_business_day(date(2027, 1, 4)) == date(2026, 12, 31)
    assert next_business_day(date(2026, 4, 4)) == date(2026, 4, 6)  # from a Saturday


def test_business_days_until() -> None:
    assert business_days_until(date(2026, 4, 1), date(2026, 4, 1)) == 0
    assert business_days_until(date(2026, 4, 1), date(2026, 4, 2)) == 1
    assert business_days_until(date(2026, 4, 1), date(2026, 4, 6)) == 2  # Good Friday, weekend
    assert business_days_until(date(2026, 4, 1), date(2026, 4, 7)) == 3
    assert business_days_until(date(2026, 4, 4), date(2026, 4, 6)) == 1  # from a Saturday
    assert business_days_until(date(2026, 4, 6), date(2026, 4, 1)) == 0  # end before start


# -- option expiration days ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [
        (date(2026, 4, 10), date(2026, 4, 10)),  # ordinary Friday
        (date(2026, 4, 3), date(2026, 4, 2)),  # Good Friday: Thursday
        (date(2026, 6, 19), date(2026, 6, 18)),  # Juneteenth Friday: Thursday
        (date(2026, 7, 3), date(2026, 7, 2)),  # Independence Day observed: Thursday
        (date(2026, 12, 25), date(2026, 12, 24)),  # Christmas Friday: the early-close Thursday
        (date(2026, 4, 4), date(2026, 4, 2)),  # legacy Saturday expiry after Good Friday
        (date(2026, 4, 6), date(2026, 4, 6)),  # Monday weekly
    ],
)
def test_expiration_business_day(expiry: date, expected: date) -> None:
    assert expiration_business_day(expiry) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 3, 30), date(2026, 4, 2)),  # Monday of Good Friday week
        (date(2026, 4, 2), date(2026, 4, 2)),  # the Thursday itself
        (date(2026, 4, 3), date(2026, 4, 10)),  # on Good Friday: next week
        (date(2026, 4, 4), date(2026, 4, 10)),  # Saturday
        (date(2026, 4, 5), date(2026, 4, 10)),  # Sunday
        (date(2026, 4, 10), date(2026, 4, 10)),  # an ordinary Friday
        (date(2026, 11, 23), date(2026, 11, 27)),  # Thanksgiving week: Friday is open (early)
        (date(2026, 12, 21), date(2026, 12, 24)),  # Christmas Friday: Thursday
        (date(2026, 12, 25), date(2027, 1, 1) - timedelta(days=1)),  # Dec 31 (Jan 1 is a holiday)
        (date(2026, 6, 15), date(2026, 6, 18)),  # Juneteenth week
    ],
)
def test_next_expiry_business_day(today: date, expected: date) -> None:
    assert next_expiry_business_day(today) == expected


def test_default_exercise_cutoff_is_the_occ_deadline() -> None:
    assert time(17, 30) == DEFAULT_EXERCISE_CUTOFF


@pytest.mark.parametrize(
    ("instant", "passed"),
    [
        (utc(2026, 11, 23, 22, 29, 59), False),  # Mon 17:29:59 ET (EST, UTC-5)
        (utc(2026, 11, 23, 22, 30), True),  # 17:30 ET: from the deadline on
        (utc(2026, 11, 27, 19, 29), False),  # Fri after Thanksgiving, an early close: 14:29 ET
        (utc(2026, 11, 27, 19, 30), True),  # 14:30 ET, 1½ hours after the 13:00 close
        (utc(2026, 11, 28, 23, 0), False),  # Saturday 18:00 ET: no cutoff to pass
        (utc(2026, 11, 26, 23, 0), False),  # Thanksgiving 18:00 ET: a holiday
    ],
)
def test_whether_the_exercise_cutoff_has_passed(instant: datetime, passed: bool) -> None:
    assert exercise_cutoff_passed(instant) is passed


def test_a_broker_cutoff_earlier_than_finras_passes_first() -> None:
    assert exercise_cutoff_passed(utc(2026, 11, 23, 21, 0), broker_cutoff=time(16, 0))  # 16:00 ET
    assert not exercise_cutoff_passed(utc(2026, 11, 23, 21, 0))


# -- market open / closed instants (DST edges) -------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        # Friday 2026-03-06, EST (UTC-5): 09:30 = 14:30Z, 16:00 = 21:00Z
        (utc(2026, 3, 6, 14, 29, 59), False),
        (utc(2026, 3, 6, 14, 30), True),
        (utc(2026, 3, 6, 20, 59, 59), True),
        (utc(2026, 3, 6, 21, 0), False),  # the close is exclusive
        # Monday 2026-03-09, EDT (UTC-4) since Sunday 2026-03-08: 09:30 = 13:30Z
        (utc(2026, 3, 9, 13, 29, 59), False),
        (utc(2026, 3, 9, 13, 30), True),
        (utc(2026, 3, 9, 14, 29), True),  # would be pre-open if EST were assumed
        (utc(2026, 3, 9, 19, 59, 59), True),
        (utc(2026, 3, 9, 20, 0), False),
        # Friday 2026-10-30, still EDT
        (utc(2026, 10, 30, 13, 30), True),
        (utc(2026, 10, 30, 20, 0), False),
        # Monday 2026-11-02, EST again since Sunday 2026-11-01
        (utc(2026, 11, 2, 13, 30), False),
        (utc(2026, 11, 2, 14, 30), True),
        (utc(2026, 11, 2, 20, 59), True),
        # early close on Friday 2026-11-27: 13:00 EST = 18:00Z
        (utc(2026, 11, 27, 17, 59, 59), True),
        (utc(2026, 11, 27, 18, 0), False),
        # holidays and weekends
        (utc(2026, 4, 3, 15, 0), False),  # Good Friday
        (utc(2026, 11, 26, 15, 0), False),  # Thanksgiving
        (utc(2026, 4, 4, 15, 0), False),  # Saturday
        (utc(2026, 3, 8, 15, 0), False),  # the DST Sunday itself
    ],
)
def test_is_market_open(instant: datetime, is_open: bool) -> None:
    assert is_market_open(instant) is is_open


def test_is_market_open_accepts_any_time_zone() -> None:
    assert is_market_open(datetime(2026, 3, 9, 9, 30, tzinfo=NEW_YORK))
    assert not is_market_open(datetime(2026, 3, 9, 9, 29, tzinfo=NEW_YORK))


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # Friday evening before the spring DST change: Monday 09:30 EDT = 13:30Z
        (utc(2026, 3, 6, 22, 0), utc(2026, 3, 9, 13, 30)),
        # Saturday 00:00Z is still Friday evening in New York
        (utc(2026, 3, 7, 0, 0), utc(2026, 3, 9, 13, 30)),
        # Friday after the autumn DST change: Monday 09:30 EST = 14:30Z
        (utc(2026, 10, 30, 21, 0), utc(2026, 11, 2, 14, 30)),
        # before the open on a business day: the same day
        (utc(2026, 4, 2, 12, 0), utc(2026, 4, 2, 13, 30)),
        # exactly at the open: that open
        (utc(2026, 4, 2, 13, 30), utc(2026, 4, 2, 13, 30)),
        # during the session: the next business day's open, over Good Friday and the weekend
        (utc(2026, 4, 2, 15, 0), utc(2026, 4, 6, 13, 30)),
        # on Thanksgiving: the early-close Friday still opens at 09:30
        (utc(2026, 11, 26, 15, 0), utc(2026, 11, 27, 14, 30)),
    ],
)
def test_next_market_open(instant: datetime, expected: datetime) -> None:
    assert next_market_open(instant) == expected
    assert new_york(next_market_open(instant)).time() == time(9, 30)
