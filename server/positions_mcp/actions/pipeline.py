"""The one confirmed-action pipeline (the confirmation model README.md describes), written once for every state change.

An action (close one position, close them all, submit instructions, …) declares itself as a
:class:`ConfirmedAction`: its arguments, how to plan it from fresh positions (:meth:`draft`), how to
send it, and how to say it to a person. :class:`Pipeline` does the rest, the same way for all:

    arguments → account policy → plan from fresh positions → the human yes (the preview's token,
    or the person's answer to the server's question) → spend the token in the ledger → re-read and
    compare → write-ahead audit → send within the deadline → outcome audit → result

Invariants it keeps:

* **The previewed plan is the executed plan**, in every route. A token binds the tool, account,
  environment, canonical arguments, the idempotency keys its preview assigned and a fingerprint of
  the positions the plan was computed from; execution plans again from fresh positions *with the
  token's keys* and refuses when the fingerprint moved. When the server asks the person itself, the
  question is built from a token too (the call's own, or one issued for the question), so the keys
  the person saw are the keys sent.
* **Repeats are recognised.** A request identical to one sent within 15 minutes (same account,
  action and rows, keys aside) is planned knowing of it (``ConfirmedAction.draft``'s ``earlier``):
  an instruction batch reuses its idempotency keys — Clear Street then answers with the original
  instruction, reported as such — unless that instruction was cancelled; and every preview and
  question says what is known of it (:mod:`.earlier`: sent, refused, or not known), when, with
  which ids.
* **Single use is durable**: the token's nonce is spent in the ledger (one atomic insert shared by
  every process, kept across restarts) before anything is sent; every failure after that says the
  confirmation is used up (``ActionError.after_spend``, in :meth:`Pipeline.execute` alone).
* **Write-ahead audit**: an intent line (time, tool, account, environment, arguments, keys, preview
  digest) is on disk (fsync) before the request leaves; if it cannot be written nothing is sent. An
  outcome line follows (sent / rejected / unknown / not sent, request_id, ids).
* **A deadline for every call** (POSITIONS_MCP_CALL_TIMEOUT): a state change is sent only when enough
  of it remains for the request's own timeout, and once sent it is never abandoned: its outcome is
  audited and reported even if the deadline passes meanwhile.

Nothing here knows MCP: the surface turns an :class:`ActionError` into a tool error, and carries the
:class:`Question` to the person in whichever protocol era the client speaks.
"""

from __future__ import annotations

import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field

from ..clearstreet.errors import (
    APIStatusError,
    ClearStreetConnectionError,
    ClearStreetError,
    DeadlineExceededError,
    OutcomeUnknownError,
)
from ..safety.ledger import LedgerError, Submission
from ..safety.policy import PolicyError
from ..safety.tokens import (
    ConfirmationRefused,
    VerifiedToken,
    already_used,
    canonical_arguments,
    positions_fingerprint,
    token_digest,
)
from ..settings import ConfirmationMode
from .dependencies import Dependencies
from .earlier import earlier_attempt, when
from .errors import NOTHING_SENT, ActionError, OutOfTime, Refused, describe_upstream
from .reads import Reads
from .views import Result

if TYPE_CHECKING:
    from ..clearstreet.client import ClearStreetClient
    from ..clearstreet.models import Position

__all__ = [
    "Answer",
    "CannotPlan",
    "ConfirmedAction",
    "ConfirmedBy",
    "Draft",
    "Execution",
    "Pipeline",
    "Preview",
    "Question",
    "Sent",
]

logger = logging.getLogger(__name__)

ArgsT = TypeVar("ArgsT")
PlanT = TypeVar("PlanT", bound=BaseModel)
ConfirmedBy = Literal["confirmation_token", "elicitation"]

