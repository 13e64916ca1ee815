"""The ledger's part in a call: single use (a token's nonce spent once, by one atomic insert shared
by every process and kept across restarts) and the record of each submission (before its request
leaves, completed after), which is what repeats are recognised by.

Ledger operations block (sqlite): each runs in a worker thread. A ledger that fails refuses the
call before anything is sent (audited); once a request has gone, a failure to record its outcome
is a warning appended to the result, never a reason to hide what was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from ...safety.ledger import LedgerError, Submission
from ...safety.tokens import VerifiedToken
from .declaration import Call, StateChange
from .write_ahead import WriteAhead

if TYPE_CHECKING:
    from ..dependencies import Dependencies

__all__ = ["LedgerSteps"]

logger = logging.getLogger("positions_mcp.actions.pipeline")

T = TypeVar("T")
AnyCall = Call[StateChange[Any]]


class LedgerSteps:
    def __init__(self, deps: Dependencies, audit: WriteAhead) -> None:
        self._deps = deps  # the ledger is opened on first use (``Dependencies.ledger``)
        self._audit = audit

    async def _run(self, call: AnyCall, operation: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(operation)
        except LedgerError as exc:
            logger.error("%s", exc)
            # the ledger keeps the executing tool's records, so its refusal names that tool
            raise await self._audit.refusal(
                call,
                "LEDGER_UNAVAILABLE",
                f"{exc}, so single use cannot be guaranteed. Fix POSITIONS_MCP_LEDGER and try again.",
                tool=call.action.name,
            ) from None

    def _now(self) -> datetime:
        return self._deps.upstream.local_now()

    async def spend(self, call: AnyCall, verified: VerifiedToken) -> bool:
        """Spend the token's nonce; False when it was already spent (by any process, ever)."""
        ledger, now = self._deps.ledger, self._now()
        return await self._run(
            call, lambda: ledger.spend(verified.nonce, tool=call.action.name, account=str(call.account), at=now)
        )

    async def is_spent(self, call: AnyCall, verified: VerifiedToken) -> bool:
        ledger = self._deps.ledger
        return await self._run(call, lambda: ledger.is_spent(verified.nonce))

    async def recent(self, call: AnyCall, request: str) -> Submission | None:
        """The latest submission of the same request (``request``: its digest) within the repeat window."""
        ledger, now = self._deps.ledger, self._now()
        return await self._run(
            call,
            lambda: ledger.recent_submission(
                account=str(call.account), tool=call.action.name, request=request, now=now
            ),
        )

    async def record(
        self, call: AnyCall, request: str, keys: Sequence[str] | None, verified: VerifiedToken
    ) -> int | None:
        """Record the submission before its request leaves; None when an identical one was
        recorded after the preview's (``verified.repeat_of``): the person was not told of it."""
        ledger, now = self._deps.ledger, self._now()
        return await self._run(
            call,
            lambda: ledger.record_submission(
                account=str(call.account),
                tool=call.action.name,
                request=request,
                keys=keys or (),
                confirmation=verified.digest,
                at=now,
                newer_than=verified.repeat_of,
            ),
        )

    async def not_sent(self, call: AnyCall, submission: int) -> None:
        """Complete a submission whose request never left."""
        ledger = self._deps.ledger
        await self._run(call, lambda: ledger.complete_submission(submission, outcome="not_sent", ids=[], status=None))

    async def completed(self, submission: int, outcome: str, ids: Sequence[str], status: int | None) -> str:
        """Complete a submission after its request left; a failure is returned as a warning."""
        ledger = self._deps.ledger
        try:
            await anyio.to_thread.run_sync(
                lambda: ledger.complete_submission(submission, outcome=outcome, ids=list(ids), status=status)
            )
        except LedgerError as exc:
            logger.error("%s", exc)
            return f" WARNING: the ledger could not record this outcome ({exc})."
        return ""
