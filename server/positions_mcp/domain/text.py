"""How figures read to a person: amounts, quantities and New York times. Pure functions."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from .calendar import new_york
from .numbers import CENT, plain

__all__ = ["counted", "format_et", "money", "price", "qty"]


def qty(value: Decimal) -> str:
    """A quantity without trailing zeros: ``100``, ``2.5``."""
    return plain(value.normalize()) if value == value.to_integral_value() else plain(value)


def counted(count: int, one: str, many: str) -> str:
    """``1 option``, ``3 options``: the count with the noun it takes."""
    return f"{count} {one if count == 1 else many}"


def money(value: Decimal) -> str:
    """``$24,025.00``; negative as ``-$5.00``."""
    rounded = value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,}"


def price(value: Decimal) -> str:
    """A price per share, never rounded: ``$195.00``, ``$150.995`` (OSI strikes have 3 decimals)."""
    if value == value.quantize(CENT):
        return money(value)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value).normalize():,f}"


def format_et(instant: datetime) -> str:
    """``Mon 2026-11-23 09:30 ET``."""
    return f"{new_york(instant):%a %Y-%m-%d %H:%M} ET"
