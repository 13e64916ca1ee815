"""What the pipeline says in its own voice: the preview's next step, and the question a person
answers. (What an action says of its own plan, its repeats and its failures is the action's: its
``Draft``, ``repeat_notice`` and ``failure``.)"""

from __future__ import annotations

from typing import Any

from ...settings import ConfirmationMode
from .declaration import Call, ConfirmedAction, Draft

__all__ = ["next_step", "question_text"]

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


def next_step(mode: ConfirmationMode, tool: str, *, token: str | None, unusable: bool) -> str:
    """What the assistant does with a preview: show it and get a yes; or why nothing can follow
    (``unusable``: this client can never confirm it; no ``token``: the plan is blocked)."""
    if unusable:
        return _CANNOT_ASK_STEP
    if token is None:
        return _BLOCKED_STEP
    template = _NEXT_STEP_ELICITATION if mode is ConfirmationMode.ELICITATION else _NEXT_STEP
    return template.format(tool=tool)


def question_text(
    environment: str, call: Call[ConfirmedAction[Any, Any]], draft: Draft[Any], notice: str | None, digest: str
) -> str:
    """Everything the person approves, one line per order or instruction, ending with the
    digest of the token whose plan this is (never the token): a recorded answer can only ever
    apply to this preview."""
    lines = [f"[{environment.upper()}] account {call.account}: {call.action.name}", draft.summary]
    lines += [f"- {line}" for line in draft.lines]
    lines += [f"Warning: {warning}" for warning in (*draft.warnings, *draft.notes)]
    if notice:
        lines.append(notice)
    lines.append(f"Send this now? (preview {digest})")
    return "\n".join(lines)
