"""``client.orders``: the account's orders, page by page, and one order by id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from typing import Final, TypedDict, Unpack

from .._paging import first_page_only, follow_pages
from .._requester import Requester
from .._requests import (
    Params,
    account_path,
    check_filters,
    comma_list,
    enum_list,
    enum_text,
    id_list,
    paging_params,
    path_segment,
    query_text,
    timestamp_text,
)
from .._responses import ORDERS, required
from ..models import Envelope, Order, OrderStatus, SecurityType
from ..results import OrderResult, OrdersPage

__all__ = ["OrderFilters", "Orders", "orders_query"]

ORDER: Final = Envelope[Order]
_RANGE_KEYS: Final = ("gt", "gte", "lt", "lte")


class OrderFilters(TypedDict, total=False):
    """What a listing of orders is narrowed by (a page token carries none of it)."""

    status: Sequence[OrderStatus | str] | None
    instrument_ids: Sequence[str] | None
    underlying_instrument_ids: Sequence[str] | None
    instrument_type: SecurityType | str | None
    order_ids: Sequence[str] | None
    """Order ids, or client order ids while the orders are open."""
    symbol: str | None
    from_: datetime | date | str | None
    """Sent as ``from``."""
    to: datetime | date | str | None
    updated_at: Mapping[str, datetime | date | str] | None
    """A range such as ``{"gte": "2025-10-31"}`` (keys ``gt``/``gte``/``lt``/``lte``), sent as
    ``updated_at[gte]``."""


def _ids(name: str, values: Sequence[str] | None) -> Params:
    return [] if values is None else [(name, comma_list(id_list(values, name), name))]


def orders_query(filters: OrderFilters, page_size: int | None, page_token: str | None) -> Params:
    """The query of one orders request, keys in the SDK's (alphabetical) order."""
    check_filters(filters, OrderFilters.__optional_keys__)
    params: Params = []
    if (from_ := filters.get("from_")) is not None:
        params.append(("from", timestamp_text(from_, "from_")))
    params += _ids("instrument_ids", filters.get("instrument_ids"))
    if (instrument_type := filters.get("instrument_type")) is not None:
        params.append(("instrument_type", enum_text(instrument_type, "instrument_type")))
    params += _ids("order_ids", filters.get("order_ids"))
    params += paging_params(page_size, page_token)
    if (status := filters.get("status")) is not None:
        params.append(("status", enum_list(status, "status")))
    if (symbol := filters.get("symbol")) is not None:
        params.append(("symbol", query_text(symbol, "symbol")))
    if (to := filters.get("to")) is not None:
        params.append(("to", timestamp_text(to, "to")))
    params += _ids("underlying_instrument_ids", filters.get("underlying_instrument_ids"))
    if (updated_at := filters.get("updated_at")) is not None:
        params += _range("updated_at", updated_at)
    return params


def _range(name: str, bounds: Mapping[str, datetime | date | str]) -> Params:
    if not isinstance(bounds, Mapping):
        raise TypeError(f"{name} must be a mapping such as {{'gte': '2025-10-31'}}")
    unknown = sorted(set(bounds) - set(_RANGE_KEYS))
    if unknown or not bounds:
        raise ValueError(f"{name} takes the keys {', '.join(_RANGE_KEYS)}, got {unknown or 'none'}")
    return [(f"{name}[{key}]", timestamp_text(value, f"{name}[{key}]")) for key, value in bounds.items()]


class Orders:
    """``GET /v1/accounts/{account_id}/orders`` and ``GET …/orders/{order_id}``."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def page(
        self,
        account_id: int | str,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        **filters: Unpack[OrderFilters],
    ) -> OrdersPage:
        """One page of the account's orders (:class:`OrderFilters`). The filters are not carried by
        ``page_token``: pass them again, or use :meth:`pages`."""
        path = f"{account_path(account_id)}/orders"
        envelope = await self._requester.read(path, orders_query(filters, page_size, page_token), ORDERS)
        return OrdersPage(
            orders=list(envelope.data or []), metadata=envelope.metadata, request_id=envelope.metadata.request_id
        )

    def pages(
        self, account_id: int | str, *, page_size: int | None = None, **filters: Unpack[OrderFilters]
    ) -> AsyncIterator[OrdersPage]:
        """Every page in turn (:func:`~.._paging.follow_pages`). Arguments are checked here, before
        iteration starts."""
        account_path(account_id)
        orders_query(filters, page_size, None)
        return follow_pages(
            lambda token: self.page(
                account_id, page_size=first_page_only(page_size, token), page_token=token, **filters
            )
        )

    async def all(
        self, account_id: int | str, *, page_size: int | None = None, **filters: Unpack[OrderFilters]
    ) -> list[Order]:
        """Every matching order, all pages, in the order the API returned them."""
        return [row async for page in self.pages(account_id, page_size=page_size, **filters) for row in page.orders]

    async def get(self, account_id: int | str, order_id: str) -> OrderResult:
        """One order by its ``id`` (or its ``client_order_id`` while the order is open)."""
        path = f"{account_path(account_id)}/orders/{path_segment(order_id, 'order_id')}"
        envelope = await self._requester.read(path, [], ORDER)
        return OrderResult(order=required(envelope.data), request_id=envelope.metadata.request_id)
