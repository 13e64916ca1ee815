"""The book a scenario shocks: the positions grouped by underlier, the names that resolve to each
underlier, the market data looked up for them (quotes, contract terms, settlement instants) and the
counts of what is left out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ...clearstreet.models import Position, PositionType, SecurityType
from ..calendar import expiration_business_day, regular_session
from ..contracts import ContractTerms, terms_for
from ..examples import Examples
from ..market_view import MarketView, Quote
from ..osi import OptionSymbol, symbol_key, try_parse_osi

__all__ = ["Underlier", "UnderlierBook"]

SECONDS_PER_YEAR = 365 * 24 * 3600
_OSI_MIN_LENGTH = 16  # root (≥ 1) + YYMMDD + C/P + 8 digits
_LINEAR_TYPES = frozenset({SecurityType.COMMON_STOCK, SecurityType.PREFERRED_STOCK})
_OPTION_POSITION_TYPES = frozenset(
    {PositionType.LONG_CALL, PositionType.SHORT_CALL, PositionType.LONG_PUT, PositionType.SHORT_PUT}
)


@dataclass(slots=True)
class Underlier:
    """One underlier of the book: its stock and its options."""

    key: str
    instrument_id: str | None = None
    """The underlier's own instrument id, as the API spells it (for the snapshot)."""
    label: str | None = None
    held_price: Decimal | None = None
    held_close: Decimal | None = None
    stocks: list[Position] = field(default_factory=list)
    options: list[tuple[Position, OptionSymbol]] = field(default_factory=list)
    roots: set[str] = field(default_factory=set)


def _is_option(position: Position) -> bool:
    return position.instrument_type == SecurityType.OPTION or position.position_type in _OPTION_POSITION_TYPES


class UnderlierBook:
    """The positions by underlier key, the names that resolve to each key, and what is left out."""

    def __init__(self, market: MarketView) -> None:
        self.market = market
        self.underliers: dict[str, Underlier] = {}
        self.names: dict[str, set[str]] = {}
        self.cash = Examples()
        self.other_types: dict[str, Examples] = {}
        self.bad_symbol = Examples()
        self.skipped: dict[str, Examples] = {}
        """Options and stock not revalued, by reason (filled while revaluing)."""
        self.floored = Examples()  # options whose shocked volatility fell below revaluation.MIN_VOLATILITY
        self.at_intrinsic = Examples()  # options without implied volatility, moved with their intrinsic value
        self.from_close = Examples()
        self.spot_from_close: list[str] = []
        self._quotes_lower: dict[str, Quote] | None = None
        self._default_terms: dict[tuple[str, bool], ContractTerms] = {}
        self._settlements: dict[tuple[date, bool], datetime] = {}

    def add(self, positions: Iterable[Position]) -> None:
        for position in positions:
            if position.instrument_type == SecurityType.CASH:
                self.cash.hit(position.symbol)
                continue
            # (An OSI symbol has at least 16 characters: shorter ones, tickers, are not parsed.)
            option = try_parse_osi(position.symbol) if len(position.symbol) >= _OSI_MIN_LENGTH else None
            underlier = self._underlier_of(position, option)
            if _is_option(position):
                self._add_option(underlier, position, option)
            else:
                self._add_stock(underlier, position)

    def _underlier_of(self, position: Position, option: OptionSymbol | None) -> Underlier:
        """The position's underlier (made on first sight), its names recorded.

        resolve.underlier_key and the names resolve.underlier_keys accepts, by the same rules with
        one OSI parse (tests check that they agree): the key is the underlier's id, else
        ``root:<root>`` for an option without one, else the position's own id; the names are its
        id, and with an OSI symbol its root and underlier id, else its symbol."""
        underlier_id = (position.underlying_instrument_id or "").strip()
        if underlier_id:
            key = underlier_id.lower()
        elif option is not None and position.instrument_type != SecurityType.COMMON_STOCK:
            key = f"root:{option.root}"
        else:
            key = position.instrument_id.strip().lower()
        underlier = self.underliers.get(key)
        if underlier is None:
            underlier = self.underliers[key] = Underlier(key)
        self._name(position.instrument_id.strip().upper(), key)
        if option is not None:
            self._name(option.root, key)
            self._name(underlier_id.upper(), key)
        else:
            self._name(symbol_key(position.symbol), key)
        return underlier

    def _name(self, name: str, key: str) -> None:
        if name:
            self.names.setdefault(name, set()).add(key)

    def _add_option(self, underlier: Underlier, position: Position, option: OptionSymbol | None) -> None:
        underlier_id = (position.underlying_instrument_id or "").strip()
        if underlier_id and underlier.instrument_id is None:
            underlier.instrument_id = underlier_id
        if option is None:
            self.bad_symbol.hit(position.symbol)
            return
        underlier.roots.add(option.root)
        underlier.options.append((position, option))

    def _add_stock(self, underlier: Underlier, position: Position) -> None:
        underlier.instrument_id = position.instrument_id.strip()
        underlier.label = position.symbol.strip()
        if position.instrument_type not in _LINEAR_TYPES:
            self.other_types.setdefault(str(position.instrument_type), Examples()).hit(position.symbol)
            return
        if position.instrument_price is not None:
            underlier.held_price = position.instrument_price
        if position.closing_price is not None:
            underlier.held_close = position.closing_price
        underlier.stocks.append(position)

    def quote(self, instrument_id: str | None) -> Quote | None:
        if not instrument_id:
            return None
        found = self.market.quotes.get(instrument_id)
        if found is None:
            if self._quotes_lower is None:
                self._quotes_lower = {k.strip().lower(): q for k, q in self.market.quotes.items()}
            found = self._quotes_lower.get(instrument_id.strip().lower())
        return found

    def label(self, underlier: Underlier) -> str:
        if underlier.label:
            return underlier.label
        quote = self.quote(underlier.instrument_id)
        if quote is not None and quote.symbol.strip():
            return quote.symbol.strip()
        if underlier.roots:
            return min(underlier.roots, key=lambda root: (len(root), root))
        return underlier.key.removeprefix("root:")

    def terms(self, position: Position, option: OptionSymbol) -> ContractTerms | None:
        """The contract endpoint's terms, else :func:`.contracts.terms_for` (which, without a
        contract row, depends only on the root and whether the underlier is an index: cached)."""
        terms = self.market.terms.get(position.instrument_id)
        if terms is not None:
            return terms
        fallback = (option.root, position.underlying_instrument_type == SecurityType.INDEX)
        terms = self._default_terms.get(fallback)
        if terms is None:
            try:
                terms = self._default_terms[fallback] = terms_for(position)
            except ValueError:
                return None
        return terms

    def years(self, option: OptionSymbol, terms: ContractTerms, now: datetime) -> float:
        """Years (ACT/365) from ``now`` to the option's settlement instant."""
        at_open = bool(terms.is_settle_on_open)
        instant = self._settlements.get((option.expiry, at_open))
        if instant is None:
            instant = self._settlements[(option.expiry, at_open)] = _settlement(option.expiry, at_open)
        return (instant - now).total_seconds() / SECONDS_PER_YEAR

    def skip(self, reason: str, symbol: str) -> None:
        self.skipped.setdefault(reason, Examples()).hit(symbol)


def _settlement(expiry: date, at_open: bool) -> datetime:
    """The regular close of the expiration business day (16:00 ET, 13:00 on an early close), or
    its open (09:30 ET) for an AM-settled contract."""
    session = regular_session(expiration_business_day(expiry))
    assert session is not None  # an expiration business day is a business day
    return session[0] if at_open else session[1]
