"""The shielded send: the one upstream request of a state change, within the call's deadline, and
never abandoned once it may have left.

The client sees the deadline (it sends a state change only when enough of it remains for the
request's own timeout: ``clearstreet._requester``), but the request and what follows it — the
outcome line, the ledger's record — run shielded from the call's cancellation, so what was sent is
always audited and reported, even if the deadline passes meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ...clearstreet.errors import ClearStreetError, OutcomeUnknownError
from .declaration import Call, Sent, StateChange

if TYPE_CHECKING:
    from ...clearstreet.client import ClearStreetClient
    from ..dependencies import Dependencies

__all__ = ["ShieldedSend"]

logger = logging.getLogger("positions_mcp.actions.pipeline")

R = TypeVar("R")
Request = Callable[["ClearStreetClient"], Awaitable[Sent]]


class ShieldedSend:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def __call__(
        self, call: Call[StateChange[Any]], request: Request, then: Callable[[Sent | ClearStreetError], Awaitable[R]]
    ) -> R:
        """Send ``request`` within the deadline, then run ``then`` on what it answered (or how it
        failed), whatever the deadline does meanwhile."""
        deadline = anyio.current_effective_deadline()
        with anyio.CancelScope(shield=True):  # once the request may leave, its outcome is always reported
            answered = await self._bounded(call, request, deadline)
            reported = await then(answered)
        return reported

    async def _bounded(
        self, call: Call[StateChange[Any]], request: Request, deadline: float
    ) -> Sent | ClearStreetError:
        name = call.action.name
        with anyio.CancelScope(deadline=deadline) as bounded:  # the client still sees the deadline
            try:
                return await request(await self._deps.upstream.client())
            except ClearStreetError as exc:
                return exc
            except Exception as exc:  # a bug after the request may have left: report it as unknown
                logger.exception("%s failed after the request may have been sent", name)
                return OutcomeUnknownError(f"an internal error interrupted {name}: {type(exc).__name__}")
        assert bounded.cancelled_caught  # only the deadline ends the scope without an answer
        return OutcomeUnknownError(
            f"the call's deadline ({self._deps.settings.call_timeout} s) ended while {name} was waiting for the upstream"
        )
