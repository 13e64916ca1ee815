"""Moneyness of an option against its underlier's price. Pure functions, no I/O, no floats.

Shared by the exposure view and the instruction preview; keep this API stable.

* ``state``: ITM when exercising now would be worth something (call: underlier > strike, put:
  underlier < strike), ATM when underlier == strike exactly, OTM otherwise.
* ``intrinsic_per_share``: max(0, underlier - strike) for a call, max(0, strike - underlier) for a
  put; multiply by ``OPTION_MULTIPLIER`` per contract.
* ``distance_pct``: signed distance of the underlier from the strike in percent of the strike,
  positive when in the money, negative when out of it (call: (S-K)/K, put: (K-S)/K), rounded to
  0.01; None when the strike is 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from ..clearstreet.models import Position, SecurityType
from .numbers import DecimalString, percent
from .osi import OptionSymbol

# Positions whose instrument_price is an underlier price for options on them.
UNDERLIER_TYPES = frozenset({SecurityType.COMMON_STOCK, SecurityType.INDEX, SecurityType.PREFERRED_STOCK})


class MoneynessState(StrEnum):
    ITM = "ITM"
    ATM = "ATM"
    OTM = "OTM"


class Moneyness(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: MoneynessState
    underlier_price: DecimalString
    strike: DecimalString
    intrinsic_per_share: DecimalString
    distance_pct: DecimalString | None = None


def moneyness(symbol: OptionSymbol, underlier_price: Decimal) -> Moneyness:
    """Where ``symbol`` stands against ``underlier_price``."""
    strike = symbol.strike
    edge = underlier_price - strike if symbol.is_call else strike - underlier_price
    if underlier_price == strike:
        state = MoneynessState.ATM
    elif edge > 0:
        state = MoneynessState.ITM
    else:
        state = MoneynessState.OTM
    return Moneyness(
        state=state,
        underlier_price=underlier_price,
        strike=strike,
        intrinsic_per_share=edge if edge > 0 else Decimal(0),
        distance_pct=percent(edge, strike),
    )


class PriceSource(StrEnum):
    INSTRUMENT_PRICE = "instrument_price"
    CLOSING_PRICE = "closing_price"
    BID = "bid"
    """The best bid of the market-data snapshot: what a sell is estimated at."""
    ASK = "ask"
    """The best ask of the market-data snapshot: what a buy is estimated at."""
    LAST_TRADE = "last_trade"
    """The snapshot's last sale, when the side of the quote a close would take is missing."""


def best_price(position: Position) -> tuple[Decimal | None, PriceSource | None]:
    """The price to value a position at: ``instrument_price``, else the last ``closing_price``.

    The one rule for close estimates, underlier prices and the exposure summary."""
    if position.instrument_price is not None:
        return position.instrument_price, PriceSource.INSTRUMENT_PRICE
    if position.closing_price is not None:
        return position.closing_price, PriceSource.CLOSING_PRICE
    return None, None


def underlier_prices(positions: Iterable[Position]) -> dict[str, Decimal]:
    """``instrument_id -> price`` (:func:`best_price`) of the equity and index positions.

    Options name their underlier by ``underlying_instrument_id``, so this is the lookup table for
    their moneyness. Positions with no price at all are left out.
    """
    prices: dict[str, Decimal] = {}
    for position in positions:
        if position.instrument_type in UNDERLIER_TYPES:
            price, _ = best_price(position)
            if price is not None:
                prices[position.instrument_id] = price
    return prices
