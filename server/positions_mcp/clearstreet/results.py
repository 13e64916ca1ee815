"""What the client's operations return: the parsed rows plus what support needs (the request id)."""

from __future__ import annotations

from dataclasses import dataclass

from .models import APIError, InstructionStatus, Order, Position, PositionInstruction, ResponseMetadata

__all__ = [
    "REJECTED_STATUSES",
    "CancelResult",
    "CloseResult",
    "InstructionsResult",
    "PositionsResponse",
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
