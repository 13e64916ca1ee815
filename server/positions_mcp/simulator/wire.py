"""Wire encodings the simulator emits (Clear Street's API documentation) and its id factory.

Amounts travel as decimal strings, never JSON numbers: money and percentages with exactly two
decimals, quantities without trailing zeros, prices with at least two. Order timestamps carry
nanoseconds (``2025-10-31T14:01:15.123456000Z``), instruction timestamps whole seconds
(``2026-04-24T14:30:00Z``), as in the official examples.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from ..domain.numbers import CENT, plain

_PRICE_STEP = Decimal("0.000001")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Namespace of the deterministic instrument ids the simulator derives from symbols.
INSTRUMENT_NAMESPACE = uuid.UUID("5f1e7a52-3c1d-4c0b-9b5e-6a7d3f2c9e10")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T")


def round_cents(value: Decimal) -> Decimal:
    """To the cent, banker's rounding: what ``cents`` shows and what balances add up."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def cents(value: Decimal) -> str:
    """Money and percentages: two decimals, banker's rounding (``"15100.00"``)."""
    return plain(round_cents(value))


def optional_cents(value: Decimal | None) -> str | None:
    return None if value is None else cents(value)


def quantity(value: Decimal) -> str:
    """Shares or contracts without trailing zeros (``"100"``, ``"-50"``, ``"12.5"``)."""
    return plain(value.normalize())


def price(value: Decimal) -> str:
    """A price: at least two decimals, at most six (``"151.00"``, ``"3.55"``, ``"0.0525"``)."""
    rounded = value.quantize(_PRICE_STEP, rounding=ROUND_HALF_EVEN).normalize()
    if rounded.as_tuple().exponent > -2:  # type: ignore[operator]
        rounded = rounded.quantize(CENT)
    return plain(rounded)


def optional_price(value: Decimal | None) -> str | None:
    return None if value is None else price(value)


def round_price(value: Decimal) -> Decimal:
    """Average prices are kept to six decimals."""
    return value.quantize(_PRICE_STEP, rounding=ROUND_HALF_EVEN)


def timestamp_ns(instant: datetime) -> str:
    """RFC 3339 in UTC with nine fractional digits, as the order examples show."""
    utc = instant.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}000Z"


def timestamp_s(instant: datetime) -> str:
    """RFC 3339 in UTC without fraction, as the instruction examples show."""
    return f"{instant.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def optional_timestamp_s(instant: datetime | None) -> str | None:
    return None if instant is None else timestamp_s(instant)


def is_uuid(text: str) -> bool:
    return _UUID.fullmatch(text) is not None


def instrument_id_for(symbol_key: str) -> str:
    """A stable instrument UUID for a symbol, so one symbol always names one instrument."""
    return str(uuid.uuid5(INSTRUMENT_NAMESPACE, symbol_key))


class IdFactory:
    """Ids the simulated server assigns.

    Request ids are random UUIDv4, unique across runs (they end up in audit logs). Server ids of
    orders and instructions are UUIDv7-shaped (time-ordered like the examples' ``019c0b56-…``),
    from the simulated time and a generator seeded with the simulator's seed, and so are the
    UUIDv4 keys generated for instructions submitted without ``client_instruction_id``:
    deterministic when simulated time is frozen.
    """

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"clearstreet-simulator-ids:{seed}")

    @staticmethod
    def request_id() -> str:
        return str(uuid.uuid4())

    def client_instruction_id(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def server_id(self, at: datetime) -> str:
        millis = ((at - _EPOCH) // timedelta(milliseconds=1)) & ((1 << 48) - 1)
        value = (millis << 80) | self._random.getrandbits(80)
        value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
        value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        return str(uuid.UUID(int=value))


class ApiError(Exception):
    """A failure answered with the API's error envelope: ``{error: {code, message}, metadata}``.

    ``data`` is only set for submit batches that fail as a whole (every row is still returned).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.data = data


def error_body(status: int, message: str, request_id: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": status, "message": message}}
    if data is not None:
        body["data"] = data
    body["metadata"] = {"request_id": request_id}
    return body


def required(value: _T | None) -> _T:
    """``value``, which the caller knows is set (an assertion that survives ``python -O``)."""
    if value is None:
        raise AssertionError("internal error: a value that is always set was None")
    return value
