"""What an action declares to plug into the pipeline, and what it hands back.

An action is one class: :class:`ConfirmedAction` when a person confirms it (preview, token,
question), :class:`IdempotentAction` when it needs no confirmation because a repeat converges (a
cancel). Its tool name is given when its registration loads it (``surface/confirmed.py``), so it is
written once; everything else about it is declared in its class.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel

from ...clearstreet.errors import (
    APIStatusError,
    ClearStreetConnectionError,
    ClearStreetError,
    DeadlineExceededError,
    OutcomeUnknownError,
)
from ...safety.identity import Caller
from ...safety.ledger import Submission
from ..action_errors import describe_upstream
from ..earlier import earlier_attempt
from .answers import Execution, Preview

if TYPE_CHECKING:
    from ...clearstreet.client import ClearStreetClient
    from ...clearstreet.models import Position
    from ..reads import Reads

__all__ = [
    "AuditIds",
    "Call",
    "CannotPlan",
    "Confirmation",
    "ConfirmedAction",
    "Draft",
    "IdempotentAction",
    "Sent",
    "StateChange",
    "upstream_failure",
]

ArgsT = TypeVar("ArgsT")
PlanT = TypeVar("PlanT", bound=BaseModel)
ActionT = TypeVar("ActionT", bound="StateChange[Any]", covariant=True)

AuditIds = Literal["order_ids", "instruction_ids"]
"""The audit column an action's upstream ids (and idempotency keys) are written to."""
Confirmation = Literal["person", "none"]
"""``person``: previewed, and sent only after a person's yes bound to that preview (a token, or
their answer to the server's question). ``none``: sent at once, because a repeat converges (an
idempotent request such as a cancel): no preview, no token, no ledger; audited all the same."""


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


@dataclass(frozen=True, slots=True)
class Sent:
    """What the upstream answered: the action's own result fields, and what the audit records."""

    fields: Mapping[str, Any]
    request_id: str | None
    ids: Sequence[str]
    outcome: str
    summary: str = ""


class CannotPlan(Exception):
    """The request names nothing that can be planned (e.g. no such position): refused, audited."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Call(Generic[ActionT]):
    """One call of one action: what every step of the pipeline needs, passed as one."""

    action: ActionT
    tool: str
    """The tool called: the action's own, or its preview's (what the call's audit lines name)."""
    account: int
    args: Any
    """The action's own argument object (an ``args_type``)."""
    arguments: dict[str, Any]
    """The arguments as the token binds them and the audit log records them."""
    caller: Caller
    """Who called (the verified person, with OAuth): the token binds them, every audit line names them."""


def upstream_failure(exc: ClearStreetError) -> tuple[str, str]:
    """``(outcome, message)`` for an upstream failure of a send: ``not_sent`` when the request
    never left, ``rejected`` when Clear Street answered with an error status (the client turns every
    answer that may have acted, a close's 5xx, into an unknown outcome), ``unknown`` when it may
    have acted."""
    if isinstance(exc, DeadlineExceededError) and not exc.sent:
        return "not_sent", describe_upstream(exc)
    if isinstance(exc, ClearStreetConnectionError) and not exc.request_sent:
        return "not_sent", describe_upstream(exc)
    if isinstance(exc, APIStatusError):
        return "rejected", describe_upstream(exc)
    return ("unknown" if isinstance(exc, OutcomeUnknownError) else "error"), describe_upstream(exc)


class StateChange(ABC, Generic[ArgsT]):
    """What every state change declares. ``name`` is its tool, given by its registration."""

    confirmation: ClassVar[Confirmation]
    args_type: ClassVar[type[Any]]
    """A dataclass: the action's own arguments, read from the tool's validated input by field name."""
    audit_ids: ClassVar[AuditIds]
    execution_model: ClassVar[type[BaseModel]]

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def doing(self) -> str:
        """What the call is doing while it runs (said if the deadline ends before anything left)."""
        return f"executing {self.name}"

    def args_from(self, values: Any) -> ArgsT:
        """The action's arguments from a tool's validated input: each field of ``args_type`` read
        by name (a field the tool does not take keeps its default)."""
        fields = dataclasses.fields(self.args_type)
        args: ArgsT = self.args_type(**{f.name: getattr(values, f.name) for f in fields if hasattr(values, f.name)})
        return args

    @abstractmethod
    def arguments(self, args: ArgsT) -> dict[str, Any]:
        """The arguments as the token binds them and the audit log records them."""


class ConfirmedAction(StateChange[ArgsT], Generic[ArgsT, PlanT]):
    """A state change a person confirms: previewed, then sent only as previewed."""

    confirmation: ClassVar[Confirmation] = "person"
    preview_model: ClassVar[type[Preview[Any]]]
    execution_model: ClassVar[type[Execution]]

    @property
    def preview_name(self) -> str:
        return f"preview_{self.name}"

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
        """``(outcome, message)`` for an upstream failure of :meth:`send` (:func:`upstream_failure`)."""
        return upstream_failure(exc)

    def repeat_notice(self, repeat: Submission, draft: Draft[PlanT]) -> str:
        """How a preview and a question name a repeat of what was sent at ``repeat.sent_at``. It
        must say what is known of the earlier attempt (:func:`..earlier.earlier_attempt`) and what
        a yes does now, which depends on the earlier outcome and the fresh plan."""
        known = earlier_attempt(repeat, verb="sent", ids_label="ids", check="check the account before going on")
        return f"REPEAT: an identical {self.name} {known}; a yes sends it again."


class IdempotentAction(StateChange[ArgsT]):
    """A state change sent without a confirmation (``confirmation = "none"``): repeating it
    converges, so there is nothing to preview or spend. Still audited before and after, bounded by
    the deadline and shielded once sent. Its result is ``execution_model(environment, account_id,
    request_id, **sent.fields)``."""

    confirmation: ClassVar[Confirmation] = "none"

    @abstractmethod
    async def send(self, client: ClearStreetClient, account: int, args: ArgsT) -> Sent:
        """The one upstream request."""

    def failure(self, exc: ClearStreetError) -> tuple[str, str]:
        """``(outcome, message)`` for an upstream failure of :meth:`send` (:func:`upstream_failure`)."""
        return upstream_failure(exc)
