"""Typed async client of the six Clear Street positions endpoints (reference sections 0-8).

One shared ``httpx.AsyncClient`` per ``ClearStreetClient``. Every response is read as the API's
``{data, error, metadata}`` envelope. Retries depend on what a repeat could do:

* reads (both GETs) and cancels retry 429, 502, 503, 504, timeouts and connection failures;
* closes retry only what provably did nothing (429, a connection that never opened); any other
  failure after the request may have left raises ``OutcomeUnknownError``;
* submits carry an idempotency key on every row, the same keys on every attempt, and a duplicate of
  one of this call's own keys is reported as the original instruction.

The API key appears in no repr, log line or error message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from .. import __version__
from .errors import (
    APIStatusError,
    ClearStreetConnectionError,
    OutcomeUnknownError,
    PaginationLoopError,
)
from .decimals import plain
from .models import (
    GENERATED_KEY_PREFIX,
    APIError,
    Envelope,
    InstructionRequest,
    Order,
    Position,
    PositionInstruction,
    ResponseMetadata,
    SortBy,
    SortDirection,
    new_instruction_key,
)
from .results import (
    REJECTED_STATUSES,
    CancelResult,
    CloseResult,
    InstructionsResult,
    PositionsPage,
    SubmitResult,
)
from .retry import RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "ENVIRONMENT_URLS",
    "GENERATED_KEY_PREFIX",
    "MAX_PAGE_SIZE",
    "ClearStreetClient",
]

logger = logging.getLogger("positions_mcp.clearstreet")

_T = TypeVar("_T")

ENVIRONMENT_URLS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "production": "https://api.clearstreet.com",
        "dev": "https://api-dev.clearstreet.com",
    }
)
DEFAULT_TIMEOUT: Final = httpx.Timeout(30, connect=5)
DEFAULT_USER_AGENT: Final = f"clearstreet-positions-mcp/{__version__}"
"""Prefix of the ``client_instruction_id`` filled in for rows the caller left without one."""

MAX_PAGE_SIZE: Final = 1000
_MAX_ACCOUNT_ID: Final = 2**63 - 1
_DUPLICATE_INSTRUCTION: Final = "DUPLICATE_INSTRUCTION"
_EXCERPT_CHARS: Final = 200

_POSITIONS: Final = Envelope[list[Position]]
_ORDERS: Final = Envelope[list[Order]]
_INSTRUCTIONS: Final = Envelope[list[PositionInstruction]]
_INSTRUCTION: Final = Envelope[PositionInstruction]
_ANY: Final = Envelope[Any]
_INSTRUCTION_ROWS: Final = TypeAdapter(list[PositionInstruction])

_RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
# Failures that happened before a single byte of the request left: repeating cannot duplicate.
_UNSENT_FAILURES: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
# Transient failures worth another attempt for requests that are safe to repeat.
_TRANSIENT_FAILURES: Final = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
# The subset that is also safe for a close, which must never be sent twice.
_CLOSE_RETRYABLE_FAILURES: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _Kind(Enum):
    """What a repeat of the request could do, which decides what is retried."""

    READ = "read"
    CLOSE = "close"
    SUBMIT = "submit"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How the last attempt of a request ended: with a response, or with a transport failure."""

    label: str
    attempts: int
    response: httpx.Response | None
    failure: httpx.RequestError | None
    # Some attempt *before* the last one may have been processed by the server (it timed out or was
    # lost after sending, or got a 502/503/504): a repeat may meet that attempt's effects.
    landed_before: bool


class _UnreadableBody(Exception):
    """The response body is not the API envelope of the expected shape."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class _Secret:
    """Holds the API key; shows up as stars in any repr."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'**********'"


