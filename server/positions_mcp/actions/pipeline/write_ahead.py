"""The write-ahead audit: every line the pipeline writes, on disk before the call goes on.

An intent line (time, tool, account, environment, arguments, keys, preview digest) is synced
before a request may leave; if it cannot be written nothing is sent. A line written after the
request left (``after_send``) never hides what was sent: a failure to write it becomes a warning
appended to the result. Keys and ids go to the column the action declares (``audit_ids``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...safety.identity import Caller
from ...safety.tokens import ConfirmationRefused
from ..action_errors import NOTHING_SENT, ActionError, Refused
from .declaration import Call, StateChange

if TYPE_CHECKING:
    from ..dependencies import Dependencies

__all__ = ["WriteAhead"]

logger = logging.getLogger("positions_mcp.actions.pipeline")


class WriteAhead:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps  # the log is opened on first use (``Dependencies.audit``)

    async def write(
        self,
        event: str,
        tool: str,
        account: int | None,
        arguments: dict[str, Any],
        outcome: str,
        *,
        caller: Caller,
        after_send: bool = False,
        **fields: Any,
    ) -> str:
        """One JSON line, on disk (flushed and synced) before the caller goes on.

        If it cannot be written before a send, nothing is sent: an ActionError says so. Once a
        request has gone (``after_send``), the outcome is still reported, with a warning (returned,
        to append to the result) instead of hiding what was done."""
        audit = self._deps.audit
        try:
            await audit.arecord(
                event,
                tool=tool,
                account_id=account,
                environment=self._deps.environment,
                arguments=arguments,
                outcome=outcome,
                caller=caller.audited,
                **fields,
            )
        except OSError as exc:
            logger.error("audit log %s could not be written: %s", audit.path, exc)
            reason = exc.strerror or str(exc)
            if not after_send:
                raise ActionError(
                    f"Refused (AUDIT_UNAVAILABLE): the audit log {audit.path} cannot be written ({reason}), so "
                    f"nothing may be sent. {NOTHING_SENT} Fix POSITIONS_MCP_AUDIT_LOG and try again."
                ) from None
            return f" WARNING: this {event} could not be written to the audit log ({reason})."
        return ""

    async def line(
        self,
        call: Call[StateChange[Any]],
        event: str,
        outcome: str,
        *,
        keys: Sequence[str] | None = (),
        ids: Sequence[str] = (),
        after_send: bool = False,
        **fields: Any,
    ) -> str:
        """A line about ``call``, named for the tool called; ``keys`` and ``ids`` go to the column
        the action declares."""
        return await self.write(
            event,
            call.tool,
            call.account,
            call.arguments,
            outcome,
            caller=call.caller,
            after_send=after_send,
            **{call.action.audit_ids: [*(keys or ()), *ids]},
            **fields,
        )

    async def intent(
        self, call: Call[StateChange[Any]], *, keys: Sequence[str] | None = (), detail: Any = None
    ) -> None:
        """The intent line: on disk before anything is sent (else ActionError, nothing sent)."""
        await self.line(call, "intent", "sending", keys=keys, detail=detail)

    async def refuse(
        self, tool: str, account: int | None, arguments: dict[str, Any], reason: str, message: str, caller: Caller
    ) -> Refused:
        """Record a refusal and return the error to raise. Nothing reaches the upstream."""
        await self.write("refusal", tool, account, arguments, reason, caller=caller, detail=message)
        return Refused(reason, message)

    async def refusal(
        self, call: Call[StateChange[Any]], reason: str, message: str, *, tool: str | None = None
    ) -> Refused:
        """A refusal of ``call``, named for the tool called unless ``tool`` says otherwise."""
        return await self.refuse(tool or call.tool, call.account, call.arguments, reason, message, call.caller)

    async def refused(self, call: Call[StateChange[Any]], exc: ConfirmationRefused) -> Refused:
        """A refusal by the confirmation (token) checks."""
        return await self.refusal(call, exc.reason_code.value, exc.message)
