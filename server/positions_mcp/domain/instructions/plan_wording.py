"""How a plan reads to a person: what each OK row changes relative to the default at expiry and
what it delivers, the notes on value and contract terms, a repeat or a cancelled key in words, and
the batch's summary.

**Default at expiry** and what an instruction changes: :func:`.expiry.default_at_expiry`, the one
OCC Rule 805(d) exercise-by-exception rule ($0.01 a share) the exposure summary uses too. Every OK
row says what it changes relative to that default and what it delivers: EXERCISE exercises (now,
before expiry, or at expiry whatever the price), DO_NOT_EXERCISE keeps the contracts from being
exercised, CONTRARY_EXERCISE reverses the default (:func:`.settlement.instruction_exercises`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

from ...clearstreet.models import InstructionStatus, InstructionType, PositionInstruction
from ..calendar import expiration_business_day
from ..contracts import DEFAULT_SOURCE, ENDPOINT_SOURCE
from ..expiry import EXERCISE_BY_EXCEPTION, DefaultAtExpiry, in_the_money_by
from ..last_trade import last_trade
from ..moneyness import MoneynessState
from ..resolve import display_symbol
from ..settlement import FINISHED_INSTRUCTION_STATUSES
from ..text import format_et, money, price, qty
from .exercise_value import cost_over_trading, intrinsic_total
from .instruction_plan import ExerciseDelivery, PlannedInstruction, RowStatus
from .plan_inputs import PlanInputs
from .plan_row import PlanRow

__all__ = [
    "after_cancel_text",
    "already_submitted_text",
    "cancel_text",
    "describe",
    "live_instructions_note",
    "past_cutoff_note",
    "row_message",
    "rows_text",
    "summary",
    "terms_notes",
    "value_notes",
]

_OCC = "OCC exercise by exception"
_THOUSANDTH = Decimal("0.001")
_NOTHING = "nothing is delivered"
_STATE_WORDS = {
    MoneynessState.ITM: "in the money",
    MoneynessState.ATM: "at the money",
    MoneynessState.OTM: "out of the money",
}


def describe(kind: InstructionType | str, contracts: Decimal, symbol: str) -> str:
    """``EXERCISE 5 AAPL 280121C00195000``."""
    return f"{kind} {qty(contracts)} {symbol}"


def rows_text(numbers: Sequence[int]) -> str:
    shown = [str(n) for n in sorted(numbers)]
    if len(shown) == 1:
        return f"row {shown[0]}"
    return f"rows {', '.join(shown[:-1])} and {shown[-1]}"


def _per_share(value: Decimal) -> str:
    """A per-share amount: exact up to OSI's 3 decimals; an adjusted contract's amount per
    deliverable share (a division) is shown to the thousandth."""
    if value != value.quantize(_THOUSANDTH):
        value = value.quantize(_THOUSANDTH, rounding=ROUND_HALF_EVEN)
    return price(value)


def cancel_text(instruction: PositionInstruction, *, key: bool = False) -> str:
    """``instruction 0195… (EXERCISE 5 AAPL 280121C00195000) was cancelled at Mon 2026-11-23 10:00 ET``
    (``key``: with its ``client_instruction_id`` in the parenthesis)."""
    what = describe(instruction.instruction_type, instruction.quantity, display_symbol(instruction.symbol))
    if key:
        what += f", key {instruction.client_instruction_id}"
    at = format_et(instruction.updated_at) if instruction.updated_at is not None else None
    if instruction.status == InstructionStatus.CANCELLED:
        return f"instruction {instruction.id} ({what}) was cancelled{f' at {at}' if at else ''}"
    return f"instruction {instruction.id} ({what}) is being cancelled (CANCEL_REQUESTED{f' since {at}' if at else ''})"


def after_cancel_text(row: PlanRow) -> str | None:
    if row.after_cancel is None:
        return None
    return f"{cancel_text(row.after_cancel, key=True)}; this is a new instruction, under the new key {row.key}"


def already_submitted_text(earlier: PositionInstruction) -> str:
    """A row that repeats ``earlier`` under its key: Clear Street answers with the original."""
    text = (
        f"{describe(earlier.instruction_type, earlier.quantity, display_symbol(earlier.symbol))} "
        f"was already submitted with this instruction_id as instruction {earlier.id} "
        f"({earlier.status}): sending it again makes Clear Street answer with that instruction, "
        "nothing is instructed twice"
    )
    if earlier.status in FINISHED_INSTRUCTION_STATUSES:
        text += (
            f"; it ended {earlier.status}, so this row changes nothing: to instruct again, preview "
            "with a new instruction_id"
        )
    return text


def live_instructions_note(live: Sequence[PositionInstruction]) -> str:
    return "also instructed on this contract: " + "; ".join(
        f"{i.id} ({i.instruction_type} {qty(i.quantity)}, {i.status})" for i in live[:3]
    )


def past_cutoff_note(inputs: PlanInputs) -> str:
    return (
        f"it is past today's {inputs.deadline(inputs.today):%H:%M} ET cutoff: the exercise may be "
        "processed on the next business day"
    )


def _state_words(row: PlanRow) -> str:
    assert row.m is not None and row.symbol is not None
    if row.m.state is MoneynessState.ITM and row.default is not DefaultAtExpiry.AUTO_EXERCISE:
        return "in the money by less than $0.01"
    return _STATE_WORDS[row.m.state]


def _where(inputs: PlanInputs, row: PlanRow) -> str:
    """``AAPL $200.00 vs strike $195.00``."""
    assert row.position is not None and row.symbol is not None and row.m is not None
    name = inputs.underlier_name(row.position, row.symbol)
    return f"{name} {price(row.m.underlier_price)} vs strike {price(row.symbol.strike)}"


def _why_lapse(inputs: PlanInputs, row: PlanRow) -> str:
    symbol, m = row.symbol, row.m
    assert symbol is not None and m is not None
    if m.state is MoneynessState.ITM:
        edge = in_the_money_by(symbol, m.underlier_price, row.terms)
        return f"in the money by only {_per_share(edge)} a share, under the {money(EXERCISE_BY_EXCEPTION)} of {_OCC}"
    return f"{_STATE_WORDS[m.state]}: {_where(inputs, row)}"


def value_notes(inputs: PlanInputs, row: PlanRow) -> list[str]:
    """Short phrases (no final period) on what the row does to the position's value."""
    kind, symbol, m = row.request.instruction_type, row.symbol, row.m
    assert symbol is not None and row.terms is not None
    if m is None:
        return [f"{symbol.root} price unknown: moneyness not shown"]
    intrinsic = intrinsic_total(row)
    gap = cost_over_trading(row)
    where = _where(inputs, row)
    state = _state_words(row)
    auto = row.default is DefaultAtExpiry.AUTO_EXERCISE
    if kind is InstructionType.EXERCISE:
        if m.state is MoneynessState.ITM:
            notes = [f"{state} ({where}): intrinsic value {money(intrinsic)}"]
            if row.time_value is not None:
                notes.append(row.time_value.note)
            return notes
        return [f"{state} ({where}): exercising costs {money(gap)} more than trading the shares"]
    if kind is InstructionType.DO_NOT_EXERCISE:
        if auto:
            return [f"gives up intrinsic value {money(intrinsic)} (in the money: {where})"]
        return [f"{state} ({where}): it would not be exercised automatically anyway"]
    # CONTRARY_EXERCISE: the opposite of exercise by exception
    if auto:
        return [f"NOT exercised although in the money: gives up intrinsic value {money(intrinsic)} ({where})"]
    if m.state is MoneynessState.ITM:
        return [f"exercised although {state}: intrinsic value {money(intrinsic)} ({where})"]
    return [f"exercised although {state}: {money(gap)} worse than trading the shares ({where})"]


