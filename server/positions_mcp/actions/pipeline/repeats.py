"""Repeat detection: a request identical to one sent within 15 minutes (same account, action and
request, keys aside: ``ConfirmedAction.request``) is planned knowing of it, named to the person
(``ConfirmedAction.repeat_notice``: what is known of it, what a yes does now), and never sent on a
confirmation given before it happened (two previews, or two questions, racing).

The window and the record live in the ledger (``safety.ledger``); this is the pipeline's reading
of it.
"""

from __future__ import annotations

import hashlib
from typing import Any, NoReturn

from ...safety.ledger import Submission
from ...safety.tokens import VerifiedToken, canonical_arguments
from ..earlier import when
from .declaration import Call, ConfirmedAction, Draft
from .single_use import LedgerSteps
from .write_ahead import WriteAhead

__all__ = ["Repeats"]

ConfirmedCall = Call[ConfirmedAction[Any, Any]]


class Repeats:
    def __init__(self, ledger: LedgerSteps, audit: WriteAhead) -> None:
        self._ledger = ledger
        self._audit = audit

    @staticmethod
    def digest(call: ConfirmedCall) -> str:
        """What makes two requests identical: the digest of the request without its keys."""
        return hashlib.sha256(canonical_arguments(call.action.request(call.args)).encode()).hexdigest()

    async def recent(self, call: ConfirmedCall) -> Submission | None:
        """The latest identical request sent within the repeat window, if any."""
        return await self._ledger.recent(call, self.digest(call))

    @staticmethod
    def notice(call: ConfirmedCall, repeat: Submission | None, draft: Draft[Any]) -> str | None:
        """How the preview and the question name the repeat (None: there is none)."""
        return call.action.repeat_notice(repeat, draft) if repeat else None

    async def check_shown(self, call: ConfirmedCall, verified: VerifiedToken, repeat: Submission | None) -> None:
        """Refuse when an identical request was sent after this preview was made: the person was
        never told this would repeat it (two previews, or two questions, racing)."""
        if repeat is None or repeat.id <= verified.repeat_of:
            return
        raise await self._audit.refusal(
            call,
            "REPEAT_NOT_SHOWN",
            f"an identical {call.action.name} was started at {when(repeat)}, after this preview was made, so the "
            "person never saw that this would repeat it. Preview again: the new preview names the repeat and "
            "what is known of it.",
        )

    async def raced(self, call: ConfirmedCall, verified: VerifiedToken) -> NoReturn:
        """An identical request was recorded between this call's check and its own record: refuse,
        naming it when it can be read."""
        await self.check_shown(call, verified, await self.recent(call))
        raise await self._audit.refusal(call, "REPEAT_NOT_SHOWN", f"an identical {call.action.name} was just sent.")
