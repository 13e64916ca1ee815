"""What the pipeline returns: a preview, an execution, and the question put to a person with the
reading of their answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from ..views import Result

__all__ = ["Answer", "ConfirmedBy", "Execution", "Preview", "Question"]

PlanT = TypeVar("PlanT", bound=BaseModel)
ConfirmedBy = Literal["confirmation_token", "elicitation"]


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
