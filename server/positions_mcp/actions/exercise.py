"""Submitting position instructions (EXERCISE, DO_NOT_EXERCISE, CONTRARY_EXERCISE): one confirmed
action (Clear Street's API documentation). Every row carries an idempotency key (``client_instruction_id``) assigned by
the preview and bound into its token, so a retry cannot exercise twice: Clear Street rejects a
repeated key as a duplicate and the client reports the original instruction instead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ..clearstreet.errors import APIStatusError, ClearStreetError, OutcomeUnknownError
from ..clearstreet.models import APIError, InstructionStatus, Position, PositionInstruction, SecurityType
from ..clearstreet.results import SubmitResult
from ..domain.cash_check import check_cash
from ..domain.instructions import InstructionInput, InstructionPlan, RowStatus, plan_instructions
from ..domain.market_view import MarketView
from ..domain.moneyness import underlier_prices
from ..domain.osi import try_parse_osi
from ..domain.resolve import display_symbol
from ..domain.settlement import FINISHED_INSTRUCTION_STATUSES
from ..domain.text import money, qty
from ..safety.ledger import Submission
from .earlier import earlier_attempt, may_have_taken_effect
from .pipeline import ConfirmedAction, Draft, Execution, Preview, Sent
from .reads import Reads

if TYPE_CHECKING:
    from ..clearstreet.client import ClearStreetClient

__all__ = ["InstructionPreview", "SubmitArgs", "SubmitExecution", "SubmitInstructions"]

_STAYS = FINISHED_INSTRUCTION_STATUSES | {InstructionStatus.CANCEL_REQUESTED}
"""An original in one of these states is not made live again by sending its key."""
_CHECK = "check get_position_instructions before anything else"


@dataclass(frozen=True, slots=True)
class SubmitArgs:
    rows: tuple[InstructionInput, ...]


class InstructionPreview(Preview[InstructionPlan]):
    """What an instruction batch would submit, with the idempotency keys it will use."""


class SubmitExecution(Execution):
    """Every row of the batch: SENT, or REJECTED with its reason (HTTP 207 is a partial success)."""

    http_status: int
    instructions: list[PositionInstruction]
    error: APIError | None = None
    already_submitted: list[str] = Field(
        default_factory=list,
        description="Keys Clear Street already held: it answered with the original instruction (not a new one, "
        "not counted as accepted)",
    )


class SubmitInstructions(ConfirmedAction[SubmitArgs, InstructionPlan]):
    args_type = SubmitArgs
    audit_ids = "instruction_ids"
    preview_model = InstructionPreview
    execution_model = SubmitExecution

    def arguments(self, args: SubmitArgs) -> dict[str, Any]:
        return {"instructions": [row.model_dump(mode="json", exclude_none=True) for row in args.rows]}

    def request(self, args: SubmitArgs) -> dict[str, Any]:
        return {"instructions": [row.model_dump(mode="json", exclude={"instruction_id"}) for row in args.rows]}

    async def draft(
        self, reads: Reads, account: int, args: SubmitArgs, keys: Sequence[str] | None, earlier: Submission | None
    ) -> Draft[InstructionPlan]:
        positions = await reads.positions(account)
        existing, _ = await reads.instruction_rows(account)
        options = [p for p in positions if p.instrument_type != SecurityType.CASH and try_parse_osi(p.symbol)]
        market = await reads.market(account, options, funds=True, session=False)
        prices = _underlier_prices(market, options, positions)
        now = reads.deps.upstream.now()
        plan = plan_instructions(
            positions,
            _with_token_keys(args.rows, keys),
            now=now,
            existing=existing,
            contracts=market.terms,
            prices=prices,
            quotes=market.quotes,
            # a retry reuses an identical request's keys, so it cannot act twice (unless cancelled)
            earlier_keys=earlier.keys if earlier is not None and earlier.keys else None,
        )
        # the same settlement, on the same model, as the exposure summary's at_expiry
        plan.cash = check_cash(
            plan, market.funds, positions=positions, existing=existing, prices=prices, contracts=market.terms, now=now
        )
        if plan.ready and plan.cash is not None and plan.cash.cash_after is not None and plan.cash.cash_after < 0:
            # the summary is what is read first: a shortfall is said there too
            plan.summary += f" Cash: short by {money(-plan.cash.cash_after)} at settlement (see cash)."
        return Draft(
            plan=plan,
            scope=_scope(plan, positions),
            keys=tuple(plan.instruction_keys),
            blocked=None if plan.ready else plan.why_blocked(),
            summary=plan.summary,
            lines=_lines(plan),
            sends=plan.sends,
            warnings=[plan.cash.warning] if plan.cash is not None and plan.cash.warning else [],
            notes=market.notes,
        )

    async def send(
        self,
        client: ClearStreetClient,
        account: int,
        args: SubmitArgs,
        draft: Draft[InstructionPlan],
        sent_before: Sequence[str],
    ) -> Sent:
        repeated = [r.instruction_id for r in draft.plan.rows if r.status is RowStatus.ALREADY_SUBMITTED]
        result = await client.instructions.submit(account, draft.plan.requests(), sent_before=[*sent_before, *repeated])
        persisted = [row for row in result.instructions if row.persisted]
        return Sent(
            fields={
                "http_status": result.status_code,
                "instructions": result.instructions,
                "error": result.error,
                "already_submitted": list(result.recovered),
            },
            request_id=result.request_id,
            ids=[row.id for row in persisted],
            outcome="sent" if result.status_code == 200 else "partial",
            summary=_result_summary(result),
        )

    def failure(self, exc: ClearStreetError, draft: Draft[InstructionPlan]) -> tuple[str, str]:
        keys = ", ".join(draft.keys or ())
        if isinstance(exc, OutcomeUnknownError):
            return "unknown", (
                f"OUTCOME UNKNOWN: {exc}. Check get_position_instructions before anything else. "
                f"To retry safely, preview again passing these instruction_id keys so a duplicate "
                f"is refused rather than exercised twice: {keys}."
            )
        outcome, message = super().failure(exc, draft)
        if isinstance(exc, APIStatusError):
            outcome = "rejected"
            if exc.rows:
                message += " Rows: " + "; ".join(
                    f"{row.client_instruction_id}: {row.status} {row.rejection_reason or ''}".strip()
                    for row in exc.rows
                )
        return outcome, message

    def repeat_notice(self, repeat: Submission, draft: Draft[InstructionPlan]) -> str:
        """Says what is known of the earlier request and what a yes does now, row by row: a row
        Clear Street already holds under its key is answered with that instruction (nothing
        instructed twice); a row whose earlier instruction was cancelled is a new instruction under a
        new key, and says which was cancelled; any other row is sent now, even under the earlier
        keys, when the earlier attempt did nothing."""
        rows = draft.plan.rows
        known = earlier_attempt(repeat, verb="submitted", ids_label="instructions", check=_CHECK)
        parts = [f"REPEAT: an identical request {known}."]
        parts += [f"{row.after_cancel[0].upper()}{row.after_cancel[1:]}." for row in rows if row.after_cancel]
        if draft.blocked:
            return " ".join([*parts, "Nothing can be sent now: the plan says why."])
        earlier = set(repeat.keys)
        held = [r.instruction_id for r in rows if r.status is RowStatus.ALREADY_SUBMITTED]
        others = [r for r in rows if r.status is not RowStatus.ALREADY_SUBMITTED]
        kept = [r.instruction_id for r in others if r.instruction_id in earlier]
        new = [r.instruction_id for r in others if r.instruction_id not in earlier]
        if held:
            parts.append(
                f"Clear Street already holds {', '.join(held)}: for those a yes gets the original instruction back, "
                "nothing is instructed twice."
            )
        if kept:
            if not may_have_taken_effect(repeat):
                parts.append(f"A yes SENDS {', '.join(kept)} now.")
            elif repeat.outcome in ("sent", "partial"):
                parts.append(f"Clear Street holds no instruction under {', '.join(kept)}: a yes SENDS them now.")
            else:  # sending / unknown / error: it may have reached Clear Street without showing yet
                parts.append(
                    f"Whether it reached Clear Street is not known: a yes sends {', '.join(kept)} under the same "
                    "keys, so if it did, Clear Street answers with the original instead of acting twice."
                )
        if new:
            parts.append(
                f"A yes SENDS {', '.join(new)} as {'new instructions' if len(new) > 1 else 'a new instruction'}."
            )
        if held or kept:
            parts.append("To instruct again on purpose, pass new instruction_id values.")
        return " ".join(parts)


def _with_token_keys(rows: Sequence[InstructionInput], keys: Sequence[str] | None) -> list[InstructionInput]:
    """The rows, with the token's keys (``keys``, when confirming) for the rows without their own:
    the keys a person saw are the keys sent."""
    if keys is None:
        return list(rows)
    return [
        row if row.instruction_id else row.model_copy(update={"instruction_id": key})
        for row, key in zip(rows, keys, strict=True)
    ]


def _underlier_prices(
    market: MarketView, options: Sequence[Position], positions: Sequence[Position]
) -> dict[str, Decimal]:
    """Underlier instrument id -> price, from the market view of the book's options."""
    prices = {
        key: price for key in {p.underlying_instrument_id for p in options} if key and (price := market.price(key))
    }
    prices.update(underlier_prices(positions))  # a held underlier is priced like the rest of the book
    return prices


