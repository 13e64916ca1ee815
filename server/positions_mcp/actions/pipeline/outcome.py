"""The outcome line: what became of a request that may have left (sent / partial / rejected /
unknown / not sent / error, request_id, ids), written to the audit log and to the ledger's record
of the submission, then said to the person.

Runs inside the shielded send. A failure to write either record is reported (a warning appended
to the result) but never hides what was sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...clearstreet.errors import ClearStreetError
from ..action_errors import ActionError
from .declaration import Call, Sent, StateChange
from .single_use import LedgerSteps
from .write_ahead import WriteAhead

__all__ = ["OutcomeLine"]


class OutcomeLine:
    def __init__(self, audit: WriteAhead, ledger: LedgerSteps) -> None:
        self._audit = audit
        self._ledger = ledger

    async def report(
        self,
        call: Call[StateChange[Any]],
        answered: Sent | ClearStreetError,
        *,
        failure: Callable[[ClearStreetError], tuple[str, str]],
        detail: Any,
        submission: int | None,
    ) -> tuple[Sent, str]:
        """Record what the upstream answered: ``(sent, warning)``, or for a failure raise the
        ActionError saying it (``failure``: the action's ``(outcome, message)`` for it). ``detail``:
        what a success line records; ``submission``: the ledger's record to complete (None: the
        action keeps none)."""
        if isinstance(answered, ClearStreetError):
            outcome, message = failure(answered)
            warning = await self._write(
                call, outcome, submission, getattr(answered, "request_id", None), (), message,
                getattr(answered, "status_code", None),
            )  # fmt: skip
            raise ActionError(message + warning) from answered
        warning = await self._write(call, answered.outcome, submission, answered.request_id, answered.ids, detail, None)
        return answered, warning

    async def _write(
        self,
        call: Call[StateChange[Any]],
        outcome: str,
        submission: int | None,
        request_id: str | None,
        ids: Sequence[str],
        detail: Any,
        status: int | None,
    ) -> str:
        warning = await self._audit.line(
            call, "outcome", outcome, ids=ids, after_send=True, request_id=request_id, detail=detail
        )
        if submission is not None:  # with the HTTP status of a failure
            warning += await self._ledger.completed(submission, outcome, ids, status)
        return warning