_NEXT_STEP = (
    "Show this preview (summary, every warning in the plan, repeat_of and notes when present) to the person "
    "and ask for an explicit yes. "
    "Only after that yes, call {tool} with the same arguments and this confirmation_token (if "
    "the client can ask the person, the server asks them itself). If the person says no, do nothing."
)
_BLOCKED_STEP = "Nothing can be sent: the plan says what is blocked. Fix that and preview again."
_CANNOT_ASK_STEP = (
    "Nothing previewed here can be executed from this client: this server confirms only by asking "
    "the person itself (POSITIONS_MCP_CONFIRMATION=elicitation), and this client cannot show its "
    "question. Use a client that supports elicitation, or ask whoever runs the server for token mode."
)
_NEXT_STEP_ELICITATION = (
    "Show this preview to the person. Calling {tool} with the same arguments makes the server ask "
    "them directly; a token alone is never enough in this server's mode."
)


# ---------------------------------------------------------------------------------- results


class Preview(Result, Generic[PlanT]):
    """What an action would send, and the single-use token that allows exactly that."""

    plan: PlanT
    confirmation_token: str | None = Field(
        description="Pass to the execution tool after the person's yes; None when nothing can be sent"
    )
    expires_at: datetime | None = None
    repeat_of: str | None = Field(
        None,
        description="Set when an identical request was made in the last 15 minutes: what is known of it (sent, "
        "refused, or not known) and what a yes does now",
    )
    notes: list[str] = Field(
        default_factory=list, description="What could not be read from Clear Street, and what the plan assumed instead"
    )
    next_step: str


class Execution(Result):
    """What the upstream answered to a confirmed action."""

    confirmed_by: ConfirmedBy
    confirmation: str = Field(description="Digest of the confirmation that allowed it (also in the audit log)")
    request_id: str | None = None
    summary: str


# ---------------------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Draft(Generic[PlanT]):
    """An action planned from fresh positions: what it would send and what it depends on."""

    plan: PlanT
    scope: Sequence[Position]
    """The positions the plan depends on (fingerprinted: execution refuses if they moved)."""
    keys: tuple[str, ...] | None
    """The idempotency keys the plan assigned, in request order (None: the action has none)."""
    blocked: str | None
    """Why nothing can be sent, in one sentence; None when it can."""
    summary: str
    lines: Sequence[str]
    """One line per order or instruction: what the person approves."""
    sends: Sequence[str]
    """What would be sent, canonical and complete (every order or row): the token binds it, and
    execution refuses a fresh plan that sends anything else (``VerifiedToken.check_plan``)."""
    warnings: Sequence[str] = ()
    notes: Sequence[str] = ()
    """What the market data behind the plan lacked (an endpoint failed or was refused) and what the
    plan assumed instead: shown in the preview and in the question."""


class CannotPlan(Exception):
    """The request names nothing that can be planned (e.g. no such position): refused, audited."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(message)


class _Flag:
    """Set once; true afterwards (what a failed step had already done)."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def __bool__(self) -> bool:
        return self._set


@dataclass(frozen=True, slots=True)
class Sent:
    """What the upstream answered: the action's own result fields, and what the audit records."""

    fields: Mapping[str, Any]
    request_id: str | None
    ids: Sequence[str]
    outcome: str
    summary: str


@dataclass(frozen=True, slots=True)
class Question:
    """What the person is asked, and the token whose plan the question shows."""

    token: str
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Answer:
    """The person's raw reply to a question, read strictly: only ``{"confirm": true}`` is a yes."""

    action: str
    content: Any = None

    @classmethod
    def failed(cls, why: str) -> Answer:
        """No answer at all: the client could not put the question (an error instead of a reply)."""
        return cls("error", why)

    def refusal(self) -> tuple[str, str] | None:
        """``(reason, message)`` unless this is an explicit yes."""
        if self.action == "error":
            return "NO_ANSWER", f"The question got no answer from the person: {self.content}."
        if self.action != "accept":
            return "DECLINED", f"The person chose '{self.action}'."
        content = self.content
        if isinstance(content, Mapping) and set(content) == {"confirm"} and isinstance(content["confirm"], bool):
            return None if content["confirm"] else ("DECLINED", "The person did not confirm.")
        if content is None:
            shown = "an acceptance with no answer"
        else:
            shown = json.dumps(content, default=str, separators=(",", ":"))
            shown = shown if len(shown) <= 120 else shown[:119] + "…"
        return (
            "UNCLEAR_ANSWER",
            f"The answer was not an explicit yes: only confirm = true, with nothing else, counts; got {shown}.",
        )


