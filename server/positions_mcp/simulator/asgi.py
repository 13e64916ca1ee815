"""The simulated API over HTTP as an ASGI app: the positions, instructions, balances and orders
endpoints of an account, and the market-data, instrument and calendar endpoints (Clear Street's
API documentation), each group in its ``routes_*`` module.

Every response is the ``{data, error, metadata}`` envelope (``envelope``); every failure, including
unknown routes (404) and wrong methods (405), is the API's error envelope. Checks run in this
order: route, then ``access`` (bearer key 401, account id syntax 400, key's access to the account
403, account exists 404), then the request itself. ``GET /v1/version`` answers without a key (a
health check, as the real API's version endpoint). Faults (``faults``) and latency apply around
the routes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from .access import Access
from .envelope import envelope, error_response, request_id
from .faults import ConnectionDropped, FaultKind, FaultRule, Faults
from .response_watch import WatchedSend
from .routes_balances import BalanceRoutes
from .routes_clock import ClockRoutes
from .routes_instructions import InstructionRoutes
from .routes_instruments import InstrumentRoutes
from .routes_market_data import MarketDataRoutes
from .routes_orders import OrderRoutes
from .routes_positions import PositionRoutes
from .state import SimulatorState
from .wire import ApiError

logger = logging.getLogger(__name__)

API_VERSION = "2025-10-31"
_SUBMIT_PATH = re.compile(r"/v1/accounts/[^/]+/positions/instructions")
_BATCH_FAILURE_STATUSES = frozenset({500, 503})  # the service itself answers the rows


class SimulatedApi:
    """ASGI app of the simulated API. Faults and latency apply around the routes."""

    def __init__(
        self,
        state: SimulatorState,
        faults: Faults,
        *,
        api_keys: Mapping[str, frozenset[int]] | None,
        latency: Callable[[], float],
    ) -> None:
        self.state = state
        self.faults = faults
        self._latency = latency
        self._routes = Starlette(
            routes=_route_table(Access(state, api_keys)),
            exception_handlers={
                ApiError: self._api_error,
                HTTPException: self._http_error,
                Exception: self._internal_error,
            },
        )
        self._routes.router.redirect_slashes = False

    # ------------------------------------------------------------ ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._routes(scope, receive, send)
            return
        identifier = self.state.ids.request_id()
        scope = {**scope, "state": {**(scope.get("state") or {}), "request_id": identifier}}
        latency = self._latency()
        if latency > 0:
            await anyio.sleep(latency)
        method, path = scope["method"], scope["path"]
        fault = self.faults.take(method, path)
        if fault is None:
            await self._handle(scope, receive, send)
            return
        logger.warning("injected fault %s on %s %s", fault.status or fault.kind.value, method, path)
        if fault.after_processing:
            await self._handle(scope, receive, _discard)  # the request takes effect, its answer is lost
        elif _fails_batch_rows(fault, method, path):
            scope["state"]["fault_status"] = fault.status  # a failed batch still answers every row
            await self._handle(scope, receive, send)
            return
        if fault.kind is FaultKind.DROP:
            raise ConnectionDropped()
        assert fault.status is not None
        response = error_response(identifier, fault.status, fault.error_message(), fault.headers())
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the routes; a bug still answers the 500 envelope (and is logged), never a traceback."""
        watched = WatchedSend(send)
        try:
            await self._routes(scope, receive, watched)
        except Exception:
            logger.exception("simulator failed on %s %s", scope["method"], scope["path"])
            if not watched.started:
                identifier = scope["state"]["request_id"]
                await error_response(identifier, 500, "Internal server error")(scope, receive, send)

    # ------------------------------------------------------ error rendering

    async def _api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(request_id(request), exc.status, exc.message, exc.headers, exc.data)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = ", ".join(sorted(m.strip() for m in headers.get("Allow", "").split(",") if m.strip()))
            headers["Allow"] = allowed
            message = f"Method {request.method} is not allowed on {request.url.path} (allowed: {allowed})"
        elif exc.status_code == 404:
            message = f"No route for {request.method} {request.url.path}"
        else:
            message = exc.detail
        return error_response(request_id(request), exc.status_code, message, headers)

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        return error_response(request_id(request), 500, "Internal server error")


def _route_table(access: Access) -> list[Route]:
    """Every route, in matching order: a path that matches several routes with none allowing the
    method answers the first one's 405 and ``Allow`` (so ``…/positions/instructions`` precedes
    ``…/positions/{instrument_id}``)."""
    positions, instructions = PositionRoutes(access), InstructionRoutes(access)
    balances, orders = BalanceRoutes(access), OrderRoutes(access)
    market_data, instruments, clock = MarketDataRoutes(access), InstrumentRoutes(access), ClockRoutes(access)
    prefix = "/v1/accounts/{account_id}/positions"
    return [
        Route("/v1/version", _version, methods=["GET"]),
        Route(prefix, positions.positions, methods=["GET", "DELETE"]),
        Route(prefix + "/instructions", instructions.instructions, methods=["GET", "POST"]),
        Route(prefix + "/instructions/{instruction_id}", instructions.cancel, methods=["DELETE"]),
        Route(prefix + "/{instrument_id}", positions.close, methods=["DELETE"]),
        Route("/v1/accounts/{account_id}/balances", balances.balances, methods=["GET"]),
        Route("/v1/accounts/{account_id}/orders", orders.orders, methods=["GET"]),
        Route("/v1/accounts/{account_id}/orders/{order_id}", orders.order, methods=["GET"]),
        Route("/v1/market-data/snapshot", market_data.snapshot, methods=["GET"]),
        Route("/v1/instruments/options/contracts", instruments.option_contracts, methods=["GET"]),
        Route("/v1/instruments/{instrument_id}", instruments.instrument, methods=["GET"]),
        Route("/v1/clock", clock.clock, methods=["GET"]),
        Route("/v1/calendars/market-hours", clock.market_hours, methods=["GET"]),
    ]


async def _version(request: Request) -> Response:
    return envelope(request, {"version": API_VERSION})


def _fails_batch_rows(fault: FaultRule, method: str, path: str) -> bool:
    """A 500 or 503 on submit answers every row REJECTED (Clear Street's API documentation) instead of a bare
    envelope. 502 and 504 come from a gateway in front of the service: no rows, like any route."""
    return (
        fault.kind is FaultKind.STATUS
        and fault.status in _BATCH_FAILURE_STATUSES
        and method == "POST"
        and _SUBMIT_PATH.fullmatch(path) is not None
    )


async def _discard(message: Message) -> None:
    """Swallows a response whose answer an injected fault replaces."""
