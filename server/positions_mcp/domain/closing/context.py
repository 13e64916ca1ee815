"""What one close plan knows besides the positions it closes. Pure, no I/O.

The account's position instructions (those in force hold contracts no close frees), contract
terms, the names and prices of the account's instruments (for what an option delivers), the market
snapshot, and an identical close sent a moment ago whose orders may be what this plan finds
working: the one voice of the advice about units tied up in working orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from ...clearstreet.models import InstructionType, Position, PositionInstruction
from ..contracts import ContractTerms, terms_for
from ..market_view import MarketView
from ..osi import symbol_key, try_parse_osi
from ..resolve import display_symbol
from ..settlement import holds_contracts
from ..text import qty
from .issues import NAMED_AT_MOST
from .selection import is_option

__all__ = ["CloseContext"]


class CloseContext:
    """What one close plan knows besides the positions; it also gathers, as the plan's orders are
    made, the contract terms they used and the contracts pending exercise instructions hold."""

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

    # -- what the account holds -------------------------------------------------------------------

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

    def in_force(self, position: Position) -> list[PositionInstruction]:
        """The instructions on ``position``'s contract that still stand (:func:`..settlement.holds_contracts`)."""
        key = position.instrument_id.strip().lower()
        return [
            i
            for i in self.pending
            if holds_contracts(i)
            and (i.instrument_id.strip().lower() == key or symbol_key(i.symbol) == symbol_key(position.symbol))
        ]

    def pending_exercises(self, position: Position) -> list[PositionInstruction]:
        """The EXERCISE instructions in force on ``position``'s contract: they hold its contracts."""
        return [i for i in self.in_force(position) if i.instruction_type == InstructionType.EXERCISE]

    def held_by_exercise_text(self) -> str:
        """``AAPL …: 2, ids …`` for the first positions pending exercises hold contracts of."""
        held = list(self.held_by_exercise.items())[:NAMED_AT_MOST]
        return "; ".join(f"{symbol}: {qty(n)}, ids {', '.join(ids)}" for symbol, (n, ids) in held)

    # -- the advice about working orders ----------------------------------------------------------

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


def _names(positions: Iterable[Position]) -> dict[str, str]:
    return {p.instrument_id: display_symbol(p.symbol) for p in positions}
