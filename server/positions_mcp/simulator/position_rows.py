"""``GET …/positions``: position rows and their sorting (Clear Street's API documentation); paged
as ``pages`` says.

Valuation, with the contract's ``multiplier`` for options (100 for standard contracts, 150 for the
demo's adjusted AAPL1 call) and 1 otherwise, money rounded to cents:

* ``market_value = quantity × price × multiplier``, price being ``instrument_price``, or the last
  close when the instrument has no current price;
* ``cost_basis = quantity × avg_price × multiplier`` (signed, negative for shorts);
* ``unrealized_pnl = market_value − cost_basis``; ``unrealized_pnl_pct`` relative to |cost_basis|;
* ``daily_unrealized_pnl = quantity × (instrument_price − closing_price) × multiplier``;
  ``daily_unrealized_pnl_pct`` relative to |quantity × closing_price × multiplier|;
* without a current price, every unrealized figure is null (no data), not guessed from the close.

``available_quantity`` is a magnitude (also for shorts), see ``availability``.

Sorting: ``sort_by`` defaults to SYMBOL and ``sort_direction`` to ASC; amount fields sort
numerically; rows whose sort value is null come last in either direction; ties are broken by
symbol (ascending) then instrument id, so pages never overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..clearstreet.models import SortBy, SortDirection
from ..domain.numbers import percent
from .accounts import Account, Holding
from .availability import exercise_reservations, free, order_reservations
from .pages import Page, page_of
from .state import SimulatorState
from .wire import cents, optional_cents, optional_price, quantity


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
    orders = order_reservations(account)
    exercises = exercise_reservations(account)
    return [position_row(state, account, holding, free(holding, orders, exercises)) for holding in holdings]


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


def list_positions(
    state: SimulatorState,
    account: Account,
    *,
    instrument_ids: set[str] | None,
    sort_by: SortBy,
    direction: SortDirection,
    offset: int,
    limit: int,
) -> Page:
    holdings = account.in_symbol_order()
    if instrument_ids is not None:
        holdings = [h for h in holdings if h.instrument.instrument_id in instrument_ids]
    ordered = sort_holdings(holdings, sort_by, direction)
    return page_of(ordered, offset, limit, lambda page: position_rows(state, account, page))