class ClearStreetClient:
    """Async client of the Clear Street positions API.

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
        retry: RetryPolicy = RetryPolicy(),
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        check_api_key(api_key)
        url = checked_base_url(base_url)
        self._api_key = _Secret(api_key)
        self._retry = retry
        self._closed = False
        self._http = httpx.AsyncClient(
            base_url=url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
        )

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The base URL requests are sent under (always ending with ``/``)."""
        return str(self._http.base_url)

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool. Safe to call more than once."""
        self._closed = True
        await self._http.aclose()

    async def __aenter__(self) -> ClearStreetClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

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
    ) -> PositionsPage:
        """One page of the account's positions (``GET /v1/accounts/{account_id}/positions``).

        ``instrument_ids`` (UUIDs or symbols) travel comma-joined in one query key. Filters and sort
        are not carried by ``page_token``: pass them again with it, or use :meth:`iter_position_pages`.
        """
        path = f"{_account_path(account_id)}/positions"
        params = _positions_query(instrument_ids, sort_by, sort_direction, page_size, page_token)
        outcome = await self._exchange(_Kind.READ, "GET", path, params=params)
        response = self._read_response(outcome)
        envelope = self._success_envelope(response, _POSITIONS)
        return PositionsPage(
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
    ) -> AsyncIterator[PositionsPage]:
        """Every page in turn, following ``next_page_token`` until a page has none.

        Filters and sort are sent again with each token (the token does not carry them);
        ``page_size`` only with the first request (the token carries it). A token that was already
        followed raises :class:`PaginationLoopError` instead of looping forever. Arguments are
        checked here, before iteration starts.
        """
        _account_path(account_id)
        _positions_query(instrument_ids, sort_by, sort_direction, page_size, None)
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
    ) -> AsyncIterator[PositionsPage]:
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
        path = f"{_account_path(account_id)}/positions/{_path_segment(instrument_id, 'instrument_id')}"
        return await self._close(path, cancel_orders)

    async def close_positions(
        self, account_id: int | str, *, cancel_orders: bool | None = None
    ) -> CloseResult:
        """Send closing orders for every position of the account (``DELETE …/positions``).

        Same retry rules as :meth:`close_position`.
        """
        return await self._close(f"{_account_path(account_id)}/positions", cancel_orders)

    async def _close(self, path: str, cancel_orders: bool | None) -> CloseResult:
        if cancel_orders is not None and not isinstance(cancel_orders, bool):
            raise TypeError("cancel_orders must be True, False or None")
        body = _json_bytes({} if cancel_orders is None else {"cancel_orders": cancel_orders})
        outcome = await self._exchange(_Kind.CLOSE, "DELETE", path, body=body)
        if outcome.failure is not None:
            if isinstance(outcome.failure, _UNSENT_FAILURES):
                raise self._connection_error(outcome, outcome.failure) from outcome.failure
            raise OutcomeUnknownError(
                f"{outcome.label}: {self._describe_failure(outcome.failure)} after the request may have "
                "been sent; the close may or may not have taken effect. Re-read positions and orders "
                "before trying again."
            ) from outcome.failure
        response = _required(outcome.response)
        if response.is_success:
            try:
                envelope = _read_envelope(response, _ORDERS, require_data=True)
            except _UnreadableBody as bad:
                raise self._unreadable_success(outcome, response, bad) from None
            return CloseResult(orders=list(envelope.data or []), request_id=envelope.metadata.request_id)
        error = self._status_error(response)
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
        path = f"{_account_path(account_id)}/positions/instructions"
        params: list[tuple[str, str]] = []
        if instrument_id is not None:
            params.append(("instrument_id", _query_text(instrument_id, "instrument_id")))
        if underlying_instrument_id is not None:
            underlying = _query_text(underlying_instrument_id, "underlying_instrument_id")
            params.append(("underlying_instrument_id", underlying))
        outcome = await self._exchange(_Kind.READ, "GET", path, params=params)
        response = self._read_response(outcome)
        envelope = self._success_envelope(response, _INSTRUCTIONS)
        return InstructionsResult(
            instructions=list(envelope.data or []), request_id=envelope.metadata.request_id
        )

    async def submit_position_instructions(
        self, account_id: int | str, instructions: Sequence[InstructionRequest]
    ) -> SubmitResult:
        """Submit a batch of EXERCISE / DO_NOT_EXERCISE / CONTRARY_EXERCISE instructions.

        Every row the caller left without a ``client_instruction_id`` gets one
        (``cs-mcp-<uuid4>``) before the first attempt; retries resend the same keys. Returns a
        :class:`SubmitResult` for 200 and 207; a batch rejected as a whole raises
        :class:`APIStatusError` with every row in ``rows``; a batch whose fate is unknown raises
        :class:`OutcomeUnknownError` listing the keys sent.
        """
        path = f"{_account_path(account_id)}/positions/instructions"
        requests, generated = _keyed_instructions(instructions)
        keys = tuple(_required(row.client_instruction_id) for row in requests)
        body = _json_bytes([_instruction_row(row) for row in requests])
        outcome = await self._exchange(_Kind.SUBMIT, "POST", path, body=body)

        if outcome.failure is not None:
            if outcome.landed_before or not isinstance(outcome.failure, _UNSENT_FAILURES):
                raise OutcomeUnknownError(
                    f"{outcome.label}: {self._describe_failure(outcome.failure)} after "
                    f"{outcome.attempts} attempt(s); the instructions may or may not have been "
                    f"received. Look them up by client_instruction_id: {', '.join(keys)}.",
                    client_instruction_ids=keys,
                ) from outcome.failure
            raise self._connection_error(outcome, outcome.failure) from outcome.failure

        response = _required(outcome.response)
        # Keys a duplicate rejection may refer to this very call's earlier attempt: the generated
        # ones always (nobody else knows them), the caller's only once an attempt may have landed.
        ours = set(keys) if outcome.landed_before else set(generated)

        if response.is_success:
            try:
                envelope = _read_envelope(response, _INSTRUCTIONS, require_data=True)
            except _UnreadableBody as bad:
                raise self._unreadable_success(outcome, response, bad, keys) from None
            rows = list(envelope.data or [])
            recovered_rows, recovered = await self._recover_duplicates(
                account_id, requests, rows, response.status_code, ours, outcome
            )
            return _submit_result(
                response.status_code, recovered_rows, envelope.error, envelope.metadata, recovered
            )

        error = self._status_error(response, with_rows=True)
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
                return _submit_result(response.status_code, recovered_rows, api_error, metadata, recovered)
            raise error
        if _submit_refusal_is_final(response.status_code, outcome.landed_before):
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
        outcome: _Outcome,
    ) -> tuple[list[PositionInstruction], tuple[str, ...]]:
        """Replace rows rejected as duplicates of this call's own earlier attempt by the originals.

        Returns the rows (request order) and the keys of the rows replaced. A 409 without rows (the
        seed-era shape) means every row was a duplicate. Raises ``OutcomeUnknownError`` when an
        original cannot be read back: reporting such a row as rejected would invite a second exercise.
        """
        keys = tuple(_required(request.client_instruction_id) for request in requests)
        if rows:
            targets = [
                index
                for index, row in enumerate(rows)
                if row.client_instruction_id in ours and _is_duplicate_rejection(row, status_code)
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
            key = _required(row.client_instruction_id) if row is not None else keys[index]
            existing_id = _existing_id(row)
            original = by_id.get(existing_id) if existing_id else None
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
        return [_required(row) for row in result], tuple(recovered)

    async def cancel_position_instruction(self, account_id: int | str, instruction_id: str) -> CancelResult:
        """Ask to cancel an instruction by its server ``id`` (not its ``client_instruction_id``).

        Retried like a read (a repeated cancel converges). A 409 after an earlier attempt may have
        landed means "already final": the instruction is re-read and returned with
        ``already_final=True``; a 409 otherwise is an :class:`APIStatusError`.
        """
        segment = _path_segment(instruction_id, "instruction_id")
        path = f"{_account_path(account_id)}/positions/instructions/{segment}"
        outcome = await self._exchange(_Kind.CANCEL, "DELETE", path)
        if outcome.failure is not None:
            raise self._connection_error(outcome, outcome.failure) from outcome.failure
        response = _required(outcome.response)
        if response.is_success:
            try:
                envelope = _read_envelope(response, _INSTRUCTION, require_data=True)
            except _UnreadableBody as bad:
                raise self._unreadable_success(outcome, response, bad) from None
            return CancelResult(instruction=_required(envelope.data), request_id=envelope.metadata.request_id)
        error = self._status_error(response)
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

    # -- the exchange -----------------------------------------------------------------------------

    async def _exchange(
        self,
        kind: _Kind,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> _Outcome:
        """Send the request, retrying what ``kind`` allows, and report how the last attempt ended."""
        if self._closed:
            raise RuntimeError("this ClearStreetClient is closed")
        policy = self._retry
        headers = {"Content-Type": "application/json"} if body is not None else None
        total = policy.max_retries + 1
        landed_before = False
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(method, path, params=params, content=body, headers=headers)
            label = f"{method} {request.url.raw_path.decode('ascii')}"
            logger.debug("%s: attempt %d of %d", label, attempt, total)
            try:
                response = await self._http.send(request)
            except httpx.RequestError as failure:
                problem = self._describe_failure(failure)
                if attempt == total or not _may_retry_failure(kind, failure):
                    logger.warning("%s: %s (attempt %d of %d); giving up", label, problem, attempt, total)
                    return _Outcome(label, attempt, None, failure, landed_before)
                delay = policy.delay(attempt - 1)
                logger.warning(
                    "%s: %s (attempt %d of %d); retrying in %.3f s", label, problem, attempt, total, delay
                )
                landed_before = landed_before or not isinstance(failure, _UNSENT_FAILURES)
                await policy.sleep(delay)
                continue
            logger.debug("%s: HTTP %d", label, response.status_code)
            if attempt == total or not _may_retry_response(kind, response):
                return _Outcome(label, attempt, response, None, landed_before)
            delay = policy.delay(attempt - 1, response.headers)
            logger.warning(
                "%s: HTTP %d (attempt %d of %d); retrying in %.3f s",
                label,
                response.status_code,
                attempt,
                total,
                delay,
            )
            landed_before = landed_before or response.status_code != 429
            await policy.sleep(delay)

    # -- reading responses ------------------------------------------------------------------------

    def _read_response(self, outcome: _Outcome) -> httpx.Response:
        if outcome.failure is not None:
            raise self._connection_error(outcome, outcome.failure) from outcome.failure
        return _required(outcome.response)

    def _success_envelope(self, response: httpx.Response, model: type[Envelope[Any]]) -> Envelope[Any]:
        """The envelope of a 2xx answer to a read; anything else raises ``APIStatusError``."""
        if not response.is_success:
            raise self._status_error(response)
        try:
            return _read_envelope(response, model, require_data=True)
        except _UnreadableBody as bad:
            raise APIStatusError(
                status_code=response.status_code,
                message=self._redact(bad.reason),
                request_id=_loose_request_id(response),
            ) from None

    def _status_error(self, response: httpx.Response, *, with_rows: bool = False) -> APIStatusError:
        """The ``APIStatusError`` for a non-2xx answer, read as leniently as the body allows."""
        hint = parse_retry_after(response.headers, now=self._retry.clock())
        retry_after = hint if hint is not None and hint > 0 else None
        fallback = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        try:
            envelope = _read_envelope(response, _INSTRUCTIONS if with_rows else _ANY, require_data=False)
        except _UnreadableBody as bad:
            loose = _loose_envelope(response, with_rows=with_rows)
            if loose is None:
                return APIStatusError(
                    status_code=response.status_code,
                    message=self._redact(f"{fallback}; {bad.reason}"),
                    request_id=_header_request_id(response),
                    retry_after=retry_after,
                )
            envelope = loose
        error = envelope.error
        rows = envelope.data if with_rows and isinstance(envelope.data, list) else None
        return APIStatusError(
            status_code=response.status_code,
            message=self._redact(error.message if error is not None and error.message else fallback),
            request_id=envelope.metadata.request_id or _header_request_id(response),
            code=error.code if error is not None else None,
            details=error.details if error is not None else None,
            rows=rows,
            retry_after=retry_after,
        )

    def _unreadable_success(
        self,
        outcome: _Outcome,
        response: httpx.Response,
        bad: _UnreadableBody,
        keys: tuple[str, ...] = (),
    ) -> OutcomeUnknownError:
        """A state-changing request answered 2xx with a body that cannot be read."""
        request_id = _loose_request_id(response)
        rid = f" (request_id {request_id})" if request_id else ""
        lookup = f" Look them up by client_instruction_id: {', '.join(keys)}." if keys else ""
        return OutcomeUnknownError(
            self._redact(
                f"{outcome.label}: HTTP {response.status_code}{rid} but {bad.reason}; the request "
                f"probably took effect but its result is unknown.{lookup}"
            ),
            status_code=response.status_code,
            request_id=request_id,
            client_instruction_ids=keys,
        )

    def _connection_error(self, outcome: _Outcome, failure: httpx.RequestError) -> ClearStreetConnectionError:
        return ClearStreetConnectionError(
            f"{outcome.label}: {self._describe_failure(failure)} after {outcome.attempts} attempt(s)",
            timed_out=isinstance(failure, httpx.TimeoutException),
            request_sent=not isinstance(failure, _UNSENT_FAILURES),
        )

    def _describe_failure(self, failure: httpx.RequestError) -> str:
        what = "timed out" if isinstance(failure, httpx.TimeoutException) else "connection failed"
        detail = str(failure).strip()
        return self._redact(f"{what} ({type(failure).__name__}{': ' + detail if detail else ''})")

    def _redact(self, text: str) -> str:
        """Belt and braces: the key never comes from us, but a server or proxy might echo it."""
        return text.replace(self._api_key.value, "[REDACTED]")


# -- request building -------------------------------------------------------------------------------


def check_api_key(api_key: str) -> None:
    """ValueError unless ``api_key`` can travel in an Authorization header. Never quotes it."""
    if not isinstance(api_key, str) or not api_key:
        raise ValueError("the API key is empty")
    if not api_key.isascii() or not api_key.isprintable() or any(char.isspace() for char in api_key):
        raise ValueError("the API key must be printable ASCII without spaces (was it pasted with extra characters?)")


def checked_base_url(base_url: str) -> httpx.URL:
    """The base URL, parsed; ValueError if it is not absolute http(s) or carries credentials,
    a query or a fragment (which would then show wherever the URL is shown)."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"base_url is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an absolute http:// or https:// URL")
    if url.userinfo:
        raise ValueError("base_url must not contain credentials; the API key is passed separately")
    if url.query or url.fragment:
        raise ValueError("base_url must not have a query string or fragment")
    return url


