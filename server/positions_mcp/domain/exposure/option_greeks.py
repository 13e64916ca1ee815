"""One option's greeks and contract terms folded into its underlier's sums, and what the greeks and
terms covered (for the notes). Exact: callers hold a MAX_PREC decimal context.

A contract without greeks is not guessed: its contracts are counted apart and left out of every
delta and greek figure; one whose terms are not known (an adjusted contract whose deliverable is
not confirmed, :mod:`..contracts`) is left out of notional too.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..contracts import ENDPOINT_SOURCE, ContractTerms
from ..examples import Examples
from ..market_view import Greeks
from .exact import ZERO

__all__ = ["Coverage", "GreeksByUnderlier", "OptionSums", "known"]


def known(terms: ContractTerms | None) -> ContractTerms | None:
    """``terms`` when they say what a contract delivers; None for an adjusted contract whose
    deliverable is not confirmed (:mod:`..contracts`): left out of delta, notional and expiry cash."""
    return terms if terms is None or terms.deliverable_confirmed else None


class OptionSums:
    """The options on one underlier before its price is known: Σ |contracts| × multiplier (``units``,
    for notional), Σ contracts × multiplier × delta and × gamma, and the contracts without greeks."""

    __slots__ = ("delta", "gamma", "no_greeks", "units")

    def __init__(self) -> None:
        self.units = self.delta = self.gamma = self.no_greeks = ZERO


class GreeksByUnderlier:
    """Options folded with their greeks and terms: :class:`OptionSums` by underlier key, and the
    vega and theta of them all (Σ contracts × multiplier × vega, × theta: no price needed)."""

    __slots__ = ("sums", "theta", "vega")

    def __init__(self) -> None:
        self.sums: dict[str, OptionSums] = {}
        self.vega = self.theta = ZERO

    def add(self, key: str, quantity: Decimal, terms: ContractTerms | None, greeks: Greeks | None) -> None:
        """Fold ``quantity`` contracts (signed) on underlier ``key`` with ``terms`` (:func:`known`)
        and ``greeks``."""
        sums = self.sums.get(key)
        if sums is None:
            sums = self.sums[key] = OptionSums()
        if terms is None or greeks is None:
            sums.no_greeks += abs(quantity)
        if terms is None:
            return
        units = quantity * terms.multiplier
        sums.units += abs(units)
        if greeks is None:
            return
        sums.delta += units * greeks.delta
        sums.gamma += units * greeks.gamma
        self.vega += units * greeks.vega
        self.theta += units * greeks.theta


class Coverage:
    """Counts of applying greeks and terms to options: for the notes."""

    __slots__ = ("adjusted", "assumed_terms", "first", "last", "no_greeks", "unconfirmed", "with_greeks")

    def __init__(self) -> None:
        self.no_greeks = Examples()
        self.assumed_terms = Examples()
        self.adjusted = Examples()  # adjusted contracts whose terms nobody gave: never assumed standard
        self.unconfirmed = Examples()  # adjusted contracts with a contract row but no deliverable
        self.with_greeks = 0
        self.first: datetime | None = None
        self.last: datetime | None = None

    def seen(self, terms: ContractTerms | None, greeks: Greeks | None, symbol: str, adjusted: bool) -> None:
        """One option with the ``terms`` and ``greeks`` found for it; ``adjusted``: its OSI root ends
        in a digit (:func:`..contracts.is_adjusted_root`)."""
        if terms is not None and not terms.deliverable_confirmed:
            (self.adjusted if terms.problem else self.unconfirmed).hit(symbol)
            return
        if terms is None and adjusted:
            self.adjusted.hit(symbol)
            return
        if terms is not None and terms.source != ENDPOINT_SOURCE:
            self.assumed_terms.hit(symbol)
        if terms is None or greeks is None:
            self.no_greeks.hit(symbol)
            return
        self.with_greeks += 1
        stamp = greeks.timestamp
        if stamp is not None:
            if self.first is None or stamp < self.first:
                self.first = stamp
            if self.last is None or stamp > self.last:
                self.last = stamp

    def merged(self, other: Coverage) -> Coverage:
        both = Coverage()
        both.no_greeks = self.no_greeks.merged(other.no_greeks)
        both.assumed_terms = self.assumed_terms.merged(other.assumed_terms)
        both.adjusted = self.adjusted.merged(other.adjusted)
        both.unconfirmed = self.unconfirmed.merged(other.unconfirmed)
        both.with_greeks = self.with_greeks + other.with_greeks
        stamps = [s for s in (self.first, self.last, other.first, other.last) if s is not None]
        both.first, both.last = (min(stamps), max(stamps)) if stamps else (None, None)
        return both
