"""Exact sums and the roundings the summary shows (module docstring of the package: sums are exact;
dollar figures derived from greeks are rounded to the cent, half-even; exact amounts are written to
the cent when that loses nothing)."""

from __future__ import annotations

from decimal import MAX_PREC, ROUND_HALF_EVEN, Context, Decimal

from ..numbers import CENT

__all__ = ["EXACT", "ZERO", "amount", "cents", "shares"]

EXACT = Context(prec=MAX_PREC)
"""Sums and products that are never rounded."""
ZERO = Decimal(0)
_SHARE = Decimal("0.01")  # delta shares are shown to the hundredth of a share


def amount(value: Decimal) -> Decimal:
    """An exact amount written to the cent when that loses nothing (``195750`` → ``195750.00``);
    an amount with finer digits (an odd strike times an odd multiplier) stays exact."""
    to_cent = value.quantize(CENT, context=EXACT)
    return to_cent if to_cent == value else value


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent, half-even (banker's rounding), however large."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN, context=EXACT)


def shares(value: Decimal) -> Decimal:
    """Delta shares as shown: to 0.01 a share, half-even."""
    return value.quantize(_SHARE, rounding=ROUND_HALF_EVEN, context=EXACT)