def row_message(inputs: PlanInputs, row: PlanRow, delivery: ExerciseDelivery | None) -> str:
    """What the row changes relative to the default at expiry, and what it delivers."""
    assert row.symbol is not None
    head = describe(row.request.instruction_type, row.contracts, row.symbol.spaced())
    if row.m is None:
        return _unpriced_message(row, head, delivery)
    if row.default is DefaultAtExpiry.AUTO_EXERCISE:
        return _auto_exercise_message(inputs, row, head, delivery)
    return _lapse_message(inputs, row, head, delivery)


def _unpriced_message(row: PlanRow, head: str, delivery: ExerciseDelivery | None) -> str:
    """No underlier price: the default at expiry cannot be said."""
    kind, symbol = row.request.instruction_type, row.symbol
    assert symbol is not None
    if kind is InstructionType.EXERCISE:
        assert delivery is not None
        return f"{head}: {delivery.text}; {symbol.root} price unknown: the default at expiry cannot be said"
    if kind is InstructionType.DO_NOT_EXERCISE:
        return f"{head}: not exercised, whatever the price; {_NOTHING} ({symbol.root} price unknown: whether this gives up value cannot be said)"
    return (
        f"{head}: reverses the default at expiry, which cannot be said without the {symbol.root} price: "
        f"it exercises the contracts if they are less than $0.01 in the money, else it stops their "
        f"automatic exercise"
    )


