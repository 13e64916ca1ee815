"""What a close preview warns about or blocks on: a stable machine code and one sentence for a person."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

__all__ = ["NAMED_AT_MOST", "CloseCode", "Issue"]

NAMED_AT_MOST = 5
"""A sentence of a close plan names at most this many positions or orders, then how many more."""


class CloseCode(StrEnum):
    # warnings
    TOP_OF_BOOK = "TOP_OF_BOOK"
    NOT_TRADABLE = "NOT_TRADABLE"
    LIQUIDATION_ONLY = "LIQUIDATION_ONLY"
    EARLY_CLOSE = "EARLY_CLOSE"
    LAST_TRADING_DAY = "LAST_TRADING_DAY"
    WORKING_ORDERS = "WORKING_ORDERS"
    NOTHING_AVAILABLE = "NOTHING_AVAILABLE"
    MARKET_CLOSED = "MARKET_CLOSED"
    NO_PRICE = "NO_PRICE"
    OPTION_CONTRACTS = "OPTION_CONTRACTS"
    CONTRACT_TERMS_UNUSABLE = "CONTRACT_TERMS_UNUSABLE"
    AVAILABLE_ABOVE_HELD = "AVAILABLE_ABOVE_HELD"
    CASH_EXCLUDED = "CASH_EXCLUDED"
    PENDING_EXERCISE = "PENDING_EXERCISE"
    OPTION_BY_SYMBOL = "OPTION_BY_SYMBOL"
    # warnings and blocks
    NOTIONAL_CAP = "NOTIONAL_CAP"
    # blocks
    NOTHING_TO_CLOSE = "NOTHING_TO_CLOSE"
    NOTIONAL_UNKNOWN = "NOTIONAL_UNKNOWN"
    CASH_POSITION = "CASH_POSITION"
    MULTIPLIER_NOT_WHOLE = "MULTIPLIER_NOT_WHOLE"
    PAST_LAST_TRADE = "PAST_LAST_TRADE"


class Issue(BaseModel):
    """A warning or a blocking reason: a stable machine code and one sentence for a person."""

    code: str
    message: str
    symbol: str | None = None
