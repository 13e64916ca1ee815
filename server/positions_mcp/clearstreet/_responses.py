"""Reading answers: the ``{data, error, metadata}`` envelope of every response, success or failure,
read strictly where the shape is known and leniently where an error body is not what it should be,
so that a status, a message and a request_id always survive (Clear Street's API documentation)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from .errors import APIStatusError, OutcomeUnknownError, status_error_class
from .models import APIError, Envelope, Order, Position, PositionInstruction, ResponseMetadata
from .results import REJECTED_STATUSES, SubmitResult
from .retry import parse_retry_after

logger = logging.getLogger("positions_mcp.clearstreet")

_T = TypeVar("_T")

POSITIONS: Final = Envelope[list[Position]]
ORDERS: Final = Envelope[list[Order]]
INSTRUCTIONS: Final = Envelope[list[PositionInstruction]]
INSTRUCTION: Final = Envelope[PositionInstruction]
ANY: Final = Envelope[Any]
_INSTRUCTION_ROWS: Final = TypeAdapter(list[PositionInstruction])
_DUPLICATE_INSTRUCTION: Final = "DUPLICATE_INSTRUCTION"
_EXCERPT_CHARS: Final = 200


class UnreadableBody(Exception):
    """The response body is not the API envelope of the expected shape."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def status_error(
    response: httpx.Response, redact: Callable[[str], str], now: float, *, with_rows: bool = False
) -> APIStatusError:
    """The ``APIStatusError`` (the subclass naming the status) for a non-2xx answer, read as
    leniently as the body allows."""
    hint = parse_retry_after(response.headers, now=now)
    retry_after = hint if hint is not None and hint > 0 else None
    fallback = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    error_class = status_error_class(response.status_code)
    try:
        envelope = read_envelope(response, INSTRUCTIONS if with_rows else ANY, require_data=False)
    except UnreadableBody as bad:
        loose = loose_envelope(response, with_rows=with_rows)
        if loose is None:
            return error_class(
                status_code=response.status_code,
                message=redact(f"{fallback}; {bad.reason}"),
                request_id=header_request_id(response),
                retry_after=retry_after,
            )
        envelope = loose
    error = envelope.error
    rows = envelope.data if with_rows and isinstance(envelope.data, list) else None
    return error_class(
        status_code=response.status_code,
        message=redact(error.message if error is not None and error.message else fallback),
        request_id=envelope.metadata.request_id or header_request_id(response),
        code=error.code if error is not None else None,
        details=error.details if error is not None else None,
        rows=rows,
        retry_after=retry_after,
    )


def success_envelope(
    response: httpx.Response, model: type[Envelope[Any]], redact: Callable[[str], str], now: float
) -> Envelope[Any]:
    """The envelope of a 2xx answer to a read; anything else raises ``APIStatusError``."""
    if not response.is_success:
        raise status_error(response, redact, now)
    try:
        return read_envelope(response, model, require_data=True)
    except UnreadableBody as bad:
        raise APIStatusError(
            status_code=response.status_code,
            message=redact(bad.reason),
            request_id=loose_request_id(response),
        ) from None


def unreadable_success(
    label: str,
    response: httpx.Response,
    bad: UnreadableBody,
    redact: Callable[[str], str],
    keys: tuple[str, ...] = (),
) -> OutcomeUnknownError:
    """A state-changing request answered 2xx with a body that cannot be read."""
    request_id = loose_request_id(response)
    rid = f" (request_id {request_id})" if request_id else ""
    lookup = f" Look them up by client_instruction_id: {', '.join(keys)}." if keys else ""
    return OutcomeUnknownError(
        redact(
            f"{label}: HTTP {response.status_code}{rid} but {bad.reason}; the request "
            f"probably took effect but its result is unknown.{lookup}"
        ),
        status_code=response.status_code,
        request_id=request_id,
        client_instruction_ids=keys,
    )