class ConfirmedAction(ABC, Generic[ArgsT, PlanT]):
    """One state change, declared once. ``name`` is the executing tool; ``preview_name`` its preview."""

    name: ClassVar[str]
    preview_name: ClassVar[str]
    preview_model: ClassVar[type[Preview[Any]]]
    execution_model: ClassVar[type[Execution]]

    @abstractmethod
    def arguments(self, args: ArgsT) -> dict[str, Any]:
        """The arguments as the token binds them and the audit log records them."""

    def request(self, args: ArgsT) -> dict[str, Any]:
        """The request without idempotency keys: two requests equal here are repeats."""
        return self.arguments(args)

    @abstractmethod
    async def draft(
        self, reads: Reads, account: int, args: ArgsT, keys: Sequence[str] | None, earlier: Submission | None
    ) -> Draft[PlanT]:
        """Plan from fresh reads. ``keys``: the token's idempotency keys, for rows without their own
        (None: a preview, which assigns them). ``earlier``: an identical request sent within the
        repeat window, if any (its keys, what became of it), for the plan to take into account."""

    @abstractmethod
    async def send(
        self, client: ClearStreetClient, account: int, args: ArgsT, draft: Draft[PlanT], sent_before: Sequence[str]
    ) -> Sent:
        """The one upstream request. ``sent_before``: keys of an identical earlier submission."""

    def failure(self, exc: ClearStreetError, draft: Draft[PlanT]) -> tuple[str, str]:
        """``(outcome, message)`` for an upstream failure of :meth:`send`: ``not_sent`` when the
        request never left, ``rejected`` when Clear Street answered with an error status (the
        clients turn every answer that may have acted, a close's 5xx, into an unknown outcome),
        ``unknown`` when it may have acted."""
        if isinstance(exc, DeadlineExceededError) and not exc.sent:
            return "not_sent", describe_upstream(exc)
        if isinstance(exc, ClearStreetConnectionError) and not exc.request_sent:
            return "not_sent", describe_upstream(exc)
        if isinstance(exc, APIStatusError):
            return "rejected", describe_upstream(exc)
        return ("unknown" if isinstance(exc, OutcomeUnknownError) else "error"), describe_upstream(exc)

    def repeat_notice(self, repeat: Submission, draft: Draft[PlanT]) -> str:
        """How a preview and a question name a repeat of what was sent at ``repeat.sent_at``. It
        must say what is known of the earlier attempt (:func:`.earlier.earlier_attempt`) and what
        a yes does now, which depends on the earlier outcome and the fresh plan."""
        known = earlier_attempt(repeat, verb="sent", ids_label="ids", check="check the account before going on")
        return f"REPEAT: an identical {self.name} {known}; a yes sends it again."


# -------------------------------------------------------------------------------- pipeline


