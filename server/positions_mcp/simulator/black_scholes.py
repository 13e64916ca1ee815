"""Black-Scholes-Merton price and greeks of the simulated snapshot. Pure functions.

No dividends; a fixed volatility per underlier and the rate :data:`RATE`. The model is computed in
floats; everything returned is a ``Decimal`` rounded to :data:`GREEK_STEP` (4 decimals, half-even).
Conventions (the snapshot's, Clear Street's API documentation): per share, no multiplier applied; ``theta`` per
trading day (annual theta / 252); ``vega`` per volatility point (σ + 0.01) and ``rho`` per rate
point (r + 0.01). American options are priced as European ones (no early-exercise premium).
At or after expiry (``years <= 0``) the price is the intrinsic value, delta is 1 / −1 in the money
and 0 otherwise, and the other greeks are 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import NormalDist

RATE = Decimal("0.04")
"""The risk-free rate of the simulated market (4 %)."""
TRADING_DAYS_PER_YEAR = 252
GREEK_STEP = Decimal("0.0001")
_NORMAL = NormalDist()
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SimGreeks:
    theo_price: Decimal
    delta: Decimal
    gamma: Decimal
    theta: Decimal
    vega: Decimal
    rho: Decimal


def _rounded(value: float) -> Decimal:
    result = Decimal(repr(value)).quantize(GREEK_STEP, rounding=ROUND_HALF_EVEN)
    return result + 0  # -0.0000 → 0.0000


def black_scholes(
    spot: Decimal, strike: Decimal, years: float, volatility: Decimal, *, is_call: bool, rate: Decimal = RATE
) -> SimGreeks:
    """Price and greeks of a European option. ``years``: time to expiry in years (may be ≤ 0)."""
    if spot <= 0 or strike <= 0:
        raise ValueError("spot and strike must be positive")
    if volatility <= 0:
        raise ValueError("volatility must be positive")
    if years <= 0:
        intrinsic = max(_ZERO, spot - strike if is_call else strike - spot)
        in_the_money = intrinsic > 0
        delta = (Decimal(1) if is_call else Decimal(-1)) if in_the_money else _ZERO
        step = GREEK_STEP
        return SimGreeks(intrinsic.quantize(step), delta.quantize(step), *(_ZERO.quantize(step),) * 4)
    return _greeks(float(spot), float(strike), years, float(volatility), float(rate), is_call)


def _greeks(s: float, k: float, years: float, sigma: float, r: float, is_call: bool) -> SimGreeks:
    """The model in floats (a simulator's own pricing); every figure leaves it a rounded Decimal."""
    root = math.sqrt(years)
    d1 = (math.log(s / k) + (r + sigma * sigma / 2) * years) / (sigma * root)
    d2 = d1 - sigma * root
    discount = math.exp(-r * years)
    density = _NORMAL.pdf(d1)
    decay = -s * density * sigma / (2 * root)
    if is_call:
        price = s * _NORMAL.cdf(d1) - k * discount * _NORMAL.cdf(d2)
        delta = _NORMAL.cdf(d1)
        theta = decay - r * k * discount * _NORMAL.cdf(d2)
        rho = k * years * discount * _NORMAL.cdf(d2)
    else:
        price = k * discount * _NORMAL.cdf(-d2) - s * _NORMAL.cdf(-d1)
        delta = _NORMAL.cdf(d1) - 1
        theta = decay + r * k * discount * _NORMAL.cdf(-d2)
        rho = -k * years * discount * _NORMAL.cdf(-d2)
    return SimGreeks(
        theo_price=_rounded(max(price, 0.0)),
        delta=_rounded(delta),
        gamma=_rounded(density / (s * sigma * root)),
        theta=_rounded(theta / TRADING_DAYS_PER_YEAR),
        vega=_rounded(s * density * root / 100),
        rho=_rounded(rho / 100),
    )
