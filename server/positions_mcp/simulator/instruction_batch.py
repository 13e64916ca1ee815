"""Position instructions: the submit batch and the list filter (Clear Street's API documentation);
what happens to a persisted instruction is ``instruction_lifecycle``'s.

Whole-request 400 (no ``data``): the body is not a JSON array, is empty or longer than
``MAX_BATCH``, a row is not an object, a required field is missing or of the wrong type, an
``instruction_type`` is unknown, a ``quantity`` is not a decimal string, or a
``client_instruction_id`` is empty. Unknown keys in a row are ignored.

Every other problem rejects only its row (``status`` REJECTED, nil UUID id, not persisted, never
listed). First failure wins, in this order:

1. ``INVALID_QUANTITY`` — quantity is not a positive whole number of contracts (cause 400);
2. ``DUPLICATE_INSTRUCTION`` — the key names a persisted instruction of the account, or an earlier
   row of the same batch carries it; metadata ``existing_id`` (the earlier row's id, the nil UUID
   when that row was rejected) (cause 409). Keys of rejected rows are never remembered, so a later
   batch may reuse them;
3. ``INSTRUMENT_NOT_FOUND`` (cause 404) / ``NOT_AN_OPTION`` (cause 400);
4. ``INSUFFICIENT_POSITION`` — judged per contract for the whole batch, so the verdict does not
   depend on row order: every instruction type (EXERCISE, DO_NOT_EXERCISE, CONTRARY_EXERCISE)
   consumes the contracts it covers. What is free is the long quantity minus working closing
   orders' leaves minus every pending (SENT or CANCEL_REQUESTED) instruction on the contract; when
   the batch's rows on a contract ask for more in total, *every* one of them is rejected, with
   metadata ``available`` (what was free) and ``requested`` (the batch's total on the contract;
   the row's own quantity when it is alone). So EXERCISE 10 and DO_NOT_EXERCISE 10 of a 10-lot, or
   two DO_NOT_EXERCISE 10, are both rejected in either order, while instructions that together fit
   (EXERCISE 4 and DO_NOT_EXERCISE 6 of a 10-lot) do not contradict each other and pass. Shorts and
   contracts not held have 0 free (cause 400);
5. ``DNE_NOT_ON_EXPIRY`` / ``CEA_NOT_ON_EXPIRY`` — not on the contract's expiration business day
   in New York; metadata ``expiry`` and ``business_date`` as ``YYYY-MM-DD`` (cause 400);
6. ``EUROPEAN_EARLY_EXERCISE`` — an EXERCISE of a European-style contract before its expiration
   business day (domain ``com.clearstreet.oems.exercise``, the simulator's own code: the API
   documents none); metadata ``expiry`` and ``business_date`` (cause 400);
7. ``EXERCISE_PAST_CUTOFF`` — at or after the cutoff on the expiration business day (and any time
   later): FINRA's 17:30 ET, 14:30 ET on an early-close day (``domain.calendar.exercise_cutoff``),
   or the simulator's configured broker cutoff when earlier; metadata ``cutoff_time`` as RFC 3339
   with the New York offset (cause 400).

Options levels are not modelled. The reason codes of steps 1, 3 and 6 are the simulator's own (the
API documents none). HTTP status: 200 when every row is SENT; 207 when some are, with ``error``
summarising the rejected rows; otherwise the rejected rows' common cause (409 all duplicates, 404
all unknown instruments, 400 validation), 400 when causes differ — ``data`` always holds every row
in request order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..clearstreet.market_models import ExerciseStyle
from ..clearstreet.models import NIL_UUID, InstructionStatus, InstructionType
from ..domain.calendar import expiration_business_day
from .accounts import Account
from .availability import instructable_quantity
from .instruction_lifecycle import (
    CLEARING_DOMAIN,
    EXERCISE_DOMAIN,
    Rejection,
    SimInstruction,
    persist_instruction,
)
from .instrument_registry import SimInstrument
from .state import SimulatorState
from .wire import ApiError, required
from .wire import quantity as quantity_text

MAX_BATCH = 1000
_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_MAX_QUANTITY_DIGITS = 18
_TYPES = {member.value: member for member in InstructionType}
_ON_EXPIRY_ONLY = {
    InstructionType.DO_NOT_EXERCISE: "DNE_NOT_ON_EXPIRY",
    InstructionType.CONTRARY_EXERCISE: "CEA_NOT_ON_EXPIRY",
}
DUPLICATE_DESCRIPTION = "Duplicate exercise instruction"
EUROPEAN_EARLY_EXERCISE = "EUROPEAN_EARLY_EXERCISE"


@dataclass(frozen=True, slots=True)
class SubmittedRow:
    """One well-formed row of a submit body."""

    instruction_type: InstructionType
    instrument_ref: str
    quantity: Decimal
    client_instruction_id: str | None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    status: int
    rows: list[dict[str, Any]]
    error: dict[str, Any] | None


def _field(row: dict[str, Any], index: int, name: str) -> Any:
    if name not in row or row[name] is None:
        raise ApiError(400, f"instructions[{index}].{name} is required")
    return row[name]


def _string(value: Any, index: int, name: str) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"instructions[{index}].{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ApiError(400, f"instructions[{index}].{name} must not be empty")
    return value


def parse_batch(body: Any) -> list[SubmittedRow]:
    """The rows of a submit body, or ``ApiError(400)`` for a body that is not a valid batch."""
    if not isinstance(body, list):
        raise ApiError(400, "The request body must be a JSON array of instructions")
    if not body:
        raise ApiError(400, "The request body must contain at least one instruction")
    if len(body) > MAX_BATCH:
        raise ApiError(400, f"A batch holds at most {MAX_BATCH} instructions, got {len(body)}")
    rows = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise ApiError(400, f"instructions[{index}] must be a JSON object")
        type_text = _string(_field(item, index, "instruction_type"), index, "instruction_type")
        instruction_type = _TYPES.get(type_text)
        if instruction_type is None:
            raise ApiError(
                400,
                f"instructions[{index}].instruction_type {type_text!r} is not one of {', '.join(_TYPES)}",
            )
        instrument_ref = _string(_field(item, index, "instrument_id"), index, "instrument_id")
        quantity_value = _string(_field(item, index, "quantity"), index, "quantity")
        quantity_value = quantity_value.strip()
        if not _DECIMAL.fullmatch(quantity_value):
            raise ApiError(
                400, f'instructions[{index}].quantity {quantity_value[:40]!r} is not a decimal string such as "1"'
            )
        if len(quantity_value.lstrip("+-").split(".")[0].lstrip("0")) > _MAX_QUANTITY_DIGITS:
            raise ApiError(400, f"instructions[{index}].quantity is out of range")
        key = item.get("client_instruction_id")
        if key is not None:
            key = _string(key, index, "client_instruction_id")
        rows.append(SubmittedRow(instruction_type, instrument_ref, Decimal(quantity_value), key))
    return rows


def _row_checks(account: Account, row: SubmittedRow, key: str, instrument: SimInstrument | None) -> Rejection | None:
    """Steps 1 to 3 of the module docstring (a key repeated within the batch is ``submit_batch``'s)."""
    qty = row.quantity
    if qty <= 0 or qty != qty.to_integral_value():
        return Rejection(
            "INVALID_QUANTITY",
            EXERCISE_DOMAIN,
            f"Quantity {quantity_text(qty)} is not a positive whole number of contracts",
            {"requested": quantity_text(qty)},
        )
    existing = account.instructions_by_key.get(key)
    if existing is not None:
        return _duplicate(existing.id)
    if instrument is None:
        return Rejection(
            "INSTRUMENT_NOT_FOUND", EXERCISE_DOMAIN, f"Instrument not found: {row.instrument_ref}", {}, 404
        )
    if instrument.option is None:
        return Rejection("NOT_AN_OPTION", EXERCISE_DOMAIN, f"{instrument.symbol} is not an option contract")
    return None


def _duplicate(existing_id: str) -> Rejection:
    return Rejection("DUPLICATE_INSTRUCTION", EXERCISE_DOMAIN, DUPLICATE_DESCRIPTION, {"existing_id": existing_id}, 409)


def _insufficient(instrument: SimInstrument, available: Decimal, requested: Decimal, rows: int) -> Rejection:
    contract = instrument.option
    assert contract is not None
    if rows == 1:
        text = f"Requested {quantity_text(requested)} contracts of {contract.padded()}"
    else:
        text = f"The batch requests {quantity_text(requested)} contracts of {contract.padded()} across {rows} rows"
    return Rejection(
        "INSUFFICIENT_POSITION",
        EXERCISE_DOMAIN,
        f"{text} but only {quantity_text(available)} long contracts are available",
        {"available": quantity_text(available), "requested": quantity_text(requested)},
    )


def _timing_checks(state: SimulatorState, row: SubmittedRow, instrument: SimInstrument) -> Rejection | None:
    """Steps 5 to 7: the expiration day of DNE/CEA, European-style exercise, the cutoff."""
    contract = instrument.option
    assert contract is not None
    today = state.today()
    expiry_day = expiration_business_day(contract.expiry)
    if row.instruction_type in _ON_EXPIRY_ONLY and today != expiry_day:
        return Rejection(
            _ON_EXPIRY_ONLY[row.instruction_type],
            EXERCISE_DOMAIN,
            f"{row.instruction_type.value} must be submitted on the contract's expiration date",
            {"expiry": contract.expiry.isoformat(), "business_date": today.isoformat()},
        )
    if (
        row.instruction_type is InstructionType.EXERCISE
        and instrument.exercise_style is ExerciseStyle.EUROPEAN
        and today < expiry_day
    ):
        return Rejection(
            EUROPEAN_EARLY_EXERCISE,
            EXERCISE_DOMAIN,
            f"{contract.padded()} is a European-style option: it can only be exercised on its expiration "
            f"date ({expiry_day.isoformat()})",
            {"expiry": contract.expiry.isoformat(), "business_date": today.isoformat()},
        )
    cutoff = state.cutoff_instant(contract)
    if state.now() >= cutoff:
        return Rejection(
            "EXERCISE_PAST_CUTOFF",
            EXERCISE_DOMAIN,
            f"Instructions for {contract.padded()} were due by the exercise cutoff ({cutoff.isoformat()})",
            {"cutoff_time": cutoff.isoformat()},
        )
    return None


def _rejected_row(
    account: Account, row: SubmittedRow, key: str, instrument: SimInstrument | None, rejection: Rejection
) -> SimInstruction:
    return SimInstruction(
        id=NIL_UUID,
        account_id=account.account_id,
        client_instruction_id=key,
        instruction_type=row.instruction_type,
        instrument=instrument,
        instrument_ref=row.instrument_ref,
        quantity=row.quantity,
        status=InstructionStatus.REJECTED,
        rejection=rejection,
    )


def _aggregate(outcomes: list[SimInstruction]) -> BatchOutcome:
    rows = [outcome.to_wire() for outcome in outcomes]
    rejections = [o.rejection for o in outcomes if o.status is InstructionStatus.REJECTED and o.rejection]
    if not rejections:
        return BatchOutcome(200, rows, None)
    causes = {rejection.cause for rejection in rejections}
    code = causes.pop() if len(causes) == 1 else 400
    descriptions = {rejection.description for rejection in rejections}
    if len(descriptions) == 1:
        message = descriptions.pop()
    else:
        message = f"{len(rejections)} of {len(outcomes)} instructions were rejected; each rejected row says why"
    status = 207 if len(rejections) < len(outcomes) else code
    return BatchOutcome(status, rows, {"code": code, "message": message})


def submit_batch(state: SimulatorState, account: Account, rows: list[SubmittedRow]) -> BatchOutcome:
    """Judge the batch (module docstring), persist the rows that pass as SENT in request order,
    aggregate the outcome."""
    keys = [row.client_instruction_id or state.ids.client_instruction_id() for row in rows]
    instruments = [state.instruments.resolve(row.instrument_ref) for row in rows]
    verdicts, duplicate_of = _row_verdicts(account, rows, keys, instruments)
    _judge_quantities(account, rows, instruments, verdicts)
    outcomes: list[SimInstruction] = []
    for index, (row, key, instrument) in enumerate(zip(rows, keys, instruments, strict=True)):
        verdict = verdicts[index]
        if verdict is None:
            verdict = _timing_checks(state, row, required(instrument))
        if index in duplicate_of:
            verdict = _duplicate(outcomes[duplicate_of[index]].id)
        if verdict is not None:
            outcomes.append(_rejected_row(account, row, key, instrument, verdict))
            continue
        outcomes.append(
            persist_instruction(
                state,
                account,
                client_instruction_id=key,
                instruction_type=row.instruction_type,
                instrument=required(instrument),
                quantity=row.quantity.to_integral_value(),
            )
        )
    return _aggregate(outcomes)


def _row_verdicts(
    account: Account, rows: list[SubmittedRow], keys: list[str], instruments: list[SimInstrument | None]
) -> tuple[list[Rejection | None], dict[int, int]]:
    """Steps 1 to 3 per row, and the rows whose key an earlier row of the batch carries (by index:
    the earlier row's index; their ``existing_id`` is filled in once that row is decided)."""
    verdicts: list[Rejection | None] = []
    duplicate_of: dict[int, int] = {}
    first_with_key: dict[str, int] = {}
    for index, (row, key, instrument) in enumerate(zip(rows, keys, instruments, strict=True)):
        verdict = _row_checks(account, row, key, instrument)
        earlier = first_with_key.setdefault(key, index)
        if earlier != index and (
            verdict is None or verdict.reason not in ("INVALID_QUANTITY", "DUPLICATE_INSTRUCTION")
        ):
            duplicate_of[index] = earlier
            verdict = _duplicate(NIL_UUID)
        verdicts.append(verdict)
    return verdicts, duplicate_of


def _judge_quantities(
    account: Account,
    rows: list[SubmittedRow],
    instruments: list[SimInstrument | None],
    verdicts: list[Rejection | None],
) -> None:
    """Step 4, per contract and independent of row order: the rows still standing consume
    contracts together; if their total exceeds what is free, every one of them is rejected."""
    by_contract: dict[str, list[int]] = {}
    for index, verdict in enumerate(verdicts):
        if verdict is None:
            by_contract.setdefault(required(instruments[index]).instrument_id, []).append(index)
    for members in by_contract.values():
        instrument = required(instruments[members[0]])
        available = instructable_quantity(account, account.holdings.get(instrument.instrument_id))
        requested = sum((rows[index].quantity for index in members), Decimal(0))
        if requested > available:
            rejection = _insufficient(instrument, available, requested, len(members))
            for index in members:
                verdicts[index] = rejection


def fail_batch(state: SimulatorState, account: Account, rows: list[SubmittedRow], status: int) -> BatchOutcome:
    """An injected server-side failure: nothing is persisted and every row is rejected — clearing
    unavailable for 503, an internal fault for any other status."""
    if status == 503:
        rejection = Rejection("CLEARING_UNAVAILABLE", CLEARING_DOMAIN, "Clearing service unavailable", {}, 503)
    else:
        rejection = Rejection("INTERNAL_ERROR", EXERCISE_DOMAIN, "Could not process the instruction", {}, status)
    outcomes = [
        _rejected_row(
            account,
            row,
            row.client_instruction_id or state.ids.client_instruction_id(),
            state.instruments.resolve(row.instrument_ref),
            rejection,
        )
        for row in rows
    ]
    return BatchOutcome(status, [o.to_wire() for o in outcomes], {"code": status, "message": rejection.description})


def list_instructions(
    account: Account, *, instrument: SimInstrument | None, underlying: SimInstrument | None
) -> list[dict[str, Any]]:
    """Persisted instructions in creation order, filtered by contract and underlier (ANDed)."""
    rows = []
    for instruction in account.instructions:
        contract = instruction.instrument
        if instrument is not None and contract is not instrument:
            continue
        if underlying is not None and (contract is None or contract.underlying is not underlying):
            continue
        rows.append(instruction.to_wire())
    return rows
