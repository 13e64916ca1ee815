"""The book's options as their rows are added (package docstring: **Option**, **Contract terms**,
**Expiring**).

An option added with a market view is folded there and then into its underlier's sums
(:class:`.option_greeks.GreeksByUnderlier`): nothing of it is kept. One added without a view is kept as a
compact tuple of plain values until ``build`` has a view (the collector stops tracking such tuples,
so a large book costs no GC time). An expiring option is kept with its contract, for what expiry
settles.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from ...clearstreet.models import Position, SecurityType
from ..calendar import expiration_business_day
from ..contracts import (
    KNOWN_AMERICAN_INDEX_ROOTS,
    KNOWN_EUROPEAN_INDEX_ROOTS,
    ContractTerms,
    is_adjusted_root,
    terms_for,
)
from ..examples import Examples
from ..market_view import MarketView
from ..osi import OptionSymbol
from .by_underlier import Underliers
from .exact import ZERO
from .option_greeks import Coverage, GreeksByUnderlier, known
from .option_symbols import Osi, OsiReader

__all__ = ["ExpiringOption", "FallbackKey", "Late", "OptionFold"]

_POOL_LIMIT = 4096  # distinct contract terms shared per summary (memory only)
_INDEX_ROOTS = KNOWN_EUROPEAN_INDEX_ROOTS | KNOWN_AMERICAN_INDEX_ROOTS

FallbackKey = tuple[str, bool] | None
"""The key of an option's fallback terms in :attr:`OptionFold.fallbacks` (None: no OSI symbol, or an
adjusted one: no fallback). One tuple object for every row alike."""
Late = tuple[str, str, Decimal, str, FallbackKey, bool]
"""An option ``build`` folds with its own view: (instrument id, underlier key, quantity, symbol,
fallback key, its root is adjusted)."""


class ExpiringOption(NamedTuple):
    """An option expiring inside the window."""

    day: date  # its expiration business day
    symbol: str
    instrument_id: str
    key: str  # its underlier's
    quantity: Decimal
    market_value: Decimal
    fallback: FallbackKey
    folded: bool  # its greeks were folded in add(): then its terms are in ``OptionFold.expiring_terms``
    contract: OptionSymbol


class OptionFold:
    """Options added: counts, sums by underlier, the ones kept for ``build``, odd rows."""

    def __init__(self, reader: OsiReader, today: date, through: date) -> None:
        self._reader = reader
        self._today, self._through = today, through
        self.n = 0
        self.long = self.short = self.premium = ZERO
        self.greeks = GreeksByUnderlier()  # the options folded in add() with a market view
        self.coverage = Coverage()  # of the options folded in add()
        self.deferred: list[Late] = []  # added without a view, not expiring
        self.expiring: list[ExpiringOption] = []
        self.expiring_terms: dict[str, ContractTerms] = {}  # terms of add()'s views, expiring options only
        self.fallbacks: dict[tuple[str, bool], ContractTerms] = {}
        self._fallback_keys: dict[tuple[str, bool], tuple[str, bool]] = {}
        self._terms: dict[ContractTerms, ContractTerms] = {}
        self._expiration_days: dict[date, date] = {}
        self.bad_osi = Examples()
        self.no_underlier_id = Examples()
        self.expired = Examples()

    def add(
        self,
        p: Position,
        quantity: Decimal,
        mv: Decimal,
        osi: Osi | None,
        view: MarketView | None,
        underliers: Underliers,
    ) -> None:
        """One option row (exact: the caller holds a MAX_PREC context): ``osi`` is what its symbol
        says (:meth:`.option_symbols.OsiReader.read`), ``mv`` its market value with the quantity's sign."""
        self.n += 1
        self.premium += mv
        if quantity > 0:
            self.long += quantity
        elif quantity < 0:
            self.short -= quantity
        symbol, uid = p.symbol, p.underlying_instrument_id
        root, expiry = (osi[0], osi[1]) if osi is not None else (None, None)
        if not uid:
            self.no_underlier_id.hit(symbol)
        key = underliers.of_option(uid, p.instrument_id, root, symbol)
        adjusted = expiry is not None and root is not None and is_adjusted_root(root)
        fallback = self._fallback_key(p, root) if expiry is not None and root is not None and not adjusted else None
        listed: ContractTerms | None = None  # the terms the view gives (not a fallback)
        if view is not None:
            listed = view.terms.get(p.instrument_id) if view.terms else None
            quote = view.quotes.get(p.instrument_id) if view.quotes else None
            greeks = None if quote is None else quote.greeks
            terms = listed or self.fallback_terms(fallback)
            self.coverage.seen(terms, greeks, symbol, adjusted)
            self.greeks.add(key, quantity, known(terms), greeks)
            underliers.saw(key, uid, view)
        if osi is None or expiry is None:
            self.bad_osi.hit(symbol)
        elif self._expiring(p, key, quantity, mv, osi, expiry, fallback, listed, view is not None):
            return
        if view is None:
            self.deferred.append((p.instrument_id, key, quantity, symbol, fallback, adjusted))

    def _expiring(
        self,
        p: Position,
        key: str,
        quantity: Decimal,
        mv: Decimal,
        osi: Osi,
        expiry: date,
        fallback: FallbackKey,
        listed: ContractTerms | None,
        folded: bool,
    ) -> bool:
        """Keep an option expiring inside the window (True), or count one past expiration."""
        day = self._expiration_days.get(expiry)
        if day is None:
            day = self._expiration_days[expiry] = expiration_business_day(expiry)
        if day < self._today:
            self.expired.hit(p.symbol)
            return False
        if day > self._through or quantity == 0:
            return False
        contract = self._reader.contract(osi, expiry)
        self.expiring.append(
            ExpiringOption(day, p.symbol, p.instrument_id, key, quantity, mv, fallback, folded, contract)
        )
        if listed is not None:
            pooled = len(self._terms) < _POOL_LIMIT
            terms = self._terms.setdefault(listed, listed) if pooled else self._terms.get(listed, listed)
            self.expiring_terms[p.instrument_id] = terms
        return True

    def _fallback_key(self, p: Position, root: str) -> tuple[str, bool]:
        """terms_for without a contract row depends on the kind of root and of underlier only; an
        adjusted contract (root ending in a digit) gets none: its deliverable is unknown."""
        wanted = (root if root in _INDEX_ROOTS else "", p.underlying_instrument_type == SecurityType.INDEX)
        kept = self._fallback_keys.get(wanted)
        if kept is None:
            self.fallbacks[wanted] = terms_for(p)
            kept = self._fallback_keys[wanted] = wanted
        return kept

    def fallback_terms(self, fallback: FallbackKey) -> ContractTerms | None:
        """The documented fallback terms of an option (:func:`..contracts.terms_for`), if it has any."""
        return None if fallback is None else self.fallbacks[fallback]

    def late(self) -> Iterator[Late]:
        """The options whose greeks ``build`` folds with its own view: those added without a view,
        then the expiring ones among them."""
        yield from self.deferred
        for option in self.expiring:
            if not option.folded:
                adjusted = is_adjusted_root(option.contract.root)
                yield option.instrument_id, option.key, option.quantity, option.symbol, option.fallback, adjusted
