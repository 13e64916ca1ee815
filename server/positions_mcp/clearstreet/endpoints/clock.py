"""``client.clock``: the API's time and the market's hours (the API's calendar endpoints)."""

from __future__ import annotations

from datetime import date
from typing import Final

from .._requester import Requester
from .._requests import Params, date_text, enum_text
from .._responses import required
from ..market_models import ClockDetail, MarketHoursDetail, MarketType
from ..models import Envelope
from ..results import ClockResult, MarketHoursResult

__all__ = ["ClockAndHours"]

CLOCK: Final = Envelope[ClockDetail]
MARKET_HOURS: Final = Envelope[list[MarketHoursDetail]]


class ClockAndHours:
    """``GET /v1/clock`` and ``GET /v1/calendars/market-hours``."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def now(self) -> ClockResult:
        """The server's time, aware and in UTC."""
        envelope = await self._requester.read("v1/clock", [], CLOCK)
        return ClockResult(clock=required(envelope.data).clock, request_id=envelope.metadata.request_id)

    async def market_hours(
        self, *, date: date | str | None = None, market: MarketType | str | None = None
    ) -> MarketHoursResult:
        """Sessions of one day: one row per market (``us_equities`` and ``us_options`` when
        ``market`` is omitted), with the next trading day's sessions. There is no range query: ask
        once per date of interest."""
        params: Params = []
        if date is not None:
            params.append(("date", date_text(date, "date")))
        if market is not None:
            params.append(("market", enum_text(market, "market")))
        envelope = await self._requester.read("v1/calendars/market-hours", params, MARKET_HOURS)
        return MarketHoursResult(markets=list(envelope.data or []), request_id=envelope.metadata.request_id)
