"""Cancelling a position instruction: state-changing but idempotent (a repeated cancel converges),
so it needs no preview and no human yes — but like every state change, its intent line is on disk
before the request leaves, and its outcome follows (Clear Street's API documentation)."""

from __future__ import annotations

import anyio

from ..clearstreet.errors import APIStatusError, ClearStreetError, Conflict, NotFound
from ..clearstreet.models import PositionInstruction
from .errors import ActionError, describe_upstream
from .pipeline import Pipeline
from .views import Result

__all__ = ["CancelExecution", "cancel_instruction"]

TOOL = "cancel_position_instruction"

_FAILURES: dict[type[APIStatusError], str] = {
    NotFound: "No instruction with that id in this account. Pass the instruction's server 'id' (a UUID "
    "from get_position_instructions or the submit result), not its client_instruction_id.",
    Conflict: "Nothing to cancel: the instruction is already final (ACCEPTED, REJECTED or CANCELLED). "
    "get_position_instructions shows its status.",
}


class CancelExecution(Result):
    """The instruction after the cancel request (CANCEL_REQUESTED; the final state comes later)."""

    instruction: PositionInstruction
    request_id: str | None = None
    already_final: bool = False


async def cancel_instruction(pipeline: Pipeline, account_id: int | None, instruction_id: str) -> CancelExecution:
    arguments = {"instruction_id": instruction_id}
    account = await pipeline.account(TOOL, account_id, arguments)
    async with pipeline.deps.deadline("cancelling the instruction"):
        await pipeline.audit("intent", TOOL, account, arguments, "sending")
        with anyio.CancelScope(shield=True):
            try:
                client = await pipeline.deps.upstream.client()
                result = await client.instructions.cancel(account, instruction_id)
            except ClearStreetError as exc:
                message = describe_upstream(exc)
                failure = next((text for kind, text in _FAILURES.items() if isinstance(exc, kind)), None)
                if isinstance(exc, APIStatusError) and failure is not None:
                    message = (
                        f"{failure} (Clear Street {exc.status_code}: {exc.message}; "
                        f"request_id {exc.request_id or 'none'})"
                    )
                warning = await pipeline.audit(
                    "outcome",
                    TOOL,
                    account,
                    arguments,
                    "error",
                    after_send=True,
                    request_id=getattr(exc, "request_id", None),
                    detail=message,
                )
                raise ActionError(message + warning) from exc
            await pipeline.audit(
                "outcome",
                TOOL,
                account,
                arguments,
                "already_final" if result.already_final else "cancel_requested",
                after_send=True,
                request_id=result.request_id,
                instruction_ids=[result.instruction.id],
            )
    return CancelExecution(
        environment=pipeline.environment,
        account_id=account,
        instruction=result.instruction,
        request_id=result.request_id,
        already_final=result.already_final,
    )
