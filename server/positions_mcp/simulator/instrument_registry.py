"""Instruments the simulator knows, and how an identifier from a request resolves to one.

An identifier is an instrument UUID (any case), an equity ticker (any case) or an OSI option symbol
in any of its renderings (padded, single space, compact; any case). Instruments are global: every
account refers to the same instrument objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..clearstreet.market_models import ExerciseStyle
from ..clearstreet.models import SecurityType
from ..domain.osi import OptionRight, OptionSymbol, symbol_key
from .wire import ApiError, instrument_id_for, is_uuid

EQUITY_VENUE = "XNMS"
OPTION_VENUE = "XCBO"
INDEX_VENUE = "XCBO"
STANDARD_MULTIPLIER = Decimal(100)


@dataclass(slots=True, eq=False)
class SimInstrument:
    """An instrument of the simulated market. Options carry their contract terms: ``multiplier``
    (shares per contract, 100 for standard contracts), exercise style, settlement."""

    instrument_id: str
    symbol: str
    """Ticker, or the compact OSI symbol for an option (the form ``Position.symbol`` shows)."""
    instrument_type: SecurityType
    instrument_price: Decimal | None
    """Current price; None when the simulated market has no current quote."""
    closing_price: Decimal | None
    option: OptionSymbol | None = None
    underlying: SimInstrument | None = None
    multiplier: Decimal = Decimal(1)
    """Contract multiplier of an option (deliverable shares, or index dollars per point); 1 otherwise."""
    exercise_style: ExerciseStyle = ExerciseStyle.AMERICAN
    settles_on_open: bool = False
    """AM-settled (settlement on the opening price; the last trading day is the day before)."""
    cash_settled: bool = False
    """Exercise pays the intrinsic value in cash instead of delivering the underlier (index options)."""
    volatility: Decimal | None = None
    """Annualised volatility of an underlier, used for the greeks of its options."""
    greeks_observed: bool = True
    """False for an option whose greeks the simulated feed never observed (snapshot ``greeks: null``)."""
    name: str | None = None

    @property
    def is_option(self) -> bool:
        return self.option is not None

    @property
    def is_index(self) -> bool:
        return self.instrument_type is SecurityType.INDEX

    @property
    def venue(self) -> str:
        if self.is_option:
            return OPTION_VENUE
        return INDEX_VENUE if self.is_index else EQUITY_VENUE

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
        self._by_id: dict[str, SimInstrument] = {}
        self._by_key: dict[str, SimInstrument] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, instrument: SimInstrument) -> SimInstrument:
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

    def resolve(self, identifier: str) -> SimInstrument | None:
        text = identifier.strip()
        if is_uuid(text):
            return self._by_id.get(text.lower())
        return self._by_key.get(symbol_key(text))

    def require(self, identifier: str) -> SimInstrument:
        """The instrument ``identifier`` names; a 404 when none does."""
        instrument = self.resolve(identifier)
        if instrument is None:
            raise ApiError(404, f"Instrument not found: {identifier}")
        return instrument

    def equity(
        self,
        ticker: str,
        instrument_price: Decimal | None,
        closing_price: Decimal | None,
        *,
        instrument_id: str | None = None,
        instrument_type: SecurityType = SecurityType.COMMON_STOCK,
        volatility: Decimal | None = None,
        name: str | None = None,
    ) -> SimInstrument:
        """The equity (or cash, or index) instrument ``ticker``, created if new."""
        known = self._by_key.get(symbol_key(ticker))
        if known is not None:
            return known
        return self.add(
            SimInstrument(
                instrument_id=instrument_id or instrument_id_for(symbol_key(ticker)),
                symbol=ticker.upper(),
                instrument_type=instrument_type,
                instrument_price=instrument_price,
                closing_price=closing_price,
                volatility=volatility,
                name=name,
            )
        )

    def options_on(self, underlying: SimInstrument) -> list[SimInstrument]:
        """Every option contract on ``underlying`` (any root), in symbol order."""
        contracts = [i for i in self._by_id.values() if i.underlying is underlying]
        return sorted(contracts, key=lambda i: (i.symbol, i.instrument_id))

    def all(self) -> list[SimInstrument]:
        """Every instrument, in symbol order."""
        return sorted(self._by_id.values(), key=lambda i: (i.symbol, i.instrument_id))

    def option(
        self,
        underlying: SimInstrument,
        expiry: date,
        right: OptionRight,
        strike: Decimal,
        instrument_price: Decimal | None,
        closing_price: Decimal | None,
        *,
        instrument_id: str | None = None,
        root: str | None = None,
        multiplier: Decimal = STANDARD_MULTIPLIER,
        exercise_style: ExerciseStyle = ExerciseStyle.AMERICAN,
        settles_on_open: bool = False,
        cash_settled: bool = False,
        greeks_observed: bool = True,
    ) -> SimInstrument:
        """The option contract on ``underlying``, created if new. ``root`` is the OSI root when it
        is not the underlier's ticker (an adjusted contract such as ``AAPL1``, a weekly ``SPXW``)."""
        contract = OptionSymbol(root=root or underlying.symbol, expiry=expiry, right=right, strike=strike)
        known = self._by_key.get(symbol_key(contract.compact()))
        if known is not None:
            return known
        if multiplier <= 0:
            raise ValueError("a contract multiplier is positive")
        return self.add(
            SimInstrument(
                instrument_id=instrument_id or instrument_id_for(symbol_key(contract.compact())),
                symbol=contract.compact(),
                instrument_type=SecurityType.OPTION,
                instrument_price=instrument_price,
                closing_price=closing_price,
                option=contract,
                underlying=underlying,
                multiplier=multiplier,
                exercise_style=exercise_style,
                settles_on_open=settles_on_open,
                cash_settled=cash_settled,
                greeks_observed=greeks_observed,
            )
        )
