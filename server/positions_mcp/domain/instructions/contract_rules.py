"""Rule 6: the batch's rows on one contract agree and fit.

a. one instruction type per contract (CONFLICTING_INSTRUCTIONS);
b. Σ quantities ≤ what pending instructions leave free (INSUFFICIENT_POSITION).

* **Contracts covered**: every instruction type covers the contracts it names, so every row and
  every live instruction consumes them. Free = min(quantity − contracts held by every live
  instruction, |available_quantity| − contracts held by live DO_NOT_EXERCISE / CONTRARY_EXERCISE
  instructions). ``available_quantity`` already nets out working closing orders and, as the
  simulator reads Clear Street's API documentation (an open question upstream), pending EXERCISE
  instructions, but not the other types: so each reservation is counted once, orders and
  instructions together (10 held, SELL 3 working, DNE 4 pending: 3 free, not 6). A live instruction
  is a persisted one (``id`` not the nil UUID) that is not finished
  (:func:`.settlement.holds_contracts`): any status but REJECTED, CANCELLED and ENGINE_REJECTED,
  and not an ACCEPTED EXERCISE (those contracts are exercised and leave the position). So SENT and
  CANCEL_REQUESTED rows count, CANCEL_FAILED ones too (the instruction stands), as do UNKNOWN
  statuses (fail closed) and ACCEPTED DO_NOT_EXERCISE / CONTRARY_EXERCISE (in force until expiry).
* **Order independence**: the check is made on the contract, over all its rows that passed rules
  1-5, never row by row. When the rows together ask for more than is free, *every* row on that
  contract is blocked, and the message gives the total requested and what is free. Different
  instruction types on one contract in one batch contradict each other (a contract is either
  exercised or not; exercising some contracts and not others of a series needs only one type:
  instruct the contracts whose default should change), so all those rows are blocked too, naming
  the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ...clearstreet.models import InstructionStatus, InstructionType, Position, PositionInstruction
from ..text import qty
from .instruction_plan import InstructionCode
from .plan_inputs import PlanInputs
from .plan_row import Blocked, PlanRow
from .plan_wording import rows_text

__all__ = ["check_contract"]


def check_contract(inputs: PlanInputs, rows: Sequence[PlanRow]) -> None:
    """Rule 6 over every row of one contract that passed rules 1-5a: blocks them all, or none."""
    position, symbol = rows[0].position, rows[0].symbol
    assert position is not None and symbol is not None
    live = inputs.live_on(position)
    free, reserved = _free(position, live)
    requested = sum((r.contracts for r in rows), Decimal(0))
    if len({r.request.instruction_type for r in rows}) > 1:
        blocked: Blocked | None = _conflict(rows, symbol.spaced(), requested, free)
    elif requested > free:
        blocked = _over_instructed(rows, position, symbol.spaced(), live, requested, free, reserved)
    else:
        blocked = None
    for r in rows:
        r.blocked = blocked


def _free(position: Position, live: Sequence[PositionInstruction]) -> tuple[Decimal, Decimal]:
    """(contracts free to instruct, contracts held by live instructions), as the module docstring counts."""
    reserved = min(sum((i.quantity for i in live), Decimal(0)), position.quantity)
    not_netted = sum((i.quantity for i in live if i.instruction_type != InstructionType.EXERCISE), Decimal(0))
    reported = min(abs(position.available_quantity), position.quantity) - not_netted
    return max(min(reported, position.quantity - reserved), Decimal(0)), reserved


def _conflict(rows: Sequence[PlanRow], shown: str, requested: Decimal, free: Decimal) -> Blocked:
    numbers = [r.index for r in rows]
    asked = ", ".join(f"{r.request.instruction_type} {qty(r.contracts)} (row {r.index})" for r in rows)
    also = (
        f"; together they also ask for {qty(requested)} where {qty(free)} can be instructed" if requested > free else ""
    )
    return Blocked(
        InstructionCode.CONFLICTING_INSTRUCTIONS,
        f"Conflicting instructions for {shown}: {rows_text(numbers)} ask for {asked}{also}. A "
        "contract is either exercised or not, so one batch carries one instruction type per contract; "
        "keep one type (to exercise some contracts and not others, instruct only those whose default "
        "at expiry should change).",
        rows=",".join(map(str, numbers)),
    )


def _over_instructed(
    rows: Sequence[PlanRow],
    position: Position,
    shown: str,
    live: Sequence[PositionInstruction],
    requested: Decimal,
    free: Decimal,
    reserved: Decimal,
) -> Blocked:
    parts = [f"available_quantity {qty(abs(position.available_quantity))} of {qty(position.quantity)} held"]
    if live:
        listed = "; ".join(f"{i.id}: {i.instruction_type} {qty(i.quantity)}, {i.status}" for i in live[:5]) + (
            "; …" if len(live) > 5 else ""
        )
        advice = (
            "their cancel is pending: preview again once get_position_instructions shows them CANCELLED"
            if all(i.status == InstructionStatus.CANCEL_REQUESTED for i in live)
            else "cancel them with cancel_position_instruction to instruct those contracts again"
        )
        parts.append(f"{qty(reserved)} held by pending instructions ({listed}): {advice}")
    if len(rows) == 1:
        head = f"Requested {qty(requested)} {shown}"
        tail = ""
    else:
        head = f"Over-instructed: {rows_text([r.index for r in rows])} together instruct {qty(requested)} {shown}"
        tail = f"; every row on this contract is blocked: make them add up to at most {qty(free)}"
    return Blocked(
        InstructionCode.INSUFFICIENT_POSITION,
        f"{head} but only {qty(free)} can be instructed ({', '.join(parts)}){tail}.",
        available=qty(free),
        requested=qty(requested),
    )
