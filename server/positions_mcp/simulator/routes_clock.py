"""``GET /v1/clock`` and ``GET /v1/calendars/market-hours`` (Clear Street's API documentation), rows
as ``hours`` builds them. Neither runs the transitions due: they read only the clock."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ..domain.calendar import new_york
from .access import Access
from .envelope import envelope
from .hours import SIMULATED_MARKETS, clock_row, market_hours_row
from .queries import date_query, optional_query
from .wire import ApiError


@dataclass(frozen=True, slots=True)
class ClockRoutes:
    access: Access

    async def clock(self, request: Request) -> Response:
        with self.access.key(request, catch_up=False):
            data = clock_row(self.access.state.now())
        return envelope(request, data)

    async def market_hours(self, request: Request) -> Response:
        with self.access.key(request, catch_up=False):
            now = self.access.state.now()
            day = date_query(request, "date") or new_york(now).date()
            market = optional_query(request, "market")
            if market is None:
                markets = list(SIMULATED_MARKETS)
            else:
                wanted = market.strip().lower()
                markets = [m for m in SIMULATED_MARKETS if m.value == wanted]
                if not markets:
                    known = ", ".join(m.value for m in SIMULATED_MARKETS)
                    raise ApiError(400, f"market {market[:40]!r} is not one the simulator serves ({known})")
            data = [market_hours_row(m, day, now) for m in markets]
        return envelope(request, data)