def _account_path(account_id: int | str) -> str:
    """``v1/accounts/{account_id}``: relative, so a base URL's path prefix is kept."""
    if isinstance(account_id, bool) or not isinstance(account_id, int | str):
        raise TypeError("account_id must be an int or a string of digits")
    if isinstance(account_id, str):
        if not re.fullmatch(r"[0-9]{1,19}", account_id):
            raise ValueError(f"account_id must be a non-negative integer, got {account_id!r}")
        account_id = int(account_id)
    if not 0 <= account_id <= _MAX_ACCOUNT_ID:
        raise ValueError(f"account_id out of range: {account_id}")
    return f"v1/accounts/{account_id}"


def _path_segment(value: str, name: str) -> str:
    """``value`` percent-encoded as one RFC 3986 path segment (space → %20, ``/`` → %2F)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    if value in ("", ".", ".."):
        raise ValueError(f"{name} must not be empty, '.' or '..'")
    return quote(value, safe="!$&'()*+,;=:@")


def _query_text(value: str, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _enum_text(value: Enum | str, name: str) -> str:
    return _query_text(value.value if isinstance(value, Enum) else value, name)


def _positions_query(
    instrument_ids: Sequence[str] | None,
    sort_by: SortBy | str | None,
    sort_direction: SortDirection | str | None,
    page_size: int | None,
    page_token: str | None,
) -> list[tuple[str, str]]:
    """The query of GET positions, in the official SDK's order."""
    params: list[tuple[str, str]] = []
    if instrument_ids is not None:
        if isinstance(instrument_ids, str):
            raise TypeError("instrument_ids must be a sequence of strings, not one string")
        ids = list(instrument_ids)
        if not ids:
            raise ValueError("instrument_ids is empty; pass None to list every position")
        for instrument_id in ids:
            _query_text(instrument_id, "each of instrument_ids")
            if "," in instrument_id:
                raise ValueError(f"instrument id {instrument_id!r} contains a comma")
        params.append(("instrument_ids", ",".join(ids)))
    if page_size is not None:
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise TypeError("page_size must be an int")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        params.append(("page_size", str(page_size)))
    if page_token is not None:
        params.append(("page_token", _query_text(page_token, "page_token")))
    if sort_by is not None:
        params.append(("sort_by", _enum_text(sort_by, "sort_by")))
    if sort_direction is not None:
        params.append(("sort_direction", _enum_text(sort_direction, "sort_direction")))
    return params


