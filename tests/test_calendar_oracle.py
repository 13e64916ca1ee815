"""The market calendar against an independent oracle: exchange-calendars' XNYS, 2026-2030.

Every day is compared: business day or not, early close (13:00 ET) or not. exchange-calendars is a
test dependency only: the server never imports it (its start-up is benchmarked), which the last
test checks in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, time, timedelta

import exchange_calendars as xcals  # the test extra installs it: a missing oracle fails, never skips
import pytest

# exchange-calendars' own use of pandas warns about a future pandas change: not this project's concern
pytestmark = pytest.mark.filterwarnings("ignore:Series.values returning an ndarray")

FIRST, LAST = date(2026, 1, 1), date(2030, 12, 31)


@pytest.fixture(scope="module")
def oracle() -> dict[date, time]:
    """Each NYSE session's close, New York wall time, by day."""
    calendar = xcals.get_calendar("XNYS", start=FIRST.isoformat(), end=LAST.isoformat())
    closes = calendar.schedule["close"].dt.tz_convert("America/New_York")
    return {stamp.date(): close.time() for stamp, close in closes.items()}


def days() -> list[date]:
    return [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]


def test_the_oracle_covers_every_year(oracle: dict[date, time]) -> None:
    assert {day.year for day in oracle} == {2026, 2027, 2028, 2029, 2030}
    assert set(oracle.values()) == {time(16, 0), time(13, 0)}  # only full days and 13:00 closes


def test_business_days_agree_with_xnys(oracle: dict[date, time]) -> None:
    from positions_mcp.domain.calendar import is_business_day

    wrong = [day for day in days() if is_business_day(day) != (day in oracle)]
    assert wrong == []


def test_early_closes_agree_with_xnys(oracle: dict[date, time]) -> None:
    from positions_mcp.domain.calendar import EARLY_CLOSE, is_early_close, regular_session

    wrong = [day for day in days() if is_early_close(day) != (oracle.get(day) == EARLY_CLOSE)]
    assert wrong == []
    for day, close in oracle.items():
        session = regular_session(day)
        assert session is not None and session[1].time() == close, day


def test_the_server_never_imports_the_oracle() -> None:
    code = (
        "import sys, positions_mcp.surface.server, positions_mcp.domain.calendar as c, datetime as d; "
        "c.is_business_day(d.date(2026, 11, 27)); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'exchange_calendars', 'pandas'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
