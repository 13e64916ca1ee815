"""Wire models of the Clear Street positions API (its documented request and response bodies).

Every money, price, quantity and percent field is a ``Decimal`` parsed from the decimal string the
API sends, and serialises back to a string. Enumerations are *open*: a value this code does not know
is kept as its plain string instead of failing validation, and extra fields are kept, so nothing the
upstream sent is lost. Both the seed-era shapes (May 2026) and the current ones (SDK 0.11.0) are read.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .decimals import DecimalString
from .enums import (
    InstructionStatus,
    InstructionType,
    OrderStatus,
    OrderType,
    PositionType,
    SecurityType,
    Side,
    SortBy,
    SortDirection,
    TimeInForce,
)

__all__ = [
    "GENERATED_KEY_PREFIX",
    "NIL_UUID",
    "APIError",
    "Envelope",
    "InstructionRejection",
    "InstructionRequest",
    "InstructionStatus",
    "InstructionType",
    "Order",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionInstruction",
    "PositionType",
    "ResponseMetadata",
    "SecurityType",
    "Side",
    "SortBy",
    "SortDirection",
    "TimeInForce",
    "WireModel",
    "new_instruction_key",
]

NIL_UUID = "00000000-0000-0000-0000-000000000000"
GENERATED_KEY_PREFIX = "cs-mcp-"


def new_instruction_key() -> str:
    """An idempotency key (``client_instruction_id``) for a row the caller left without one."""
    return f"{GENERATED_KEY_PREFIX}{uuid.uuid4()}"


def _known(enum: type[StrEnum]) -> BeforeValidator:
    """Validation of an open enum: a known value becomes the member (one dict lookup), any other
    string is kept as it was sent."""
    members = enum._value2member_map_

    def coerce(value: Any) -> Any:
        return members.get(value, value) if isinstance(value, str) else value

    return BeforeValidator(coerce)


def _described(enum: type[StrEnum]) -> WithJsonSchema:
    known = ", ".join(member.value for member in enum)
    return WithJsonSchema({"type": "string", "description": f"Known values: {known}; others kept as sent"})


# Open enumerations: the member when the value is known, the raw string otherwise (Clear Street's API documentation).
OpenSecurityType = Annotated[SecurityType | str, _known(SecurityType), _described(SecurityType)]
OpenPositionType = Annotated[PositionType | str, _known(PositionType), _described(PositionType)]
OpenInstructionType = Annotated[InstructionType | str, _known(InstructionType), _described(InstructionType)]
OpenInstructionStatus = Annotated[InstructionStatus | str, _known(InstructionStatus), _described(InstructionStatus)]
OpenOrderStatus = Annotated[OrderStatus | str, _known(OrderStatus), _described(OrderStatus)]
OpenOrderType = Annotated[OrderType | str, _known(OrderType), _described(OrderType)]
OpenSide = Annotated[Side | str, _known(Side), _described(Side)]
OpenTimeInForce = Annotated[TimeInForce | str, _known(TimeInForce), _described(TimeInForce)]


class WireModel(BaseModel):
    """Lenient base: unknown fields are kept, ``null`` and absent mean the same."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Position(WireModel):
    account_id: int
    instrument_id: str
    instrument_type: OpenSecurityType
    symbol: str
    position_type: OpenPositionType
    quantity: DecimalString
    available_quantity: DecimalString
    market_value: DecimalString
    avg_price: DecimalString | None = None
    closing_price: DecimalString | None = None
    closing_price_date: date | None = None
    cost_basis: DecimalString | None = None
    daily_realized_pnl: DecimalString | None = None
    daily_unrealized_pnl: DecimalString | None = None
    daily_unrealized_pnl_pct: DecimalString | None = None
    instrument_price: DecimalString | None = None
    underlying_instrument_id: str | None = None
    underlying_instrument_type: OpenSecurityType | None = None
    unrealized_pnl: DecimalString | None = None
    unrealized_pnl_pct: DecimalString | None = None


class Order(WireModel):
    id: str
    account_id: int
    client_order_id: str | None = None  # required by the schema, absent from the seed examples
    created_at: datetime
    updated_at: datetime
    filled_quantity: DecimalString
    leaves_quantity: DecimalString
    order_type: OpenOrderType
    quantity: DecimalString
    side: OpenSide
    status: OpenOrderStatus
    time_in_force: OpenTimeInForce
    venue: str | None = None
    instrument_id: str | None = None
    instrument_type: OpenSecurityType | None = None
    symbol: str | None = None
    average_fill_price: DecimalString | None = None
    limit_price: DecimalString | None = None
    stop_price: DecimalString | None = None
    details: list[str] | None = None
    expires_at: datetime | None = None
    extended_hours: bool | None = None
    underlying_instrument_id: str | None = None
    underlying_instrument_type: OpenSecurityType | None = None
    strategy: dict[str, Any] | None = None


class InstructionRejection(WireModel):
    reason: str
    domain: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class PositionInstruction(WireModel):
    id: str
    account_id: int
    # ``instruction_id`` until SDK 0.8.0, ``client_instruction_id`` since: both are read.
    client_instruction_id: str | None = Field(
        default=None, validation_alias=AliasChoices("client_instruction_id", "instruction_id")
    )
    instruction_type: OpenInstructionType
    instrument_id: str
    quantity: DecimalString
    status: OpenInstructionStatus
    symbol: str
    accepted_quantity: DecimalString | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    rejection: InstructionRejection | None = None
    rejection_reason: str | None = None
    underlying_instrument_id: str | None = None

    @property
    def persisted(self) -> bool:
        """Pre-acceptance rejections carry the nil UUID and exist only in the submit response."""
        return self.id != NIL_UUID


class InstructionRequest(BaseModel):
    """One row of a submit body (Clear Street's API documentation). Sent as ``client_instruction_id``."""

    model_config = ConfigDict(extra="forbid")

    instruction_type: InstructionType
    instrument_id: str = Field(min_length=1)
    quantity: Decimal
    client_instruction_id: str | None = None


class APIError(WireModel):
    code: int
    message: str
    details: list[dict[str, Any]] | None = None


class ResponseMetadata(WireModel):
    request_id: str | None = None
    next_page_token: str | None = None
    previous_page_token: str | None = None
    page_number: int | None = None
    total_items: int | None = None
    total_pages: int | None = None


T = TypeVar("T")


class Envelope(WireModel, Generic[T]):
    """The ``{data, error, metadata}`` body of every response, success or failure."""

    data: T | None = None
    error: APIError | None = None
    metadata: ResponseMetadata = Field(default_factory=ResponseMetadata)
