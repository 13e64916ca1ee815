"""Black-Scholes-Merton price, delta and implied volatility of a European option. Pure, no I/O.

The model works in floats (it is an approximation; everything a caller shows leaves it as a
rounded ``Decimal``). Inputs: ``spot`` (≥ 0), ``strike`` (> 0), ``years`` to expiry (> 0),
``volatility`` σ (annualised, > 0, 0.25 = 25 %), ``rate`` r (continuously compounded), no
dividends (q = 0). With the forward F = S·e^{rT}:

    price = e^{−rT} · Black(F, K, σ, T),   delta = N(d1) for a call, N(d1) − 1 for a put,
    d1 = (ln(S/K) + (r + σ²/2)·T) / (σ·√T).

Price and implied volatility come from Peter Jäckel's "Let's Be Rational" (``py_lets_be_rational``,
pure Python, imported on first use so server start-up never pays for it): the undiscounted Black
price is inverted to machine precision in two iterations, and the price formula it inverts is the
one used to reprice, so a price → volatility → price round trip is exact to ~1e-12.

A price outside the model's no-arbitrage range has no implied volatility:
:class:`NoImpliedVolatility` says which side (below the European lower bound — for a call
``S − K·e^{−rT}``, for a put ``K·e^{−rT} − S`` — or at/above the upper bound ``S`` / ``K·e^{−rT}``).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from types import ModuleType
from typing import Literal

__all__ = [
    "LIBRARY",
    "NoImpliedVolatility",
    "bsm_delta",
    "bsm_price",
    "implied_volatility",
    "lower_bound",
]

LIBRARY = "py_lets_be_rational (Jäckel, Let's Be Rational)"
_NORMAL = NormalDist()

Bound = Literal["below the European lower bound", "at or above the upper bound"]


class NoImpliedVolatility(ValueError):
    """No volatility reproduces the price: ``bound`` says which side of the no-arbitrage range it is."""

    def __init__(self, bound: Bound) -> None:
        self.bound: Bound = bound
        super().__init__(f"the price is {bound}: no implied volatility exists")


def _library() -> ModuleType:
    """The pricing library, imported on first use: server start-up never pays for it."""
    import py_lets_be_rational  # type: ignore[import-untyped]
    import py_lets_be_rational.exceptions  # type: ignore[import-untyped]

    module: ModuleType = py_lets_be_rational
    return module


def _check(spot: float, strike: float, years: float) -> None:
    if not (math.isfinite(spot) and spot >= 0):
        raise ValueError(f"spot must be a finite number ≥ 0, got {spot!r}")
    if not (math.isfinite(strike) and strike > 0):
        raise ValueError(f"strike must be a finite positive number, got {strike!r}")
    if not (math.isfinite(years) and years > 0):
        raise ValueError(f"years to expiry must be a finite positive number, got {years!r}")


def _check_volatility(volatility: float) -> None:
    if not (math.isfinite(volatility) and volatility > 0):
        raise ValueError(f"volatility must be a finite positive number, got {volatility!r}")


def lower_bound(spot: float, strike: float, years: float, rate: float, *, is_call: bool) -> float:
    """The European no-arbitrage lower bound: ``max(0, S − K·e^{−rT})`` for a call,
    ``max(0, K·e^{−rT} − S)`` for a put (the price as σ → 0)."""
    present_strike = strike * math.exp(-rate * years)
    return max(0.0, spot - present_strike if is_call else present_strike - spot)


def bsm_price(spot: float, strike: float, years: float, volatility: float, rate: float, *, is_call: bool) -> float:
    """The BSM price per share. At ``spot == 0`` (a −100 % move): a call is worth 0, a put ``K·e^{−rT}``."""
    _check(spot, strike, years)
    _check_volatility(volatility)
    discount = math.exp(-rate * years)
    if spot == 0:
        return 0.0 if is_call else strike * discount
    forward = spot / discount
    undiscounted = float(_library().black(forward, strike, volatility, years, 1.0 if is_call else -1.0))
    return discount * undiscounted


def bsm_delta(spot: float, strike: float, years: float, volatility: float, rate: float, *, is_call: bool) -> float:
    """∂price/∂spot per share: ``N(d1)`` for a call, ``N(d1) − 1`` for a put (0 / −1 at ``spot == 0``)."""
    _check(spot, strike, years)
    _check_volatility(volatility)
    if spot == 0:
        return 0.0 if is_call else -1.0
    root = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate + volatility * volatility / 2) * years) / (volatility * root)
    n = _NORMAL.cdf(d1)
    return n if is_call else n - 1.0


def implied_volatility(price: float, spot: float, strike: float, years: float, rate: float, *, is_call: bool) -> float:
    """The σ at which :func:`bsm_price` equals ``price``. Raises :class:`NoImpliedVolatility` when
    the price is at or below the European lower bound (σ would be 0 or less) or at or above the
    upper bound, and ``ValueError`` on inputs outside the model (spot 0, price not finite)."""
    _check(spot, strike, years)
    if spot == 0:
        raise ValueError("spot must be positive to imply a volatility")
    if not (math.isfinite(price) and price >= 0):
        raise ValueError(f"price must be a finite number ≥ 0, got {price!r}")
    library = _library()
    discount = math.exp(-rate * years)
    forward = spot / discount
    try:
        volatility = float(
            library.implied_volatility_from_a_transformed_rational_guess(
                price / discount, forward, strike, years, 1.0 if is_call else -1.0
            )
        )
    except library.exceptions.BelowIntrinsicException:
        raise NoImpliedVolatility("below the European lower bound") from None
    except library.exceptions.AboveMaximumException:
        raise NoImpliedVolatility("at or above the upper bound") from None
    if not math.isfinite(volatility) or volatility >= 1e6:
        raise NoImpliedVolatility("at or above the upper bound")
    if volatility <= 0:
        raise NoImpliedVolatility("below the European lower bound")
    return volatility
