"""How much of one position a close sends, and why not more. Pure, no I/O.

The API closes "the available quantity" of a position, or, with ``cancel_orders``, the whole
position after cancelling the working orders on it (Clear Street's API documentation). Exercise
instructions are not orders: a live EXERCISE instruction (:func:`..settlement.holds_contracts`)
holds its contracts whatever ``cancel_orders`` says, and only ``cancel_position_instruction`` frees
them. So a close sends |quantity| less what exercises hold with ``cancel_orders``, else
``available_quantity`` and never more than that, whether or not the API already nets them out of
``available_quantity``. It never sends more than the position (``min(|available|, |quantity|)``):
the sign of ``available_quantity`` on shorts is undocumented, and a close must never flip a
position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ...clearstreet.models import Position
from ..contracts import ContractTerms, underlier_of_root
from ..osi import try_parse_osi
from ..resolve import display_symbol
from ..settlement import exercise_flow
from ..text import money, qty
from .context import CloseContext
from .issues import CloseCode, Issue

__all__ = ["close_quantity"]


@dataclass(frozen=True, slots=True)
class _Held:
    """One position's units: held in all, held by pending exercises, free to close now."""

    symbol: str
    held: Decimal
    reserved: Decimal
    free: Decimal
    ids: str
    """The pending exercise instructions' ids, as a person reads them."""

    @property
    def in_orders(self) -> Decimal:
        return self.held - self.reserved - self.free

    @property
    def closable(self) -> Decimal:
        """What cancel_orders=true closes: all but what exercises hold."""
        return self.held - self.reserved


def close_quantity(
    position: Position, terms: ContractTerms | None, context: CloseContext, warnings: list[Issue]
) -> Decimal:
    """What the close of ``position`` (a quantity, not 0) sends; 0 when nothing. ``warnings``
    gets why it is less than the position: working orders, pending exercises."""
    symbol = display_symbol(position.symbol)
    held = abs(position.quantity)
    available = abs(position.available_quantity)
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
    exercises = context.pending_exercises(position) if position.quantity > 0 else []
    reserved = min(sum((i.quantity for i in exercises), Decimal(0)), held)
    if reserved:
        context.held_by_exercise[symbol] = (reserved, [i.id for i in exercises])
    free = max(min(available, held - reserved), Decimal(0))
    units = _Held(symbol, held, reserved, free, ", ".join(i.id for i in exercises))
    quantity = units.closable if context.cancel_orders else units.free
    if quantity == 0:
        warnings.append(Issue(code=CloseCode.NOTHING_AVAILABLE, symbol=symbol, message=_nothing_free(units, context)))
        return quantity
    if units.in_orders:
        text = _in_working_orders(units, quantity, context)
        warnings.append(Issue(code=CloseCode.WORKING_ORDERS, symbol=symbol, message=text))
    if reserved:
        consequence = _exercise_consequence(position, reserved, terms, context.names)
        warnings.append(
            Issue(
                code=CloseCode.PENDING_EXERCISE,
                symbol=symbol,
                message=f"{symbol}: {qty(reserved)} of {qty(held)} are held by pending exercise instructions "
                f"(ids {units.ids}), which cancel_orders does not free: this close sends {qty(quantity)}, and those "
                f"{qty(reserved)} will still be exercised ({consequence}) unless you cancel them "
                f"with cancel_position_instruction to close all {qty(held)}.",
            )
        )
    return quantity


def _nothing_free(units: _Held, context: CloseContext) -> str:
    symbol, held, reserved, ids = units.symbol, units.held, units.reserved, units.ids
    if reserved and (context.cancel_orders or not units.in_orders):
        return (
            f"{symbol}: all {qty(held)} are held by pending exercise instructions (ids {ids}), so no order "
            "is sent for it; cancel them with cancel_position_instruction to close it."
        )
    if reserved:
        return (
            f"{symbol}: nothing is free, so no order is sent for it: {qty(units.in_orders)} are tied up in "
            f"working orders ({context.freeing('cancel_orders=true would cancel them')}) and {qty(reserved)} are held by "
            f"pending exercise instructions (ids {ids}; cancel them with cancel_position_instruction)."
        )
    return (
        f"{symbol}: all {qty(held)} are tied up in working orders, so no order is sent for it; "
        f"{context.freeing('cancel_orders=true would cancel them and close it')}."
    )


def _in_working_orders(units: _Held, quantity: Decimal, context: CloseContext) -> str:
    symbol, held, in_orders = units.symbol, units.held, units.in_orders
    if context.cancel_orders:
        text = f"{symbol}: {qty(in_orders)} of {qty(held)} are tied up in working orders; cancel_orders=true cancels them first"
        return text + ("." if units.reserved else f" so all {qty(held)} are closed.") + context.replacing()
    everything = "all " + qty(held) if not units.reserved else qty(units.closable)
    return (
        f"{symbol}: {qty(in_orders)} of {qty(held)} are tied up in working orders, so this close sends "
        f"{qty(quantity)}; "
        f"{context.freeing(f'with cancel_orders=true those orders would be cancelled first and {everything} closed')}."
    )


def _exercise_consequence(
    position: Position, contracts: Decimal, terms: ContractTerms | None, names: Mapping[str, str]
) -> str:
    """What ``contracts`` exercised long contracts of ``position`` deliver, in words: the shared
    model of what an exercise moves (:func:`..settlement.exercise_flow`)."""
    option = try_parse_osi(position.symbol)
    if option is None or terms is None:
        return "the exercise goes ahead"
    if terms.settlement == "CASH":
        return "settled in cash at the intrinsic value"
    flow = exercise_flow(contracts, option, terms, None)
    if flow is None:  # physically settled with terms: always stated
        return "the exercise goes ahead"
    underlier = names.get(position.underlying_instrument_id or "", underlier_of_root(option.root))
    shares = f"{qty(abs(flow.shares))} {underlier} shares"
    if not terms.deliverable_confirmed:  # contracts.py: an adjusted contract's deliverable is not assumed
        shares = f"{underlier} shares (deliverable not confirmed)"
    if option.is_call:
        return f"receive {shares} and pay {money(flow.cash_out)}"
    return f"deliver {shares} and receive {money(flow.cash_in)}"
