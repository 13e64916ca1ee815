"""Cancelling a position instruction: state-changing but idempotent (a repeated cancel converges,
so the client retries it like a read: ``clearstreet._requester``), so it needs no preview and no
human yes (``confirmation = "none"``) — but like every state change it goes through the pipeline:
its intent line is on disk before the request leaves, the request is bounded by the deadline and
shielded once sent, and its outcome follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clearstreet.errors import APIStatusError, ClearStreetError, Conflict, NotFound
from ..clearstreet.models import PositionInstruction
from .action_errors import describe_upstream
from .pipeline import IdempotentAction, Sent
from .views import Result

if TYPE_CHECKING:
    from ..clearstreet.client import ClearStreetClient

__all__ = ["CancelArgs", "CancelExecution", "CancelInstruction"]

_FAILURES: dict[type[APIStatusError], str] = {
    NotFound: "No instruction with that id in this account. Pass the instruction's server 'id' (a UUID "
    "from get_position_instructions or the submit result), not its client_instruction_id.",
    Conflict: "Nothing to cancel: the instruction is already final (ACCEPTED, REJECTED or CANCELLED). "
    "get_position_instructions shows its status.",
}


@dataclass(frozen=True, slots=True)
class CancelArgs:
    instruction_id: str
    """The instruction's server ``id`` (not its ``client_instruction_id``)."""


class CancelExecution(Result):
    """The instruction after the cancel request (CANCEL_REQUESTED; the final state comes later)."""

    instruction: PositionInstruction
    request_id: str | None = None
    already_final: bool = False


class CancelInstruction(IdempotentAction[CancelArgs]):
    args_type = CancelArgs
    audit_ids = "instruction_ids"
    execution_model = CancelExecution

    @property
    def doing(self) -> str:
        return "cancelling the instruction"

    def arguments(self, args: CancelArgs) -> dict[str, Any]:
        return {"instruction_id": args.instruction_id}

    async def send(self, client: ClearStreetClient, account: int, args: CancelArgs) -> Sent:
        result = await client.instructions.cancel(account, args.instruction_id)
        return Sent(
            fields={"instruction": result.instruction, "already_final": result.already_final},
            request_id=result.request_id,
            ids=[result.instruction.id],
            outcome="already_final" if result.already_final else "cancel_requested",
        )

    def failure(self, exc: ClearStreetError) -> tuple[str, str]:
        """Every failure is an ``error`` outcome; a 404 or a 409 says what the id must be, or that
        the instruction is already final, with Clear Street's own answer."""
        failure = next((text for kind, text in _FAILURES.items() if isinstance(exc, kind)), None)
        if isinstance(exc, APIStatusError) and failure is not None:
            return "error", (
                f"{failure} (Clear Street {exc.status_code}: {exc.message}; request_id {exc.request_id or 'none'})"
            )
        return "error", describe_upstream(exc)
