"""Closing plans: what ``close_position`` / ``close_positions`` would send. Pure, no I/O.

The plan mirrors what the API does (Clear Street's API documentation): one MARKET DAY order per position,
SELL to close a long and BUY to close a short, for the available quantity, or, when
``cancel_orders`` is true, for the whole position less what pending exercise instructions hold
(working orders on the instrument are cancelled first; exercise instructions are not orders, and
only ``cancel_position_instruction`` frees their contracts).

Decisions:

* ``cancel_orders=None`` means **false**. The API's default is undocumented (Clear Street's API documentation), so
  the executing tool must send an explicit ``{"cancel_orders": false}`` rather than ``{}``.
* The order quantity never exceeds the position (``min(|available|, |quantity|)``): the sign of
  ``available_quantity`` on shorts is undocumented, and a close must never flip a position.
* **Pending exercises** (``pending_instructions``): a live EXERCISE instruction on the contract
  (:func:`.settlement.holds_contracts`: persisted, not REJECTED / CANCELLED / ACCEPTED; SENT,
  CANCEL_REQUESTED, and also CANCEL_FAILED and unknown statuses, where the instruction stands)
  holds its contracts. With ``cancel_orders`` the close is |quantity| − those contracts; without
  it, ``available_quantity`` and never more than |quantity| − those contracts, whether or not the
  API already nets them out of ``available_quantity`` (Clear Street's API documentation). The warnings split what is
  tied up into "held by pending exercise instructions (ids …)" and "in working orders".
* Price: ``instrument_price``, else ``closing_price`` (the plan says which), else none (NO_PRICE).
  Notional = quantity × price × multiplier, rounded to the cent; an option's multiplier comes
  from its :class:`.contracts.ContractTerms` (``contracts``, else :func:`.contracts.terms_for`'s
  fallbacks: 100), never a constant (Clear Street's market-data API documentation). A row whose ``instrument_type`` the
  server does not know but whose symbol is an OSI option symbol is an option (OPTION_BY_SYMBOL):
  its notional is not understated a hundredfold.
* The notional cap applies to the total of one close; when a cap is set and a price is missing
  the cap cannot be checked, so the close is blocked (fail closed).
* Close-all leaves CASH positions out (Clear Street's API documentation) and says so.
* An option past its last trade (:func:`.last_trade.last_trade`: the contract's cutoff, the close
  of its expiration day, or of the day before for an AM-settled contract) cannot trade before it
  expires: its close is blocked, with what expiry does instead (:mod:`.closing_expiry`). Close-all
  cannot leave it out (Clear Street closes every position in one request), so it is blocked whole.
  On the last trading day, before the last trade, the close is warned about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr, computed_field

from ..clearstreet.models import (
    InstructionType,
    OrderType,
    Position,
    PositionInstruction,
    PositionType,
    SecurityType,
    Side,
    TimeInForce,
)
from .calendar import is_market_open, next_market_open
from .closing_expiry import cannot_close, last_day_warning
from .contracts import ContractTerms, terms_for, underlier_of_root
from .last_trade import last_trade
from .market_view import MarketView
from .moneyness import PriceSource, best_price
from .numbers import CENT, OPTION_MULTIPLIER, DecimalString
from .osi import symbol_key, try_parse_osi
from .resolve import ResolveError, display_symbol, resolve_position
from .settlement import holds_contracts
from .text import format_et, money, qty
from .text import price as price_text

__all__ = [
    "CloseCode",
    "ClosePlan",
    "Issue",
    "PlannedOrder",
    "PriceSource",
    "ResolveError",
    "close_scope",
    "estimate_text",
    "is_option",
    "plan_close_position",
    "plan_close_positions",
]

CAP_SETTING = "POSITIONS_MCP_MAX_CLOSE_NOTIONAL"
_OPTION_POSITION_TYPES = frozenset(
    {PositionType.LONG_CALL, PositionType.SHORT_CALL, PositionType.LONG_PUT, PositionType.SHORT_PUT}
)
_KNOWN_TYPES = frozenset(SecurityType) - {SecurityType.OTHER}
_SUMMARY_ORDERS = 5
MAX_LISTED_ORDERS = 50
"""A preview lists at most this many orders (the largest); counts and totals cover every one."""
MAX_LISTED_WARNINGS = 20


class CloseCode(StrEnum):
    # warnings
    TOP_OF_BOOK = "TOP_OF_BOOK"
    NOT_TRADABLE = "NOT_TRADABLE"
    LIQUIDATION_ONLY = "LIQUIDATION_ONLY"
    EARLY_CLOSE = "EARLY_CLOSE"
    LAST_TRADING_DAY = "LAST_TRADING_DAY"
    WORKING_ORDERS = "WORKING_ORDERS"
    NOTHING_AVAILABLE = "NOTHING_AVAILABLE"
    MARKET_CLOSED = "MARKET_CLOSED"
    NO_PRICE = "NO_PRICE"
    OPTION_CONTRACTS = "OPTION_CONTRACTS"
    CONTRACT_TERMS_UNUSABLE = "CONTRACT_TERMS_UNUSABLE"
    AVAILABLE_ABOVE_HELD = "AVAILABLE_ABOVE_HELD"
    CASH_EXCLUDED = "CASH_EXCLUDED"
    PENDING_EXERCISE = "PENDING_EXERCISE"
    OPTION_BY_SYMBOL = "OPTION_BY_SYMBOL"
    # warnings and blocks
    NOTIONAL_CAP = "NOTIONAL_CAP"
    # blocks
    NOTHING_TO_CLOSE = "NOTHING_TO_CLOSE"
    NOTIONAL_UNKNOWN = "NOTIONAL_UNKNOWN"
    CASH_POSITION = "CASH_POSITION"
    MULTIPLIER_NOT_WHOLE = "MULTIPLIER_NOT_WHOLE"
    PAST_LAST_TRADE = "PAST_LAST_TRADE"


class Issue(BaseModel):
    """A warning or a blocking reason: a stable machine code and one sentence for a person."""

    code: str
    message: str
    symbol: str | None = None


class PlannedOrder(BaseModel):
    symbol: str
    instrument_id: str
    instrument_type: str
    side: Side
    quantity: DecimalString
    position_quantity: DecimalString
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    estimated_price: DecimalString | None = None
    price_source: PriceSource | None = None
    multiplier: int = 1
    estimated_notional: DecimalString | None = None


class ClosePlan(BaseModel):
    scope: Literal["position", "all"]
    target: str | None = None
    cancel_orders: bool
    order_count: int = Field(description="Orders that will be sent; 'orders' lists the 50 largest")
    orders: list[PlannedOrder]
    estimated_total: DecimalString = Field(
        description="Σ estimated notional of every order, sells and buys alike (what trades, not net cash)"
    )
    max_close_notional: DecimalString | None = None
    market_open: bool
    next_open: datetime | None = None
    cancel_orders_effect: str
    excluded: list[str] = []
    warnings: list[Issue] = []
    blocked: list[Issue] = []
    summary: str

    _sends: tuple[str, ...] = PrivateAttr(default=())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def allowed(self) -> bool:
        """True when the close may be executed (after the human's yes)."""
        return not self.blocked

    @property
    def sends(self) -> tuple[str, ...]:
        """What the close sends, one canonical line per order, every order (``orders`` lists the
        largest only), then the cancel_orders choice: a confirmation binds these."""
        return self._sends

    def why_blocked(self) -> str:
        """Why this close cannot be executed, in one line ('' when it can)."""
        return "; ".join(issue.message for issue in self.blocked)


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


# -- the plan ------------------------------------------------------------------------------------


def is_option(position: Position) -> bool:
    """An option row: ``instrument_type`` OPTION, a seed-era option ``position_type``, or an
    ``instrument_type`` this server does not know (or OTHER) with an OSI option symbol."""
    if position.instrument_type == SecurityType.OPTION or position.position_type in _OPTION_POSITION_TYPES:
        return True
    return _option_by_symbol(position)


def _option_by_symbol(position: Position) -> bool:
    return position.instrument_type not in _KNOWN_TYPES and try_parse_osi(position.symbol) is not None


def _in_force(position: Position, pending: Sequence[PositionInstruction]) -> list[PositionInstruction]:
    """The instructions on ``position``'s contract that still stand (:func:`.settlement.holds_contracts`)."""
    key = position.instrument_id.strip().lower()
    return [
        i
        for i in pending
        if holds_contracts(i)
        and (i.instrument_id.strip().lower() == key or symbol_key(i.symbol) == symbol_key(position.symbol))
    ]


def _pending_exercises(position: Position, pending: Sequence[PositionInstruction]) -> list[PositionInstruction]:
    return [i for i in _in_force(position, pending) if i.instruction_type == InstructionType.EXERCISE]


def _is_cash(position: Position) -> bool:
    return position.instrument_type == SecurityType.CASH


def close_scope(
    positions: Iterable[Position], instrument_id: str | None, account_id: int | None = None
) -> list[Position]:
    """The positions a close touches: the one ``instrument_id`` names (raises ``ResolveError``),
    or, for close-all (``None``), every non-cash position with a quantity. The executing tool
    fingerprints this same scope on re-read positions."""
    held = list(positions)
    if instrument_id is not None:
        return [resolve_position(held, instrument_id, account_id)]
    return [p for p in held if not _is_cash(p) and p.quantity != 0]


class _Context:
    """What one close plan knows besides the positions: pending instructions, contract terms, the
    names of the account's instruments (for the underlier of an exercise), and an identical close
    sent a moment ago whose orders may be what this plan finds working."""

    def __init__(
        self,
        cancel_orders: bool,
        pending: Sequence[PositionInstruction],
        contracts: Mapping[str, ContractTerms] | None,
        held: Sequence[Position],
        market: MarketView | None,
        now: datetime,
        earlier_close: str | None = None,
    ) -> None:
        self.cancel_orders = cancel_orders
        self.earlier_close = earlier_close
        self.pending = pending
        self.market = market
        self.contracts = {**(market.terms if market is not None else {}), **(contracts or {})}
        self.names = _names(held)
        self.prices = {p.instrument_id: p.instrument_price for p in held if not is_option(p)}
        self.now = now
        self.terms: dict[str, ContractTerms] = {}
        self.held_by_exercise: dict[str, tuple[Decimal, list[str]]] = {}  # symbol -> (contracts, ids)

    def freeing(self, default: str) -> str:
        """The one advice about units tied up in working orders: ``default`` (what cancel_orders=true
        would do), unless those orders may be the earlier close (:meth:`waiting`)."""
        return self.waiting() or default

    def waiting(self) -> str:
        """Wait for the earlier close, since cancel_orders=true would cancel it and send another
        ('' when there is no earlier close whose orders may be working)."""
        if self.earlier_close is None:
            return ""
        return (
            f"they may be {self.earlier_close}: wait for it to fill (read the position again) rather than use "
            "cancel_orders=true, which would cancel that close and send a new one"
        )

    def replacing(self) -> str:
        """What cancel_orders=true does to the earlier close, when its orders may be working ('' else)."""
        if self.earlier_close is None:
            return ""
        return f" They may be {self.earlier_close}: cancel_orders=true cancels that close and sends a new one."

    def terms_of(self, position: Position) -> ContractTerms | None:
        given = self.contracts.get(position.instrument_id)
        if given is not None or try_parse_osi(position.symbol) is None:
            return given
        return terms_for(position)

    def underlier(self, position: Position, root: str) -> tuple[str, Decimal | None]:
        """An option's underlier: its name (the held position's symbol, the snapshot's, else the
        OSI root) and price (the snapshot's, else the held position's; None when neither)."""
        key = position.underlying_instrument_id or ""
        quote = self.market.quotes.get(key) if self.market is not None and key else None
        name = self.names.get(key) or (quote.symbol if quote is not None else root)
        price = quote.price if quote is not None else None
        return name, price if price is not None else self.prices.get(key)


def _exercise_consequence(
    position: Position, contracts: Decimal, terms: ContractTerms | None, names: Mapping[str, str]
) -> str:
    """What ``contracts`` exercised contracts of ``position`` deliver, in words."""
    option = try_parse_osi(position.symbol)
    if option is None or terms is None:
        return "the exercise goes ahead"
    if terms.settlement == "CASH":
        return "settled in cash at the intrinsic value"
    underlier = names.get(position.underlying_instrument_id or "", underlier_of_root(option.root))
    shares = f"{qty(contracts * terms.deliverable_shares)} {underlier} shares"
    if not terms.deliverable_confirmed:  # contracts.py: an adjusted contract's deliverable is not assumed
        shares = f"{underlier} shares (deliverable not confirmed)"
    cash = money((contracts * terms.multiplier * option.strike).quantize(CENT, rounding=ROUND_HALF_EVEN))
    if option.is_call:
        return f"receive {shares} and pay {cash}"
    return f"deliver {shares} and receive {cash}"


def _plan_order(
    position: Position, context: _Context, warnings: list[Issue], blocked: list[Issue]
) -> PlannedOrder | None:
    symbol = display_symbol(position.symbol)
    held = abs(position.quantity)
    available = abs(position.available_quantity)
    if held == 0:
        return None
    if available > held:
        warnings.append(
            Issue(
                code=CloseCode.AVAILABLE_ABOVE_HELD,
                symbol=symbol,
                message=f"{symbol}: available {qty(available)} is more than the {qty(held)} held; "
                f"the close is limited to {qty(held)}.",
            )
        )
        available = held
    option = is_option(position)
    terms = context.terms_of(position) if option else None
    if terms is not None:
        context.terms[position.instrument_id] = terms
    # Contracts a live EXERCISE instruction holds: no close frees them, cancel_orders or not.
    exercises = _pending_exercises(position, context.pending) if position.quantity > 0 else []
    reserved = min(sum((i.quantity for i in exercises), Decimal(0)), held)
    ids = ", ".join(i.id for i in exercises)
    free = max(min(available, held - reserved), Decimal(0))
    in_orders = held - reserved - free
    closable = held - reserved
    quantity = closable if context.cancel_orders else free
    if reserved:
        context.held_by_exercise[symbol] = (reserved, [i.id for i in exercises])
    if quantity == 0:
        if reserved and (context.cancel_orders or not in_orders):
            text = (
                f"{symbol}: all {qty(held)} are held by pending exercise instructions (ids {ids}), so no order "
                "is sent for it; cancel them with cancel_position_instruction to close it."
            )
        elif reserved:
            text = (
                f"{symbol}: nothing is free, so no order is sent for it: {qty(in_orders)} are tied up in "
                f"working orders ({context.freeing('cancel_orders=true would cancel them')}) and {qty(reserved)} are held by "
                f"pending exercise instructions (ids {ids}; cancel them with cancel_position_instruction)."
            )
        else:
            text = (
                f"{symbol}: all {qty(held)} are tied up in working orders, so no order is sent for it; "
                f"{context.freeing('cancel_orders=true would cancel them and close it')}."
            )
        warnings.append(Issue(code=CloseCode.NOTHING_AVAILABLE, symbol=symbol, message=text))
        return None
    if in_orders:
        if context.cancel_orders:
            text = f"{symbol}: {qty(in_orders)} of {qty(held)} are tied up in working orders; cancel_orders=true cancels them first"
            text += ("." if reserved else f" so all {qty(held)} are closed.") + context.replacing()
        else:
            everything = "all " + qty(held) if not reserved else qty(closable)
            text = (
                f"{symbol}: {qty(in_orders)} of {qty(held)} are tied up in working orders, so this close sends "
                f"{qty(quantity)}; "
                f"{context.freeing(f'with cancel_orders=true those orders would be cancelled first and {everything} closed')}."
            )
        warnings.append(Issue(code=CloseCode.WORKING_ORDERS, symbol=symbol, message=text))
    if reserved:
        warnings.append(
            Issue(
                code=CloseCode.PENDING_EXERCISE,
                symbol=symbol,
                message=f"{symbol}: {qty(reserved)} of {qty(held)} are held by pending exercise instructions "
                f"(ids {ids}), which cancel_orders does not free: this close sends {qty(quantity)}, and those "
                f"{qty(reserved)} will still be exercised "
                f"({_exercise_consequence(position, reserved, terms, context.names)}) unless you cancel them "
                f"with cancel_position_instruction to close all {qty(held)}.",
            )
        )
    multiplier = terms.multiplier if terms is not None else (OPTION_MULTIPLIER if option else Decimal(1))
    if multiplier != multiplier.to_integral_value():
        blocked.append(
            Issue(
                code=CloseCode.MULTIPLIER_NOT_WHOLE,
                symbol=symbol,
                message=f"{symbol}: its contract multiplier {multiplier} is not a whole number; the close is "
                "refused rather than valued on a guess.",
            )
        )
    if option and _option_by_symbol(position):
        warnings.append(
            Issue(
                code=CloseCode.OPTION_BY_SYMBOL,
                symbol=symbol,
                message=f"{symbol}: instrument_type {str(position.instrument_type)!r} is not one this server "
                f"knows, but the symbol is an OSI option symbol: valued as option contracts (× {qty(multiplier)}).",
            )
        )
    if option:
        _last_trade(position, terms, context, warnings, blocked)
    side = Side.SELL if position.quantity > 0 else Side.BUY
    price, source = _estimate(position, side, quantity, context, warnings)
    _tradability(position, side, context, warnings)
    notional = None
    if price is not None:
        notional = (quantity * price * multiplier).quantize(CENT, rounding=ROUND_HALF_EVEN)
    else:
        warnings.append(
            Issue(
                code=CloseCode.NO_PRICE,
                symbol=symbol,
                message=f"{symbol}: no current or closing price, so its notional is unknown.",
            )
        )
    return PlannedOrder(
        symbol=position.symbol,
        instrument_id=position.instrument_id,
        instrument_type=str(position.instrument_type),
        side=side,
        quantity=quantity,
        position_quantity=position.quantity,
        estimated_price=price,
        price_source=source,
        multiplier=int(multiplier),
        estimated_notional=notional,
    )


def _last_trade(
    position: Position, terms: ContractTerms | None, context: _Context, warnings: list[Issue], blocked: list[Issue]
) -> None:
    """An option past its last trade cannot be closed (blocked, with what expiry does instead); on
    its last trading day the close is warned about (:mod:`.closing_expiry`)."""
    option = try_parse_osi(position.symbol)
    if option is None:
        return
    symbol, now = display_symbol(position.symbol), context.now
    last = last_trade(option.expiry, terms)
    underlier = context.underlier(position, option.root)
    instructions = _in_force(position, context.pending)
    reason = cannot_close(symbol, option, position.quantity, terms, last, now, underlier, instructions)
    if reason is not None:
        blocked.append(Issue(code=CloseCode.PAST_LAST_TRADE, symbol=symbol, message=reason))
    elif (warning := last_day_warning(symbol, last, now)) is not None:
        warnings.append(Issue(code=CloseCode.LAST_TRADING_DAY, symbol=symbol, message=warning))


def _estimate(
    position: Position, side: Side, quantity: Decimal, context: _Context, warnings: list[Issue]
) -> tuple[Decimal | None, PriceSource | None]:
    """The price a MARKET order is estimated at: the bid for a sell, the ask for a buy, when the
    snapshot has that side (Clear Street's market-data API documentation, close-price estimates); else the snapshot's
    last sale; else the position's own price. A top of book smaller than the order is flagged."""
    quote = context.market.quotes.get(position.instrument_id) if context.market is not None else None
    if quote is not None:
        selling = side is Side.SELL
        price = quote.bid if selling else quote.ask
        if price is not None and price > 0:
            size = quote.bid_size if selling else quote.ask_size
            if size is not None and size < quantity:
                symbol = display_symbol(position.symbol)
                best = "bid" if selling else "ask"
                warnings.append(
                    Issue(
                        code=CloseCode.TOP_OF_BOOK,
                        symbol=symbol,
                        message=f"{symbol}: the best {best} ({price}) shows a size of {size} against {qty(quantity)} to "
                        f"{'sell' if selling else 'buy'}: the MARKET order may fill further from the estimate.",
                    )
                )
            return price, PriceSource.BID if selling else PriceSource.ASK
        if quote.last is not None:
            return quote.last, PriceSource.LAST_TRADE
    return best_price(position)


def _tradability(position: Position, side: Side, context: _Context, warnings: list[Issue]) -> None:
    """Warnings from the instrument's flags (Clear Street's market-data API documentation): a close of something
    not tradable will be refused; liquidation-only means it cannot be bought (whether a buy that
    covers a short is exempt is not stated, so a buy-back is warned about)."""
    flags = context.market.tradability.get(position.instrument_id) if context.market is not None else None
    if flags is None:
        return
    tradable, liquidation_only = flags
    symbol = display_symbol(position.symbol)
    if not tradable:
        warnings.append(
            Issue(
                code=CloseCode.NOT_TRADABLE,
                symbol=symbol,
                message=f"{symbol}: Clear Street lists it as not tradable now; the closing order will likely be rejected.",
            )
        )
    elif liquidation_only and side is Side.BUY:
        warnings.append(
            Issue(
                code=CloseCode.LIQUIDATION_ONLY,
                symbol=symbol,
                message=f"{symbol}: it is liquidation-only (no buys); buying it back to close this short may be "
                "refused (whether a buy-to-cover is exempt is not stated).",
            )
        )


def _option_warning(options: list[PlannedOrder], terms: Mapping[str, ContractTerms]) -> Issue:
    listed = options[:_SUMMARY_ORDERS]
    more = [f"{len(options) - _SUMMARY_ORDERS} more"] if len(options) > _SUMMARY_ORDERS else []
    symbol = display_symbol(options[0].symbol) if len(options) == 1 else None
    standard = all(
        o.multiplier == OPTION_MULTIPLIER and (o.instrument_id not in terms or terms[o.instrument_id].is_standard)
        for o in options
    )
    if standard:
        names = _join([display_symbol(o.symbol) for o in listed] + more)
        text = f"Option quantities are contracts of 100 shares: notional = contracts × price × 100 ({names})."
        return Issue(code=CloseCode.OPTION_CONTRACTS, symbol=symbol, message=text)
    parts = []
    for o in listed:
        t = terms.get(o.instrument_id)
        if t is not None and t.settlement == "CASH":
            parts.append(f"{display_symbol(o.symbol)}: cash-settled, multiplier {qty(t.multiplier)}")
        elif t is not None and not t.deliverable_confirmed:
            parts.append(f"{display_symbol(o.symbol)}: deliverable not confirmed, multiplier {o.multiplier}")
        else:
            shares = t.deliverable_shares if t is not None else Decimal(o.multiplier)
            parts.append(f"{display_symbol(o.symbol)}: {qty(shares)} shares a contract, multiplier {o.multiplier}")
    text = f"Option quantities are contracts: notional = contracts × price × multiplier ({'; '.join(parts + more)})."
    return Issue(code=CloseCode.OPTION_CONTRACTS, symbol=symbol, message=text)


_SOURCE_WORDS = {
    PriceSource.BID: "at the bid",
    PriceSource.ASK: "at the ask",
    PriceSource.LAST_TRADE: "at the last trade",
    PriceSource.INSTRUMENT_PRICE: "at the positions' prices",
    PriceSource.CLOSING_PRICE: "at the last close",
}


def estimate_text(order: PlannedOrder) -> str:
    """``~$15,098.00 total, at the bid $150.98 a share``: the estimate, what it is, its source."""
    if order.estimated_notional is None or order.estimated_price is None:
        return "no price"
    source = _SOURCE_WORDS.get(order.price_source, "at") if order.price_source is not None else "at"
    unit = "a share" if order.multiplier == 1 else f"a share × {order.multiplier} a contract"
    return f"~{money(order.estimated_notional)} total, {source} {price_text(order.estimated_price)} {unit}"


def _order_text(order: PlannedOrder) -> str:
    symbol = display_symbol(order.symbol)
    held = abs(order.position_quantity)
    amount = qty(order.quantity) if order.quantity == held else f"{qty(order.quantity)} of {qty(held)}"
    unit = " contracts" if order.multiplier != 1 else ""
    value = f"~{money(order.estimated_notional)}" if order.estimated_notional is not None else "no price"
    return f"{order.side.value} {amount} {symbol}{unit} ({value})"


def _sources(orders: Sequence[PlannedOrder]) -> str:
    """Where the estimates come from, said once for the whole plan (each order names its own)."""
    used = {o.price_source for o in orders if o.price_source is not None}
    if not used:
        return ""
    quoted = used <= {PriceSource.BID, PriceSource.ASK}
    if quoted and len(used) == 2:
        return " at the bid (sells) and the ask (buys)"
    if len(used) == 1:
        (source,) = used
        if source is PriceSource.INSTRUMENT_PRICE and sum(o.price_source is not None for o in orders) == 1:
            return " at the position's price"
        return f" {_SOURCE_WORDS[source]}"
    return " from the quotes where there are any, else the positions' prices"


def _summary(
    orders: list[PlannedOrder],
    total: Decimal,
    cancel_orders: bool,
    blocked: list[Issue],
    market_open: bool,
    next_open: datetime | None,
) -> str:
    if blocked:
        return f"Blocked, nothing will be sent: {blocked[0].message}"
    texts = [_order_text(o) for o in orders]
    if len(texts) > _SUMMARY_ORDERS + 1:
        texts = [*texts[:_SUMMARY_ORDERS], f"{len(orders) - _SUMMARY_ORDERS} more"]
    count = f"{len(orders)} MARKET DAY order{'s' if len(orders) != 1 else ''}"
    if cancel_orders:
        symbols = list(dict.fromkeys(display_symbol(o.symbol) for o in orders))
        shown = _join(symbols if len(symbols) <= _SUMMARY_ORDERS else [*symbols[:_SUMMARY_ORDERS], "others"])
        text = f"Cancel any working orders on {shown}, then send {count}: {_join(texts)}"
    else:
        text = f"Send {count}: {_join(texts)}"
    unpriced = sum(1 for o in orders if o.estimated_notional is None)
    sells = sum((o.estimated_notional or Decimal(0) for o in orders if o.side == Side.SELL), Decimal(0))
    buys = sum((o.estimated_notional or Decimal(0) for o in orders if o.side != Side.SELL), Decimal(0))
    if sells and buys:  # one total of both sides is what trades, not what the account receives
        text += (
            f"; estimated total {money(total)} traded{_sources(orders)}: sells receive ~{money(sells)}, "
            f"buys pay ~{money(buys)}"
        )
    else:
        text += f"; estimated total {money(total)}{_sources(orders)}"
    if unpriced:
        text += f" (without {unpriced} order{'s' if unpriced != 1 else ''} that ha{'ve' if unpriced != 1 else 's'} no price)"
    text += "."
    if not market_open and next_open is not None:
        text += f" The market is closed now: the orders will wait for the open at {format_et(next_open)}."
    return text


def _close_all_past_last_trade(symbols: list[str]) -> Issue:
    """Close-all is one request that "submit[s] closing orders for every position in the account"
    (Clear Street's API documentation): a position past its last trade cannot be left out of it, so the whole close is
    refused rather than a plan shown that differs from what would be sent."""
    more = [f"{len(symbols) - _SUMMARY_ORDERS} more"] if len(symbols) > _SUMMARY_ORDERS else []
    listed = _join(symbols[:_SUMMARY_ORDERS] + more)
    verb = "is" if len(symbols) == 1 else "are"
    return Issue(
        code=CloseCode.PAST_LAST_TRADE,
        message=f"close-all sends a closing order for every position, and {listed} {verb} past the last trade (such an "
        "order cannot trade before expiry), so close-all is refused: close the other positions one at a time with "
        "preview_close_position. What expiry does instead is said for each contract in blocked.",
    )


def _plan(
    scope: Literal["position", "all"],
    target: str | None,
    positions: list[Position],
    excluded: list[str],
    blocked: list[Issue],
    cancel_orders: bool | None,
    now: datetime,
    max_close_notional: Decimal | None,
    context: _Context,
) -> ClosePlan:
    _require_aware(now)
    cancel = bool(cancel_orders)
    warnings: list[Issue] = []
    if excluded:
        warnings.append(
            Issue(
                code=CloseCode.CASH_EXCLUDED,
                message=f"CASH positions are not closed: {', '.join(excluded)}.",
            )
        )
    orders = [o for p in positions if (o := _plan_order(p, context, warnings, blocked)) is not None]
    if scope == "all" and (expired := [i.symbol or "" for i in blocked if i.code == CloseCode.PAST_LAST_TRADE]):
        blocked.insert(0, _close_all_past_last_trade(expired))
    total = sum((o.estimated_notional for o in orders if o.estimated_notional is not None), Decimal(0))
    options = [o for o in orders if o.multiplier != 1 or o.instrument_id in context.terms]
    if options:
        warnings.append(_option_warning(options, context.terms))
    unusable = [o for o in options if (t := context.terms.get(o.instrument_id)) is not None and t.problem]
    if unusable:
        first = context.terms[unusable[0].instrument_id].problem
        names = _join([display_symbol(o.symbol) for o in unusable[:_SUMMARY_ORDERS]])
        warnings.append(
            Issue(
                code=CloseCode.CONTRACT_TERMS_UNUSABLE,
                symbol=display_symbol(unusable[0].symbol) if len(unusable) == 1 else None,
                message=f"The contract terms of {names} cannot be read ({first}): their estimates assume the "
                "standard multiplier of 100 and may be wrong.",
            )
        )

    session = context.market.session if context.market is not None else None
    if session is not None:
        market_open, next_open = session.is_open, None if session.is_open else session.next_open
    else:
        market_open = is_market_open(now)
        next_open = None if market_open else next_market_open(now)
    # past a contract's last trade the plan is blocked whole: "orders sent now wait for the open"
    # would describe a close that cannot trade (domain/last_trade.py)
    tradable = not any(i.code == CloseCode.PAST_LAST_TRADE for i in blocked)
    if tradable and not market_open:
        opens = f"; it opens {format_et(next_open)}" if next_open is not None else ""
        warnings.append(
            Issue(
                code=CloseCode.MARKET_CLOSED,
                message=f"The US regular session is closed now{opens}. MARKET DAY orders sent now wait for the "
                "open and fill at the opening price, which may differ from the estimate.",
            )
        )
    elif tradable and session is not None and session.day_type == "EARLY_CLOSE" and session.close is not None:
        warnings.append(
            Issue(
                code=CloseCode.EARLY_CLOSE,
                message=f"The market closes early today, at {format_et(session.close)}: a MARKET DAY order not "
                "filled by then does not carry over.",
            )
        )

    held_by_exercise = context.held_by_exercise
    exercise_text = "; ".join(
        f"{symbol}: {qty(n)}, ids {', '.join(ids)}" for symbol, (n, ids) in list(held_by_exercise.items())[:5]
    )
    if not orders and not blocked:
        what = "the position" if scope == "position" else "the account's positions"
        if held_by_exercise:
            wait = context.waiting()
            orders_too = (
                f"(as for the working orders, {wait}) " if wait else "(and use cancel_orders=true for the orders) "
            )
            reason = (
                f"every unit of {what} is held by pending exercise instructions ({exercise_text}) or working "
                f"orders; cancel the instructions with cancel_position_instruction {orders_too}to close"
            )
        elif any(p.quantity != 0 for p in positions):
            reason = (
                f"every unit of {what} is tied up in working orders; "
                f"{context.freeing('use cancel_orders=true to cancel them and close')}"
            )
        else:
            reason = f"{'it has' if scope == 'position' else 'the account holds'} no quantity to close"
        blocked.append(Issue(code=CloseCode.NOTHING_TO_CLOSE, message=f"Nothing to close: {reason}."))
    if max_close_notional is not None and orders:
        if total > max_close_notional:
            text = (
                f"The estimated notional {money(total)} is above the {CAP_SETTING} cap of "
                f"{money(max_close_notional)}, so this close will be refused."
            )
            warnings.append(Issue(code=CloseCode.NOTIONAL_CAP, message=text))
            blocked.append(Issue(code=CloseCode.NOTIONAL_CAP, message=text))
        elif unusable or any(o.estimated_notional is None for o in orders):
            blocked.append(
                Issue(
                    code=CloseCode.NOTIONAL_UNKNOWN,
                    message=f"{'A multiplier is unreadable' if unusable else 'A price is missing'}, so the close "
                    "cannot be checked against the "
                    f"{CAP_SETTING} cap of {money(max_close_notional)} and will be refused.",
                )
            )

    partial = [p for p in positions if abs(p.available_quantity) < abs(p.quantity)]
    if cancel and held_by_exercise:
        effect = (
            "cancel_orders=true: working orders on the closed instruments are cancelled first, then each "
            "close covers the position except the contracts held by pending exercise instructions "
            f"({exercise_text}), which only cancel_position_instruction frees.{context.replacing()}"
        )
    elif cancel:
        effect = (
            "cancel_orders=true: working orders on the closed instruments are cancelled first, "
            f"then each close covers the whole position.{context.replacing()}"
        )
    elif held_by_exercise:
        effect = (
            "cancel_orders=false: working orders stay; contracts held by pending exercise instructions "
            f"({exercise_text}) are not closed either way: only cancel_position_instruction frees them."
        )
    elif partial:
        names = _join([display_symbol(p.symbol) for p in partial][:_SUMMARY_ORDERS])
        effect = (
            f"cancel_orders=false: working orders stay, so {names} {'is' if len(partial) == 1 else 'are'} closed only in "
            f"part; {context.freeing('with cancel_orders=true they would be cancelled first and each position closed in full')}."
        )
    else:
        effect = (
            "cancel_orders=false: working orders are left alone; nothing is tied up in them, so "
            "each position closes in full."
        )

    listed = orders
    if len(orders) > MAX_LISTED_ORDERS:  # the largest first; the counts and total cover them all
        listed = sorted(orders, key=lambda o: -(o.estimated_notional or Decimal(0)).copy_abs())
        listed = listed[:MAX_LISTED_ORDERS]
    if len(warnings) > MAX_LISTED_WARNINGS:
        rest = warnings[MAX_LISTED_WARNINGS - 1 :]
        codes = ", ".join(sorted({str(w.code) for w in rest}))
        warnings = [
            *warnings[: MAX_LISTED_WARNINGS - 1],
            Issue(code=rest[0].code, message=f"{len(rest)} more warnings ({codes}).", symbol=None),
        ]

    plan = ClosePlan(
        scope=scope,
        target=target,
        cancel_orders=cancel,
        order_count=len(orders),
        orders=listed,
        estimated_total=total,
        max_close_notional=max_close_notional,
        market_open=market_open,
        next_open=next_open,
        cancel_orders_effect=effect,
        excluded=excluded,
        warnings=warnings,
        blocked=blocked,
        summary=_summary(orders, total, cancel, blocked, market_open, next_open),
    )
    plan._sends = (
        *(f"{o.side} {o.quantity} {o.instrument_id} {o.order_type} {o.time_in_force}" for o in orders),
        f"cancel_orders={str(cancel).lower()}",
    )
    return plan


def plan_close_position(
    positions: Iterable[Position],
    instrument_id: str,
    *,
    cancel_orders: bool | None,
    now: datetime,
    max_close_notional: Decimal | None = None,
    account_id: int | None = None,
    pending_instructions: Iterable[PositionInstruction] = (),
    contracts: Mapping[str, ContractTerms] | None = None,
    market: MarketView | None = None,
    earlier_close: str | None = None,
) -> ClosePlan:
    """What ``close_position(instrument_id)`` would send. Raises ``ResolveError`` (with a message
    saying what to pass instead) when ``instrument_id`` names no position or several.

    ``pending_instructions``: the account's position instructions (any; the live EXERCISE ones on
    the contract hold contracts no close frees). ``contracts``: instrument id ->
    :class:`.contracts.ContractTerms` (multiplier and deliverable of option positions).
    ``market``: quotes (estimates at the bid or ask), contract terms, tradability flags and the
    market's session, when read; without it, the positions' own prices and the local calendar.
    ``earlier_close``: names an identical close sent a moment ago that may still be working (e.g.
    "the close sent at 10:00:00 ET (orders …)"): the advice about working orders then says to wait
    for it, never to replace it with cancel_orders=true."""
    held = list(positions)
    position = resolve_position(held, instrument_id, account_id)
    blocked: list[Issue] = []
    targets = [position]
    if _is_cash(position):
        blocked.append(
            Issue(
                code=CloseCode.CASH_POSITION,
                symbol=position.symbol,
                message=f"{position.symbol} is a CASH position, which is not closed by an order.",
            )
        )
        targets = []
    context = _Context(bool(cancel_orders), list(pending_instructions), contracts, held, market, now, earlier_close)
    return _plan("position", instrument_id, targets, [], blocked, cancel_orders, now, max_close_notional, context)


def plan_close_positions(
    positions: Iterable[Position],
    *,
    cancel_orders: bool | None,
    now: datetime,
    max_close_notional: Decimal | None = None,
    pending_instructions: Iterable[PositionInstruction] = (),
    contracts: Mapping[str, ContractTerms] | None = None,
    market: MarketView | None = None,
    earlier_close: str | None = None,
) -> ClosePlan:
    """What ``close_positions`` (close everything) would send. CASH positions are left out.
    ``pending_instructions``, ``contracts`` and ``earlier_close`` as for :func:`plan_close_position`."""
    held = list(positions)
    excluded = [p.symbol for p in held if _is_cash(p)]
    targets = close_scope(held, None)
    context = _Context(bool(cancel_orders), list(pending_instructions), contracts, held, market, now, earlier_close)
    return _plan("all", None, targets, excluded, [], cancel_orders, now, max_close_notional, context)


def _names(positions: Iterable[Position]) -> dict[str, str]:
    return {p.instrument_id: display_symbol(p.symbol) for p in positions}
