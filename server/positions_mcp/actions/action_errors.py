"""The one error contract of the use-cases: an ``ActionError`` carries the text the assistant
reads — what happened and what to do — and nothing internal. Every upstream failure keeps its
status, message and request_id; a refusal names its reason code and says that nothing was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..clearstreet.errors import (
    APIStatusError,
    BadRequest,
    ClearStreetConnectionError,
    ClearStreetError,
    Conflict,
    DeadlineExceededError,
    NotFound,
    OutcomeUnknownError,
    PermissionDenied,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
)
from ..safety.policy import PolicyError

__all__ = ["NOTHING_SENT", "USED_UP", "ActionError", "NotVisible", "Refused", "describe_upstream", "upstream_errors"]

NOTHING_SENT = "Nothing was sent."
USED_UP = "This confirmation is now used up"

_HINTS: dict[type[APIStatusError], str] = {
    BadRequest: "check the arguments against the tool's schema and try again",
    Unauthorized: "the API key was refused: check CLEAR_STREET_API_KEY",
    PermissionDenied: "this API key may not act on that account: check the account id or the key's permissions",
    NotFound: "check the account id (one this API key can access: see clearstreet://status) and, if one was "
    "given, the instrument (UUID, ticker or OSI symbol) — get_positions lists what the account holds",
    Conflict: "the request conflicts with the current state: re-read and try again only if still needed",
    Unprocessable: "the upstream refused the request as it stands; nothing was done",
    ServerError: "the Clear Street API failed: try again later; quote the request_id to support",
}


class ActionError(Exception):
    """A failure to show the assistant as it is: what happened and what to do."""

    def after_spend(self, preview_tool: str) -> None:
        """This failure came after the call spent its confirmation (single use, in the ledger): say
        so, and that trying again takes a new preview and a new yes. The one place that words it,
        whatever the failure (a changed plan, the deadline, a refusal from Clear Street, …)."""
        if USED_UP not in str(self):
            self.args = (f"{self} {USED_UP}: to try again, call {preview_tool} again and get a new yes.",)


class OutOfTime(ActionError):
    """The call's deadline (POSITIONS_MCP_CALL_TIMEOUT) ended before anything was sent."""


class NotVisible(ActionError):
    """The upstream has no such account or instrument for this API key (it answered 404, or 403:
    not one this key may see)."""


class Refused(ActionError):
    """Refused before anything reached the upstream; ``reason`` is a stable code (audited)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        sent = "" if NOTHING_SENT in message else f" {NOTHING_SENT}"
        super().__init__(f"Refused ({reason}): {message}{sent}")


def describe_upstream(exc: ClearStreetError) -> str:
    """The assistant's text for a client failure: status, message, request_id, what to do."""
    if isinstance(exc, OutcomeUnknownError):
        where = f" (HTTP {exc.status_code})" if exc.status_code else ""
        rid = f", request_id {exc.request_id}" if exc.request_id else ""
        return (
            f"OUTCOME UNKNOWN{where}{rid}: {exc}. The request may or may not have been carried "
            "out. Check positions (get_positions) before retrying; it was not retried automatically."
        )
    if isinstance(exc, DeadlineExceededError):
        return (
            f"Ran out of time for this call (POSITIONS_MCP_CALL_TIMEOUT): {exc}. "
            f"{NOTHING_SENT if not exc.sent else ''} Try again in a moment.".replace("  ", " ")
        )
    if isinstance(exc, APIStatusError):
        hint = next((text for kind, text in _HINTS.items() if isinstance(exc, kind)), None)
        if isinstance(exc, RateLimited):  # refused before processing, which is why the API's SDKs retry it
            wait = f" and asks to wait {exc.retry_after:.0f} s" if exc.retry_after else ""
            hint = f"the API is rate limiting{wait}: the request was not carried out; wait before retrying"
        rid = exc.request_id or "none"
        text = f"Clear Street API error {exc.status_code}: {exc.message} (request_id {rid})."
        return f"{text} {hint[0].upper()}{hint[1:]}." if hint else text
    if isinstance(exc, ClearStreetConnectionError):
        kind = "timed out" if exc.timed_out else "could not be reached"
        return f"The Clear Street API {kind}: {exc}. Try again in a moment."
    return f"Clear Street client error: {exc}"


@asynccontextmanager
async def upstream_errors() -> AsyncIterator[None]:
    """Turn client and policy errors into ``ActionError`` with the text the assistant should see."""
    try:
        yield
    except PolicyError as exc:
        raise ActionError(str(exc)) from None
    except (NotFound, PermissionDenied) as exc:
        raise NotVisible(describe_upstream(exc)) from exc
    except ClearStreetError as exc:
        raise ActionError(describe_upstream(exc)) from exc
    except ValueError as exc:  # the client's own argument checks: nothing was sent
        raise ActionError(f"Invalid request, nothing was sent: {exc}") from None