def _keyed_instructions(
    instructions: Sequence[InstructionRequest],
) -> tuple[list[InstructionRequest], set[str]]:
    """The rows with a ``client_instruction_id`` on each (filled in where missing), and the filled keys."""
    if isinstance(instructions, InstructionRequest):
        raise TypeError("instructions must be a sequence of InstructionRequest, not a single one")
    rows: list[InstructionRequest] = []
    generated: set[str] = set()
    seen: set[str] = set()
    for row in instructions:
        if not isinstance(row, InstructionRequest):
            raise TypeError(f"each instruction must be an InstructionRequest, got {type(row).__name__}")
        if not row.quantity.is_finite() or row.quantity <= 0:
            raise ValueError(f"quantity must be a positive number, got {row.quantity}")
        key = row.client_instruction_id
        if key is None:
            key = new_instruction_key()
            generated.add(key)
            row = row.model_copy(update={"client_instruction_id": key})
        elif not key:
            raise ValueError("client_instruction_id must not be empty; leave it None to have one generated")
        if key in seen:
            raise ValueError(f"client_instruction_id {key!r} appears twice in one batch")
        seen.add(key)
        rows.append(row)
    if not rows:
        raise ValueError("submit at least one instruction")
    return rows, generated


def _instruction_row(row: InstructionRequest) -> dict[str, str]:
    return {
        "instruction_type": row.instruction_type.value,
        "instrument_id": row.instrument_id,
        "quantity": plain(row.quantity),
        "client_instruction_id": _required(row.client_instruction_id),
    }


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


