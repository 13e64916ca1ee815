"""``GET /v1/accounts/{account_id}/balances`` (Clear Street's API documentation), computed from the book.

Every figure is built from per-position values rounded to the cent exactly as the positions rows
show them (``market_value``, ``unrealized_pnl``, ``daily_unrealized_pnl``), so that balances
reconcile with ``GET …/positions`` to the cent. Margin follows the illustrative rules of the
API documentation's example (Reg T style; the demo accounts are ``REG_T``), each requirement rounded to the
cent per position:

* long stock: maintenance 25 %, initial and overnight 50 % of the market value;
* short stock: maintenance 30 %, initial and overnight 50 % of |market value|;
* long options: 100 % of the market value (maintenance, initial and overnight);
* short options (all three): the greater of |market value| + 20 % of the underlier value − the
  out-of-the-money amount, and |market value| + 10 % of the underlier value (calls) or of the strike
  value (puts); underlier value = contracts × multiplier × the underlier's price;
* cash: none. Cash = the account's CASH position(s) (quantity × 1.00).

``equity`` = cash + long market value + short market value (negative); ``settled_cash`` =
``trade_cash`` = cash (nothing is unsettled); each excess = equity − its requirement;
``multiplier`` 4 while a US equities session is open (pre-market, regular, after-hours: 04:00-20:00
ET, 04:00-13:00 on an early close) and 2 otherwise; ``buying_power`` = maintenance excess × 4
intraday, overnight excess × 2 otherwise, never below zero, plus ``open_order_adjustment`` (0: the
simulated working orders only close positions); ``withdrawable_cash`` = min(settled cash, initial
excess), never below zero; ``usage`` = {equity, maintenance requirement}. P&L: ``unrealized_pnl``
and ``daily_unrealized_pnl`` sum the positions' (rows without a current price report none);
``daily_realized_pnl`` sums today's realized P&L, closed positions included; ``daily_pnl`` =
realized + unrealized; ``daily_change`` = equity − start-of-day equity.

Start of day: the holdings the account had when its book was built (``mark_start_of_day``), valued
at the closing prices: ``sod.equity`` = start-of-day cash + long + short, margin the same way.
``top_margin_contributors_limit`` groups positions by underlier (an option counts toward its
underlier), largest maintenance requirement first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..clearstreet.market_models import MarginType
from ..clearstreet.models import SecurityType
from .accounts import ZERO, Account, Holding
from .hours import is_intraday
from .instrument_registry import SimInstrument
from .position_rows import valuation
from .state import SimulatorState
from .wire import cents, round_cents

INTRADAY_MULTIPLIER = Decimal(4)
OVERNIGHT_MULTIPLIER = Decimal(2)
LONG_STOCK_MAINTENANCE = Decimal("0.25")
SHORT_STOCK_MAINTENANCE = Decimal("0.30")
"""Maintenance rates of stock, also what an instrument row says (``long_margin_rate``, ``short_margin_rate``)."""
_STOCK_INITIAL = Decimal("0.50")
_SHORT_OPTION_BASE = Decimal("0.20")
_SHORT_OPTION_MINIMUM = Decimal("0.10")

Pricer = Callable[[SimInstrument], Decimal | None]


@dataclass(slots=True)
class MarginRequirement:
    maintenance: Decimal = ZERO
    initial: Decimal = ZERO
    market_value: Decimal = ZERO

    def add(self, other: MarginRequirement) -> None:
        self.maintenance += other.maintenance
        self.initial += other.initial
        self.market_value += other.market_value


def requirement(
    instrument: SimInstrument, quantity: Decimal, market_value: Decimal, price_of: Pricer
) -> MarginRequirement:
    """Maintenance and initial (= overnight) requirement of one position, each rounded to the cent."""
    size = abs(market_value)
    contract = instrument.option
    if contract is None:
        if quantity > 0:
            return MarginRequirement(
                round_cents(size * LONG_STOCK_MAINTENANCE), round_cents(size * _STOCK_INITIAL), market_value
            )
        return MarginRequirement(
            round_cents(size * SHORT_STOCK_MAINTENANCE), round_cents(size * _STOCK_INITIAL), market_value
        )
    if quantity > 0:
        return MarginRequirement(size, size, market_value)
    shares = abs(quantity) * instrument.multiplier
    underlying = instrument.underlying
    spot = price_of(underlying) if underlying is not None else None
    strike_value = shares * contract.strike
    if spot is None:
        needed = size + _SHORT_OPTION_BASE * strike_value
    else:
        underlier_value = shares * spot
        out_of_the_money = max(ZERO, contract.strike - spot if contract.is_call else spot - contract.strike) * shares
        minimum = _SHORT_OPTION_MINIMUM * (underlier_value if contract.is_call else strike_value)
        needed = max(size + _SHORT_OPTION_BASE * underlier_value - out_of_the_money, size + minimum)
    amount = round_cents(needed)
    return MarginRequirement(amount, amount, market_value)


@dataclass(slots=True)
class MarginBook:
    """Cash, market values and requirements of a set of holdings at given prices."""

    cash: Decimal = ZERO
    long: Decimal = ZERO
    short: Decimal = ZERO
    total: MarginRequirement = field(default_factory=MarginRequirement)
    by_underlier: dict[str, MarginRequirement] = field(default_factory=dict)

    @property
    def equity(self) -> Decimal:
        return self.cash + self.long + self.short


def _book(positions: Iterable[tuple[SimInstrument, Decimal, Decimal]], price_of: Pricer) -> MarginBook:
    """``positions``: (instrument, quantity, market value rounded to the cent)."""
    book = MarginBook()
    for instrument, quantity, market_value in positions:
        if instrument.instrument_type is SecurityType.CASH:
            book.cash += market_value
            continue
        if market_value >= 0:
            book.long += market_value
        else:
            book.short += market_value
        needed = requirement(instrument, quantity, market_value, price_of)
        book.total.add(needed)
        underlier = instrument.underlying if instrument.underlying is not None else instrument
        book.by_underlier.setdefault(underlier.instrument_id, MarginRequirement()).add(needed)
    return book


def _current_price(instrument: SimInstrument) -> Decimal | None:
    return instrument.valuation_price


def _closing_price(instrument: SimInstrument) -> Decimal | None:
    return instrument.closing_price if instrument.closing_price is not None else instrument.instrument_price


def _start_of_day(account: Account) -> list[tuple[SimInstrument, Decimal, Decimal]]:
    held = (
        account.start_of_day
        if account.start_of_day is not None
        else [(holding.instrument, holding.quantity) for holding in account.holdings.values()]
    )
    positions = []
    for instrument, quantity in held:
        mark = _closing_price(instrument)
        value = round_cents(quantity * (mark if mark is not None else ZERO) * instrument.multiplier)
        positions.append((instrument, quantity, value))
    return positions


@dataclass(frozen=True, slots=True)
class _Row:
    holding: Holding
    market_value: Decimal
    unrealized: Decimal | None
    daily: Decimal | None


def _rows(account: Account) -> list[_Row]:
    rows = []
    for holding in account.holdings.values():
        value = valuation(holding)
        rows.append(
            _Row(
                holding,
                round_cents(value.market_value),
                None if value.unrealized_pnl is None else round_cents(value.unrealized_pnl),
                None if value.daily_unrealized_pnl is None else round_cents(value.daily_unrealized_pnl),
            )
        )
    return rows


def _buying_power(excess: Decimal, multiplier: Decimal) -> Decimal:
    return max(ZERO, excess * multiplier)


def account_balances(state: SimulatorState, account: Account, *, top_contributors: int | None) -> dict[str, Any]:
    rows = _rows(account)
    book = _book(((r.holding.instrument, r.holding.quantity, r.market_value) for r in rows), _current_price)
    sod = _book(_start_of_day(account), _closing_price)
    intraday = is_intraday(state.now())
    equity = book.equity
    initial_excess = equity - book.total.initial
    intraday_power = _buying_power(equity - book.total.maintenance, INTRADAY_MULTIPLIER)
    overnight_power = _buying_power(initial_excess, OVERNIGHT_MULTIPLIER)
    open_order_adjustment = ZERO
    buying_power = (intraday_power if intraday else overnight_power) + open_order_adjustment
    unrealized = sum((r.unrealized for r in rows if r.unrealized is not None), ZERO)
    daily_unrealized = sum((r.daily for r in rows if r.daily is not None), ZERO)
    realized = round_cents(sum((r.holding.realized_today for r in rows), ZERO) + account.closed_realized)
    return {
        "account_id": account.account_id,
        "currency": "USD",
        "margin_type": MarginType.REG_T.value,
        "multiplier": str(INTRADAY_MULTIPLIER if intraday else OVERNIGHT_MULTIPLIER),
        "buying_power": cents(buying_power),
        "open_order_adjustment": cents(open_order_adjustment),
        "equity": cents(equity),
        "long_market_value": cents(book.long),
        "short_market_value": cents(book.short),
        "trade_cash": cents(book.cash),
        "settled_cash": cents(book.cash),
        "unsettled_credits": cents(ZERO),
        "unsettled_debits": cents(ZERO),
        "withdrawable_cash": cents(max(ZERO, min(book.cash, initial_excess))),
        "unrealized_pnl": cents(unrealized),
        "daily_unrealized_pnl": cents(daily_unrealized),
        "daily_realized_pnl": cents(realized),
        "daily_pnl": cents(realized + daily_unrealized),
        "daily_change": cents(equity - sod.equity),
        "sod": _start_of_day_row(state, sod),
        "margin_details": _margin_details(book, intraday_power, overnight_power, top_contributors),
    }


def _margin_details(
    book: MarginBook, intraday_power: Decimal, overnight_power: Decimal, top_contributors: int | None
) -> dict[str, Any]:
    """Requirements and excesses (overnight = initial), buying power by session, usage and, when
    asked, the ``top_contributors`` underliers by maintenance requirement."""
    equity, maintenance, initial = book.equity, book.total.maintenance, book.total.initial
    margin: dict[str, Any] = {
        "initial_margin_requirement": cents(initial),
        "initial_margin_excess": cents(equity - initial),
        "maintenance_margin_requirement": cents(maintenance),
        "maintenance_margin_excess": cents(equity - maintenance),
        "overnight_margin_requirement": cents(initial),
        "overnight_margin_excess": cents(equity - initial),
        "intraday_details": {"buying_power": cents(intraday_power), "multiplier": str(INTRADAY_MULTIPLIER)},
        "overnight_details": {"buying_power": cents(overnight_power), "multiplier": str(OVERNIGHT_MULTIPLIER)},
        "usage": {"total": cents(equity), "used": cents(maintenance)},
    }
    if top_contributors is not None:
        ranked = sorted(
            book.by_underlier.items(),
            key=lambda item: (-item[1].maintenance, -abs(item[1].market_value), item[0]),
        )
        margin["top_contributors"] = [
            {
                "underlying_instrument_id": underlier_id,
                "market_value": cents(share.market_value),
                "initial_margin_requirement": cents(share.initial),
                "maintenance_margin_requirement": cents(share.maintenance),
                "overnight_margin_requirement": cents(share.initial),
            }
            for underlier_id, share in ranked[:top_contributors]
        ]
    return margin


def _start_of_day_row(state: SimulatorState, sod: MarginBook) -> dict[str, Any]:
    maintenance_excess = sod.equity - sod.total.maintenance
    return {
        "asof": state.today().isoformat(),
        "equity": cents(sod.equity),
        "trade_cash": cents(sod.cash),
        "long_market_value": cents(sod.long),
        "short_market_value": cents(sod.short),
        "maintenance_margin_requirement": cents(sod.total.maintenance),
        "maintenance_margin_excess": cents(maintenance_excess),
        "buying_power": cents(_buying_power(maintenance_excess, INTRADAY_MULTIPLIER)),
    }
