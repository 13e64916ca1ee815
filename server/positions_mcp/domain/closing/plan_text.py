"""How a close plan reads to a person: its one-line summary, what ``cancel_orders`` does, and each
order's estimate with its source. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ...clearstreet.models import Position, Side
from ..moneyness import PriceSource
from ..resolve import display_symbol
from ..text import format_et, join_words, money, qty
from ..text import price as price_text
from .context import CloseContext
from .issues import NAMED_AT_MOST, Issue
from .planned_order import PlannedOrder

__all__ = ["cancel_orders_effect", "estimate_text", "plan_summary"]

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


def plan_summary(
    orders: Sequence[PlannedOrder],
    total: Decimal,
    cancel_orders: bool,
    blocked: Sequence[Issue],
    market_open: bool,
    next_open: datetime | None,
) -> str:
    """What the close does, in one line: the orders (the first five), the estimated total and, when
    the market is closed, when they trade; or why nothing will be sent."""
    if blocked:
        return f"Blocked, nothing will be sent: {blocked[0].message}"
    texts = [_order_text(o) for o in orders]
    if len(texts) > NAMED_AT_MOST + 1:
        texts = [*texts[:NAMED_AT_MOST], f"{len(orders) - NAMED_AT_MOST} more"]
    count = f"{len(orders)} MARKET DAY order{'s' if len(orders) != 1 else ''}"
    if cancel_orders:
        symbols = list(dict.fromkeys(display_symbol(o.symbol) for o in orders))
        shown = join_words(symbols if len(symbols) <= NAMED_AT_MOST else [*symbols[:NAMED_AT_MOST], "others"])
        text = f"Cancel any working orders on {shown}, then send {count}: {join_words(texts)}"
    else:
        text = f"Send {count}: {join_words(texts)}"
    text += _estimated_total(orders, total)
    if not market_open and next_open is not None:
        text += f" The market is closed now: the orders will wait for the open at {format_et(next_open)}."
    return text


def _estimated_total(orders: Sequence[PlannedOrder], total: Decimal) -> str:
    unpriced = sum(1 for o in orders if o.estimated_notional is None)
    sells = sum((o.estimated_notional or Decimal(0) for o in orders if o.side == Side.SELL), Decimal(0))
    buys = sum((o.estimated_notional or Decimal(0) for o in orders if o.side != Side.SELL), Decimal(0))
    if sells and buys:  # one total of both sides is what trades, not what the account receives
        text = (
            f"; estimated total {money(total)} traded{_sources(orders)}: sells receive ~{money(sells)}, "
            f"buys pay ~{money(buys)}"
        )
    else:
        text = f"; estimated total {money(total)}{_sources(orders)}"
    if unpriced:
        text += f" (without {unpriced} order{'s' if unpriced != 1 else ''} that ha{'ve' if unpriced != 1 else 's'} no price)"
    return text + "."


def cancel_orders_effect(cancel: bool, positions: Sequence[Position], context: CloseContext) -> str:
    """What the ``cancel_orders`` choice does to this close: which working orders go, and what
    pending exercise instructions keep (only ``cancel_position_instruction`` frees them)."""
    held_by_exercise = context.held_by_exercise_text() if context.held_by_exercise else ""
    if cancel and held_by_exercise:
        return (
            "cancel_orders=true: working orders on the closed instruments are cancelled first, then each "
            "close covers the position except the contracts held by pending exercise instructions "
            f"({held_by_exercise}), which only cancel_position_instruction frees.{context.replacing()}"
        )
    if cancel:
        return (
            "cancel_orders=true: working orders on the closed instruments are cancelled first, "
            f"then each close covers the whole position.{context.replacing()}"
        )
    if held_by_exercise:
        return (
            "cancel_orders=false: working orders stay; contracts held by pending exercise instructions "
            f"({held_by_exercise}) are not closed either way: only cancel_position_instruction frees them."
        )
    partial = [p for p in positions if abs(p.available_quantity) < abs(p.quantity)]
    if partial:
        names = join_words([display_symbol(p.symbol) for p in partial][:NAMED_AT_MOST])
        return (
            f"cancel_orders=false: working orders stay, so {names} {'is' if len(partial) == 1 else 'are'} closed only in "
            f"part; {context.freeing('with cancel_orders=true they would be cancelled first and each position closed in full')}."
        )
    return (
        "cancel_orders=false: working orders are left alone; nothing is tied up in them, so "
        "each position closes in full."
    )
