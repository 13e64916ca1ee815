"""What is known of an earlier, identical request (the ledger's :class:`Submission`), said once for
every repeat notice: sent (with its outcome and ids), refused (with its HTTP status), not sent, or
not known — never "sent" for a request that may not have left.

The ledger records a submission before its request leaves (outcome ``sending``) and completes it
afterwards. A submission still ``sending`` is one whose process stopped (or is still waiting) after
the write-ahead intent: the request may or may not have left, so it is never called sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.calendar import new_york
from ..safety.ledger import Submission

__all__ = ["earlier_attempt", "listed", "may_have_taken_effect", "when"]

_SHOWN_IDS = 5

DID_NOTHING = frozenset({"rejected", "not_sent"})
"""The upstream refused the request (a 4xx, or a batch rejected as a whole), or it never left."""


def when(repeat: Submission) -> str:
    return f"{new_york(repeat.sent_at):%H:%M:%S} ET"


def listed(ids: Sequence[str]) -> str:
    """Ids as a person reads them: the first few, then how many more (a close of every position
    may have thousands)."""
    shown = ", ".join(ids[:_SHOWN_IDS])
    return f"{shown} and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else shown


def may_have_taken_effect(repeat: Submission) -> bool:
    """Whether the earlier attempt may have changed something upstream (sent, or not known)."""
    return repeat.outcome not in DID_NOTHING


def earlier_attempt(repeat: Submission, *, verb: str, ids_label: str, check: str) -> str:
    """What is known of ``repeat``, as the predicate of a sentence whose subject names the request
    ("a close of this position " + this). ``verb``: "sent" or "submitted"; ``ids_label``: what its
    ids are ("orders", "instructions"); ``check``: where to look when it is not known."""
    at = when(repeat)
    ids = f", {ids_label} {listed(repeat.ids)}" if repeat.ids else ""
    if repeat.outcome == "sent":
        return f"was {verb} at {at} (outcome sent{ids})"
    if repeat.outcome == "partial":
        return f"was {verb} at {at} (outcome partial: some rows were rejected{ids})"
    if repeat.outcome == "rejected":
        status = f" (HTTP {repeat.status})" if repeat.status else ""
        return f"was tried at {at} and refused by Clear Street{status}: nothing was done then"
    if repeat.outcome == "not_sent":
        return f"was tried at {at} but never left (nothing was sent)"
    if repeat.outcome == "unknown":
        status = f" after HTTP {repeat.status}" if repeat.status else ""
        return f"was {verb} at {at} but its outcome is unknown{status}: it may or may not have taken effect — {check}"
    # "sending": no outcome was ever recorded (the process stopped after its intent line, or is
    # still waiting); "error": the client failed in a way that says nothing either way.
    return f"was started at {at} but no outcome was recorded: it may not have been sent — {check}"
