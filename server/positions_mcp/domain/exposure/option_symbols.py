"""Each option symbol of the book read once (:mod:`..osi`), fast for the renderings the upstream sends.

:meth:`OsiReader.read` gives what folding the book needs (root, expiry, call or put) without
making a Decimal; :meth:`OsiReader.contract` makes the whole :class:`~..osi.OptionSymbol` of an
expiring option from what ``read`` found, without reading the symbol again.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from ..osi import OptionRight, OptionSymbol, try_parse_osi

__all__ = ["FAST_OSI", "Osi", "OsiReader", "yymmdd"]

# The OSI renderings the upstream sends: padded, single-space, compact; upper-case ASCII only.
# Whatever this accepts, parse_osi accepts with the same meaning (tests/test_exposure.py checks);
# anything else goes through parse_osi itself.
FAST_OSI = re.compile(r"([A-Z0-9.]{1,6}) {0,5}([0-9]{6})([CP])([0-9]{8})")
_POOL_LIMIT = 4096  # distinct roots and strikes kept per summary (memory only)
_UNSEEN: Any = object()

Osi = tuple[str, date | None, bool, str]
"""What :meth:`OsiReader.read` finds: (root, expiry or None when the date is impossible, is a call,
the strike's 8 digits of thousandths). A tuple of plain values: the collector stops tracking it."""


def yymmdd(text: str) -> date | None:
    """The date of an OSI symbol's six digits, or None when there is no such day."""
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        return None


class OsiReader:
    """Reads option symbols; dates, roots and strikes repeat across a book and are made once each."""

    __slots__ = ("_dates", "_roots", "_strikes")

    def __init__(self) -> None:
        self._dates: dict[str, date | None] = {}
        self._roots: dict[str, str] = {}
        self._strikes: dict[str, Decimal] = {}

    def read(self, symbol: str) -> Osi | None:
        """What ``symbol`` says, or None: it is not an OSI symbol. Fast path for the renderings the
        upstream sends (one regex, a cached date, no Decimal); anything else goes through the
        canonical parser."""
        match = FAST_OSI.fullmatch(symbol)
        if match is not None:
            expiry = self._dates.get(match[2], _UNSEEN)
            if expiry is _UNSEEN:
                expiry = self._dates[match[2]] = yymmdd(match[2])
            return match[1], expiry, match[3] == "C", match[4]
        osi = try_parse_osi(symbol)
        if osi is None:
            return None
        return osi.root, osi.expiry, osi.is_call, f"{int(osi.strike * 1000):08d}"

    def contract(self, osi: Osi, expiry: date) -> OptionSymbol:
        """The contract :meth:`read` found, whose ``expiry`` it knows."""
        root, _, is_call, digits = osi
        strike = self._strikes.get(digits)
        if strike is None:
            strike = Decimal(digits) / 1000  # as parse_osi does
            if len(self._strikes) < _POOL_LIMIT:
                self._strikes[digits] = strike
        kept = self._roots.get(root)
        if kept is None:
            kept = root
            if len(self._roots) < _POOL_LIMIT:
                self._roots[root] = root
        return OptionSymbol(kept, expiry, OptionRight.CALL if is_call else OptionRight.PUT, strike)
