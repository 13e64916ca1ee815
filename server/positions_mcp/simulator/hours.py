"""``GET /v1/clock`` and ``GET /v1/calendars/market-hours`` (Clear Street's API documentation), from the built-in
NYSE calendar (``domain.calendar``) and the simulated clock.

* ``us_equities``: pre-market 04:00-09:30, regular 09:30-16:00 (13:00 on an early close) and
  after-hours 16:00-20:00 (none on an early close, as in the published examples); ``us_options``:
  the regular session only. ``overnight`` and ``maintenance`` are never reported.
  ``us_event_contracts`` is not simulated (400).
* ``day_type``: ``WEEKEND`` on Saturday and Sunday, ``HOLIDAY`` on a weekday exchange holiday,
  ``EARLY_CLOSE`` on an early-close day, ``TRADING_DAY`` otherwise; holidays and weekends have
  ``today_sessions: {}``.
* ``status.day_type`` describes ``date``; ``status.is_open`` and ``status.current_session`` describe
  the present moment (they are documented as real-time), whatever ``date`` is asked.
* ``time_until_close`` while a session is open, ``time_until_open`` before it starts (ISO 8601,
  whole seconds: ``PT1H29M15S``, ``P2DT3H``); ``next_sessions`` are those of the next trading day
  after ``date``, without them. Timestamps carry the New York offset; ``date`` defaults to today in
  New York.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from ..clearstreet.market_models import DayType, MarketSessionType, MarketType
from ..domain.calendar import (
    NEW_YORK,
    is_business_day,
    is_early_close,
    new_york,
    next_business_day,
    regular_session,
)
from .wire import timestamp_ns

TIMEZONE = "America/New_York"
PRE_MARKET_OPEN = time(4, 0)
AFTER_HOURS_CLOSE = time(20, 0)
MARKET_NAMES = {MarketType.US_EQUITIES: "US Equities", MarketType.US_OPTIONS: "US Options"}
SIMULATED_MARKETS = (MarketType.US_EQUITIES, MarketType.US_OPTIONS)

Session = tuple[MarketSessionType, datetime, datetime]


def clock_row(now: datetime) -> dict[str, Any]:
    return {"clock": timestamp_ns(now)}


def day_type(day: date) -> DayType:
    if day.weekday() >= 5:
        return DayType.WEEKEND
    if not is_business_day(day):
        return DayType.HOLIDAY
    return DayType.EARLY_CLOSE if is_early_close(day) else DayType.TRADING_DAY


def sessions(market: MarketType, day: date) -> list[Session]:
    """The sessions of ``market`` on ``day``, in time order (none on holidays and weekends)."""
    regular = regular_session(day)
    if regular is None:
        return []
    opening, closing = regular
    if market is MarketType.US_OPTIONS:
        return [(MarketSessionType.REGULAR, opening, closing)]
    found = [
        (MarketSessionType.PRE_MARKET, datetime.combine(day, PRE_MARKET_OPEN, NEW_YORK), opening),
        (MarketSessionType.REGULAR, opening, closing),
    ]
    if not is_early_close(day):
        found.append((MarketSessionType.AFTER_HOURS, closing, datetime.combine(day, AFTER_HOURS_CLOSE, NEW_YORK)))
    return found


def current_session(market: MarketType, now: datetime) -> MarketSessionType | None:
    """The session of ``market`` open at ``now``, or None when it is closed."""
    local = new_york(now)
    for kind, opening, closing in sessions(market, local.date()):
        if opening <= local < closing:
            return kind
    return None


def is_intraday(now: datetime) -> bool:
    """Whether a US equities session (pre-market, regular or after-hours) is open: the margin
    multiplier is 4 then and 2 otherwise (Clear Street's API documentation)."""
    return current_session(MarketType.US_EQUITIES, now) is not None


def iso_duration(delta: timedelta) -> str:
    """ISO 8601 duration in whole seconds: ``PT1H29M15S``, ``P2DT3H``, ``PT0S``."""
    seconds = max(0, int(delta.total_seconds()))
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    clock = "".join(f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if value)
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text != "P" else "PT0S"


def _schedule(opening: datetime, closing: datetime, now: datetime | None) -> dict[str, Any]:
    schedule: dict[str, Any] = {"open": opening.isoformat(), "close": closing.isoformat()}
    if now is not None:
        if opening <= now < closing:
            schedule["time_until_close"] = iso_duration(closing - now)
        elif now < opening:
            schedule["time_until_open"] = iso_duration(opening - now)
    return schedule


def market_hours_row(market: MarketType, day: date, now: datetime) -> dict[str, Any]:
    local = new_york(now)
    following = next_business_day(day)
    today = {kind.value: _schedule(opening, closing, local) for kind, opening, closing in sessions(market, day)}
    upcoming = {kind.value: _schedule(opening, closing, None) for kind, opening, closing in sessions(market, following)}
    session = current_session(market, now)
    return {
        "market": market.value,
        "market_name": MARKET_NAMES[market],
        "date": day.isoformat(),
        "timezone": TIMEZONE,
        "current_time": local.replace(microsecond=0).isoformat(),
        "status": {
            "day_type": day_type(day).value,
            "is_open": session is not None,
            "current_session": session.value if session is not None else None,
        },
        "today_sessions": today,
        "next_sessions": upcoming,
    }