def submit_refusal_is_final(status_code: int, landed_before: bool) -> bool:
    """Whether a submit answered ``status_code`` without rows surely created nothing.

    A 408/429 refused this attempt only: an earlier one may have landed. Another 3xx/4xx refused
    the request itself, so identical earlier attempts fared no better. A 5xx without rows may have
    been processed.
    """
    if status_code in (408, 429):
        return not landed_before
    return 300 <= status_code < 500


ENVELOPE_KEYS: Final = frozenset({"data", "error", "metadata"})


def read_envelope(response: httpx.Response, model: type[Envelope[Any]], *, require_data: bool) -> Envelope[Any]:
    """The body as ``model``; raises ``UnreadableBody`` saying why (with a short excerpt) otherwise."""
    try:
        envelope = model.model_validate_json(response.content)
    except ValidationError as exc:
        raise UnreadableBody(_describe_bad_body(response, exc)) from None
    if not envelope.model_fields_set & ENVELOPE_KEYS:
        raise UnreadableBody(f"the response body is not the API envelope: {excerpt(response)}")
    if require_data and envelope.data is None:
        raise UnreadableBody(f"the response envelope has no data: {excerpt(response)}")
    return envelope


def _describe_bad_body(response: httpx.Response, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    content_type = response.headers.get("content-type", "no content type")
    if not response.content:
        return f"the response body is empty ({content_type})"
    if any(error["type"] == "json_invalid" for error in errors):
        return f"the response body is not JSON ({content_type}): {excerpt(response)}"
    if any(error["loc"] == () for error in errors):
        return f"the response body is not a JSON object: {excerpt(response)}"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    return (
        f"the response body does not have the expected shape ({len(errors)} problem(s); "
        f"first at {where}: {first['msg']}): {excerpt(response)}"
    )


def excerpt(response: httpx.Response) -> str:
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


def loose_request_id(response: httpx.Response) -> str | None:
    body = _loose_json(response)
    metadata = body.get("metadata") if body is not None else None
    request_id = metadata.get("request_id") if isinstance(metadata, dict) else None
    return request_id if isinstance(request_id, str) else header_request_id(response)


def loose_envelope(response: httpx.Response, *, with_rows: bool) -> Envelope[Any] | None:
    """An error envelope read field by field, for bodies the strict models refuse; None if not one."""
    body = _loose_json(response)
    if body is None or not body.keys() & ENVELOPE_KEYS:
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
            logger.warning("ignoring unreadable instruction rows in an error response (%d problems)", exc.error_count())
    return ANY(
        data=rows,
        error=error,
        metadata=ResponseMetadata(request_id=request_id if isinstance(request_id, str) else None),
    )


def header_request_id(response: httpx.Response) -> str | None:
    value = response.headers.get("x-request-id") or response.headers.get("request-id")
    return str(value) if value else None


def is_duplicate_rejection(row: PositionInstruction, status_code: int) -> bool:
    if row.status not in REJECTED_STATUSES:
        return False
    if row.rejection is not None:
        return row.rejection.reason == _DUPLICATE_INSTRUCTION
    return status_code == 409  # seed era: no rejection object, but a 409 batch is all duplicates


def existing_id(row: PositionInstruction | None) -> str | None:
    if row is None or row.rejection is None:
        return None
    existing = row.rejection.metadata.get("existing_id")
    return existing if isinstance(existing, str) and existing else None


def submit_result(
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
        (row.rejection.description if row.rejection is not None else None) or row.rejection_reason for row in rejected
    }
    reason = next(iter(reasons)) if len(reasons) == 1 else None
    message = reason or f"{len(rejected)} of {total} instructions were rejected; each rejected row says why"
    return APIError(
        code=error.code if error is not None else 400,
        message=message,
        details=error.details if error is not None else None,
    )


def required(value: _T | None) -> _T:
    if value is None:
        raise AssertionError("internal error: a value that is always set was None")
    return value