class Pipeline:
    def __init__(self, deps: Dependencies, reads: Reads) -> None:
        self.deps = deps
        self.reads = reads

    @property
    def environment(self) -> str:
        return self.deps.environment

    # -- the three entry points --------------------------------------------------------------

    async def preview(
        self, action: ConfirmedAction[ArgsT, PlanT], account_id: int | None, args: ArgsT, *, can_ask: bool = True
    ) -> Preview[PlanT]:
        """Plan from fresh positions and issue the token that allows exactly that plan once.
        ``can_ask``: whether this client can show the server's question; in elicitation mode a
        client that cannot gets the plan and no token (it could never be used)."""
        unusable = self.deps.settings.confirmation is ConfirmationMode.ELICITATION and not can_ask
        arguments = action.arguments(args)
        account = await self.account(action.preview_name, account_id, arguments)
        async with self.deps.deadline(f"preparing {action.preview_name}"):
            draft, repeat = await self._draft(action, account, args, None, action.preview_name)
        token = None
        if draft.blocked is None and not unusable:
            token = self.deps.tokens.issue(
                action.name,
                account,
                self.environment,
                arguments,
                positions_fingerprint(draft.scope),
                positions=list(draft.scope),
                instruction_keys=draft.keys,
                repeat_of=repeat.id if repeat else 0,
                sends=draft.sends,
            )
        notice = action.repeat_notice(repeat, draft) if repeat else None
        await self.audit(
            "preview",
            action.preview_name,
            account,
            arguments,
            "ready" if token else "blocked",
            instruction_ids=draft.keys or (),
            detail={"summary": draft.summary, "confirmation": token_digest(token) if token else None, "repeat": notice},
        )
        return action.preview_model(
            environment=self.environment,
            account_id=account,
            plan=draft.plan,
            confirmation_token=token,
            expires_at=self.deps.tokens.expires_at(token) if token else None,
            repeat_of=notice,
            notes=list(draft.notes),
            next_step=_CANNOT_ASK_STEP if unusable else self._next_step(action) if token else _BLOCKED_STEP,
        )

    async def question(
        self, action: ConfirmedAction[ArgsT, PlanT], account_id: int | None, args: ArgsT, token: str | None
    ) -> Question:
        """What to ask the person: the plan of ``token`` (the call's own), or of a token issued now
        for a plan from fresh positions. Refuses (audited) what could not be sent anyway."""
        arguments = action.arguments(args)
        account = await self.account(action.name, account_id, arguments)
        async with self.deps.deadline(f"preparing the question for {action.name}"):
            verified = None
            if token is not None:
                verified = await self._verify(action, token, account, arguments)
                if await self._ledger(action, account, arguments, self.deps.ledger.is_spent, verified.nonce):
                    raise await self._refuse_with(action.name, account, arguments, already_used(action.name))
            draft, repeat = await self._draft(
                action, account, args, verified.instruction_keys if verified else None, verified=verified
            )
        if draft.blocked is not None:
            raise await self.refuse(action.name, account, arguments, "BLOCKED", draft.blocked)
        fingerprint = positions_fingerprint(draft.scope)
        if verified is not None:
            await self._compare(action, account, arguments, verified, draft)
            await self._repeat_shown(action, account, arguments, verified, repeat)
            shown = token
        else:
            shown = self.deps.tokens.issue(
                action.name,
                account,
                self.environment,
                arguments,
                fingerprint,
                positions=list(draft.scope),
                instruction_keys=draft.keys,
                repeat_of=repeat.id if repeat else 0,
                sends=draft.sends,
            )
        assert shown is not None
        notice = action.repeat_notice(repeat, draft) if repeat else None
        text = self._question_text(action, account, draft, notice, token_digest(shown))
        await self.audit(
            "question",
            action.name,
            account,
            arguments,
            "asked",
            instruction_ids=draft.keys or (),
            detail={"summary": draft.summary, "confirmation": token_digest(shown), "repeat": notice},
        )
        return Question(token=shown, text=text)

    async def execute(
        self,
        action: ConfirmedAction[ArgsT, PlanT],
        account_id: int | None,
        args: ArgsT,
        token: str | None,
        answer: Answer | None = None,
    ) -> Execution:
        """Send what ``token``'s preview planned, after the person's yes (``answer``, when the
        server asked them; else the token itself is the yes)."""
        arguments = action.arguments(args)
        account = await self.account(action.name, account_id, arguments)
        confirmed_by: ConfirmedBy = "confirmation_token" if answer is None else "elicitation"
        if answer is not None and (refusal := answer.refusal()) is not None:
            raise await self.refuse(action.name, account, arguments, *refusal)
        token_spent = _Flag()
        try:
            try:
                return await self._execute(action, account, args, arguments, token, confirmed_by, token_spent)
            except OutOfTime as exc:  # before anything left (a send is shielded from the deadline): audited
                raise await self.refuse(action.name, account, arguments, "OUT_OF_TIME", str(exc)) from None
        except ActionError as exc:
            if token_spent:  # every failure after the spend says the confirmation is gone
                exc.after_spend(action.preview_name)
            raise

    async def _execute(
        self,
        action: ConfirmedAction[ArgsT, PlanT],
        account: int,
        args: ArgsT,
        arguments: dict[str, Any],
        token: str | None,
        confirmed_by: ConfirmedBy,
        token_spent: _Flag,
    ) -> Execution:
        async with self.deps.deadline(f"executing {action.name}"):
            verified = await self._verify(action, token, account, arguments)
            if not await self._ledger(action, account, arguments, self._spend, action, verified, account):
                raise await self._refuse_with(action.name, account, arguments, already_used(action.name))
            token_spent.set()
            draft, repeat = await self._draft(action, account, args, verified.instruction_keys, verified=verified)
            await self._compare(action, account, arguments, verified, draft)
            await self._repeat_shown(action, account, arguments, verified, repeat)
            if draft.blocked is not None:
                raise await self.refuse(action.name, account, arguments, "BLOCKED", draft.blocked)
            sent_before = repeat.keys if repeat is not None else ()
            submission = await self._ledger(
                action, account, arguments, self._record, action, args, account, draft, verified
            )
            if submission is None:  # an identical request was sent meanwhile: the person was not told
                await self._repeat_shown(
                    action, account, arguments, verified, await self._recent(action, account, args)
                )
                raise await self.refuse(
                    action.name, account, arguments, "REPEAT_NOT_SHOWN", f"an identical {action.name} was just sent."
                )
            try:
                await self.audit(
                    "intent",
                    action.name,
                    account,
                    arguments,
                    "sending",
                    instruction_ids=draft.keys or (),
                    detail={"confirmation": verified.digest, "confirmed_by": confirmed_by, "summary": draft.summary},
                )
            except ActionError:
                await self._ledger(action, account, arguments, self._complete, submission, "not_sent", ())
                raise
            return await self._send(
                action, account, args, arguments, draft, verified, confirmed_by, sent_before, submission
            )

    # -- refusals ----------------------------------------------------------------------------

    async def refuse(
        self, tool: str, account: int | None, arguments: dict[str, Any], reason: str, message: str
    ) -> Refused:
        """Record a refusal and return the error to raise. Nothing reaches the upstream."""
        await self.audit("refusal", tool, account, arguments, reason, detail=message)
        return Refused(reason, message)

    async def refuse_call(
        self, action: ConfirmedAction[ArgsT, Any], account_id: int | None, args: ArgsT, reason: str, message: str
    ) -> Refused:
        """Refuse a call before anything is planned (e.g. no way to ask the person); audited."""
        arguments = action.arguments(args)
        account = await self.account(action.name, account_id, arguments)
        return await self.refuse(action.name, account, arguments, reason, message)

    async def _refuse_with(
        self, tool: str, account: int | None, arguments: dict[str, Any], exc: ConfirmationRefused
    ) -> Refused:
        return await self.refuse(tool, account, arguments, exc.reason_code.value, exc.message)

    async def account(self, tool: str, account_id: int | None, arguments: dict[str, Any]) -> int:
        """The account the call acts on; a policy refusal (allowlist, no default) is audited."""
        try:
            return self.deps.account(account_id)
        except PolicyError as exc:
            reason = "NO_ACCOUNT" if account_id is None else "ACCOUNT_NOT_ALLOWED"
            raise await self.refuse(tool, account_id, arguments, reason, str(exc)) from None

    # -- steps -------------------------------------------------------------------------------

    async def _draft(
        self,
        action: ConfirmedAction[ArgsT, PlanT],
        account: int,
        args: ArgsT,
        keys: Sequence[str] | None,
        tool: str | None = None,
        verified: VerifiedToken | None = None,
    ) -> tuple[Draft[PlanT], Submission | None]:
        """Plan from fresh reads, knowing of an identical request sent within the repeat window (a
        preview without keys may reuse its keys, so a retry after a lost answer cannot act twice)."""
        repeat = await self._recent(action, account, args)
        try:
            return await action.draft(self.reads, account, args, keys, repeat), repeat
        except CannotPlan as exc:
            arguments = action.arguments(args)
            if verified is not None:  # what the token approved is gone: say what changed
                try:
                    verified.check_positions([])
                except ConfirmationRefused as changed:
                    raise await self._refuse_with(action.name, account, arguments, changed) from None
            raise await self.refuse(tool or action.name, account, arguments, exc.reason, exc.message) from None

    async def _recent(self, action: ConfirmedAction[ArgsT, Any], account: int, args: ArgsT) -> Submission | None:
        """The latest identical request sent within the repeat window, if any."""
        request = self._request_digest(action, args)
        return await self._ledger(  # type: ignore[no-any-return]
            action,
            account,
            action.arguments(args),
            lambda: self.deps.ledger.recent_submission(
                account=str(account), tool=action.name, request=request, now=self.deps.upstream.local_now()
            ),
        )

    def _request_digest(self, action: ConfirmedAction[ArgsT, Any], args: ArgsT) -> str:
        return hashlib.sha256(canonical_arguments(action.request(args)).encode()).hexdigest()

    async def _verify(
        self, action: ConfirmedAction[Any, Any], token: str | None, account: int, arguments: dict[str, Any]
    ) -> VerifiedToken:
        try:
            return self.deps.tokens.verify(token, action.name, account, self.environment, arguments)
        except ConfirmationRefused as exc:
            raise await self._refuse_with(action.name, account, arguments, exc) from None

    def _spend(self, action: ConfirmedAction[Any, Any], verified: VerifiedToken, account: int) -> bool:
        return self.deps.ledger.spend(
            verified.nonce, tool=action.name, account=str(account), at=self.deps.upstream.local_now()
        )

    def _record(
        self,
        action: ConfirmedAction[ArgsT, Any],
        args: ArgsT,
        account: int,
        draft: Draft[Any],
        verified: VerifiedToken,
    ) -> int | None:
        return self.deps.ledger.record_submission(
            account=str(account),
            tool=action.name,
            request=self._request_digest(action, args),
            keys=draft.keys or (),
            confirmation=verified.digest,
            at=self.deps.upstream.local_now(),
            newer_than=verified.repeat_of,
        )

    def _complete(self, submission: int, outcome: str, ids: Sequence[str], status: int | None = None) -> None:
        self.deps.ledger.complete_submission(submission, outcome=outcome, ids=list(ids), status=status)

    async def _ledger(
        self, action: ConfirmedAction[Any, Any], account: int, arguments: dict[str, Any], call: Any, *args: Any
    ) -> Any:
        """Run a ledger operation in a worker thread; a ledger that fails refuses the call (audited)."""
        try:
            return await anyio.to_thread.run_sync(call, *args)
        except LedgerError as exc:
            logger.error("%s", exc)
            raise await self.refuse(
                action.name,
                account,
                arguments,
                "LEDGER_UNAVAILABLE",
                f"{exc}, so single use cannot be guaranteed. Fix POSITIONS_MCP_LEDGER and try again.",
            ) from None

    async def _compare(
        self,
        action: ConfirmedAction[Any, Any],
        account: int,
        arguments: dict[str, Any],
        verified: VerifiedToken,
        draft: Draft[Any],
    ) -> None:
        try:
            verified.check_positions(draft.scope)
            verified.check_plan(draft.sends)
        except ConfirmationRefused as exc:
            raise await self._refuse_with(action.name, account, arguments, exc) from None

    async def _repeat_shown(
        self,
        action: ConfirmedAction[Any, Any],
        account: int,
        arguments: dict[str, Any],
        verified: VerifiedToken,
        repeat: Submission | None,
    ) -> None:
        """Refuse when an identical request was sent after this preview was made: the person was
        never told this would repeat it (two previews, or two questions, racing)."""
        if repeat is None or repeat.id <= verified.repeat_of:
            return
        raise await self.refuse(
            action.name,
            account,
            arguments,
            "REPEAT_NOT_SHOWN",
            f"an identical {action.name} was started at {when(repeat)}, after this preview was made, so the "
            "person never saw that this would repeat it. Preview again: the new preview names the repeat and "
            "what is known of it.",
        )

    async def _send(
        self,
        action: ConfirmedAction[ArgsT, PlanT],
        account: int,
        args: ArgsT,
        arguments: dict[str, Any],
        draft: Draft[PlanT],
        verified: VerifiedToken,
        confirmed_by: ConfirmedBy,
        sent_before: Sequence[str],
        submission: int,
    ) -> Execution:
        """Send within the deadline, then audit and report the outcome whatever the deadline does."""
        deadline = anyio.current_effective_deadline()
        sent: Sent | None = None
        error: BaseException | None = None
        with anyio.CancelScope(shield=True):  # once the request may leave, its outcome is always reported
            with anyio.CancelScope(deadline=deadline) as bounded:  # the client still sees the deadline
                try:
                    client = await self.deps.upstream.client()
                    sent = await action.send(client, account, args, draft, sent_before)
                except ClearStreetError as exc:
                    error = exc
                except Exception as exc:  # a bug after the request may have left: report it as unknown
                    logger.exception("%s failed after the request may have been sent", action.name)
                    error = OutcomeUnknownError(f"an internal error interrupted {action.name}: {type(exc).__name__}")
            if sent is None and error is None and bounded.cancelled_caught:
                error = OutcomeUnknownError(
                    f"the call's deadline ({self.deps.settings.call_timeout} s) ended while {action.name} was "
                    "waiting for the upstream"
                )
            if sent is None:
                assert isinstance(error, ClearStreetError)
                outcome, message = action.failure(error, draft)
                warning = await self._outcome(
                    action, account, arguments, outcome, submission, getattr(error, "request_id", None), (), message,
                    status=getattr(error, "status_code", None),
                )  # fmt: skip
                raise ActionError(message + warning) from error
            warning = await self._outcome(
                action, account, arguments, sent.outcome, submission, sent.request_id, sent.ids, confirmed_by
            )
        assert sent is not None
        return action.execution_model(
            environment=self.environment,
            account_id=account,
            confirmed_by=confirmed_by,
            confirmation=verified.digest,
            request_id=sent.request_id,
            summary=sent.summary + warning,
            **sent.fields,
        )

    async def _outcome(
        self,
        action: ConfirmedAction[Any, Any],
        account: int,
        arguments: dict[str, Any],
        outcome: str,
        submission: int,
        request_id: str | None,
        ids: Sequence[str],
        detail: Any,
        status: int | None = None,
    ) -> str:
        """The outcome line and the ledger's record of it (with the HTTP status of a failure); a
        failure to write either is reported (returned, appended to the result) but never hides what
        was sent."""
        warning = await self.audit(
            "outcome", action.name, account, arguments, outcome, after_send=True, request_id=request_id,
            order_ids=ids if action.name.startswith("close") else (),
            instruction_ids=ids if not action.name.startswith("close") else (),
            detail=detail,
        )  # fmt: skip
        try:
            await anyio.to_thread.run_sync(self._complete, submission, outcome, ids, status)
        except LedgerError as exc:
            logger.error("%s", exc)
            warning += f" WARNING: the ledger could not record this outcome ({exc})."
        return warning

    async def audit(
        self,
        event: str,
        tool: str,
        account: int | None,
        arguments: dict[str, Any],
        outcome: str,
        *,
        after_send: bool = False,
        **fields: Any,
    ) -> str:
        """One JSON line, on disk (flushed and synced) before the caller goes on.

        If it cannot be written before a send, nothing is sent: an ActionError says so. Once a
        request has gone (``after_send``), the outcome is still reported, with a warning (returned,
        to append to the result) instead of hiding what was done."""
        audit = self.deps.audit
        try:
            await audit.arecord(
                event,
                tool=tool,
                account_id=account,
                environment=self.environment,
                arguments=arguments,
                outcome=outcome,
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

    # -- words -------------------------------------------------------------------------------

    def _next_step(self, action: ConfirmedAction[Any, Any]) -> str:
        template = (
            _NEXT_STEP_ELICITATION if self.deps.settings.confirmation is ConfirmationMode.ELICITATION else _NEXT_STEP
        )
        return template.format(tool=action.name)

    def _question_text(
        self, action: ConfirmedAction[Any, Any], account: int, draft: Draft[Any], notice: str | None, digest: str
    ) -> str:
        """Everything the person approves, one line per order or instruction, ending with the
        digest of the token whose plan this is (never the token): a recorded answer can only ever
        apply to this preview."""
        lines = [f"[{self.environment.upper()}] account {account}: {action.name}", draft.summary]
        lines += [f"- {line}" for line in draft.lines]
        lines += [f"Warning: {warning}" for warning in (*draft.warnings, *draft.notes)]
        if notice:
            lines.append(notice)
        lines.append(f"Send this now? (preview {digest})")
        return "\n".join(lines)