# -- retry decisions --------------------------------------------------------------------------------


def _may_retry_failure(kind: _Kind, failure: httpx.RequestError) -> bool:
    if kind is _Kind.CLOSE:
        return isinstance(failure, _CLOSE_RETRYABLE_FAILURES)
    return isinstance(failure, _TRANSIENT_FAILURES)


def _may_retry_response(kind: _Kind, response: httpx.Response) -> bool:
    if response.headers.get("x-should-retry", "").lower() == "false":
        return False
    status = response.status_code
    if kind is _Kind.CLOSE:
        return status == 429  # refused before processing; anything else may have closed something
    if kind is _Kind.SUBMIT and status != 429 and _carries_rows(response):
        return False  # a per-row answer (e.g. 503 "clearing unavailable", every row REJECTED) is final
    return status in _RETRYABLE_STATUSES


def _submit_refusal_is_final(status_code: int, landed_before: bool) -> bool:
    """Whether a submit answered ``status_code`` without rows surely created nothing.

    A 408/429 refused this attempt only: an earlier one may have landed. Another 3xx/4xx refused
    the request itself, so identical earlier attempts fared no better. A 5xx without rows may have
    been processed.
    """
    if status_code in (408, 429):
        return not landed_before
    return 300 <= status_code < 500


def _carries_rows(response: httpx.Response) -> bool:
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("data"), list) and bool(body["data"])


