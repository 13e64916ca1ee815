"""``GET …/positions``: position rows (Clear Street's API documentation), sorting and page tokens (Clear Street's API documentation).

Valuation, with the contract's ``multiplier`` for options (100 for standard contracts, 150 for the
demo's adjusted AAPL1 call) and 1 otherwise, money rounded to cents:

* ``market_value = quantity × price × multiplier``, price being ``instrument_price``, or the last
  close when the instrument has no current price;
* ``cost_basis = quantity × avg_price × multiplier`` (signed, negative for shorts);
* ``unrealized_pnl = market_value − cost_basis``; ``unrealized_pnl_pct`` relative to |cost_basis|;
* ``daily_unrealized_pnl = quantity × (instrument_price − closing_price) × multiplier``;
  ``daily_unrealized_pnl_pct`` relative to |quantity × closing_price × multiplier|;
* without a current price, every unrealized figure is null (no data), not guessed from the close.

``available_quantity`` is a magnitude (also for shorts), see ``SimulatorState.available_quantity``.

Sorting: ``sort_by`` defaults to SYMBOL and ``sort_direction`` to ASC; amount fields sort
numerically; rows whose sort value is null come last in either direction; ties are broken by
symbol (ascending) then instrument id, so pages never overlap.

Page tokens are unpadded base64url of 16 bytes, ``offset || limit`` as big-endian u64. A token
carries its own page size. ``page_number`` starts at 1; an empty result has ``total_pages`` 0.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..clearstreet.models import SortBy, SortDirection
from ..domain.numbers import percent
from .state import Account, Holding, SimulatorState
from .wire import cents, optional_cents, optional_price, quantity

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 1000
_TOKEN = struct.Struct(">QQ")
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def encode_page_token(offset: int, limit: int) -> str:
    return base64.urlsafe_b64encode(_TOKEN.pack(offset, limit)).rstrip(b"=").decode("ascii")


def decode_page_token(token: str) -> tuple[int, int]:
    """``(offset, limit)`` from a token; ``ValueError`` when it is not one this server issued."""
    text = token.strip()
    if not _TOKEN_TEXT.fullmatch(text):
        raise ValueError("not base64url")
    text = text.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if len(raw) != _TOKEN.size:
        raise ValueError("wrong length")
    offset, limit = _TOKEN.unpack(raw)
    if not 1 <= limit <= MAX_PAGE_SIZE or offset >= 1 << 63:
        raise ValueError("out of range")
    return offset, limit


@dataclass(frozen=True, slots=True)
class Valuation:
    market_value: Decimal
    cost_basis: Decimal | None
    unrealized_pnl: Decimal | None
    unrealized_pnl_pct: Decimal | None
    daily_unrealized_pnl: Decimal | None
    daily_unrealized_pnl_pct: Decimal | None


def valuation(holding: Holding) -> Valuation:
    instrument = holding.instrument
    qty, multiplier = holding.quantity, instrument.multiplier
    current, close = instrument.instrument_price, instrument.closing_price
    mark = instrument.valuation_price
    if mark is None:
        mark = holding.avg_price if holding.avg_price is not None else Decimal(0)
    market_value = qty * mark * multiplier
    cost_basis = None if holding.avg_price is None else qty * holding.avg_price * multiplier
    unrealized = unrealized_pct = daily = daily_pct = None
    if current is not None:
        if cost_basis is not None:
            unrealized = market_value - cost_basis
            unrealized_pct = percent(unrealized, abs(cost_basis))
        if close is not None:
            daily = qty * (current - close) * multiplier
            daily_pct = percent(daily, abs(qty * close * multiplier))
    return Valuation(market_value, cost_basis, unrealized, unrealized_pct, daily, daily_pct)


def position_row(state: SimulatorState, account: Account, holding: Holding, available: Decimal) -> dict[str, Any]:
    instrument = holding.instrument
    underlying = instrument.underlying
    value = valuation(holding)
    return {
        "account_id": account.account_id,
        "instrument_id": instrument.instrument_id,
        "instrument_type": instrument.instrument_type.value,
        "symbol": instrument.symbol,
        "position_type": "LONG" if holding.quantity > 0 else "SHORT",
        "quantity": quantity(holding.quantity),
        "available_quantity": quantity(available),
        "avg_price": optional_price(holding.avg_price),
        "cost_basis": optional_cents(value.cost_basis),
        "instrument_price": optional_price(instrument.instrument_price),
        "closing_price": optional_price(instrument.closing_price),
        "closing_price_date": (
            state.closing_price_date().isoformat() if instrument.closing_price is not None else None
        ),
        "market_value": cents(value.market_value),
        "unrealized_pnl": optional_cents(value.unrealized_pnl),
        "unrealized_pnl_pct": optional_cents(value.unrealized_pnl_pct),
        "daily_unrealized_pnl": optional_cents(value.daily_unrealized_pnl),
        "daily_unrealized_pnl_pct": optional_cents(value.daily_unrealized_pnl_pct),
        "daily_realized_pnl": cents(holding.realized_today),
        "underlying_instrument_id": underlying.instrument_id if underlying else None,
        "underlying_instrument_type": underlying.instrument_type.value if underlying else None,
    }


def position_rows(state: SimulatorState, account: Account, holdings: Iterable[Holding]) -> list[dict[str, Any]]:
    """Wire rows of ``holdings``, with availability computed once for the account."""
    orders = state.order_reservations(account)
    exercises = state.exercise_reservations(account)
    rows = []
    for holding in holdings:
        key = holding.instrument.instrument_id
        reserved = orders.get(key, Decimal(0)) + exercises.get(key, Decimal(0))
        rows.append(position_row(state, account, holding, max(Decimal(0), abs(holding.quantity) - reserved)))
    return rows


_SortKey = Callable[[Holding], Any]
_SORT_KEYS: dict[SortBy, _SortKey] = {
    SortBy.SYMBOL: lambda h: h.instrument.symbol,
    SortBy.INSTRUMENT_TYPE: lambda h: h.instrument.instrument_type.value,
    SortBy.QUANTITY: lambda h: h.quantity,
    SortBy.MARKET_VALUE: lambda h: valuation(h).market_value,
    SortBy.POSITION_TYPE: lambda h: "LONG" if h.quantity > 0 else "SHORT",
    SortBy.UNREALIZED_PNL: lambda h: valuation(h).unrealized_pnl,
    SortBy.DAILY_UNREALIZED_PNL: lambda h: valuation(h).daily_unrealized_pnl,
    SortBy.DAILY_REALIZED_PNL: lambda h: h.realized_today,
}


def symbol_order(account: Account) -> list[Holding]:
    """The account's holdings by (symbol, instrument id), the order every listing starts from.
    Kept on the account until its holdings change (a page of a large book would otherwise sort
    the whole book again)."""
    version = account.holdings.version
    if account.symbol_order is None or account.symbol_order[0] != version:
        ordered = sorted(account.holdings.values(), key=lambda h: (h.instrument.symbol, h.instrument.instrument_id))
        account.symbol_order = (version, ordered)
    return account.symbol_order[1]


def sort_holdings(ordered: list[Holding], sort_by: SortBy, direction: SortDirection) -> list[Holding]:
    """``ordered`` (in symbol order) sorted by ``sort_by``; ties keep the symbol order."""
    if sort_by is SortBy.SYMBOL:
        return ordered[::-1] if direction is SortDirection.DESC else ordered
    key = _SORT_KEYS[sort_by]
    keyed = [(key(h), h) for h in ordered]
    present = [pair for pair in keyed if pair[0] is not None]
    missing = [h for value, h in keyed if value is None]
    # sorted() is stable with reverse=True too: ties keep the symbol order.
    present.sort(key=lambda pair: pair[0], reverse=direction is SortDirection.DESC)
    return [h for _, h in present] + missing


@dataclass(frozen=True, slots=True)
class PositionsSlice:
    rows: list[dict[str, Any]]
    metadata: dict[str, Any]


def list_positions(
    state: SimulatorState,
    account: Account,
    *,
    instrument_ids: set[str] | None,
    sort_by: SortBy,
    direction: SortDirection,
    offset: int,
    limit: int,
) -> PositionsSlice:
    holdings = symbol_order(account)
    if instrument_ids is not None:
        holdings = [h for h in holdings if h.instrument.instrument_id in instrument_ids]
    ordered = sort_holdings(holdings, sort_by, direction)
    rows = position_rows(state, account, ordered[offset : offset + limit])
    return PositionsSlice(rows, page_metadata(offset, limit, len(ordered)))


def page_metadata(offset: int, limit: int, total: int) -> dict[str, Any]:
    """The paging part of ``metadata`` for the page at ``offset`` of ``limit`` rows out of ``total``."""
    return {
        "page_number": offset // limit + 1,
        "total_items": total,
        "total_pages": -(-total // limit),
        "next_page_token": encode_page_token(offset + limit, limit) if offset + limit < total else None,
        "previous_page_token": encode_page_token(max(0, offset - limit), limit) if offset > 0 else None,
    }
