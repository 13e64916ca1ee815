"""Decimal helpers shared by the domain and result models. No floats anywhere."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from ..clearstreet.decimals import DecimalString, plain

__all__ = ["CENT", "OPTION_MULTIPLIER", "DecimalString", "percent", "plain"]

OPTION_MULTIPLIER = Decimal(100)
CENT = Decimal("0.01")


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole`` as a percentage rounded to 0.01 (banker's rounding); None when whole is 0."""
    if whole == 0:
        return None
    return (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_EVEN)
