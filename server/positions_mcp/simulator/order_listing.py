"""``GET /v1/accounts/{account_id}/orders`` and ``…/orders/{order_id}`` (Clear Street's API documentation).

The account's orders (the demo's resting order and every closing order) oldest first, filtered
(every filter ANDed) by ``status``, ``instrument_ids``, ``underlying_instrument_ids`` (option orders
whose underlier is one of them), ``instrument_type``, ``order_ids`` (``id`` or
``client_order_id``), ``symbol``, ``from``/``to`` (inclusive, on ``created_at``) and
``updated_at[gt|gte|lt|lte]``; a bare ``YYYY-MM-DD`` means the start of that UTC day for ``from``,
``gte`` and ``lt`` and its end for ``to``, ``gt`` and ``lte``. Paged like positions. One order is
found by its ``id``, or by its ``client_order_id`` while it is working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..clearstreet.models import OrderStatus, SecurityType
from ..domain.osi import symbol_key
from .accounts import Account
from .order_lifecycle import SimOrder
from .pages import Page, page_of
from .queries import ISO_DATE
from .wire import ApiError

_STATUSES = {member.value: member for member in OrderStatus}
_TYPES = {member.value: member for member in SecurityType}
RANGE_KEYS = ("gt", "gte", "lt", "lte")


def parse_instant(text: str, name: str, *, end_of_day: bool) -> datetime:
    """An RFC 3339 timestamp, or a ``YYYY-MM-DD`` date meaning the start (or end) of that UTC day."""
    value = text.strip()
    try:
        if ISO_DATE.fullmatch(value):
            day = date.fromisoformat(value)
            start = datetime.combine(day, time(0), UTC)
            return start + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else start
        instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} {value[:60]!r} is not an RFC 3339 timestamp or a YYYY-MM-DD date") from None
    if instant.tzinfo is None:
        raise ApiError(400, f"{name} {value[:60]!r} has no time zone offset")
    return instant


def parse_statuses(values: list[str]) -> set[OrderStatus]:
    statuses = set()
    for value in values:
        status = _STATUSES.get(value.strip().upper())
        if status is None:
            raise ApiError(400, f"status {value!r} is not one of {', '.join(_STATUSES)}")
        statuses.add(status)
    return statuses


def parse_instrument_type(value: str) -> SecurityType:
    kind = _TYPES.get(value.strip().upper())
    if kind is None or kind not in (
        SecurityType.COMMON_STOCK,
        SecurityType.INDEX,
        SecurityType.OPTION,
        SecurityType.CASH,
    ):
        raise ApiError(400, f"instrument_type {value!r} is not one of COMMON_STOCK, INDEX, OPTION, CASH")
    return kind


@dataclass(frozen=True, slots=True)
class OrderFilter:
    statuses: set[OrderStatus] | None = None
    instrument_ids: set[str] | None = None
    underlying_ids: set[str] | None = None
    instrument_type: SecurityType | None = None
    order_ids: set[str] | None = None
    symbol: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated: tuple[tuple[str, datetime], ...] = ()

    def matches(self, order: SimOrder) -> bool:
        instrument = order.instrument
        underlying = instrument.underlying
        if self.statuses is not None and order.status not in self.statuses:
            return False
        if self.instrument_ids is not None and instrument.instrument_id not in self.instrument_ids:
            return False
        if self.underlying_ids is not None and (
            underlying is None or underlying.instrument_id not in self.underlying_ids
        ):
            return False
        if self.instrument_type is not None and instrument.instrument_type is not self.instrument_type:
            return False
        if self.order_ids is not None and not (
            order.id in {value.lower() for value in self.order_ids} or order.client_order_id in self.order_ids
        ):
            return False
        if self.symbol is not None and symbol_key(instrument.symbol) != symbol_key(self.symbol):
            return False
        if self.created_from is not None and order.created_at < self.created_from:
            return False
        if self.created_to is not None and order.created_at > self.created_to:
            return False
        return all(_compare(order.updated_at, op, bound) for op, bound in self.updated)


def _compare(value: datetime, op: str, bound: datetime) -> bool:
    return {
        "gt": value > bound,
        "gte": value >= bound,
        "lt": value < bound,
        "lte": value <= bound,
    }[op]


def list_orders(account: Account, selection: OrderFilter, *, offset: int, limit: int) -> Page:
    matching = [order for order in account.orders if selection.matches(order)]
    return page_of(matching, offset, limit, lambda page: [order.to_wire() for order in page])


def find_order(account: Account, reference: str) -> SimOrder:
    """The order whose ``id`` is ``reference``, or the working order whose ``client_order_id`` is."""
    wanted = reference.strip()
    for order in account.orders:
        if order.id == wanted.lower():
            return order
    for order in account.orders:
        if order.working and order.client_order_id == wanted:
            return order
    raise ApiError(404, f"Order {reference} not found for account {account.account_id}")