def _scope(plan: InstructionPlan, positions: Sequence[Position]) -> list[Position]:
    """The positions the plan depends on (the positions fingerprint): the contracts it instructs
    and, as a put exercise delivers shares, the underliers of its puts (their free shares)."""
    touched = set(plan.instrument_ids)
    touched |= {
        p.underlying_instrument_id
        for p in positions
        if p.instrument_id in touched
        and p.underlying_instrument_id
        and (option := try_parse_osi(p.symbol)) is not None
        and not option.is_call
    }
    return [p for p in positions if p.instrument_id in touched]


def _lines(plan: InstructionPlan) -> list[str]:
    """One line a row (type, quantity, contract, key), then its notes indented."""
    lines = []
    for row in plan.rows:
        symbol = display_symbol(row.symbol or row.requested)
        lines.append(f"{row.instruction_type} {qty(row.quantity)} {symbol} (key {row.instruction_id})")
        lines += [f"  {note}" for note in (*row.notes, *([row.after_cancel] if row.after_cancel else []))]
    return lines


def _result_summary(result: SubmitResult) -> str:
    """What the batch did: "accepted" counts only instructions Clear Street created now; rows whose
    key it already held (a repeat: it answered with the original, ``recovered``) are counted apart."""
    recovered = set(result.recovered)
    created = [row for row in result.instructions if row.client_instruction_id not in recovered]
    accepted = [row for row in created if row.persisted and row.status not in FINISHED_INSTRUCTION_STATUSES]
    summary = f"{len(accepted)} of {len(result.instructions)} instruction(s) accepted for processing"
    if ended := len(created) - len(accepted):
        summary += f", {ended} rejected or ended"
    if recovered:
        summary += f", {len(recovered)} already submitted before"
    summary += f" (HTTP {result.status_code})."
    if not recovered:
        return summary
    originals = {row.client_instruction_id: row for row in result.instructions}
    described = ", ".join(f"{key} ({originals[key].status})" if key in originals else key for key in result.recovered)
    summary += (
        f" Already submitted before under the same key ({described}): Clear Street answered with the original "
        "instruction, so nothing new was created and nothing was instructed twice."
    )
    if any(key in originals and originals[key].status in _STAYS for key in result.recovered):
        summary += (
            " An original that ended or is being cancelled stays so: to instruct again, preview again (a new "
            "preview gives new keys)."
        )
    return summary