def _auto_exercise_message(inputs: PlanInputs, row: PlanRow, head: str, delivery: ExerciseDelivery | None) -> str:
    """The default is automatic exercise (OCC Rule 805(d)): an EXERCISE changes only when it
    happens; the other types stop it."""
    symbol, m = row.symbol, row.m
    assert symbol is not None and m is not None
    edge = in_the_money_by(symbol, m.underlier_price, row.terms)
    if row.request.instruction_type is not InstructionType.EXERCISE:
        return (
            f"{head}: NOT exercised although in the money by {_per_share(edge)} a share (exercised automatically "
            f"otherwise, {_OCC}): gives up intrinsic value {money(intrinsic_total(row))}; {_NOTHING}"
        )
    assert delivery is not None
    if inputs.today < expiration_business_day(symbol.expiry):
        change = "exercised now instead of automatically at expiry: gives up the remaining time value"
        if row.time_value is not None and row.time_value.amount is not None:
            given = row.time_value.amount
            change += f", about {money(given)} at the bid" if given > 0 else ", none at the bid"
    else:
        change = f"no change: it would be exercised automatically anyway (in the money by {_per_share(edge)} a share, {_OCC})"
    return f"{head}: {delivery.text}; {change}"


def _lapse_message(inputs: PlanInputs, row: PlanRow, head: str, delivery: ExerciseDelivery | None) -> str:
    """The default is to lapse: a DO_NOT_EXERCISE changes nothing; the other types exercise."""
    kind, symbol, m = row.request.instruction_type, row.symbol, row.m
    assert symbol is not None and m is not None
    why = _why_lapse(inputs, row)
    worth = (
        f"intrinsic value {money(intrinsic_total(row))}"
        if m.state is MoneynessState.ITM
        else f"exercising costs {money(cost_over_trading(row))} more than trading the shares"
    )
    if kind is InstructionType.DO_NOT_EXERCISE:
        return f"{head}: changes nothing: it lapses anyway ({why}); {_NOTHING}"
    assert delivery is not None
    if kind is InstructionType.EXERCISE and inputs.today < expiration_business_day(symbol.expiry):
        return f"{head}: {delivery.text}; exercised now; at today's price it would lapse at expiry ({why}); {worth}"
    return f"{head}: exercised instead of lapsing ({why}): {delivery.text}; {worth}"


def terms_notes(inputs: PlanInputs, row: PlanRow) -> list[str]:
    """What the contract's terms say that a person should know: non-standard or non-default
    terms, an AM-settled series' last trade, an exercise style that is not known."""
    symbol, terms = row.symbol, row.terms
    assert symbol is not None and terms is not None
    notes = []
    if not terms.is_standard or terms.source != DEFAULT_SOURCE:
        notes.append(f"contract terms: {terms.describe()}")
    if terms.is_settle_on_open:
        last = last_trade(symbol.expiry, terms)
        trades = "its last trade was" if last.passed(inputs.local) else "it trades for the last time at"
        notes.append(f"{last.settlement(inputs.local)}; {trades} {last.when(inputs.local)} ({last.source})")
    early = inputs.today < expiration_business_day(symbol.expiry)
    if row.request.instruction_type is InstructionType.EXERCISE and early and terms.exercise_style is None:
        why = (
            "the option-contracts row gives none"
            if terms.source == ENDPOINT_SOURCE
            else f"no option-contract data, and {symbol.root} is not a known index root"
        )
        notes.append(
            f"exercise style unknown ({why}): not assumed; an early exercise of a European-style contract is rejected"
        )
    return notes


def summary(rows: list[PlannedInstruction]) -> str:
    """The plan in one paragraph: why it is not ready, or what it submits and by when."""
    if not rows:
        return "No instructions were given: nothing to submit."
    blocked = [r for r in rows if r.status is RowStatus.BLOCKED]
    if blocked:
        parts = [
            f"row {r.row} ({describe(r.instruction_type, r.quantity, display_symbol(r.symbol or r.requested))}) "
            f"is {r.reason}: {r.message.rstrip('.')}"
            for r in blocked[:3]
        ]
        more = f"; {len(blocked) - 3} more rows are blocked" if len(blocked) > 3 else ""
        return f"Not ready, nothing will be sent: {'; '.join(parts)}{more}."
    parts = [r.message for r in rows[:5]]
    more = f"; and {len(rows) - 5} more" if len(rows) > 5 else ""
    count = f"{len(rows)} instruction{'s' if len(rows) != 1 else ''}"
    deadlines = [r.submit_before for r in rows if r.submit_before is not None]
    if not deadlines:  # every row repeats one already submitted
        return f"Already submitted, nothing new: {'; '.join(parts)}{more}."
    return f"Submit {count} before {format_et(min(deadlines))}: {'; '.join(parts)}{more}."