# -- response parsing -------------------------------------------------------------------------------

_ENVELOPE_KEYS: Final = frozenset({"data", "error", "metadata"})


def _read_envelope(
    response: httpx.Response, model: type[Envelope[Any]], *, require_data: bool
) -> Envelope[Any]:
    """The body as ``model``; raises ``_UnreadableBody`` saying why (with a short excerpt) otherwise."""
    try:
        envelope = model.model_validate_json(response.content)
    except ValidationError as exc:
        raise _UnreadableBody(_describe_bad_body(response, exc)) from None
    if not envelope.model_fields_set & _ENVELOPE_KEYS:
        raise _UnreadableBody(f"the response body is not the API envelope: {_excerpt(response)}")
    if require_data and envelope.data is None:
        raise _UnreadableBody(f"the response envelope has no data: {_excerpt(response)}")
    return envelope


def _describe_bad_body(response: httpx.Response, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    content_type = response.headers.get("content-type", "no content type")
    if not response.content:
        return f"the response body is empty ({content_type})"
    if any(error["type"] == "json_invalid" for error in errors):
        return f"the response body is not JSON ({content_type}): {_excerpt(response)}"
    if any(error["loc"] == () for error in errors):
        return f"the response body is not a JSON object: {_excerpt(response)}"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    return (
        f"the response body does not have the expected shape ({len(errors)} problem(s); "
        f"first at {where}: {first['msg']}): {_excerpt(response)}"
    )


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.content[: _EXCERPT_CHARS * 4].decode("utf-8", "replace").split())
    if len(text) > _EXCERPT_CHARS:
        text = text[:_EXCERPT_CHARS] + "…"
    return repr(text)


