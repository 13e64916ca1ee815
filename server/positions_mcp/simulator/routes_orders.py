"""``GET /v1/accounts/{account_id}/orders`` and ``…/orders/{order_id}`` (Clear Street's API
documentation), the filters and lookup as ``order_listing`` describes them; paged as ``pages`` says."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .access import Access
from .envelope import envelope
from .instrument_registry import InstrumentRegistry
from .order_listing import (
    RANGE_KEYS,
    OrderFilter,
    find_order,
    list_orders,
    parse_instant,
    parse_instrument_type,
    parse_statuses,
)
from .pages import page_window
from .queries import list_query, optional_query
from .wire import ApiError


@dataclass(frozen=True, slots=True)
class OrderRoutes:
    access: Access

    async def orders(self, request: Request) -> Response:
        with self.access.account(request) as account:
            selection = order_filter(request, self.access.state.instruments)
            offset, limit = page_window(request)
            page = list_orders(account, selection, offset=offset, limit=limit)
        return envelope(request, page.rows, metadata=page.metadata)

    async def order(self, request: Request) -> Response:
        with self.access.account(request) as account:
            data = find_order(account, request.path_params["order_id"]).to_wire()
        return envelope(request, data)


def order_filter(request: Request, instruments: InstrumentRegistry) -> OrderFilter:
    """The filters of an orders query (every one ANDed); 400 for a malformed one."""
    statuses = list_query(request, "status")
    instrument_refs = list_query(request, "instrument_ids")
    underlying_refs = list_query(request, "underlying_instrument_ids")
    order_ids = list_query(request, "order_ids")
    kind = optional_query(request, "instrument_type")
    created_from, created_to = optional_query(request, "from"), optional_query(request, "to")
    updated = tuple(
        (op, parse_instant(text, f"updated_at[{op}]", end_of_day=op in ("gt", "lte")))
        for op in RANGE_KEYS
        if (text := optional_query(request, f"updated_at[{op}]")) is not None
    )
    lows = [bound for op, bound in updated if op in ("gt", "gte")]
    highs = [bound for op, bound in updated if op in ("lt", "lte")]
    if any(low > high for low in lows for high in highs):
        raise ApiError(400, "updated_at: the lower bound is after the upper bound")
    return OrderFilter(
        statuses=parse_statuses(statuses) if statuses else None,
        instrument_ids={instruments.require(ref).instrument_id for ref in instrument_refs} or None,
        underlying_ids={instruments.require(ref).instrument_id for ref in underlying_refs} or None,
        instrument_type=parse_instrument_type(kind) if kind is not None else None,
        order_ids=set(order_ids) or None,
        symbol=optional_query(request, "symbol"),
        created_from=parse_instant(created_from, "from", end_of_day=False) if created_from else None,
        created_to=parse_instant(created_to, "to", end_of_day=True) if created_to else None,
        updated=updated,
    )
