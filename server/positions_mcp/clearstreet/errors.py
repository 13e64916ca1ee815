"""Errors of the Clear Street client. Each keeps what support needs: status, message, request_id.

No error message ever contains the API key: the client never puts request headers into one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import PositionInstruction


class ClearStreetError(Exception):
    """Base of every error the client raises."""


class APIStatusError(ClearStreetError):
    """The API answered with a non-2xx status (or a 2xx body that is not the envelope).

    ``code`` is the envelope's ``error.code`` (usually the same as ``status_code``); ``rows`` holds
    the per-row outcome of a submit batch that failed as a whole (every row ``REJECTED``). Raised
    as the subclass that names the status (:func:`status_error_class`), so callers branch on the
    class, never on ``status_code``.
    """

    def __init__(
        self,
        *,
        status_code: int,
        message: str,
        request_id: str | None,
        code: int | None = None,
        details: list[dict[str, Any]] | None = None,
        rows: list[PositionInstruction] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.request_id = request_id
        self.code = code if code is not None else status_code
        self.details = details
        self.rows = rows or []
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        rid = f" (request_id {self.request_id})" if self.request_id else ""
        return f"Clear Street API returned {self.status_code}: {self.message}{rid}"


class BadRequest(APIStatusError):
    """400: the API refused the request as malformed (an argument, a stale page token)."""


class Unauthorized(APIStatusError):
    """401: the API key was refused."""


class PermissionDenied(APIStatusError):
    """403: this API key may not act on that account (or read that endpoint)."""


class NotFound(APIStatusError):
    """404: no such account, instrument, instruction or order for this API key."""


class Conflict(APIStatusError):
    """409: the request conflicts with the current state (an instruction already final, a key
    already used)."""


class Unprocessable(APIStatusError):
    """422: the request is well formed but the API refused it as it stands."""


class RateLimited(APIStatusError):
    """429: the API is rate limiting; ``retry_after`` holds its hint when it gave one."""


class ServerError(APIStatusError):
    """5xx: the API failed. For a state-changing request the client reports this as
    :class:`OutcomeUnknownError` wherever the failure may have acted."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The :class:`APIStatusError` subclass that names ``status_code`` (the base class when none
    does, e.g. 408 or an unreadable 2xx)."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)


class ClearStreetConnectionError(ClearStreetError):
    """No usable response: the connection failed or was lost, or the request timed out."""

    def __init__(self, message: str, *, timed_out: bool = False, request_sent: bool = True) -> None:
        self.timed_out = timed_out
        self.request_sent = request_sent
        super().__init__(message)


class OutcomeUnknownError(ClearStreetError):
    """A state-changing request failed in a way that does not say whether it took effect.

    Raised for a close that timed out, lost its connection after sending, or got a 5xx, and for any
    state-changing request answered 2xx with a body that cannot be read. A close is never retried
    automatically: whoever sees it must re-read positions before trying again. Also raised for a
    submit whose last attempt ended without an answer after an attempt may have reached the server;
    ``client_instruction_ids`` then lists the keys sent (request order), so the outcome can be found
    with ``client.instructions.get``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        client_instruction_ids: tuple[str, ...] = (),
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        self.client_instruction_ids = client_instruction_ids
        super().__init__(message)


class DeadlineExceededError(ClearStreetError):
    """The call's deadline left too little time for the request (``sent=False``: it never left).

    Raised before a request is sent, never while one is in flight: a state-changing request that was
    sent ends with its answer or its own timeout (``OutcomeUnknownError``).
    """

    def __init__(self, message: str, *, sent: bool, attempts: int = 0) -> None:
        self.sent = sent
        self.attempts = attempts
        super().__init__(message)


class PaginationLoopError(ClearStreetError):
    """The API handed back a page token that was already followed: the listing would never end."""
