"""What the market says about the book: quotes and greeks, contract terms, the account's funds.
Pure data, no I/O: the use-case layer reads the endpoints (Clear Street's market-data API documentation) and fills
:class:`MarketView`; the exposure summary, scenarios and previews read it.

Every enrichment degrades, never fails: an endpoint that errors or is refused (403) leaves its part
of the view empty and adds one line to ``notes``, and the rest of the answer stands.

Figures are as the API gives them: greeks **per share** (no multiplier), theta per trading day,
vega per volatility point; ``iv`` is withheld upstream (always ``"0"``) and never carried here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .contracts import ContractTerms

__all__ = ["Funds", "Greeks", "MarketView", "Quote", "Session"]


@dataclass(frozen=True, slots=True)
class Greeks:
    """The API's greeks for one option, per share, computed at ``timestamp``."""

    delta: Decimal
    gamma: Decimal
    theta: Decimal
    """Value change per trading day, per share."""
    vega: Decimal
    """Value change per volatility point, per share."""
    rho: Decimal
    theo_price: Decimal
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class Quote:
    """One instrument's market data (``GET /v1/market-data/snapshot``)."""

    instrument_id: str
    symbol: str
    last: Decimal | None = None
    """Last sale-eligible trade price (for an index: the index level)."""
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: int | None = None
    ask_size: int | None = None
    midpoint: Decimal | None = None
    previous_close: Decimal | None = None
    greeks: Greeks | None = None
    timestamp: datetime | None = None
    bid_timestamp: datetime | None = None
    """When the bid was quoted (the snapshot's ``last_quote.bid_timestamp``)."""

    @property
    def price(self) -> Decimal | None:
        """The price to value the instrument at: the last trade, else the midpoint, else the
        previous close (Clear Street's market-data API documentation, delta-adjusted exposure)."""
        for value in (self.last, self.midpoint, self.previous_close):
            if value is not None:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Funds:
    """The account's cash and buying power (``GET /v1/accounts/{id}/balances``), in ``currency``."""

    currency: str
    trade_cash: Decimal
    settled_cash: Decimal
    withdrawable_cash: Decimal
    buying_power: Decimal
    overnight_buying_power: Decimal | None = None
    """Margin accounts: what holding overnight allows (an exercise at expiry is held overnight)."""
    margin_type: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """The US options market now (``GET /v1/calendars/market-hours`` and the clock), or the local
    NYSE calendar when the endpoint is unavailable (``source`` says which)."""

    is_open: bool
    day_type: str
    """TRADING_DAY, EARLY_CLOSE, HOLIDAY or WEEKEND."""
    close: datetime | None
    """Today's regular close (13:00 ET on an early close), if it is a trading day."""
    next_open: datetime | None
    source: str


@dataclass(frozen=True)
class MarketView:
    quotes: Mapping[str, Quote] = field(default_factory=dict)
    """By instrument id (underliers and contracts alike)."""
    terms: Mapping[str, ContractTerms] = field(default_factory=dict)
    """By the option's instrument id (``domain.contracts.terms_for_positions``)."""
    funds: Funds | None = None
    session: Session | None = None
    tradability: Mapping[str, tuple[bool, bool]] = field(default_factory=dict)
    """By instrument id: (``is_tradable``, ``is_liquidation_only``) from the contract or instrument."""
    notes: tuple[str, ...] = ()
    """What could not be read and what that leaves out, one line each."""

    def price(self, instrument_id: str | None) -> Decimal | None:
        quote = self.quotes.get(instrument_id) if instrument_id else None
        return quote.price if quote is not None else None
