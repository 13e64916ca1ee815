"""The confirmation token's part in a call: issued once per preview or question, verified on use,
and compared with a plan made again from fresh reads.

A token binds the person who previewed (with OAuth), the tool, account, environment, canonical arguments, the idempotency keys its preview
assigned, a fingerprint of the positions the plan was computed from, what the plan sends, and the
repeat the preview named. Execution plans again *with the token's keys* and refuses a plan or a set
of positions that moved: the previewed plan is the executed plan. Single use is the ledger's.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...safety.ledger import Submission
from ...safety.tokens import ConfirmationRefused, VerifiedToken, positions_fingerprint
from .declaration import Call, ConfirmedAction, Draft
from .write_ahead import WriteAhead

if TYPE_CHECKING:
    from ..dependencies import Dependencies

__all__ = ["TokenIssue"]

ConfirmedCall = Call[ConfirmedAction[Any, Any]]


class TokenIssue:
    def __init__(self, deps: Dependencies, audit: WriteAhead) -> None:
        self._deps = deps  # the signer is opened on first use (``Dependencies.tokens``)
        self._audit = audit

    def issue(self, call: ConfirmedCall, draft: Draft[Any], repeat: Submission | None) -> str:
        """The token that lets ``draft`` be sent once, as planned, by the action's own tool."""
        return self._deps.tokens.issue(
            call.action.name,
            call.account,
            self._deps.environment,
            call.arguments,
            positions_fingerprint(draft.scope),
            positions=list(draft.scope),
            instruction_keys=draft.keys,
            repeat_of=repeat.id if repeat else 0,
            sends=draft.sends,
            subject=call.caller.subject,
        )

    def expires_at(self, token: str) -> datetime:
        return self._deps.tokens.expires_at(token)

    async def verify(self, call: ConfirmedCall, token: str | None) -> VerifiedToken:
        """Every check but single use; a refusal is audited."""
        try:
            return self._deps.tokens.verify(
                token, call.action.name, call.account, self._deps.environment, call.arguments, call.caller.subject
            )
        except ConfirmationRefused as exc:
            raise await self._audit.refused(call, exc) from None

    async def compare(self, call: ConfirmedCall, verified: VerifiedToken, draft: Draft[Any]) -> None:
        """Refuse (audited) unless the fresh plan depends on the same positions and sends the same."""
        try:
            verified.check_positions(draft.scope)
            verified.check_plan(draft.sends)
        except ConfirmationRefused as exc:
            raise await self._audit.refused(call, exc) from None

    async def gone(self, call: ConfirmedCall, verified: VerifiedToken) -> None:
        """What the token approved can no longer be planned: refuse saying what changed (audited),
        unless nothing did."""
        try:
            verified.check_positions([])
        except ConfirmationRefused as changed:
            raise await self._audit.refused(call, changed) from None
