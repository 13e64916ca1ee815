"""State changes behind previews and confirmation (DESIGN section 5), without MCP.

Every close and every instruction batch goes: preview (a plan computed from fresh positions, a
fingerprint of those positions, a single-use signed token) → an informed human yes (the token, or
the person's answer to an elicitation) → execution, which re-reads the positions and refuses if
they changed. Every preview, execution and refusal is written to the audit log before the caller
sees the outcome.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ..clearstreet.errors import APIStatusError, ClearStreetError, OutcomeUnknownError
from ..clearstreet.models import APIError, Order, Position, PositionInstruction, SecurityType
from ..domain.closing import ClosePlan, close_scope, plan_close_position, plan_close_positions
from ..domain.instructions import InstructionInput, InstructionPlan, plan_instructions
from ..domain.resolve import ResolveError
from ..safety.audit import AuditLog
from ..safety.tokens import (
    ConfirmationRefused,
    ConfirmationTokens,
    RedeemedToken,
    arguments_digest,
    positions_fingerprint,
    token_digest,
)
from ..settings import ConfirmationMode
from .reads import PositionsService, ServiceError, describe_upstream, upstream_errors
from .views import Result

logger = logging.getLogger(__name__)

CloseTool = Literal["close_position", "close_positions"]
ConfirmedBy = Literal["confirmation_token", "elicitation"]

NEXT_STEP = (
    "Show this preview (summary, warnings and notes) to the person and ask for an explicit yes. "
    "Only after that yes, call {tool} with the same arguments and this confirmation_token (if "
    "the client can ask the person, the server asks them itself). If the person says no, do nothing."
)


_CANCEL_FAILURES = {
    404: "No instruction with that id in this account. Pass the instruction's server 'id' (a UUID "
    "from get_position_instructions or the submit result), not its client_instruction_id.",
    409: "Nothing to cancel: the instruction is already final (ACCEPTED, REJECTED or CANCELLED). "
    "get_position_instructions shows its status.",
}


class ClosePreview(Result):
    """What a close would send, and the token that allows exactly that once."""

    plan: ClosePlan
    confirmation_token: str | None = Field(
        description="Pass to the execution tool after the person's yes; None when the close is blocked"
    )
    expires_at: datetime | None = None
    next_step: str


class InstructionPreview(Result):
    """What an instruction batch would submit, with the idempotency keys it will use."""

    plan: InstructionPlan
    confirmation_token: str | None = Field(
        description="Pass to submit_position_instructions after the person's yes; None when a row is blocked"
    )
    expires_at: datetime | None = None
    next_step: str


class CloseExecution(Result):
    """The closing orders Clear Street created."""

    orders: list[Order]
    request_id: str | None = None
    confirmed_by: ConfirmedBy
    summary: str


class SubmitExecution(Result):
    """Every row of the batch: SENT, or REJECTED with its reason (HTTP 207 is a partial success)."""

    http_status: int
    instructions: list[PositionInstruction]
    error: APIError | None = None
    request_id: str | None = None
    confirmed_by: ConfirmedBy
    summary: str


class CancelExecution(Result):
    """The instruction after the cancel request (CANCEL_REQUESTED; the final state comes later)."""

    instruction: PositionInstruction
    request_id: str | None = None
    already_final: bool = False


@dataclass(frozen=True)
class Approval:
    """How the human said yes: a token to redeem, or an answered elicitation on this preview."""

    token: str | None = None
    elicited: ClosePreview | InstructionPreview | None = None

    @property
    def confirmed_by(self) -> ConfirmedBy:
        return "elicitation" if self.elicited is not None else "confirmation_token"


class _PreviewCache:
    """Previews shown in an elicitation, kept while the question may be asked again.

    In the 2026-07-28 protocol a tool call that elicits runs twice (ask, then resume with the
    answer); the preview must be the same both times, so the answer applies to what was shown
    and the idempotency keys stay the same. Keyed by tool, account, arguments and fingerprint.
    """

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        self._items: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> Any:
        now = _time.monotonic()
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            entry = self._items.get(key)
        return entry[1] if entry is not None else None

    def forget(self, value: Any) -> None:
        """Drop ``value`` once its token is spent: the next question needs a fresh preview."""
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[1] is not value}

    def put(self, key: tuple[str, ...], value: Any) -> Any:
        """Store ``value`` unless a concurrent call stored one first; return the stored one."""
        with self._lock:
            return self._items.setdefault(key, (_time.monotonic() + self._ttl, value))[1]


class Actions:
    def __init__(self, service: PositionsService, tokens: ConfirmationTokens, audit: AuditLog) -> None:
        self.service = service
        self.tokens = tokens
        self.audit = audit
        self._elicited = _PreviewCache(tokens.ttl_seconds)

    @property
    def environment(self) -> str:
        return self.service.environment

    def _next_step(self, tool: str) -> str:
        if self.service.settings.confirmation is ConfirmationMode.ELICITATION:
            return (
                f"Show this preview to the person. Calling {tool} with the same arguments makes the "
                "server ask them directly; a token alone is never enough in this server's mode."
            )
        return NEXT_STEP.format(tool=tool)

    async def _audit(
        self,
        event: str,
        tool: str,
        account: int | None,
        arguments: dict[str, Any],
        outcome: str,
        *,
        after_send: bool = False,
        **kw: Any,
    ) -> str:
        """One JSON line, on disk (flushed and synced) before the caller sees the outcome.

        If the line cannot be written, nothing goes upstream: a ServiceError says so. Once a
        request has gone upstream (``after_send``), its outcome is still reported, with a
        warning (returned, to append to the result) instead of hiding what was done."""
        try:
            await self.audit.arecord(
                event,
                tool=tool,
                account_id=account,
                environment=self.environment,
                arguments=arguments,
                outcome=outcome,
                **kw,
            )
        except OSError as exc:
            logger.error("audit log %s could not be written: %s", self.audit.path, exc)
            if not after_send:
                raise ServiceError(
                    f"The audit log {self.audit.path} cannot be written ({exc.strerror or exc}), so "
                    "nothing was sent. Fix POSITIONS_MCP_AUDIT_LOG and try again."
                ) from None
            return f" WARNING: this {event} could not be written to the audit log ({exc.strerror or exc})."
        return ""

    async def refuse(
        self, tool: str, account: int | None, arguments: dict[str, Any], reason: str, message: str
    ) -> ServiceError:
        """Record a refusal and return the error to raise. Nothing reaches the upstream."""
        await self._audit("refusal", tool, account, arguments, reason, detail=message)
        sent = "" if "Nothing was sent" in message else " Nothing was sent."
        return ServiceError(f"Refused ({reason}): {message}{sent}")

    async def account(self, tool: str, account_id: int | None, arguments: dict[str, Any]) -> int:
        """The account the call acts on; a policy refusal (allowlist, no default) is audited."""
        try:
            return self.service.account(account_id)
        except ServiceError as exc:
            reason = "NO_ACCOUNT" if account_id is None else "ACCOUNT_NOT_ALLOWED"
            raise await self.refuse(tool, account_id, arguments, reason, str(exc)) from None

    # ----------------------------------------------------------------- closes

    @staticmethod
    def close_arguments(instrument_id: str | None, cancel_orders: bool) -> dict[str, Any]:
        arguments: dict[str, Any] = {"cancel_orders": cancel_orders}
        if instrument_id is not None:
            arguments["instrument_id"] = instrument_id
        return arguments

    def _close_plan(
        self, positions: list[Position], account: int, instrument_id: str | None, cancel_orders: bool
    ) -> ClosePlan:
        settings = self.service.settings
        now = self.service.backend.clock()
        if instrument_id is None:
            return plan_close_positions(
                positions, cancel_orders=cancel_orders, now=now, max_close_notional=settings.max_close_notional
            )
        return plan_close_position(
            positions,
            instrument_id,
            cancel_orders=cancel_orders,
            now=now,
            max_close_notional=settings.max_close_notional,
            account_id=account,
        )

    async def preview_close(
        self,
        tool: CloseTool,
        account_id: int | None,
        instrument_id: str | None,
        cancel_orders: bool,
        positions: list[Position] | None = None,
    ) -> ClosePreview:
        """Plan a close from fresh positions (read now unless given) and issue the token that
        allows it once."""
        preview_tool = f"preview_{tool}"
        arguments = self.close_arguments(instrument_id, cancel_orders)
        account = await self.account(preview_tool, account_id, arguments)
        if positions is None:
            _, positions = await self.service.all_positions(account)
        try:
            plan = self._close_plan(positions, account, instrument_id, cancel_orders)
        except ResolveError as exc:
            raise await self.refuse(preview_tool, account, arguments, exc.code.value, exc.message) from None
        scope = close_scope(positions, instrument_id)
        token = None
        if plan.allowed:
            token = self.tokens.issue(
                tool, account, self.environment, arguments, positions_fingerprint(scope), positions=scope
            )
        await self._audit(
            "preview",
            preview_tool,
            account,
            arguments,
            "ready" if plan.allowed else "blocked",
            detail={"summary": plan.summary, "confirmation": token_digest(token) if token else None},
        )
        return ClosePreview(
            environment=self.environment,
            account_id=account,
            plan=plan,
            confirmation_token=token,
            expires_at=self.tokens.expires_at(token) if token else None,
            next_step=self._next_step(tool) if token else "Nothing can be sent: see plan.blocked.",
        )

    async def preview_close_for_question(
        self, tool: CloseTool, account_id: int | None, instrument_id: str | None, cancel_orders: bool
    ) -> ClosePreview:
        """The preview an elicitation shows: the same object again while positions are unchanged."""
        arguments = self.close_arguments(instrument_id, cancel_orders)
        account = await self.account(tool, account_id, arguments)
        _, positions = await self.service.all_positions(account)
        try:
            scope = close_scope(positions, instrument_id)
        except ResolveError:  # no such position: preview_close refuses, audited, saying what to pass
            return await self.preview_close(tool, account, instrument_id, cancel_orders, positions)
        fingerprint = positions_fingerprint(scope)
        digest = arguments_digest(arguments)
        key = (tool, str(account), digest, fingerprint)
        cached = self._elicited.get(key)
        if cached is None:
            preview = await self.preview_close(tool, account, instrument_id, cancel_orders, positions)
            cached = self._elicited.put(key, preview)
        return cached

    async def _redeem(self, token: str | None, tool: str, account: int, arguments: dict[str, Any]) -> RedeemedToken:
        try:
            return self.tokens.redeem(token, tool, account, self.environment, arguments)
        except ConfirmationRefused as exc:
            raise await self.refuse(tool, account, arguments, exc.reason_code.value, str(exc.message)) from None

    async def execute_close(
        self,
        tool: CloseTool,
        account_id: int | None,
        instrument_id: str | None,
        cancel_orders: bool,
        approval: Approval,
    ) -> CloseExecution:
        arguments = self.close_arguments(instrument_id, cancel_orders)
        account = await self.account(tool, account_id, arguments)
        redeemed = None
        if approval.elicited is None:
            redeemed = await self._redeem(approval.token, tool, account, arguments)  # spent here
        _, positions = await self.service.all_positions(account)
        try:
            scope = close_scope(positions, instrument_id)
        except ResolveError:  # the previewed position is gone: the check below says so
            scope = []
        await self._check_unchanged(tool, account, arguments, scope, redeemed, approval)
        try:
            plan = self._close_plan(positions, account, instrument_id, cancel_orders)
        except ResolveError as exc:
            raise await self.refuse(tool, account, arguments, exc.code.value, exc.message) from None
        if not plan.allowed:
            raise await self.refuse(tool, account, arguments, "BLOCKED", plan.why_blocked())
        client = await self.service.backend.client()
        try:
            if instrument_id is None:
                result = await client.close_positions(account, cancel_orders=cancel_orders)
            else:
                result = await client.close_position(account, plan.orders[0].instrument_id, cancel_orders=cancel_orders)
        except ClearStreetError as exc:
            outcome = "unknown" if isinstance(exc, OutcomeUnknownError) else "error"
            warning = await self._audit(
                "execution",
                tool,
                account,
                arguments,
                outcome,
                after_send=True,
                request_id=getattr(exc, "request_id", None),
                detail=describe_upstream(exc),
            )
            raise ServiceError(describe_upstream(exc) + warning) from exc
        order_ids = [order.id for order in result.orders]
        summary = (
            f"{len(result.orders)} closing order(s) created: "
            + ", ".join(f"{o.side} {o.quantity} {o.symbol} ({o.status})" for o in result.orders)
            if result.orders
            else "Clear Street created no closing order."
        )
        summary += await self._audit(
            "execution",
            tool,
            account,
            arguments,
            "sent",
            after_send=True,
            request_id=result.request_id,
            order_ids=order_ids,
            detail=approval.confirmed_by,
        )
        return CloseExecution(
            environment=self.environment,
            account_id=account,
            orders=result.orders,
            request_id=result.request_id,
            confirmed_by=approval.confirmed_by,
            summary=summary,
        )

    async def _check_unchanged(
        self,
        tool: str,
        account: int,
        arguments: dict[str, Any],
        scope: Sequence[Position],
        redeemed: RedeemedToken | None,
        approval: Approval,
    ) -> None:
        try:
            if redeemed is not None:
                redeemed.check_positions(scope)
            elif approval.elicited is not None and approval.elicited.confirmation_token is not None:
                # The approved preview's own token carries its fingerprint and projection: spend it.
                self._elicited.forget(approval.elicited)
                self.tokens.redeem(
                    approval.elicited.confirmation_token, tool, account, self.environment, arguments
                ).check_positions(scope)
        except ConfirmationRefused as exc:
            raise await self.refuse(tool, account, arguments, exc.reason_code.value, str(exc.message)) from None

    # ---------------------------------------------------------- instructions

    @staticmethod
    def instruction_arguments(rows: Sequence[InstructionInput]) -> dict[str, Any]:
        return {"instructions": [row.model_dump(mode="json", exclude_none=True) for row in rows]}

    async def _instruction_plan(
        self, account: int, rows: Sequence[InstructionInput], positions: list[Position] | None = None
    ) -> tuple[InstructionPlan, list[Position]]:
        if positions is None:
            _, positions = await self.service.all_positions(account)
        async with upstream_errors():
            client = await self.service.backend.client()
            existing = (await client.get_position_instructions(account)).instructions
        plan = plan_instructions(positions, rows, now=self.service.backend.clock(), existing=existing)
        return plan, positions

    @staticmethod
    def _instruction_scope(plan: InstructionPlan, positions: Sequence[Position]) -> list[Position]:
        ids = set(plan.instrument_ids)
        return [p for p in positions if p.instrument_id in ids]

    async def preview_instructions(
        self,
        account_id: int | None,
        rows: Sequence[InstructionInput],
        positions: list[Position] | None = None,
    ) -> InstructionPreview:
        tool = "submit_position_instructions"
        preview_tool = "preview_submit_position_instructions"
        arguments = self.instruction_arguments(rows)
        account = await self.account(preview_tool, account_id, arguments)
        plan, positions = await self._instruction_plan(account, rows, positions)
        token = None
        if plan.ready:
            scope = self._instruction_scope(plan, positions)
            token = self.tokens.issue(
                tool,
                account,
                self.environment,
                arguments,
                positions_fingerprint(scope),
                positions=scope,
                instruction_keys=plan.instruction_keys,
            )
        await self._audit(
            "preview",
            preview_tool,
            account,
            arguments,
            "ready" if plan.ready else "blocked",
            instruction_ids=plan.instruction_keys,
            detail={"summary": plan.summary, "confirmation": token_digest(token) if token else None},
        )
        return InstructionPreview(
            environment=self.environment,
            account_id=account,
            plan=plan,
            confirmation_token=token,
            expires_at=self.tokens.expires_at(token) if token else None,
            next_step=self._next_step(tool)
            if token
            else "Nothing can be submitted: fix or drop the BLOCKED rows and preview again.",
        )

    async def preview_instructions_for_question(
        self, account_id: int | None, rows: Sequence[InstructionInput]
    ) -> InstructionPreview:
        arguments = self.instruction_arguments(rows)
        account = await self.account("submit_position_instructions", account_id, arguments)
        _, positions = await self.service.all_positions(account)
        digest = arguments_digest(arguments)
        options = [p for p in positions if p.instrument_type == SecurityType.OPTION]
        key = ("submit_position_instructions", str(account), digest, positions_fingerprint(options))
        cached = self._elicited.get(key)
        if cached is None:
            preview = await self.preview_instructions(account, rows, positions)
            cached = self._elicited.put(key, preview)
        return cached

    async def execute_instructions(
        self, account_id: int | None, rows: Sequence[InstructionInput], approval: Approval
    ) -> SubmitExecution:
        tool = "submit_position_instructions"
        arguments = self.instruction_arguments(rows)
        account = await self.account(tool, account_id, arguments)
        if approval.elicited is not None:
            approved = approval.elicited
            assert isinstance(approved, InstructionPreview)
            redeemed = None
            keys = approved.plan.instruction_keys
        else:
            redeemed = await self._redeem(approval.token, tool, account, arguments)  # spent here
            keys = list(redeemed.instruction_keys or ())
        keyed = [
            row if row.instruction_id else row.model_copy(update={"instruction_id": key})
            for row, key in zip(rows, keys, strict=True)
        ]
        plan, positions = await self._instruction_plan(account, keyed)
        await self._check_unchanged(
            tool, account, arguments, self._instruction_scope(plan, positions), redeemed, approval
        )
        if not plan.ready:
            raise await self.refuse(tool, account, arguments, "BLOCKED", plan.why_blocked())
        client = await self.service.backend.client()
        try:
            result = await client.submit_position_instructions(account, plan.requests())
        except ClearStreetError as exc:
            message = describe_upstream(exc)
            if isinstance(exc, OutcomeUnknownError):
                message = (
                    f"OUTCOME UNKNOWN: {exc}. Check get_position_instructions before anything else. "
                    f"To retry safely, preview again passing these instruction_id keys so a duplicate "
                    f"is refused rather than exercised twice: {', '.join(plan.instruction_keys)}."
                )
            elif isinstance(exc, APIStatusError) and exc.rows:
                message += " Rows: " + "; ".join(
                    f"{row.client_instruction_id}: {row.status} {row.rejection_reason or ''}".strip()
                    for row in exc.rows
                )
            message += await self._audit(
                "execution",
                tool,
                account,
                arguments,
                "unknown" if isinstance(exc, OutcomeUnknownError) else "rejected",
                after_send=True,
                request_id=getattr(exc, "request_id", None),
                instruction_ids=plan.instruction_keys,
                detail=message,
            )
            raise ServiceError(message) from exc
        sent = [row for row in result.instructions if row.persisted]
        summary = f"{len(sent)} of {len(result.instructions)} instruction(s) accepted for processing (HTTP {result.status_code})."
        summary += await self._audit(
            "execution",
            tool,
            account,
            arguments,
            "sent" if result.status_code == 200 else "partial",
            after_send=True,
            request_id=result.request_id,
            instruction_ids=[row.id for row in sent] + plan.instruction_keys,
            detail=approval.confirmed_by,
        )
        return SubmitExecution(
            environment=self.environment,
            account_id=account,
            http_status=result.status_code,
            instructions=result.instructions,
            error=result.error,
            request_id=result.request_id,
            confirmed_by=approval.confirmed_by,
            summary=summary,
        )

    async def cancel_instruction(self, account_id: int | None, instruction_id: str) -> CancelExecution:
        tool = "cancel_position_instruction"
        arguments = {"instruction_id": instruction_id}
        account = await self.account(tool, account_id, arguments)
        client = await self.service.backend.client()
        try:
            result = await client.cancel_position_instruction(account, instruction_id)
        except APIStatusError as exc:
            message = _CANCEL_FAILURES.get(exc.status_code, describe_upstream(exc))
            if exc.status_code in _CANCEL_FAILURES:
                message = (
                    f"{message} (Clear Street {exc.status_code}: {exc.message}; request_id {exc.request_id or 'none'})"
                )
            warning = await self._audit(
                "execution",
                tool,
                account,
                arguments,
                "error",
                after_send=True,
                request_id=exc.request_id,
                detail=message,
            )
            raise ServiceError(message + warning) from exc
        except ClearStreetError as exc:
            warning = await self._audit(
                "execution",
                tool,
                account,
                arguments,
                "error",
                after_send=True,
                request_id=getattr(exc, "request_id", None),
                detail=describe_upstream(exc),
            )
            raise ServiceError(describe_upstream(exc) + warning) from exc
        await self._audit(  # a failure to write is logged; the cancel went out regardless
            "execution",
            tool,
            account,
            arguments,
            "cancel_requested" if not result.already_final else "already_final",
            after_send=True,
            request_id=result.request_id,
            instruction_ids=[result.instruction.id],
        )
        return CancelExecution(
            environment=self.environment,
            account_id=account,
            instruction=result.instruction,
            request_id=result.request_id,
            already_final=result.already_final,
        )
