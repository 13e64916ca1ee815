"""The one pipeline every state change goes through (close one position, close them all, submit
instructions, cancel one): an action declares itself once, the pipeline does the rest, the same way
for all (the confirmation model README.md describes).

    arguments → account policy → plan from fresh positions → the human yes (the preview's token,
    or the person's answer to the server's question) → spend the token in the ledger → re-read and
    compare → write-ahead audit → send within the deadline → outcome audit → result

How to add a state-changing action
----------------------------------
1. Its own module, ``actions/<what>.py``, with one class (``actions/close.py`` is a full example,
   ``actions/cancel.py`` the smallest):

   * subclass :class:`ConfirmedAction` when a person must confirm it (preview, token, question), or
     :class:`IdempotentAction` (``confirmation = "none"``) when repeating it converges;
   * ``args_type``: a frozen dataclass of its arguments, read field by field (by name) from the
     tool's validated input; ``arguments()``: them as the token binds and the audit log records them;
   * ``audit_ids``: the audit column its upstream ids go to (``"order_ids"`` or ``"instruction_ids"``);
   * ``execution_model`` (and ``preview_model``): its results, subclasses of :class:`Execution` and
     :class:`Preview` (for an idempotent action a ``views.Result`` with a ``request_id``);
   * ``draft()`` (confirmed only): plan from fresh reads and return a :class:`Draft` — what it
     sends, the positions it depends on, one line per order or row for the person, why it is
     blocked; raise :class:`CannotPlan` when the request names nothing to plan;
   * ``send()``: the one upstream request, through the client; return :class:`Sent`;
   * when the defaults do not fit: ``request()`` (what makes two calls repeats), ``failure()`` (its
     words for an upstream failure), ``repeat_notice()`` (how a repeat is named to the person).

   Its tool name is not written there: its registration gives it (``self.name``; the preview tool
   is ``preview_<name>``).
2. One registration entry in ``surface/confirmed.py`` ``action_tools``: ``confirmed("<tool>",
   "<module>:<Class>", arguments=..., titles, descriptions)`` (``idempotent(...)`` for the other
   kind). ``arguments`` is its MCP input schema, an ``Arguments`` class there (reuse one when the
   inputs are the same); ``convert=`` only when a field is not the same value under the same name.
3. The upstream request it sends: a method of the client's endpoint group
   (``clearstreet/endpoints/``) and the simulator's route for it (``simulator/routes_*.py``, listed
   in ``simulator/asgi.py``).
4. Its tools where the tool list is pinned: the README's table of tools (``tests/test_repository.py``
   checks it), the tool lists of ``tests/test_server.py``, and the ``tools/list`` size budget
   (``bench/bench_startup.py``; a confirmed action adds two tools, about 1.5 KB).

Nothing else: the account policy, the token, the ledger, repeats, the audit, the deadline and the
shield, the question and the outcome are the pipeline's. Each is one collaborator in its own
module: :class:`~.write_ahead.WriteAhead` (every audit line; the write-ahead rule),
:class:`~.token_binding.TokenIssue` (issue, verify, compare with the fresh plan),
:class:`~.single_use.LedgerSteps` (single use, the submission record), :class:`~.repeats.Repeats`
(repeat detection), :class:`~.send.ShieldedSend` (shield + deadline), :class:`~.outcome.OutcomeLine`
(the outcome, audited and recorded) and :mod:`.wording` (the pipeline's own words). A per-call
:class:`Call` carries the action, account and arguments through them; :class:`~.flow.Pipeline`
orders the steps.

Invariants it keeps
-------------------
* **The previewed plan is the executed plan**, in every route. A token binds the tool, account,
  environment, canonical arguments, the idempotency keys its preview assigned and a fingerprint of
  the positions the plan was computed from; execution plans again from fresh positions *with the
  token's keys* and refuses when the fingerprint or the plan moved. When the server asks the person
  itself, the question is built from a token too (the call's own, or one issued for the question),
  so the keys the person saw are the keys sent.
* **Repeats are recognised.** A request identical to one sent within 15 minutes (same account,
  action and rows, keys aside) is planned knowing of it (``ConfirmedAction.draft``'s ``earlier``):
  an instruction batch reuses its idempotency keys — Clear Street then answers with the original
  instruction, reported as such — unless that instruction was cancelled; and every preview and
  question says what is known of it (:mod:`..earlier`: sent, refused, or not known), when, with
  which ids.
* **Single use is durable**: the token's nonce is spent in the ledger (one atomic insert shared by
  every process, kept across restarts) before anything is sent; every failure after that says the
  confirmation is used up (``ActionError.after_spend``, in ``Pipeline.execute`` alone).
* **Write-ahead audit**: an intent line is on disk (fsync) before the request leaves; if it cannot
  be written nothing is sent. An outcome line follows (sent / rejected / unknown / not sent,
  request_id, ids).
* **A deadline for every call** (POSITIONS_MCP_CALL_TIMEOUT): a state change is sent only when enough
  of it remains for the request's own timeout, and once sent it is never abandoned: its outcome is
  audited and reported even if the deadline passes meanwhile.

Nothing here knows MCP: the surface turns an ``ActionError`` into a tool error, and carries the
:class:`Question` to the person in whichever protocol era the client speaks.
"""

from __future__ import annotations

from .answers import Answer, ConfirmedBy, Execution, Preview, Question
from .declaration import (
    AuditIds,
    Call,
    CannotPlan,
    Confirmation,
    ConfirmedAction,
    Draft,
    IdempotentAction,
    Sent,
    StateChange,
    upstream_failure,
)
from .flow import Pipeline

__all__ = [
    "Answer",
    "AuditIds",
    "Call",
    "CannotPlan",
    "Confirmation",
    "ConfirmedAction",
    "ConfirmedBy",
    "Draft",
    "Execution",
    "IdempotentAction",
    "Pipeline",
    "Preview",
    "Question",
    "Sent",
    "StateChange",
    "upstream_failure",
]
