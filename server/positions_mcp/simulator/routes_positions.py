"""``GET /v1/accounts/{account_id}/positions`` and the closes, ``DELETE …/positions`` (every
equity and option position) and ``DELETE …/positions/{instrument_id}`` (Clear Street's API
documentation): rows as ``position_rows`` builds them, orders as ``order_lifecycle`` sends them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ..clearstreet.models import SortBy, SortDirection
from .access import Access
from .accounts import Account
from .envelope import envelope
from .order_lifecycle import SimOrder, close_all, close_position
from .pages import page_window
from .position_rows import list_positions
from .queries import NO_BODY, enum_query, list_query, parse_json
from .wire import ApiError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PositionRoutes:
    access: Access

    async def positions(self, request: Request) -> Response:
        if request.method == "DELETE":
            return await self.close_all(request)
        return await self.listing(request)

    async def listing(self, request: Request) -> Response:
        state = self.access.state
        with self.access.account(request) as account:
            identifiers = list_query(request, "instrument_ids")
            instrument_ids = {state.instruments.require(part).instrument_id for part in identifiers} or None
            sort_by = enum_query(request, "sort_by", SortBy, SortBy.SYMBOL)
            direction = enum_query(request, "sort_direction", SortDirection, SortDirection.ASC)
            offset, limit = page_window(request)
            page = list_positions(
                state,
                account,
                instrument_ids=instrument_ids,
                sort_by=sort_by,
                direction=direction,
                offset=offset,
                limit=limit,
            )
        return envelope(request, page.rows, metadata=page.metadata)

    async def close_all(self, request: Request) -> Response:
        raw = await request.body()
        with self.access.account(request) as account:
            orders = close_all(self.access.state, account, cancel_orders=cancel_orders_flag(raw))
            data = [order.to_wire() for order in orders]
        _log_orders(account, orders)
        return envelope(request, data)

    async def close(self, request: Request) -> Response:
        raw = await request.body()
        state = self.access.state
        with self.access.account(request) as account:
            instrument = state.instruments.require(request.path_params["instrument_id"])
            orders = close_position(state, account, instrument, cancel_orders=cancel_orders_flag(raw))
            data = [order.to_wire() for order in orders]
        _log_orders(account, orders)
        return envelope(request, data)


def cancel_orders_flag(raw: bytes) -> bool:
    """``cancel_orders`` from a close body: none, empty, ``null``, ``{}`` or ``{"cancel_orders":
    true|false|null}`` (unknown keys ignored); absent or null means false."""
    body = parse_json(raw)
    if body is NO_BODY or body is None:
        return False
    if not isinstance(body, dict):
        raise ApiError(400, 'The request body must be a JSON object such as {"cancel_orders": true}, or null')
    flag = body.get("cancel_orders")
    if flag is not None and not isinstance(flag, bool):
        raise ApiError(400, f"cancel_orders must be true, false or null, got {json.dumps(flag, default=str)}")
    return bool(flag)


def _log_orders(account: Account, orders: list[SimOrder]) -> None:
    for order in orders:
        logger.info(
            "account %s: %s sent %s %s %s",
            account.account_id,
            order.client_order_id,
            order.side.value,
            order.quantity,
            order.instrument.symbol,
        )
