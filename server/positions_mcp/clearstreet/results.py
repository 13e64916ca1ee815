"""What the client's operations return: the parsed rows plus what support needs (the request id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .market_models import AccountBalances, Instrument, MarketDataSnapshot, MarketHoursDetail, OptionsContract
from .models import APIError, InstructionStatus, Order, Position, PositionInstruction, ResponseMetadata

__all__ = [
    "REJECTED_STATUSES",
    "BalancesResult",
    "CancelResult",
    "ClockResult",
    "CloseResult",
    "ContractBatchResult",
    "InstructionsResult",
    "InstrumentResult",
    "MarketHoursResult",
    "OptionContractsPage",
    "OrderResult",
    "OrdersPage",
    "PositionsResponse",
    "SnapshotBatchResult",
    "SnapshotsResult",
    "SubmitResult",
]

REJECTED_STATUSES: frozenset[str] = frozenset({InstructionStatus.REJECTED, InstructionStatus.ENGINE_REJECTED})
"""Instruction statuses that mean "rejected" (``ENGINE_REJECTED`` is the seed-era spelling)."""


@dataclass(frozen=True, slots=True)
class PositionsResponse:
    """One page of ``GET /v1/accounts/{account_id}/positions``."""

    positions: list[Position]
    metadata: ResponseMetadata
    request_id: str | None

    @property
    def next_page_token(self) -> str | None:
        return self.metadata.next_page_token or None


@dataclass(frozen=True, slots=True)
class CloseResult:
    """The closing orders created by one of the two close endpoints."""

    orders: list[Order]
    request_id: str | None


@dataclass(frozen=True, slots=True)
class InstructionsResult:
    """The account's persisted position instructions."""

    instructions: list[PositionInstruction]
    request_id: str | None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The outcome of a submit batch that was at least partly accepted.

    ``status_code`` is 200 when no row is rejected and 207 otherwise; ``instructions`` holds every
    row in request order and ``error`` the API's summary of the rejected rows. ``recovered`` lists
    the ``client_instruction_id`` of rows that a retry saw rejected as duplicates of this very call's
    earlier attempt: they are reported as the persisted original instruction instead.
    """

    status_code: int
    instructions: list[PositionInstruction]
    error: APIError | None
    request_id: str | None
    recovered: tuple[str, ...] = ()

    @property
    def sent(self) -> list[PositionInstruction]:
        """Rows the service accepted (persisted and forwarded to clearing, or further along)."""
        return [row for row in self.instructions if row.status not in REJECTED_STATUSES]

    @property
    def rejected(self) -> list[PositionInstruction]:
        """Rows that were rejected, each with ``rejection``/``rejection_reason`` saying why."""
        return [row for row in self.instructions if row.status in REJECTED_STATUSES]


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The instruction after a cancel request, normally in ``CANCEL_REQUESTED``.

    ``already_final`` is True when a retried cancel was answered 409 (the instruction had reached a
    final state, possibly because the earlier attempt went through) and ``instruction`` is the state
    re-read from the list endpoint.
    """

    instruction: PositionInstruction
    request_id: str | None
    already_final: bool = False


# -- balances, market data, instruments, calendar, orders --------------------------------------------


@dataclass(frozen=True, slots=True)
class BalancesResult:
    """``GET /v1/accounts/{account_id}/balances``."""

    balances: AccountBalances
    request_id: str | None


@dataclass(frozen=True, slots=True)
class SnapshotsResult:
    """One call of ``GET /v1/market-data/snapshot`` (up to 100 ids, or one chain expiry)."""

    snapshots: list[MarketDataSnapshot]
    request_id: str | None


@dataclass(frozen=True, slots=True)
class SnapshotBatchResult:
    """Snapshots of any number of ids, fetched 100 at a time: rows in batch order, one per
    instrument (rows of the same ``instrument_id`` from different batches collapse into the first);
    ``request_ids`` one per request, in batch order."""

    snapshots: list[MarketDataSnapshot]
    request_ids: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class OptionContractsPage:
    """One page of ``GET /v1/instruments/options/contracts``."""

    contracts: list[OptionsContract]
    metadata: ResponseMetadata
    request_id: str | None

    @property
    def next_page_token(self) -> str | None:
        return self.metadata.next_page_token or None


@dataclass(frozen=True, slots=True)
class ContractBatchResult:
    """Option contracts of any number of ids, fetched 100 at a time with every page followed: rows in
    batch order, one per contract ``id``; ``request_ids`` one per request, in order."""

    contracts: list[OptionsContract]
    request_ids: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class InstrumentResult:
    """``GET /v1/instruments/{instrument_id}``."""

    instrument: Instrument
    request_id: str | None


@dataclass(frozen=True, slots=True)
class ClockResult:
    """``GET /v1/clock``: the server's time (aware, UTC)."""

    clock: datetime
    request_id: str | None


@dataclass(frozen=True, slots=True)
class MarketHoursResult:
    """``GET /v1/calendars/market-hours``: one row per market."""

    markets: list[MarketHoursDetail]
    request_id: str | None


@dataclass(frozen=True, slots=True)
class OrdersPage:
    """One page of ``GET /v1/accounts/{account_id}/orders``."""

    orders: list[Order]
    metadata: ResponseMetadata
    request_id: str | None

    @property
    def next_page_token(self) -> str | None:
        return self.metadata.next_page_token or None


@dataclass(frozen=True, slots=True)
class OrderResult:
    """``GET /v1/accounts/{account_id}/orders/{order_id}``."""

    order: Order
    request_id: str | None
