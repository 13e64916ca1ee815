"""OSI (OCC) option symbols: parsing and the three renderings Clear Street uses.

``AAPL  280121C00195000`` (padded to 21 characters), ``AAPL 280121C00195000`` (one space) and
``AAPL280121C00195000`` (compact) all name the same contract: root AAPL, expiry 2028-01-21, call,
strike 195.000. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

ROOT_WIDTH = 6
MAX_STRIKE = Decimal("99999.999")  # 8 digits of thousandths
_THOUSANDTH = Decimal("0.001")
_TAIL = re.compile(r"(\d{6})([CP])(\d{8})")
_ROOT = re.compile(r"[A-Z0-9.]{1,6}")


class OptionRight(StrEnum):
    CALL = "CALL"
    PUT = "PUT"


@dataclass(frozen=True, slots=True)
class OptionSymbol:
    root: str
    expiry: date
    right: OptionRight
    strike: Decimal

    def __post_init__(self) -> None:
        # Formatting must never silently produce another contract (truncated strike, 9 digits).
        if not isinstance(self.root, str) or not _ROOT.fullmatch(self.root):
            raise ValueError(f"OSI root must be 1-6 characters A-Z, 0-9 or '.', got {self.root!r}")
        if not 2000 <= self.expiry.year <= 2099:
            raise ValueError(f"OSI expiry must fall in 2000-2099, got {self.expiry}")
        if not isinstance(self.right, OptionRight):
            raise ValueError(f"OSI right must be an OptionRight, got {self.right!r}")
        strike = self.strike
        if (
            not isinstance(strike, Decimal)
            or not strike.is_finite()
            or not 0 <= strike <= MAX_STRIKE
            or strike % _THOUSANDTH != 0
        ):
            raise ValueError(f"OSI strike must be a Decimal from 0 to {MAX_STRIKE} in steps of 0.001, got {strike!r}")

    @property
    def is_call(self) -> bool:
        return self.right is OptionRight.CALL

    def _tail(self) -> str:
        thousandths = self.strike * 1000
        return f"{self.expiry:%y%m%d}{self.right.value[0]}{int(thousandths):08d}"

    def padded(self) -> str:
        """The 21-character OSI form: ``AAPL  280121C00195000``."""
        return f"{self.root:<{ROOT_WIDTH}}{self._tail()}"

    def spaced(self) -> str:
        """One space between root and the rest: ``AAPL 280121C00195000``."""
        return f"{self.root} {self._tail()}"

    def compact(self) -> str:
        """No spaces: ``AAPL280121C00195000``."""
        return f"{self.root}{self._tail()}"

    def __str__(self) -> str:
        return self.padded()


def parse_osi(text: str) -> OptionSymbol:
    """Parse any of the three renderings (case-insensitive). Raises ``ValueError`` saying why."""
    if not isinstance(text, str):
        raise ValueError("an OSI option symbol must be a string")
    squeezed = "".join(text.split())
    if not squeezed.isascii():
        # re's \d and str.upper() would otherwise accept e.g. Arabic-Indic digits or 'ſ' -> 'S'.
        raise ValueError(f"{text!r} is not an OSI option symbol: it contains non-ASCII characters")
    squeezed = squeezed.upper()
    if len(squeezed) < 16:
        raise ValueError(
            f"{text!r} is not an OSI option symbol: expected ROOT + YYMMDD + C/P + 8-digit strike, "
            "e.g. 'AAPL  280121C00195000'"
        )
    root, tail = squeezed[:-15], squeezed[-15:]
    match = _TAIL.fullmatch(tail)
    if not match or not _ROOT.fullmatch(root):
        raise ValueError(
            f"{text!r} is not an OSI option symbol: expected ROOT (1-6 characters) + YYMMDD + C/P + "
            "8-digit strike × 1000, e.g. 'AAPL  280121C00195000'"
        )
    yymmdd, right, strike = match.groups()
    try:
        expiry = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError as exc:
        raise ValueError(f"{text!r} has no valid expiry date in {yymmdd!r}") from exc
    return OptionSymbol(
        root=root,
        expiry=expiry,
        right=OptionRight.CALL if right == "C" else OptionRight.PUT,
        strike=Decimal(strike) / 1000,
    )


def try_parse_osi(text: str) -> OptionSymbol | None:
    try:
        return parse_osi(text)
    except ValueError:
        return None


def symbol_key(text: str) -> str:
    """Key under which two renderings of one symbol compare equal (spaces dropped, upper case)."""
    return "".join(text.split()).upper()
