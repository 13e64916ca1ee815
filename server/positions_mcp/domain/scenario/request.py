"""The scenario a caller asks for: its shock rows, their bounds and the risk-free rate, and what is
refused and why (:class:`ScenarioError`). Bad input is refused here, before anything is priced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ..numbers import NumberError, read_decimal
from ..osi import symbol_key
from ..text import qty

__all__ = [
    "DEFAULT_RATE",
    "MAX_RATE",
    "MAX_SHOCKS",
    "MIN_RATE",
    "ScenarioCode",
    "ScenarioError",
    "Shock",
    "checked_request",
]

DEFAULT_RATE = Decimal("0.04")
"""The risk-free rate used unless the caller states another (continuously compounded, annual)."""
MAX_SHOCKS = 20
MIN_PRICE_CHANGE_PCT = Decimal(-100)
MAX_PRICE_CHANGE_PCT = Decimal(1000)
MIN_VOLATILITY_CHANGE_PTS = Decimal(-100)
MAX_VOLATILITY_CHANGE_PTS = Decimal(1000)
SHOCK_PLACES = 4
"""Decimal places a shock may have (−12.3456 %): finer than any move a person means."""
MIN_RATE = Decimal("-0.1")
MAX_RATE = Decimal(1)
_ZERO = Decimal(0)


class ScenarioCode(StrEnum):
    UNKNOWN_UNDERLIER = "UNKNOWN_UNDERLIER"
    INVALID_SHOCK = "INVALID_SHOCK"


class ScenarioError(ValueError):
    """The shocks cannot be applied as given. ``str()`` says why and what to do; ``held`` lists
    (some of) the underliers the account holds, for an unknown one."""

    def __init__(self, code: ScenarioCode, message: str, held: tuple[str, ...] = ()) -> None:
        self.code = code
        self.message = message
        self.held = held
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Shock:
    """One row of a scenario. ``underlier``: an instrument UUID, ticker or OSI root, or None for
    every underlier no other row names. ``price_change_pct``: percent (−20 = −20 %).
    ``volatility_change_pts``: volatility points (+5 = σ + 0.05)."""

    underlier: str | None
    price_change_pct: Decimal
    volatility_change_pts: Decimal = field(default=_ZERO)

    def __post_init__(self) -> None:
        if self.underlier is not None and (not isinstance(self.underlier, str) or not symbol_key(self.underlier)):
            raise ScenarioError(
                ScenarioCode.INVALID_SHOCK,
                f"underlier must be an instrument UUID, a ticker or an OSI root, or omitted, got {self.underlier!r}",
            )
        for name, low, high in (
            ("price_change_pct", MIN_PRICE_CHANGE_PCT, MAX_PRICE_CHANGE_PCT),
            ("volatility_change_pts", MIN_VOLATILITY_CHANGE_PTS, MAX_VOLATILITY_CHANGE_PTS),
        ):
            object.__setattr__(self, name, _exact(getattr(self, name), name, low, high))


def _exact(value: Any, name: str, low: Decimal, high: Decimal) -> Decimal:
    """A Decimal (or int) as given, bounded (:func:`.numbers.read_decimal`: range, places, digits,
    exponent) and canonical; a float or bool is refused: amounts are never binary floats."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"{name} must be a Decimal, never a float ({value!r:.40})")
    try:
        return read_decimal(value, low=low, high=high, places=SHOCK_PLACES)
    except NumberError as exc:
        raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"{name} {exc}") from None


def checked_request(now: datetime, rate: Decimal, shocks: Sequence[Shock]) -> tuple[Decimal, list[Shock]]:
    """The rate as a Decimal and the rows as a list, once they are known to be usable.

    Raises :class:`ScenarioError` when there are no shocks or more than :data:`MAX_SHOCKS` or a row
    is not a :class:`Shock`, and ``ValueError`` when ``now`` is naive or ``rate`` is out of range.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if isinstance(rate, bool) or not isinstance(rate, Decimal | int) or not Decimal(rate).is_finite():
        raise ValueError(f"rate must be a finite Decimal, got {rate!r}")
    rate = Decimal(rate)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"rate must be from {MIN_RATE} to {MAX_RATE}, got {qty(rate)}")
    rows = list(shocks)
    if not 1 <= len(rows) <= MAX_SHOCKS:
        raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"give 1 to {MAX_SHOCKS} shocks, got {len(rows)}")
    for row in rows:
        if not isinstance(row, Shock):
            raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"each shock must be a Shock, got {type(row).__name__}")
    return rate, rows
