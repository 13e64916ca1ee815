"""Decimal helpers shared by the domain and result models. No floats anywhere."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..clearstreet.decimals import DecimalString, plain

__all__ = [
    "CENT",
    "MAX_DIGITS",
    "MAX_NUMBER_TEXT",
    "OPTION_MULTIPLIER",
    "DecimalString",
    "NumberError",
    "percent",
    "plain",
    "read_decimal",
]

OPTION_MULTIPLIER = Decimal(100)
CENT = Decimal("0.01")

MAX_DIGITS = 15
"""Significant digits a number given to this server may have (a double's exact range)."""
MAX_NUMBER_TEXT = 64
"""Characters a number written as text may have (sign, digits, point, exponent)."""
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?")
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})
_MAX_EXPONENT_DIGITS = 3  # an exponent beyond ±999 is refused before a Decimal is made of it


class NumberError(ValueError):
    """A number a person gave cannot be read within the bounds: ``str()`` says why."""


def read_decimal(value: Any, *, low: Decimal | int, high: Decimal | int, places: int) -> Decimal:
    """A number a person gave (a JSON number, or its text as some clients send it) as an exact
    Decimal from ``low`` to ``high`` with at most ``places`` decimal places and :data:`MAX_DIGITS`
    significant digits, or :class:`NumberError` saying what is wrong.

    The bounds are checked on the written form before any arithmetic: ``1e-999999999`` (a billion
    zeros once written out) and ``1e999999999`` cost nothing to refuse. NaN, Infinity, true/false
    and digit separators are not numbers. The result is canonical (no trailing zeros: ``2.50`` is
    ``2.5``, ``1E+2`` is ``100``), so an echo of it is as short as the value."""
    number = _parse(value)
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # _parse returns finite numbers only
    kept = list(digits)
    while kept and kept[0] == 0:
        kept.pop(0)
    while kept and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if not kept:
        number = Decimal(0)
    elif -exponent > places:
        raise NumberError(f"has more than {places} decimal places" if places else "must be a whole number")
    elif len(kept) > MAX_DIGITS:
        raise NumberError(f"has more than {MAX_DIGITS} significant digits")
    elif len(kept) + exponent > MAX_DIGITS:
        raise NumberError(f"must be from {plain(Decimal(low))} to {plain(Decimal(high))}")
    else:
        number = Decimal((sign, tuple(kept), exponent))
        if exponent > 0:
            number = number.quantize(Decimal(1))  # 1E+2 as 100: its plain form, exactly
    if not low <= number <= high:
        raise NumberError(f"must be from {plain(Decimal(low))} to {plain(Decimal(high))}")
    return number


def _parse(value: Any) -> Decimal:
    """``value`` as a finite Decimal, not yet bounded: a JSON number, or its text."""
    return _parse_text(value) if isinstance(value, str) else _parse_number(value)


def _parse_number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise NumberError("must be a number, not true or false")
    if isinstance(value, int):
        if value.bit_length() > 64:
            raise NumberError(f"has more than {MAX_DIGITS} significant digits")
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NumberError("must be a finite number")
        return Decimal(repr(value))  # the shortest text that reads back as this double
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise NumberError("must be a finite number")
        return value
    raise NumberError("must be a number")


def _parse_text(value: str) -> Decimal:
    text = value.strip()
    if len(text) > MAX_NUMBER_TEXT:
        raise NumberError(f"is too long: a number is at most {MAX_NUMBER_TEXT} characters")
    match = _NUMBER.fullmatch(text)
    if match is None:
        if text.lstrip("+-").lower() in _NOT_FINITE:
            raise NumberError("must be a finite number")
        raise NumberError("must be a decimal number written with the digits 0-9, such as 12.5 or -20")
    exponent = match.group(1)
    if exponent is not None and len(exponent.lstrip("+-").lstrip("0")) > _MAX_EXPONENT_DIGITS:
        raise NumberError("has an exponent out of range (beyond ±999)")
    return Decimal(text)


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole`` as a percentage rounded to 0.01 (banker's rounding); None when whole is 0."""
    if whole == 0:
        return None
    return (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_EVEN)