def _loose_json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _loose_request_id(response: httpx.Response) -> str | None:
    body = _loose_json(response)
    metadata = body.get("metadata") if body is not None else None
    request_id = metadata.get("request_id") if isinstance(metadata, dict) else None
    return request_id if isinstance(request_id, str) else _header_request_id(response)


def _loose_envelope(response: httpx.Response, *, with_rows: bool) -> Envelope[Any] | None:
    """An error envelope read field by field, for bodies the strict models refuse; None if not one."""
    body = _loose_json(response)
    if body is None or not body.keys() & _ENVELOPE_KEYS:
        return None
    raw_error = body.get("error")
    error: APIError | None = None
    if isinstance(raw_error, str) and raw_error:
        error = APIError(code=response.status_code, message=raw_error)
    elif isinstance(raw_error, dict):
        code = raw_error.get("code")
        message = raw_error.get("message")
        details = raw_error.get("details")
        if not (isinstance(details, list) and all(isinstance(item, dict) for item in details)):
            details = None
        error = APIError(
            code=code if isinstance(code, int) and not isinstance(code, bool) else response.status_code,
            message=message if isinstance(message, str) else "",
            details=details,
        )
    raw_metadata = body.get("metadata")
    request_id = raw_metadata.get("request_id") if isinstance(raw_metadata, dict) else None
    rows: list[PositionInstruction] | None = None
    if with_rows and isinstance(body.get("data"), list):
        try:
            rows = _INSTRUCTION_ROWS.validate_python(body["data"])
        except ValidationError as exc:
            logger.warning(
                "ignoring unreadable instruction rows in an error response (%d problems)", exc.error_count()
            )
    return _ANY(
        data=rows,
        error=error,
        metadata=ResponseMetadata(request_id=request_id if isinstance(request_id, str) else None),
    )


def _header_request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id") or response.headers.get("request-id")


def _is_duplicate_rejection(row: PositionInstruction, status_code: int) -> bool:
    if row.status not in REJECTED_STATUSES:
        return False
    if row.rejection is not None:
        return row.rejection.reason == _DUPLICATE_INSTRUCTION
    return status_code == 409  # seed era: no rejection object, but a 409 batch is all duplicates


def _existing_id(row: PositionInstruction | None) -> str | None:
    if row is None or row.rejection is None:
        return None
    existing = row.rejection.metadata.get("existing_id")
    return existing if isinstance(existing, str) and existing else None


def _submit_result(
    status_code: int,
    rows: list[PositionInstruction],
    error: APIError | None,
    metadata: ResponseMetadata,
    recovered: tuple[str, ...],
) -> SubmitResult:
    if recovered:
        # The answer changed once duplicates of our own earlier attempt became the originals; the
        # API's summary counted those duplicates, so it is redone over the rows still rejected.
        rejected = [row for row in rows if row.status in REJECTED_STATUSES]
        status_code = 207 if rejected else 200
        error = _rejection_summary(error, rejected, len(rows)) if rejected else None
    return SubmitResult(
        status_code=status_code,
        instructions=rows,
        error=error,
        request_id=metadata.request_id,
        recovered=recovered,
    )


def _rejection_summary(error: APIError | None, rejected: list[PositionInstruction], total: int) -> APIError:
    """The batch summary over ``rejected`` only: their common reason text, else a count."""
    reasons = {
        (row.rejection.description if row.rejection is not None else None) or row.rejection_reason
        for row in rejected
    }
    reason = next(iter(reasons)) if len(reasons) == 1 else None
    message = reason or f"{len(rejected)} of {total} instructions were rejected; each rejected row says why"
    return APIError(
        code=error.code if error is not None else 400,
        message=message,
        details=error.details if error is not None else None,
    )


def _required(value: _T | None) -> _T:
    if value is None:
        raise AssertionError("internal error: a value that is always set was None")
    return value
