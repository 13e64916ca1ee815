"""The pipeline's order of steps, the same for every action; each step is a collaborator's.

preview:  scope and account → plan from fresh reads (knowing of a repeat) → issue the token → audit
question: account → verify the token (or plan and issue one) → compare → audit → the words
execute:  account → the person's yes → verify → spend → plan again → compare → repeat shown?
          → record the submission → intent line (fsync) → shielded send → outcome line
perform:  account → intent line (fsync) → shielded send → outcome line   (confirmation "none")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ...safety.identity import ACT_SCOPE, Caller
from ...safety.ledger import Submission
from ...safety.policy import PolicyError, ScopeError, require_scope
from ...safety.tokens import VerifiedToken, already_used, token_digest
from ...settings import ConfirmationMode
from ..action_errors import ActionError, OutOfTime, Refused
from .answers import Answer, ConfirmedBy, Execution, Preview, Question
from .declaration import Call, CannotPlan, ConfirmedAction, Draft, IdempotentAction, StateChange
from .outcome import OutcomeLine
from .repeats import Repeats
from .send import ShieldedSend
from .single_use import LedgerSteps
from .token_binding import TokenIssue
from .wording import next_step, question_text
from .write_ahead import WriteAhead

if TYPE_CHECKING:
    from ..dependencies import Dependencies
    from ..reads import Reads

__all__ = ["Pipeline"]

ArgsT = TypeVar("ArgsT")
PlanT = TypeVar("PlanT", bound=BaseModel)
ActionT = TypeVar("ActionT", bound=StateChange[Any])
ConfirmedCall = Call[ConfirmedAction[Any, Any]]


class _Flag:
    """Set once; true afterwards (what a failed step had already done)."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def __bool__(self) -> bool:
        return self._set


