"""Instruments the simulator knows, and how an identifier from a request resolves to one.

An identifier is an instrument UUID (any case), an equity ticker (any case) or an OSI option symbol
in any of its renderings (padded, single space, compact; any case). Instruments are global: every
account refers to the same instrument objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..clearstreet.models import SecurityType
from ..domain.numbers import OPTION_MULTIPLIER
from ..domain.osi import OptionRight, OptionSymbol, symbol_key
from .wire import instrument_id_for, is_uuid

EQUITY_VENUE = "XNMS"
OPTION_VENUE = "XCBO"


@dataclass(slots=True, eq=False)
class Instrument:
    instrument_id: str
    symbol: str
    """Ticker, or the compact OSI symbol for an option (the form ``Position.symbol`` shows)."""
    instrument_type: SecurityType
    instrument_price: Decimal | None
    """Current price; None when the simulated market has no current quote."""
    closing_price: Decimal | None
    option: OptionSymbol | None = None
    underlying: Instrument | None = None

    @property
    def is_option(self) -> bool:
        return self.option is not None

    @property
    def multiplier(self) -> Decimal:
        return OPTION_MULTIPLIER if self.is_option else Decimal(1)

    @property
    def venue(self) -> str:
        return OPTION_VENUE if self.is_option else EQUITY_VENUE

    @property
    def valuation_price(self) -> Decimal | None:
        """The price positions are valued and orders filled at: current, else last close."""
        return self.instrument_price if self.instrument_price is not None else self.closing_price

    @property
    def instruction_symbol(self) -> str:
        """The padded 21-character OSI form ``PositionInstruction.symbol`` shows."""
        return self.option.padded() if self.option is not None else self.symbol


class InstrumentRegistry:
    def __init__(self) -> None:
        self._by_id: dict[str, Instrument] = {}
        self._by_key: dict[str, Instrument] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, instrument: Instrument) -> Instrument:
        """Register ``instrument``; the registered one is returned if it is already known."""
        key = symbol_key(instrument.symbol)
        existing = self._by_id.get(instrument.instrument_id.lower())
        if existing is not None:
            if symbol_key(existing.symbol) != key:
                raise ValueError(f"instrument id {instrument.instrument_id} already names {existing.symbol}")
            return existing
        if key in self._by_key:
            raise ValueError(f"symbol {instrument.symbol} already names another instrument")
        self._by_id[instrument.instrument_id.lower()] = instrument
        self._by_key[key] = instrument
        return instrument

    def resolve(self, identifier: str) -> Instrument | None:
        text = identifier.strip()
        if is_uuid(text):
            return self._by_id.get(text.lower())
        return self._by_key.get(symbol_key(text))

    def equity(
        self,
        ticker: str,
        instrument_price: Decimal | None,
        closing_price: Decimal | None,
        *,
        instrument_id: str | None = None,
        instrument_type: SecurityType = SecurityType.COMMON_STOCK,
    ) -> Instrument:
        """The equity (or cash) instrument ``ticker``, created if new."""
        known = self._by_key.get(symbol_key(ticker))
        if known is not None:
            return known
        return self.add(
            Instrument(
                instrument_id=instrument_id or instrument_id_for(symbol_key(ticker)),
                symbol=ticker.upper(),
                instrument_type=instrument_type,
                instrument_price=instrument_price,
                closing_price=closing_price,
            )
        )

    def option(
        self,
        underlying: Instrument,
        expiry: date,
        right: OptionRight,
        strike: Decimal,
        instrument_price: Decimal | None,
        closing_price: Decimal | None,
        *,
        instrument_id: str | None = None,
    ) -> Instrument:
        """The option contract on ``underlying``, created if new."""
        contract = OptionSymbol(root=underlying.symbol, expiry=expiry, right=right, strike=strike)
        known = self._by_key.get(symbol_key(contract.compact()))
        if known is not None:
            return known
        return self.add(
            Instrument(
                instrument_id=instrument_id or instrument_id_for(symbol_key(contract.compact())),
                symbol=contract.compact(),
                instrument_type=SecurityType.OPTION,
                instrument_price=instrument_price,
                closing_price=closing_price,
                option=contract,
                underlying=underlying,
            )
        )
