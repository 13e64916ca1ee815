"""Exact decimals on the wire: parsed from decimal strings, written back as decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

PLAIN_MAX_CHARS = 400
"""The longest plain decimal string ever written. Every figure this server states is far shorter
(the widest sums carry 80 digits); a value whose plain form would be longer, ``1E-999999999``
(a billion zeros), is refused rather than written out."""


def plain_length(value: Decimal) -> int:
    """How many characters ``plain(value)`` writes (sign and point included), without writing it."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN, Infinity
        return len(str(value))
    length = len(digits) + exponent if exponent >= 0 else max(len(digits), -exponent + 1) + 1
    return length + sign


def plain(value: Decimal) -> str:
    """A decimal as a plain string, never in exponent form (``1E+3`` becomes ``1000``). Raises
    ``ValueError`` for one longer than :data:`PLAIN_MAX_CHARS` characters: never a huge expansion."""
    if plain_length(value) > PLAIN_MAX_CHARS:
        raise ValueError(
            f"a decimal of {plain_length(value)} characters is not written out (at most {PLAIN_MAX_CHARS})"
        )
    return format(value.copy_abs() if value.is_zero() else value, "f")


DecimalString = Annotated[
    Decimal,
    PlainSerializer(plain, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
"""A Decimal that travels as an exact decimal string in results and their JSON schemas."""
