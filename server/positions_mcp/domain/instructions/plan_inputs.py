"""What a plan is made from (:class:`PlanInputs`): the account's positions and instructions, the
New York clock and the effective cutoff, underlier prices, contract terms and quotes; and how an
option's underlier is found in the account (:func:`underlier_position`, :func:`underlier_price`,
which :mod:`..cash_check` uses too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from ...clearstreet.models import Position, PositionInstruction
from ..calendar import exercise_cutoff, new_york
from ..closing import is_option
from ..contracts import ContractTerms, terms_for, underlier_of_root
from ..market_view import Quote
from ..moneyness import best_price
from ..osi import OptionSymbol, symbol_key
from ..resolve import display_symbol
from ..settlement import free_shares, holds_contracts

__all__ = ["PlanInputs", "same_instrument", "underlier_position", "underlier_price"]


def same_instrument(instruction: PositionInstruction, position: Position) -> bool:
    return instruction.instrument_id.strip().lower() == position.instrument_id.strip().lower() or (
        symbol_key(instruction.symbol) == symbol_key(position.symbol)
    )


def underlier_position(positions: Sequence[Position], option: Position, symbol: OptionSymbol) -> Position | None:
    """The account's position in the underlier of ``option``: by ``underlying_instrument_id``, else
    a non-option position whose symbol is the OSI root."""
    for p in positions:
        if option.underlying_instrument_id and p.instrument_id == option.underlying_instrument_id:
            return p
    for p in positions:
        if not is_option(p) and symbol_key(p.symbol) == symbol.root:
            return p
    return None


def underlier_price(
    positions: Sequence[Position], prices: Mapping[str, Decimal], option: Position, symbol: OptionSymbol
) -> Decimal | None:
    """The price of ``option``'s underlier: ``prices`` by its ``underlying_instrument_id``, else the
    underlier position's own (:func:`.moneyness.best_price`)."""
    if option.underlying_instrument_id and option.underlying_instrument_id in prices:
        return prices[option.underlying_instrument_id]
    underlier = underlier_position(positions, option, symbol)
    return None if underlier is None else best_price(underlier)[0]


@dataclass
class PlanInputs:
    """The facts every rule reads. ``now`` is aware; ``broker_cutoff`` an optional broker cutoff
    (New York wall time); ``prices``: underlier instrument id -> price; ``contracts``: instrument id
    -> terms (else :func:`.contracts.terms_for`); ``quotes``: instrument id -> market-data quote."""

    positions: Sequence[Position]
    existing: Sequence[PositionInstruction]
    now: datetime
    broker_cutoff: time | None
    prices: Mapping[str, Decimal]
    contracts: Mapping[str, ContractTerms] = field(default_factory=dict)
    quotes: Mapping[str, Quote] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.local = new_york(self.now)
        self.today: date = self.local.date()

    def deadline(self, day: date) -> datetime:
        """The effective exercise cutoff on ``day``: FINRA's, or the broker's when earlier."""
        return exercise_cutoff(day, self.broker_cutoff)

    def terms(self, position: Position) -> ContractTerms:
        given = self.contracts.get(position.instrument_id)
        return given if given is not None else terms_for(position)

    def holder_of(self, key: str | None) -> PositionInstruction | None:
        """The persisted instruction that holds ``key`` as its ``client_instruction_id``, if any."""
        return next((i for i in self.existing if i.persisted and i.client_instruction_id == key), None)

    def live_on(self, position: Position) -> list[PositionInstruction]:
        """The instructions that still hold contracts of ``position`` (:func:`.settlement.holds_contracts`)."""
        return [i for i in self.existing if holds_contracts(i) and same_instrument(i, position)]

    def price(self, position: Position, symbol: OptionSymbol) -> Decimal | None:
        return underlier_price(self.positions, self.prices, position, symbol)

    def underlier_name(self, position: Position, symbol: OptionSymbol) -> str:
        underlier = underlier_position(self.positions, position, symbol)
        return display_symbol(underlier.symbol) if underlier is not None else underlier_of_root(symbol.root)

    def free_shares(self, position: Position, symbol: OptionSymbol) -> tuple[Decimal, Decimal]:
        """(shares held, shares free) of the underlier: free = its available_quantity, never more
        than held and never below 0."""
        underlier = underlier_position(self.positions, position, symbol)
        return (underlier.quantity if underlier is not None else Decimal(0)), free_shares(underlier)
