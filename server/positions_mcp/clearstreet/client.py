"""Typed async client of the Clear Street API: the six positions endpoints (reference 0-8).

Thin endpoint methods over one :class:`~._exchange.Exchange` (a shared ``httpx.AsyncClient``, the
retries and the caller's deadline); requests are built by ``_requests`` and answers read by
``_responses``. Retries depend on what a repeat could do (see ``_exchange``). A submit carries an
idempotency key on every row, the same keys on every attempt, and a duplicate of one of this
call's own keys (or of a key the caller says it sent before) is reported as the original
instruction.

The API key appears in no repr, log line or error message. Knows nothing of MCP.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Final

import httpx

from .. import __version__
from ..secret import Secret
from ._exchange import DEFAULT_TIMEOUT, UNSENT_FAILURES, Exchange, Kind, Outcome
from ._requests import (
    MAX_PAGE_SIZE,
    account_path,
    instruction_row,
    json_bytes,
    keyed_instructions,
    path_segment,
    positions_query,
    query_text,
)
from ._responses import (
    INSTRUCTION,
    INSTRUCTIONS,
    ORDERS,
    POSITIONS,
    UnreadableBody,
    existing_id,
    is_duplicate_rejection,
    read_envelope,
    required,
    status_error,
    submit_refusal_is_final,
    submit_result,
    success_envelope,
    unreadable_success,
)
from .config import check_api_key, checked_base_url
from .errors import APIStatusError, ClearStreetConnectionError, OutcomeUnknownError, PaginationLoopError
from .market_endpoints import MarketDataEndpoints
from .models import APIError, InstructionRequest, Position, PositionInstruction, ResponseMetadata, SortBy, SortDirection
from .results import CancelResult, CloseResult, InstructionsResult, PositionsResponse, SubmitResult
from .retry import RetryPolicy

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_USER_AGENT", "MAX_PAGE_SIZE", "ClearStreetClient"]

logger = logging.getLogger("positions_mcp.clearstreet")

DEFAULT_USER_AGENT: Final = f"clearstreet-positions-mcp/{__version__}"


class ClearStreetClient(MarketDataEndpoints):
    """Async client of the Clear Street API.

    Use as ``async with ClearStreetClient(api_key=..., base_url=...) as client:`` or call
    :meth:`aclose` when done. ``transport`` replaces the network (an ``httpx.MockTransport`` or
    ``httpx.ASGITransport`` in tests and for the embedded simulator). A ``base_url`` with a path
    prefix (``http://host:8080/cs``) is honoured.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        check_api_key(api_key)
        self._exchange = Exchange(
            api_key=Secret(api_key),
            base_url=checked_base_url(base_url),
            transport=transport,
            timeout=timeout,
            retry=retry if retry is not None else RetryPolicy(),
            user_agent=user_agent,
        )

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The base URL requests are sent under (always ending with ``/``)."""
        return self._exchange.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._exchange.retry

    @property
    def closed(self) -> bool:
        return self._exchange.closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool. Safe to call more than once."""
        await self._exchange.aclose()

    async def __aenter__(self) -> ClearStreetClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _now(self) -> float:
        return self._exchange.retry.clock()

    def _response(self, outcome: Outcome) -> httpx.Response:
        if outcome.failure is not None:
            raise self._exchange.connection_error(outcome, outcome.failure) from outcome.failure
        return required(outcome.response)

    # -- positions --------------------------------------------------------------------------------

    async def get_positions(
        self,
        account_id: int | str,
        *,
        instrument_ids: Sequence[str] | None = None,
        sort_by: SortBy | str | None = None,
        sort_direction: SortDirection | str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> PositionsResponse:
        """One page of the account's positions (``GET /v1/accounts/{account_id}/positions``).

        ``instrument_ids`` (UUIDs or symbols) travel comma-joined in one query key. Filters and sort
        are not carried by ``page_token``: pass them again with it, or use :meth:`iter_position_pages`.
        """
        path = f"{account_path(account_id)}/positions"
        params = positions_query(instrument_ids, sort_by, sort_direction, page_size, page_token)
        outcome = await self._exchange.send(Kind.READ, "GET", path, params=params)
        response = self._response(outcome)
        envelope = success_envelope(response, POSITIONS, self._exchange.redact, self._now())
        return PositionsResponse(
            positions=list(envelope.data or []),
            metadata=envelope.metadata,
            request_id=envelope.metadata.request_id,
        )

    def iter_position_pages(
        self,
        account_id: int | str,
        *,
        instrument_ids: Sequence[str] | None = None,
        sort_by: SortBy | str | None = None,
        sort_direction: SortDirection | str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[PositionsResponse]:
        """Every page in turn, following ``next_page_token`` until a page has none.

        Filters and sort are sent again with each token (the token does not carry them);
        ``page_size`` only with the first request (the token carries it). A token that was already
        followed raises :class:`PaginationLoopError` instead of looping forever. Arguments are
        checked here, before iteration starts.
        """
        account_path(account_id)
        positions_query(instrument_ids, sort_by, sort_direction, page_size, None)
        return self._position_pages(
            account_id,
            instrument_ids=instrument_ids,
            sort_by=sort_by,
            sort_direction=sort_direction,
            page_size=page_size,
        )

    async def _position_pages(
        self,
        account_id: int | str,
        *,
        instrument_ids: Sequence[str] | None,
        sort_by: SortBy | str | None,
        sort_direction: SortDirection | str | None,
        page_size: int | None,
    ) -> AsyncIterator[PositionsResponse]:
        followed: set[str] = set()
        token: str | None = None
        while True:
            page = await self.get_positions(
                account_id,
                instrument_ids=instrument_ids,
                sort_by=sort_by,
                sort_direction=sort_direction,
                page_size=page_size if token is None else None,
                page_token=token,
            )
            yield page
            token = page.next_page_token
            if token is None:
                return
            if token in followed:
                raise PaginationLoopError(
                    f"the API returned page token {token[:40]!r} again after following it "
                    f"(request_id {page.request_id}); stopping instead of looping"
                )
            followed.add(token)

    async def get_all_positions(
        self,
        account_id: int | str,
        *,
        instrument_ids: Sequence[str] | None = None,
        sort_by: SortBy | str | None = None,
        sort_direction: SortDirection | str | None = None,
        page_size: int | None = None,
    ) -> list[Position]:
        """Every position of the account, all pages, in the order the API returned them."""
        positions: list[Position] = []
        async for page in self.iter_position_pages(
            account_id,
            instrument_ids=instrument_ids,
            sort_by=sort_by,
            sort_direction=sort_direction,
            page_size=page_size,
        ):
            positions.extend(page.positions)
        return positions

    async def close_position(
        self,
        account_id: int | str,
        instrument_id: str,
        *,
        cancel_orders: bool | None = None,
    ) -> CloseResult:
        """Send closing order(s) for one position (``DELETE …/positions/{instrument_id}``).

        Never repeated after a failure that might have reached the server: that raises
        :class:`OutcomeUnknownError`, and whoever sees it must re-read positions before trying again.
        """
        path = f"{account_path(account_id)}/positions/{path_segment(instrument_id, 'instrument_id')}"
        return await self._close(path, cancel_orders)

    async def close_positions(self, account_id: int | str, *, cancel_orders: bool | None = None) -> CloseResult:
        """Send closing orders for every position of the account (``DELETE …/positions``).

        Same retry rules as :meth:`close_position`.
        """
        return await self._close(f"{account_path(account_id)}/positions", cancel_orders)

    async def _close(self, path: str, cancel_orders: bool | None) -> CloseResult:
        if cancel_orders is not None and not isinstance(cancel_orders, bool):
            raise TypeError("cancel_orders must be True, False or None")
        body = json_bytes({} if cancel_orders is None else {"cancel_orders": cancel_orders})
        outcome = await self._exchange.send(Kind.CLOSE, "DELETE", path, body=body)
        if outcome.failure is not None:
            if isinstance(outcome.failure, UNSENT_FAILURES):
                raise self._exchange.connection_error(outcome, outcome.failure) from outcome.failure
            raise OutcomeUnknownError(
                f"{outcome.label}: {self._exchange.describe_failure(outcome.failure)} after the request may have "
                "been sent; the close may or may not have taken effect. Re-read positions and orders "
                "before trying again."
            ) from outcome.failure
        response = required(outcome.response)
        if response.is_success:
            try:
                envelope = read_envelope(response, ORDERS, require_data=True)
            except UnreadableBody as bad:
                raise unreadable_success(outcome.label, response, bad, self._exchange.redact) from None
            return CloseResult(orders=list(envelope.data or []), request_id=envelope.metadata.request_id)
        error = status_error(response, self._exchange.redact, self._now())
        if response.status_code >= 500:
            raise OutcomeUnknownError(
                f"{outcome.label}: {error}; the close may or may not have taken effect. Re-read "
                "positions and orders before trying again.",
                status_code=error.status_code,
                request_id=error.request_id,
            ) from error
        raise error

    # -- position instructions --------------------------------------------------------------------

    async def get_position_instructions(
        self,
        account_id: int | str,
        *,
        instrument_id: str | None = None,
        underlying_instrument_id: str | None = None,
    ) -> InstructionsResult:
        """The account's persisted instructions, optionally filtered (filters are ANDed)."""
        path = f"{account_path(account_id)}/positions/instructions"
        params: list[tuple[str, str]] = []
        if instrument_id is not None:
            params.append(("instrument_id", query_text(instrument_id, "instrument_id")))
        if underlying_instrument_id is not None:
            underlying = query_text(underlying_instrument_id, "underlying_instrument_id")
            params.append(("underlying_instrument_id", underlying))
        outcome = await self._exchange.send(Kind.READ, "GET", path, params=params)
        response = self._response(outcome)
        envelope = success_envelope(response, INSTRUCTIONS, self._exchange.redact, self._now())
        return InstructionsResult(instructions=list(envelope.data or []), request_id=envelope.metadata.request_id)

    async def submit_position_instructions(
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
        outcome = await self._exchange.send(Kind.SUBMIT, "POST", path, body=body)

        if outcome.failure is not None:
            if outcome.landed_before or not isinstance(outcome.failure, UNSENT_FAILURES):
                raise OutcomeUnknownError(
                    f"{outcome.label}: {self._exchange.describe_failure(outcome.failure)} after "
                    f"{outcome.attempts} attempt(s); the instructions may or may not have been "
                    f"received. Look them up by client_instruction_id: {', '.join(keys)}.",
                    client_instruction_ids=keys,
                ) from outcome.failure
            raise self._exchange.connection_error(outcome, outcome.failure) from outcome.failure

        response = required(outcome.response)
        # Keys a duplicate rejection may refer to this very call's earlier attempt: the generated
        # ones always (nobody else knows them), the caller's only once an attempt may have landed.
        ours = (set(keys) if outcome.landed_before else set(generated)) | (set(sent_before) & set(keys))

        if response.is_success:
            try:
                envelope = read_envelope(response, INSTRUCTIONS, require_data=True)
            except UnreadableBody as bad:
                raise unreadable_success(outcome.label, response, bad, self._exchange.redact, keys) from None
            rows = list(envelope.data or [])
            recovered_rows, recovered = await self._recover_duplicates(
                account_id, requests, rows, response.status_code, ours, outcome
            )
            return submit_result(response.status_code, recovered_rows, envelope.error, envelope.metadata, recovered)

        error = status_error(response, self._exchange.redact, self._now(), with_rows=True)
        if error.rows or response.status_code == 409:
            recovered_rows, recovered = await self._recover_duplicates(
                account_id, requests, error.rows, response.status_code, ours, outcome
            )
            if recovered:
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
            raise error
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
        if rows:
            targets = [
                index
                for index, row in enumerate(rows)
                if row.client_instruction_id in ours and is_duplicate_rejection(row, status_code)
            ]
        elif status_code == 409 and ours.issuperset(keys):
            targets = list(range(len(requests)))
        else:
            targets = []
        if not targets:
            return rows, ()

        def unknown(reason: str) -> OutcomeUnknownError:
            return OutcomeUnknownError(
                f"{outcome.label}: a retry was told instructions of this call are duplicates of its "
                f"earlier attempt, but {reason}. Look them up by client_instruction_id: "
                f"{', '.join(keys)}.",
                client_instruction_ids=keys,
            )

        try:
            listing = await self.get_position_instructions(account_id)
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

    async def cancel_position_instruction(self, account_id: int | str, instruction_id: str) -> CancelResult:
        """Ask to cancel an instruction by its server ``id`` (not its ``client_instruction_id``).

        Retried like a read (a repeated cancel converges). A 409 after an earlier attempt may have
        landed means "already final": the instruction is re-read and returned with
        ``already_final=True``; a 409 otherwise is an :class:`APIStatusError`.
        """
        segment = path_segment(instruction_id, "instruction_id")
        path = f"{account_path(account_id)}/positions/instructions/{segment}"
        outcome = await self._exchange.send(Kind.CANCEL, "DELETE", path)
        if outcome.failure is not None:
            raise self._exchange.connection_error(outcome, outcome.failure) from outcome.failure
        response = required(outcome.response)
        if response.is_success:
            try:
                envelope = read_envelope(response, INSTRUCTION, require_data=True)
            except UnreadableBody as bad:
                raise unreadable_success(outcome.label, response, bad, self._exchange.redact) from None
            return CancelResult(instruction=required(envelope.data), request_id=envelope.metadata.request_id)
        error = status_error(response, self._exchange.redact, self._now())
        if response.status_code == 409 and outcome.landed_before:
            listing = await self.get_position_instructions(account_id)
            current = next((row for row in listing.instructions if row.id == instruction_id), None)
            if current is not None:
                logger.info(
                    "%s: retry answered 409 (already final); instruction is %s",
                    outcome.label,
                    current.status,
                )
                return CancelResult(instruction=current, request_id=error.request_id, already_final=True)
        raise error
