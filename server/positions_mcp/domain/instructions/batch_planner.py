"""The planner: a request (rows) plus the account's positions and instructions in, an
:class:`.instruction_plan.InstructionPlan` out. It runs the rules in the package docstring's order
(:mod:`.row_rules`, :mod:`.contract_rules`, :mod:`.timing_rules`), then says what each row that
passes does (:mod:`.exercise_value`, :mod:`.plan_wording`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from ...clearstreet.models import (
    InstructionRequest,
    InstructionType,
    Position,
    PositionInstruction,
    new_instruction_key,
)
from ..calendar import expiration_business_day
from ..contracts import ContractTerms
from ..expiry import contract_moneyness, default_at_expiry
from ..market_view import Quote
from ..moneyness import underlier_prices
from ..settlement import instruction_exercises
from . import plan_wording as wording
from .contract_rules import check_contract
from .exercise_value import delivery, put_deliveries, time_value
from .idempotency import BatchKeys
from .instruction_plan import InstructionInput, InstructionPlan, PlannedInstruction, RowStatus
from .plan_inputs import PlanInputs
from .plan_row import PlanRow
from .row_rules import check_row
from .timing_rules import after_todays_cutoff, check_timing

__all__ = ["plan_instructions"]


def plan_instructions(
    positions: Iterable[Position],
    rows: Sequence[InstructionInput | InstructionRequest | Mapping[str, Any]],
    *,
    now: datetime,
    cutoff: time | None = None,
    existing: Iterable[PositionInstruction] = (),
    prices: Mapping[str, Decimal] | None = None,
    contracts: Mapping[str, ContractTerms] | None = None,
    new_key: Callable[[], str] = new_instruction_key,
    quotes: Mapping[str, Quote] | None = None,
    earlier_keys: Sequence[str] | None = None,
) -> InstructionPlan:
    """Check every row and say what it would do (the package docstring lists the rules).

    ``cutoff``: an optional broker cutoff (New York wall time), applied only when earlier than the
    day's FINRA deadline (:func:`.calendar.exercise_cutoff`). ``existing``: the account's
    instructions (duplicate keys; live ones hold contracts). ``prices``: underlier instrument id
    -> price (default: the account's own positions). ``contracts``: instrument id ->
    :class:`.contracts.ContractTerms` (default: :func:`.contracts.terms_for`'s fallbacks).
    ``quotes``: instrument id -> the market-data snapshot's :class:`.market_view.Quote` (the contracts'
    bids estimate the time value an early exercise gives up; without them it is said unknown).
    ``earlier_keys``: the keys, in row order, of an identical request sent a moment ago
    (:mod:`.idempotency`: lent to rows without a key, unless their instruction was cancelled)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    held = list(positions)
    inputs = PlanInputs(
        positions=held,
        existing=list(existing),
        now=now,
        broker_cutoff=cutoff,
        prices=underlier_prices(held) if prices is None else prices,
        contracts=contracts or {},
        quotes=quotes or {},
    )
    planned = _checked(inputs, rows, new_key, earlier_keys)
    for row in planned:
        _value(inputs, row)
    puts = put_deliveries(inputs, planned)
    out = [_result(inputs, row, puts) for row in planned]
    today_cutoff = inputs.deadline(inputs.today)
    return InstructionPlan(rows=out, cutoff_time=f"{today_cutoff:%H:%M} America/New_York", summary=wording.summary(out))


def _coerce(row: InstructionInput | InstructionRequest | Mapping[str, Any]) -> InstructionInput:
    if isinstance(row, InstructionInput):
        return row
    if isinstance(row, InstructionRequest):
        return InstructionInput(
            instruction_type=row.instruction_type,
            instrument_id=row.instrument_id,
            quantity=row.quantity,
            instruction_id=row.client_instruction_id,
        )
    return InstructionInput.model_validate(dict(row))


def _checked(
    inputs: PlanInputs,
    rows: Sequence[InstructionInput | InstructionRequest | Mapping[str, Any]],
    new_key: Callable[[], str],
    earlier_keys: Sequence[str] | None,
) -> list[PlanRow]:
    """Every row with its key, through rules 1-5a row by row, rule 6 contract by contract, then
    rules 7-10 on what is left."""
    keys = BatchKeys(inputs)
    planned: list[PlanRow] = []
    for index, raw in enumerate(rows, start=1):
        request = _coerce(raw)
        given = request.instruction_id.strip() if request.instruction_id else ""
        earlier_key = earlier_keys[index - 1] if earlier_keys is not None and index <= len(earlier_keys) else None
        key, generated, cancelled = keys.key_for(given, earlier_key, new_key)
        row = PlanRow(index=index, request=request, key=key, generated=generated, after_cancel=cancelled)
        check_row(inputs, keys, row)
        planned.append(row)
    by_contract: dict[str, list[PlanRow]] = {}
    for row in planned:
        if row.pending and row.position is not None:
            by_contract.setdefault(row.position.instrument_id, []).append(row)
    for contract_rows in by_contract.values():
        check_contract(inputs, contract_rows)
    for row in planned:
        if row.pending:
            check_timing(inputs, row)
    return planned


def _value(inputs: PlanInputs, row: PlanRow) -> None:
    """Moneyness and the default at expiry of a resolved row; whether it exercises; the time value
    an early exercise gives up."""
    if row.position is None or row.symbol is None:
        return
    price_now = inputs.price(row.position, row.symbol)
    row.m = contract_moneyness(row.symbol, price_now, row.terms) if price_now is not None else None
    row.default = default_at_expiry(True, row.symbol, price_now, row.terms)
    row.exercises = bool(instruction_exercises(row.request.instruction_type, row.default))
    row.time_value = time_value(inputs, row)


def _result(inputs: PlanInputs, row: PlanRow, puts: Mapping[str, Decimal]) -> PlannedInstruction:
    symbol, position = row.symbol, row.position
    common: dict[str, Any] = dict(
        row=row.index,
        instruction_type=row.request.instruction_type,
        requested=row.request.instrument_id,
        instrument_id=position.instrument_id if position is not None else None,
        symbol=symbol.padded() if symbol is not None else None,
        quantity=row.request.quantity,
        instruction_id=row.key,
        generated_key=row.generated,
        expiry=symbol.expiry if symbol is not None else None,
        moneyness=row.m,
        after_cancel=wording.after_cancel_text(row),
    )
    if row.blocked is not None:
        return PlannedInstruction(
            **common,
            status=RowStatus.BLOCKED,
            reason=row.blocked.code,
            message=row.blocked.message,
            metadata=row.blocked.metadata,
        )
    if row.already is not None:
        return PlannedInstruction(
            **common,
            status=RowStatus.ALREADY_SUBMITTED,
            message=wording.already_submitted_text(row.already),
            metadata={"existing_id": row.already.id},
        )
    assert position is not None and symbol is not None
    exercised = None
    if row.exercises:
        exercised = delivery(inputs, row, puts.get(inputs.underlier_name(position, symbol), Decimal(0)))
    return PlannedInstruction(
        **common,
        status=RowStatus.OK,
        message=wording.row_message(inputs, row, exercised),
        submit_before=inputs.deadline(expiration_business_day(symbol.expiry)),
        delivery=exercised,
        notes=_notes(inputs, row),
        time_value=row.time_value.amount if row.time_value is not None else None,
    )


def _notes(inputs: PlanInputs, row: PlanRow) -> list[str]:
    """An OK row's notes: its value, its contract's terms, other instructions on the contract, and
    an early exercise past today's cutoff."""
    assert row.position is not None and row.symbol is not None
    notes = wording.value_notes(inputs, row) + wording.terms_notes(inputs, row)
    if live := inputs.live_on(row.position):
        notes.append(wording.live_instructions_note(live))
    if row.request.instruction_type is InstructionType.EXERCISE and after_todays_cutoff(inputs, row.symbol):
        notes.append(wording.past_cutoff_note(inputs))
    return notes
