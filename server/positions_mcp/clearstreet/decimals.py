"""Exact decimals on the wire: parsed from decimal strings, written back as decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema


def plain(value: Decimal) -> str:
    """A decimal as a plain string, never in exponent form (``1E+3`` becomes ``1000``)."""
    return format(value.copy_abs() if value.is_zero() else value, "f")


DecimalString = Annotated[
    Decimal,
    PlainSerializer(plain, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
"""A Decimal that travels as an exact decimal string in results and output schemas."""
