"""Decimal helpers shared by the domain and result models. No floats anywhere."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

OPTION_MULTIPLIER = Decimal(100)
CENT = Decimal("0.01")


def plain(value: Decimal) -> str:
    """A decimal as a plain string, never in exponent form (``1E+3`` becomes ``1000``)."""
    return format(value.copy_abs() if value.is_zero() else value, "f")


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole`` as a percentage rounded to 0.01 (banker's rounding); None when whole is 0."""
    if whole == 0:
        return None
    return (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_EVEN)


DecimalString = Annotated[
    Decimal,
    PlainSerializer(plain, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
"""A Decimal that travels as an exact decimal string in results and output schemas."""
