"""What a simulated account holds, and the ledger arithmetic that moves it.

A holding is a signed quantity (negative = short) at an average price per share or contract. A
trade adding to a position averages its price; one reducing it books realized P&L against the
average; one crossing zero opens the remainder at its price; a position that reaches zero
disappears, its realized P&L kept on the account. Cash is the account's USD CASH position
(quantity = dollars, price 1.00); below zero the account borrows on margin and the row turns SHORT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..clearstreet.models import Side
from .instrument_registry import SimInstrument
from .wire import round_price

if TYPE_CHECKING:
    from .instruction_lifecycle import SimInstruction
    from .order_lifecycle import SimOrder

ZERO = Decimal(0)


@dataclass(eq=False, slots=True)
class Holding:
    """One position: signed quantity (negative = short) and average price per share/contract."""

    instrument: SimInstrument
    quantity: Decimal
    avg_price: Decimal | None
    realized_today: Decimal = ZERO

    @property
    def closing_side(self) -> Side:
        return Side.SELL if self.quantity > 0 else Side.BUY


class Holdings(dict[str, Holding]):
    """An account's holdings by instrument id; ``version`` moves whenever one is added, replaced or
    removed, so a listing order computed from them can be reused until then."""

    version = 0

    def __setitem__(self, key: str, value: Holding) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def clear(self) -> None:
        super().clear()
        self.version += 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.version += 1

    def setdefault(self, key: str, default: Holding) -> Holding:
        self.version += 1
        return super().setdefault(key, default)

    def popitem(self) -> tuple[str, Holding]:
        self.version += 1
        return super().popitem()


@dataclass(eq=False)
class Account:
    account_id: int
    holdings: Holdings = field(default_factory=Holdings)
    """By instrument id."""
    orders: list[SimOrder] = field(default_factory=list)
    instructions: list[SimInstruction] = field(default_factory=list)
    """Persisted instructions, in creation order."""
    instructions_by_id: dict[str, SimInstruction] = field(default_factory=dict)
    instructions_by_key: dict[str, SimInstruction] = field(default_factory=dict)
    order_sequence: dict[date, int] = field(default_factory=dict)
    closed_realized: Decimal = ZERO
    """Realized P&L of positions that were closed out entirely (their holdings are gone)."""
    start_of_day: list[tuple[SimInstrument, Decimal]] | None = None
    """The holdings (instrument, quantity) at the start of the simulated day; see ``mark_start_of_day``."""
    symbol_order: tuple[int, list[Holding]] | None = field(default=None, repr=False)
    """``(holdings.version, the holdings in listing order)``: see ``in_symbol_order``."""

    def record_instruction(self, instruction: SimInstruction) -> None:
        self.instructions.append(instruction)
        self.instructions_by_id[instruction.id] = instruction
        self.instructions_by_key[instruction.client_instruction_id] = instruction

    def in_symbol_order(self) -> list[Holding]:
        """The holdings by (symbol, instrument id), the order every listing starts from. Kept
        until the holdings change (a page of a large book would otherwise sort the whole book
        again); callers read the list, never change it."""
        version = self.holdings.version
        if self.symbol_order is None or self.symbol_order[0] != version:
            ordered = sorted(self.holdings.values(), key=lambda h: (h.instrument.symbol, h.instrument.instrument_id))
            self.symbol_order = (version, ordered)
        return self.symbol_order[1]

    # ---------------------------------------------------------------- ledger

    def book_trade(self, instrument: SimInstrument, delta: Decimal, price: Decimal) -> None:
        """Apply a trade of ``delta`` (signed) at ``price`` per share/contract to the position
        (averaging, realizing, crossing zero, removing: the module docstring)."""
        holding = self.holdings.get(instrument.instrument_id)
        if holding is None:
            self.holdings[instrument.instrument_id] = Holding(instrument, delta, round_price(price))
            return
        held = holding.quantity
        if (held > 0) == (delta > 0):
            if holding.avg_price is not None:
                total = abs(held) * holding.avg_price + abs(delta) * price
                holding.avg_price = round_price(total / (abs(held) + abs(delta)))
            holding.quantity = held + delta
            return
        closed = min(abs(delta), abs(held))
        if holding.avg_price is not None:
            direction = Decimal(1) if held > 0 else Decimal(-1)
            holding.realized_today += (price - holding.avg_price) * closed * instrument.multiplier * direction
        holding.quantity = held + delta
        if holding.quantity == 0:
            self.drop(holding)
        elif abs(delta) > abs(held):
            holding.avg_price = round_price(price)

    def adjust_cash(self, cash: SimInstrument, amount: Decimal) -> None:
        """Move the USD position ``cash`` by ``amount`` (negative: a debit, possibly below zero)."""
        if amount == 0:
            return
        holding = self.holdings.get(cash.instrument_id)
        if holding is None:
            self.holdings[cash.instrument_id] = Holding(cash, amount, Decimal("1.00"))
            return
        holding.quantity += amount
        if holding.quantity == 0:
            self.drop(holding)

    def drop(self, holding: Holding) -> None:
        """Remove a holding that reached zero, keeping its realized P&L on the account."""
        self.closed_realized += holding.realized_today
        del self.holdings[holding.instrument.instrument_id]
