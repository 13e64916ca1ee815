"""The API's enumerations (Clear Street's API documentation), apart from the wire models so that the MCP
surface can publish them without importing the models (start-up is benchmarked). Seed-era values
are kept: both shapes of the API are read."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "InstructionStatus",
    "InstructionType",
    "OrderStatus",
    "OrderType",
    "PositionType",
    "SecurityType",
    "Side",
    "SortBy",
    "SortDirection",
    "TimeInForce",
]


class SecurityType(StrEnum):
    COMMON_STOCK = "COMMON_STOCK"
    INDEX = "INDEX"
    OPTION = "OPTION"
    CASH = "CASH"
    # seed era (until 2026-05-28)
    PREFERRED_STOCK = "PREFERRED_STOCK"
    OTHER = "OTHER"


class PositionType(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    # seed era (until 2026-06-29): option rows carried the right in the position type
    LONG_CALL = "LONG_CALL"
    SHORT_CALL = "SHORT_CALL"
    LONG_PUT = "LONG_PUT"
    SHORT_PUT = "SHORT_PUT"


class SortBy(StrEnum):
    SYMBOL = "SYMBOL"
    INSTRUMENT_TYPE = "INSTRUMENT_TYPE"
    QUANTITY = "QUANTITY"
    MARKET_VALUE = "MARKET_VALUE"
    POSITION_TYPE = "POSITION_TYPE"
    UNREALIZED_PNL = "UNREALIZED_PNL"
    DAILY_UNREALIZED_PNL = "DAILY_UNREALIZED_PNL"
    DAILY_REALIZED_PNL = "DAILY_REALIZED_PNL"


class SortDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


class InstructionType(StrEnum):
    EXERCISE = "EXERCISE"
    DO_NOT_EXERCISE = "DO_NOT_EXERCISE"
    CONTRARY_EXERCISE = "CONTRARY_EXERCISE"


class InstructionStatus(StrEnum):
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELLED = "CANCELLED"
    CANCEL_FAILED = "CANCEL_FAILED"
    UNKNOWN = "UNKNOWN"
    # seed era (removed 2026-06-10)
    ENGINE_REJECTED = "ENGINE_REJECTED"


class OrderStatus(StrEnum):
    PENDING_NEW = "PENDING_NEW"
    QUEUED = "QUEUED"
    PENDING_TRIGGER = "PENDING_TRIGGER"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_REPLACE = "PENDING_REPLACE"
    REPLACED = "REPLACED"
    DONE_FOR_DAY = "DONE_FOR_DAY"
    STOPPED = "STOPPED"
    SUSPENDED = "SUSPENDED"
    CALCULATED = "CALCULATED"
    OTHER = "OTHER"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"
    TRAILING_STOP = "TRAILING_STOP"
    TRAILING_STOP_LIMIT = "TRAILING_STOP_LIMIT"
    OTHER = "OTHER"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    # seed era
    SELL_SHORT = "SELL_SHORT"
    OTHER = "OTHER"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GOOD_TILL_CANCEL = "GOOD_TILL_CANCEL"
    IMMEDIATE_OR_CANCEL = "IMMEDIATE_OR_CANCEL"
    FILL_OR_KILL = "FILL_OR_KILL"
    GOOD_TILL_DATE = "GOOD_TILL_DATE"
    AT_OPEN = "AT_OPEN"
    AT_CLOSE = "AT_CLOSE"
    OTHER = "OTHER"
    # seed era
    AT_THE_OPENING = "AT_THE_OPENING"
    AT_THE_CLOSE = "AT_THE_CLOSE"
    GOOD_TILL_CROSSING = "GOOD_TILL_CROSSING"
    GOOD_THROUGH_CROSSING = "GOOD_THROUGH_CROSSING"
    AT_CROSSING = "AT_CROSSING"
