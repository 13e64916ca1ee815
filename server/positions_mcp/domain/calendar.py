"""US equity and equity-options business calendar, in America/New_York. Pure functions.

Full-day closures come from the ``holidays`` package (NYSE calendar). Early closes (13:00) follow
the NYSE rule: July 3, the day after Thanksgiving and December 24, when they are business days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)
DEFAULT_EXERCISE_CUTOFF = time(17, 30)
"""FINRA Rule 2360(b)(23)(A): exercise and contrary-exercise advice for expiring options is due by
5:30 p.m. ET on a regular trading day (Clear Street's API documentation)."""
EARLY_CLOSE_EXERCISE_DELAY = timedelta(hours=1, minutes=30)
"""FINRA Rule 2360(b)(23)(A), restated in FINRA's notice for each early close: on a day the market
closes early the deadline is 1½ hours after the close (13:00 close → 14:30 ET)."""

Clock = Callable[[], datetime]
"""Returns the current instant as an aware datetime. Injected so tests and the simulator agree."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def new_york(instant: datetime) -> datetime:
    return instant.astimezone(NEW_YORK)


@lru_cache(maxsize=1)
def _nyse() -> Any:
    """The ``holidays`` package's NYSE calendar class, its module loaded alone: importing
    ``holidays.financial`` (or calling ``financial_holidays``) runs every exchange's module, about
    0.1 s of CPU on the first call that needs a business day, for the one calendar read here."""
    import importlib.machinery
    import importlib.util
    import sys

    module = sys.modules.get("holidays.financial.ny_stock_exchange")
    if module is None:
        package = importlib.util.find_spec("holidays.financial")  # imports ``holidays``, not this package
        assert package is not None and package.submodule_search_locations is not None
        spec = importlib.machinery.PathFinder.find_spec("ny_stock_exchange", list(package.submodule_search_locations))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.NewYorkStockExchange


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(_nyse()(years=[year]).keys())


def is_holiday(day: date) -> bool:
    return day in _holidays(day.year)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def next_business_day(day: date) -> date:
    """The first business day strictly after ``day``."""
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def previous_business_day(day: date) -> date:
    """The last business day strictly before ``day``."""
    day -= timedelta(days=1)
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def expiration_business_day(expiry: date) -> date:
    """The day an option's expiry decisions happen: its expiry, or the business day before it."""
    return expiry if is_business_day(expiry) else previous_business_day(expiry)


def business_days_until(start: date, end: date) -> int:
    """Business days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count


def next_expiry_business_day(today: date) -> date:
    """The next standard weekly expiry on or after ``today``: Friday, or the business day before
    it when that Friday is a holiday."""
    friday = today + timedelta(days=(4 - today.weekday()) % 7)
    expiry = expiration_business_day(friday)
    if expiry < today:
        expiry = expiration_business_day(friday + timedelta(days=7))
    return expiry


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def is_early_close(day: date) -> bool:
    if not is_business_day(day):
        return False
    return (day.month, day.day) in {(7, 3), (12, 24)} or day == _thanksgiving(day.year) + timedelta(days=1)


def regular_session(day: date) -> tuple[datetime, datetime] | None:
    """Open and close of the US regular session on ``day``, or None when the market is shut."""
    if not is_business_day(day):
        return None
    close = EARLY_CLOSE if is_early_close(day) else REGULAR_CLOSE
    return (
        datetime.combine(day, REGULAR_OPEN, NEW_YORK),
        datetime.combine(day, close, NEW_YORK),
    )


def exercise_cutoff(day: date, broker_cutoff: time | None = None) -> datetime:
    """The deadline for exercise and contrary-exercise advice on ``day`` (America/New_York):
    17:30 ET, or 1½ hours after the close on an early-close day (14:30 ET). FINRA Rule
    2360(b)(23)(A). A broker may set an earlier internal cutoff; Clear Street's is unpublished
    (Clear Street's API documentation), so this is the latest the rule allows. ``broker_cutoff`` (a New York wall
    time) applies only when it is earlier than the rule's deadline that day."""
    if is_early_close(day):
        deadline = datetime.combine(day, EARLY_CLOSE, NEW_YORK) + EARLY_CLOSE_EXERCISE_DELAY
    else:
        deadline = datetime.combine(day, DEFAULT_EXERCISE_CUTOFF, NEW_YORK)
    if broker_cutoff is not None:
        deadline = min(deadline, datetime.combine(day, broker_cutoff, NEW_YORK))
    return deadline


def describe_exercise_cutoff(day: date, broker_cutoff: time | None = None) -> str:
    """The exercise cutoff of ``day`` in words, for a person: ``17:30 ET on Wed 2026-11-25 (FINRA
    Rule 2360(b)(23)(A))``, with the early close named when there is one; on a day the market is
    shut, ``none on …`` and the next business day's cutoff."""
    if not is_business_day(day):
        following = next_business_day(day)
        return (
            f"none on {day:%a %Y-%m-%d} (the market is closed); next: "
            f"{describe_exercise_cutoff(following, broker_cutoff)}"
        )
    deadline = exercise_cutoff(day, broker_cutoff)
    rule = "FINRA Rule 2360(b)(23)(A)"
    if is_early_close(day):
        rule = f"the market closes early at {EARLY_CLOSE:%H:%M} ET; {rule}"
    if deadline < exercise_cutoff(day):
        rule = f"the broker's cutoff, earlier than {rule}"
    return f"{deadline:%H:%M} ET on {day:%a %Y-%m-%d} ({rule})"


def exercise_cutoff_passed(instant: datetime, broker_cutoff: time | None = None) -> bool:
    """Whether the exercise cutoff of ``instant``'s New York day has passed: from the deadline on,
    as the instruction checks count it (``domain.instructions``). A day the market is shut has no
    cutoff to pass."""
    local = new_york(instant)
    day = local.date()
    return is_business_day(day) and local >= exercise_cutoff(day, broker_cutoff)


def describe_todays_exercise_cutoff(instant: datetime) -> str:
    """The exercise cutoff of ``instant``'s New York day in words (``describe_exercise_cutoff``);
    once it has passed, saying so and giving the next business day's."""
    local = new_york(instant)
    today = local.date()
    said = describe_exercise_cutoff(today)
    if exercise_cutoff_passed(local):
        said += (
            f"; it has PASSED (it is {local:%H:%M} ET now): instructions for options expiring today "
            f"can no longer be sent; next: {describe_exercise_cutoff(next_business_day(today))}"
        )
    return said


def is_market_open(instant: datetime) -> bool:
    local = new_york(instant)
    session = regular_session(local.date())
    return session is not None and session[0] <= local < session[1]


def next_market_open(instant: datetime) -> datetime:
    """The next time the regular session opens at or after ``instant``."""
    local = new_york(instant)
    day = local.date()
    session = regular_session(day)
    if session is not None and local <= session[0]:
        return session[0]
    open_, _ = regular_session(next_business_day(day))  # type: ignore[misc]
    return open_
