"""``client.instructions``: the account's position instructions (exercise, do-not-exercise,
contrary exercise) — reading them, submitting a batch and cancelling one.

A submit carries an idempotency key on every row, the same keys on every attempt, and a duplicate
of one of this call's own keys (or of a key the caller says it sent before) is reported as the
original instruction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import httpx

from .._requester import UNSENT_FAILURES, Kind, Outcome, Requester
from .._requests import Params, account_path, instruction_row, json_bytes, keyed_instructions, path_segment, query_text
from .._responses import (
    INSTRUCTION,
    INSTRUCTIONS,
    UnreadableBody,
    existing_id,
    is_duplicate_rejection,
    read_envelope,
    required,
    status_error,
    submit_refusal_is_final,
    submit_result,
    unreadable_success,
)
from ..errors import APIStatusError, ClearStreetConnectionError, Conflict, OutcomeUnknownError
from ..models import APIError, InstructionRequest, PositionInstruction, ResponseMetadata
from ..results import CancelResult, InstructionsResult, SubmitResult

__all__ = ["Instructions"]

logger = logging.getLogger("positions_mcp.clearstreet")


class Instructions:
    """``…/positions/instructions``: list (``GET``), submit (``POST``), cancel (``DELETE …/{id}``)."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def get(
        self,
        account_id: int | str,
        *,
        instrument_id: str | None = None,
        underlying_instrument_id: str | None = None,
    ) -> InstructionsResult:
        """The account's persisted instructions, optionally filtered (filters are ANDed)."""
        path = f"{account_path(account_id)}/positions/instructions"
        params: Params = []
        if instrument_id is not None:
            params.append(("instrument_id", query_text(instrument_id, "instrument_id")))
        if underlying_instrument_id is not None:
            underlying = query_text(underlying_instrument_id, "underlying_instrument_id")
            params.append(("underlying_instrument_id", underlying))
        envelope = await self._requester.read(path, params, INSTRUCTIONS)
        return InstructionsResult(instructions=list(envelope.data or []), request_id=envelope.metadata.request_id)

    async def submit(
        self,
        account_id: int | str,
        instructions: Sequence[InstructionRequest],
        *,
        sent_before: Collection[str] = (),
    ) -> SubmitResult:
        """Submit a batch of EXERCISE / DO_NOT_EXERCISE / CONTRARY_EXERCISE instructions.

        Every row the caller left without a ``client_instruction_id`` gets one
        (``cs-mcp-<uuid4>``) before the first attempt; retries resend the same keys. Returns a
        :class:`SubmitResult` for 200 and 207; a batch rejected as a whole raises
        :class:`APIStatusError` with every row in ``rows``; a batch whose fate is unknown raises
        :class:`OutcomeUnknownError` listing the keys sent.

        ``sent_before`` names keys the caller sent in an earlier call (a repeat of a submission
        whose answer was lost): a duplicate rejection of one of them is reported as the original
        instruction, listed in ``SubmitResult.recovered``, never as a failure.
        """
        path = f"{account_path(account_id)}/positions/instructions"
        requests, generated = keyed_instructions(instructions)
        keys = tuple(required(row.client_instruction_id) for row in requests)
        body = json_bytes([instruction_row(row) for row in requests])
        outcome = await self._requester.send(Kind.SUBMIT, "POST", path, body=body)
        if outcome.failure is not None:
            raise self._unanswered(outcome, outcome.failure, keys) from outcome.failure
        response = required(outcome.response)
        # Keys a duplicate rejection may refer to this very call's earlier attempt: the generated
        # ones always (nobody else knows them), the caller's only once an attempt may have landed.
        ours = (set(keys) if outcome.landed_before else set(generated)) | (set(sent_before) & set(keys))
        if not response.is_success:
            return await self._refused(account_id, requests, response, ours, outcome)
        try:
            envelope = read_envelope(response, INSTRUCTIONS, require_data=True)
        except UnreadableBody as bad:
            raise unreadable_success(outcome.label, response, bad, self._requester.redact, keys) from None
        rows = list(envelope.data or [])
        recovered_rows, recovered = await self._recover_duplicates(
            account_id, requests, rows, response.status_code, ours, outcome
        )
        return submit_result(response.status_code, recovered_rows, envelope.error, envelope.metadata, recovered)

    def _unanswered(
        self, outcome: Outcome, failure: httpx.RequestError, keys: tuple[str, ...]
    ) -> ClearStreetConnectionError | OutcomeUnknownError:
        """The error of a submit whose last attempt got no answer: unknown once any attempt may
        have reached the server."""
        if outcome.landed_before or not isinstance(failure, UNSENT_FAILURES):
            return OutcomeUnknownError(
                f"{outcome.label}: {self._requester.describe_failure(failure)} after "
                f"{outcome.attempts} attempt(s); the instructions may or may not have been "
                f"received. Look them up by client_instruction_id: {', '.join(keys)}.",
                client_instruction_ids=keys,
            )
        return self._requester.connection_error(outcome, failure)

    async def _refused(
        self,
        account_id: int | str,
        requests: list[InstructionRequest],
        response: httpx.Response,
        ours: set[str],
        outcome: Outcome,
    ) -> SubmitResult:
        """A submit answered non-2xx: the originals when every rejected row was a duplicate of this
        call's own earlier attempt, else the ``APIStatusError`` — or ``OutcomeUnknownError`` when
        the refusal does not prove that nothing was created."""
        keys = tuple(required(request.client_instruction_id) for request in requests)
        error = status_error(response, self._requester.redact, self._requester.now(), with_rows=True)
        if error.rows or isinstance(error, Conflict):
            recovered_rows, recovered = await self._recover_duplicates(
                account_id, requests, error.rows, response.status_code, ours, outcome
            )
            if not recovered:
                raise error
            logger.info(
                "%s: answered %d, but %d row(s) were duplicates of this call's earlier attempt; "
                "reporting the original instructions",
                outcome.label,
                response.status_code,
                len(recovered),
            )
            api_error = APIError(code=error.code, message=error.message, details=error.details)
            metadata = ResponseMetadata(request_id=error.request_id)
            return submit_result(response.status_code, recovered_rows, api_error, metadata, recovered)
        if submit_refusal_is_final(response.status_code, outcome.landed_before):
            raise error
        raise OutcomeUnknownError(
            f"{outcome.label}: {error} after {outcome.attempts} attempt(s); the instructions may or "
            f"may not have been received. Look them up by client_instruction_id: {', '.join(keys)}.",
            status_code=error.status_code,
            request_id=error.request_id,
            client_instruction_ids=keys,
        ) from error

    async def _recover_duplicates(
        self,
        account_id: int | str,
        requests: list[InstructionRequest],
        rows: list[PositionInstruction],
        status_code: int,
        ours: set[str],
        outcome: Outcome,
    ) -> tuple[list[PositionInstruction], tuple[str, ...]]:
        """Replace rows rejected as duplicates of this call's own earlier attempt by the originals.

        Returns the rows (request order) and the keys of the rows replaced. A 409 without rows (the
        seed-era shape) means every row was a duplicate. Raises ``OutcomeUnknownError`` when an
        original cannot be read back: reporting such a row as rejected would invite a second exercise.
        """
        keys = tuple(required(request.client_instruction_id) for request in requests)
        targets = _duplicates_of_ours(rows, status_code, ours, keys)
        if not targets:
            return rows, ()

        def unknown(reason: str) -> OutcomeUnknownError:
            return _unrecoverable(outcome.label, keys, reason)

        try:
            listing = await self.get(account_id)
        except (APIStatusError, ClearStreetConnectionError) as exc:
            raise unknown(f"reading them back failed ({exc})") from exc
        by_id = {row.id: row for row in listing.instructions}
        by_key = {row.client_instruction_id: row for row in listing.instructions if row.client_instruction_id}
        request_by_key = dict(zip(keys, requests, strict=True))

        result: list[PositionInstruction | None] = list(rows) if rows else [None] * len(requests)
        recovered: list[str] = []
        for index in targets:
            row = rows[index] if rows else None
            key = required(row.client_instruction_id) if row is not None else keys[index]
            original_id = existing_id(row)
            original = by_id.get(original_id) if original_id else None
            original = original or by_key.get(key)
            if original is None:
                raise unknown(f"instruction {key!r} is not among the account's instructions")
            request = request_by_key[key]
            if original.instruction_type != request.instruction_type or original.quantity != request.quantity:
                # The key was used before for another instruction: a true duplicate, not our echo.
                if row is None:
                    raise unknown(f"{key!r} belongs to an instruction of another type or quantity")
                logger.warning(
                    "%s: %r duplicates instruction %s of another type or quantity; kept as rejected",
                    outcome.label,
                    key,
                    original.id,
                )
                continue
            result[index] = original
            recovered.append(key)
        return [required(row) for row in result], tuple(recovered)

    async def cancel(self, account_id: int | str, instruction_id: str) -> CancelResult:
        """Ask to cancel an instruction by its server ``id`` (not its ``client_instruction_id``).

        Retried like a read (a repeated cancel converges). A 409 after an earlier attempt may have
        landed means "already final": the instruction is re-read and returned with
        ``already_final=True``; a 409 otherwise is an :class:`APIStatusError`.
        """
        segment = path_segment(instruction_id, "instruction_id")
        path = f"{account_path(account_id)}/positions/instructions/{segment}"
        outcome = await self._requester.send(Kind.CANCEL, "DELETE", path)
        if outcome.failure is not None:
            raise self._requester.connection_error(outcome, outcome.failure) from outcome.failure
        response = required(outcome.response)
        if response.is_success:
            try:
                envelope = read_envelope(response, INSTRUCTION, require_data=True)
            except UnreadableBody as bad:
                raise unreadable_success(outcome.label, response, bad, self._requester.redact) from None
            return CancelResult(instruction=required(envelope.data), request_id=envelope.metadata.request_id)
        error = status_error(response, self._requester.redact, self._requester.now())
        if isinstance(error, Conflict) and outcome.landed_before:
            listing = await self.get(account_id)
            current = next((row for row in listing.instructions if row.id == instruction_id), None)
            if current is not None:
                logger.info(
                    "%s: retry answered 409 (already final); instruction is %s",
                    outcome.label,
                    current.status,
                )
                return CancelResult(instruction=current, request_id=error.request_id, already_final=True)
        raise error


def _duplicates_of_ours(
    rows: list[PositionInstruction], status_code: int, ours: set[str], keys: tuple[str, ...]
) -> list[int]:
    """The indexes of the rows rejected as duplicates of one of ``ours``; a 409 without rows (the
    seed-era shape) stands for every row when every key is ours."""
    if rows:
        return [
            index
            for index, row in enumerate(rows)
            if row.client_instruction_id in ours and is_duplicate_rejection(row, status_code)
        ]
    if status_code == 409 and ours.issuperset(keys):
        return list(range(len(keys)))
    return []


def _unrecoverable(label: str, keys: tuple[str, ...], reason: str) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"{label}: a retry was told instructions of this call are duplicates of its earlier "
        f"attempt, but {reason}. Look them up by client_instruction_id: {', '.join(keys)}.",
        client_instruction_ids=keys,
    )