class Pipeline:
    """Composes the collaborators; holds no state of its own between calls."""

    def __init__(self, deps: Dependencies, reads: Reads) -> None:
        self.deps = deps
        self.reads = reads
        self.audit = WriteAhead(deps)
        self.ledger = LedgerSteps(deps, self.audit)
        self.tokens = TokenIssue(deps, self.audit)
        self.repeats = Repeats(self.ledger, self.audit)
        self.send = ShieldedSend(deps)
        self.outcomes = OutcomeLine(self.audit, self.ledger)

    @property
    def environment(self) -> str:
        return self.deps.environment

    async def open(
        self, action: ActionT, tool: str, account_id: int | None, args: Any, caller: Caller
    ) -> Call[ActionT]:
        """The call's context: the caller may act (scope ``positions:act``, with OAuth) and the
        account it acts on is checked against the policy (allowlist, the caller's grants, a
        default when none is given); a refusal is audited."""
        arguments = action.arguments(args)
        try:
            require_scope(self.deps.settings, caller, ACT_SCOPE)
            account = self.deps.account(account_id, caller)
        except ScopeError as exc:
            raise await self.audit.refuse(tool, account_id, arguments, "INSUFFICIENT_SCOPE", str(exc), caller) from None
        except PolicyError as exc:
            reason = "NO_ACCOUNT" if account_id is None else "ACCOUNT_NOT_ALLOWED"
            raise await self.audit.refuse(tool, account_id, arguments, reason, str(exc), caller) from None
        return Call(action, tool, account, args, arguments, caller)

    # -- the entry points --------------------------------------------------------------------

    async def preview(
        self,
        action: ConfirmedAction[ArgsT, PlanT],
        account_id: int | None,
        args: ArgsT,
        *,
        caller: Caller,
        can_ask: bool = True,
    ) -> Preview[PlanT]:
        """Plan from fresh positions and issue the token that allows exactly that plan once.
        ``can_ask``: whether this client can show the server's question; in elicitation mode a
        client that cannot gets the plan and no token (it could never be used)."""
        mode = self.deps.settings.confirmation
        unusable = mode is ConfirmationMode.ELICITATION and not can_ask
        call = await self.open(action, action.preview_name, account_id, args, caller)
        async with self.deps.deadline(f"preparing {call.tool}"):
            draft, repeat = await self._draft(call, None)
        token = self.tokens.issue(call, draft, repeat) if draft.blocked is None and not unusable else None
        notice = self.repeats.notice(call, repeat, draft)
        digest = token_digest(token) if token else None
        await self.audit.line(
            call, "preview", "ready" if token else "blocked", keys=draft.keys,
            detail={"summary": draft.summary, "confirmation": digest, "repeat": notice},
        )  # fmt: skip
        return action.preview_model(
            environment=self.environment,
            account_id=call.account,
            plan=draft.plan,
            confirmation_token=token,
            expires_at=self.tokens.expires_at(token) if token else None,
            repeat_of=notice,
            notes=list(draft.notes),
            next_step=next_step(mode, action.name, token=token, unusable=unusable),
        )

    async def question(
        self,
        action: ConfirmedAction[ArgsT, PlanT],
        account_id: int | None,
        args: ArgsT,
        token: str | None,
        *,
        caller: Caller,
    ) -> Question:
        """What to ask the person: the plan of ``token`` (the call's own), or of a token issued now
        for a plan from fresh positions. Refuses (audited) what could not be sent anyway."""
        call = await self.open(action, action.name, account_id, args, caller)
        async with self.deps.deadline(f"preparing the question for {action.name}"):
            verified = None
            if token is not None:
                verified = await self.tokens.verify(call, token)
                if await self.ledger.is_spent(call, verified):
                    raise await self.audit.refused(call, already_used(action.name))
            draft, repeat = await self._draft(call, verified)
        if draft.blocked is not None:
            raise await self.audit.refusal(call, "BLOCKED", draft.blocked)
        if verified is None:
            shown = self.tokens.issue(call, draft, repeat)
        else:
            await self.tokens.compare(call, verified, draft)
            await self.repeats.check_shown(call, verified, repeat)
            assert token is not None  # verified is this token's
            shown = token
        notice = self.repeats.notice(call, repeat, draft)
        text = question_text(self.environment, call, draft, notice, token_digest(shown))
        await self.audit.line(
            call, "question", "asked", keys=draft.keys,
            detail={"summary": draft.summary, "confirmation": token_digest(shown), "repeat": notice},
        )  # fmt: skip
        return Question(token=shown, text=text)

    async def execute(
        self,
        action: ConfirmedAction[ArgsT, PlanT],
        account_id: int | None,
        args: ArgsT,
        token: str | None,
        answer: Answer | None = None,
        *,
        caller: Caller,
    ) -> Execution:
        """Send what ``token``'s preview planned, after the person's yes (``answer``, when the
        server asked them; else the token itself is the yes)."""
        call = await self.open(action, action.name, account_id, args, caller)
        confirmed_by: ConfirmedBy = "confirmation_token" if answer is None else "elicitation"
        if answer is not None and (refusal := answer.refusal()) is not None:
            raise await self.audit.refusal(call, *refusal)
        spent = _Flag()
        try:
            try:
                return await self._execute(call, token, confirmed_by, spent)
            except OutOfTime as exc:  # before anything left (a send is shielded from the deadline): audited
                raise await self.audit.refusal(call, "OUT_OF_TIME", str(exc)) from None
        except ActionError as exc:
            if spent:  # every failure after the spend says the confirmation is gone
                exc.after_spend(action.preview_name)
            raise

    async def perform(
        self, action: IdempotentAction[ArgsT], account_id: int | None, args: ArgsT, *, caller: Caller
    ) -> BaseModel:
        """Send a state change that needs no confirmation (``confirmation = "none"``): audited before
        and after, within the deadline, shielded once it may have left."""
        call = await self.open(action, action.name, account_id, args, caller)
        async with self.deps.deadline(action.doing):
            await self.audit.intent(call)
            sent, _ = await self.send(
                call,
                lambda client: action.send(client, call.account, args),
                lambda answered: self.outcomes.report(
                    call, answered, failure=action.failure, detail=None, submission=None
                ),
            )
        return action.execution_model(
            environment=self.environment, account_id=call.account, request_id=sent.request_id, **sent.fields
        )

    async def refuse_call(
        self,
        action: StateChange[ArgsT],
        account_id: int | None,
        args: ArgsT,
        reason: str,
        message: str,
        *,
        caller: Caller,
    ) -> Refused:
        """Refuse a call before anything is planned (e.g. no way to ask the person); audited."""
        call = await self.open(action, action.name, account_id, args, caller)
        return await self.audit.refusal(call, reason, message)

    # -- steps -------------------------------------------------------------------------------

    async def _execute(
        self, call: ConfirmedCall, token: str | None, confirmed_by: ConfirmedBy, spent: _Flag
    ) -> Execution:
        name = call.action.name
        async with self.deps.deadline(f"executing {name}"):
            verified = await self.tokens.verify(call, token)
            if not await self.ledger.spend(call, verified):
                raise await self.audit.refused(call, already_used(name))
            spent.set()
            draft, repeat = await self._draft(call, verified)
            await self.tokens.compare(call, verified, draft)
            await self.repeats.check_shown(call, verified, repeat)
            if draft.blocked is not None:
                raise await self.audit.refusal(call, "BLOCKED", draft.blocked)
            submission = await self.ledger.record(call, self.repeats.digest(call), draft.keys, verified)
            if submission is None:  # an identical request was sent meanwhile: the person was not told
                await self.repeats.raced(call, verified)
            try:
                await self.audit.intent(
                    call,
                    keys=draft.keys,
                    detail={"confirmation": verified.digest, "confirmed_by": confirmed_by, "summary": draft.summary},
                )
            except ActionError:
                await self.ledger.not_sent(call, submission)
                raise
            return await self._send(call, draft, verified, confirmed_by, repeat.keys if repeat else (), submission)

    async def _draft(self, call: ConfirmedCall, verified: VerifiedToken | None) -> tuple[Draft[Any], Submission | None]:
        """Plan from fresh reads (with the token's keys, when there is a token), knowing of an
        identical request sent within the repeat window (a preview without keys may reuse its keys,
        so a retry after a lost answer cannot act twice)."""
        repeat = await self.repeats.recent(call)
        keys = verified.instruction_keys if verified is not None else None
        try:
            return await call.action.draft(self.reads, call.account, call.args, keys, repeat), repeat
        except CannotPlan as exc:
            if verified is not None:  # what the token approved is gone: say what changed
                await self.tokens.gone(call, verified)
            raise await self.audit.refusal(call, exc.reason, exc.message) from None

    async def _send(
        self,
        call: ConfirmedCall,
        draft: Draft[Any],
        verified: VerifiedToken,
        confirmed_by: ConfirmedBy,
        sent_before: Sequence[str],
        submission: int,
    ) -> Execution:
        """Send within the deadline, then audit and report the outcome whatever the deadline does."""
        action = call.action
        sent, warning = await self.send(
            call,
            lambda client: action.send(client, call.account, call.args, draft, sent_before),
            lambda answered: self.outcomes.report(
                call,
                answered,
                failure=lambda exc: action.failure(exc, draft),
                detail=confirmed_by,
                submission=submission,
            ),
        )
        return action.execution_model(
            environment=self.environment,
            account_id=call.account,
            confirmed_by=confirmed_by,
            confirmation=verified.digest,
            request_id=sent.request_id,
            summary=sent.summary + warning,
            **sent.fields,
        )
