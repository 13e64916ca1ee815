"""Instruction plans: the pre-acceptance rules Clear Street documents, run before anything is sent.

Pure, no I/O. Each requested row is checked in this order and stops at the first failure, with the
reason code the API would use where it has one:

1. quantity is a positive whole number of contracts ............ INVALID_QUANTITY
2. the idempotency key is unique in the batch and the account .. DUPLICATE_INSTRUCTION
3. the instrument is a position of the account ................. UNKNOWN_INSTRUMENT / AMBIGUOUS_INSTRUMENT
   (an OSI symbol the account does not hold: INSUFFICIENT_POSITION, available 0, as the API would)
4. it is an option ............................................. NOT_AN_OPTION
5. the position is long ........................................ NOT_LONG
5a. its contract terms are readable (this server's rule: what a
   row delivers is stated before anyone approves it) .......... CONTRACT_TERMS_UNUSABLE
6. the batch's rows on one contract agree and fit:
   a. one instruction type per contract ........................ CONFLICTING_INSTRUCTIONS
   b. Σ quantities ≤ what pending instructions leave free ...... INSUFFICIENT_POSITION
7. DO_NOT_EXERCISE / CONTRARY_EXERCISE only on the expiration
   business day ................................................ DNE_NOT_ON_EXPIRY / CEA_NOT_ON_EXPIRY
8. no EXERCISE of a European-style contract before its
   expiration business day ..................................... EUROPEAN_EXERCISE_BEFORE_EXPIRY
9. before the exercise cutoff on the expiration business day ... EXERCISE_PAST_CUTOFF
10. EXERCISE after the expiration business day ................. EXERCISE_PAST_CUTOFF

Rules and decisions:

* **Cutoff** (rule 9): FINRA Rule 2360(b)(23)(A), :func:`.calendar.exercise_cutoff`: 17:30 ET, or
  14:30 ET on an early-close day (13:00 close + 1½ h). ``cutoff`` is an optional broker cutoff
  (New York wall time); the effective cutoff is the earlier of the two. Clear Street's own cutoff
  is unpublished (Clear Street's API documentation). ``cutoff_time`` metadata is the cutoff instant in RFC 3339 with
  the New York offset; ``InstructionPlan.cutoff_time`` is today's effective cutoff.
* There is no daily cutoff for early exercise (the API documents none): an EXERCISE after the
  day's cutoff before expiry gets a note, not a block.
* **Contracts covered** (rule 6): every instruction type covers the contracts it names, so every
  row and every live instruction consumes them. Free = min(quantity − contracts held by every live
  instruction, |available_quantity| − contracts held by live DO_NOT_EXERCISE / CONTRARY_EXERCISE
  instructions). ``available_quantity`` already nets out working closing orders and, as the
  simulator reads Clear Street's API documentation (an open question upstream), pending EXERCISE instructions, but
  not the other types: so each reservation is counted once, orders and instructions together
  (10 held, SELL 3 working, DNE 4 pending: 3 free, not 6). A live instruction is a
  persisted one (``id`` not the nil UUID) that is not finished: any status but REJECTED,
  CANCELLED and ENGINE_REJECTED, and not an ACCEPTED EXERCISE (those contracts are exercised and
  leave the position). So SENT and CANCEL_REQUESTED rows count, CANCEL_FAILED ones too (the
  instruction stands), as do UNKNOWN statuses (fail closed) and ACCEPTED DO_NOT_EXERCISE /
  CONTRARY_EXERCISE (in force until expiry).
* **Order independence** (rule 6): the check is made on the contract, over all its rows that
  passed rules 1-5, never row by row. When the rows together ask for more than is free, *every*
  row on that contract is blocked, and the message gives the total requested and what is free.
  Different instruction types on one contract in one batch contradict each other (a contract is
  either exercised or not; exercising some contracts and not others of a series needs only one
  type: instruct the contracts whose default should change), so all those rows are blocked too,
  naming the rows. Only rule 2 depends on row order, as at the API: the first row with a key that
  passes rules 1, 3, 4 and 5 holds the key; a later row with the same key is a duplicate.
* Any persisted instruction holds its ``client_instruction_id``, whatever its status; a repeat of
  the same instruction under its key is harmless (Clear Street answers with the original), except
  when the original was cancelled or its cancel requested: sending its key again creates nothing
  (the answer is the cancelled original), so such a key is never reused. ``earlier_keys`` (the keys
  of an identical request sent a moment ago) are lent to rows without a key of their own, unless
  they name such an instruction: the row then gets a new key and says which instruction was
  cancelled (``after_cancel``); a key given for such an instruction is a DUPLICATE_INSTRUCTION.
* **Default at expiry** and what an instruction changes: :func:`.expiry.default_at_expiry`, the
  one OCC Rule 805(d) exercise-by-exception rule ($0.01 a share) the exposure summary uses too.
  Every OK row says what it changes relative to that default and what it delivers.
* **Contract terms** (``contracts``, keyed by instrument id; else :func:`.contracts.terms_for`):
  multiplier, deliverable shares, exercise style, settlement. A cash-settled contract delivers no
  shares and pays intrinsic per share × multiplier × contracts. An unknown exercise style is
  never assumed: an early EXERCISE of such a contract passes with a note saying so.
* **Put exercises** deliver shares: the free shares of the underlier (its ``available_quantity``,
  not its quantity) are compared with what every put exercise of the batch on that underlier
  delivers together; a shortfall is shown, not blocked (a margin account may deliver short).
* Rows keep the caller's ``instruction_id``; rows without one get ``cs-mcp-<uuid4>`` (injectable).
* ``requests()`` sends the resolved instrument UUID, never the caller's symbol rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field

from ..clearstreet.models import (
    InstructionRequest,
    InstructionStatus,
    InstructionType,
    Position,
    PositionInstruction,
    new_instruction_key,
)
from .calendar import (
    describe_exercise_cutoff,
    exercise_cutoff,
    expiration_business_day,
    is_business_day,
    new_york,
)
from .closing import is_option
from .contracts import DEFAULT_SOURCE, ENDPOINT_SOURCE, ContractTerms, terms_for, underlier_of_root
from .expiry import (
    EXERCISE_BY_EXCEPTION,
    DefaultAtExpiry,
    contract_moneyness,
    default_at_expiry,
    in_the_money_by,
    intrinsic_per_contract,
)
from .last_trade import last_trade
from .market_view import Quote
from .moneyness import Moneyness, MoneynessState, best_price, underlier_prices
from .numbers import CENT, DecimalString
from .osi import OptionSymbol, symbol_key, try_parse_osi
from .resolve import ResolveCode, ResolveError, display_symbol, resolve_position
from .settlement import FINISHED_INSTRUCTION_STATUSES, free_shares, holds_contracts, instruction_exercises
from .text import format_et, money, price, qty

__all__ = [
    "ExerciseDelivery",
    "InstructionCode",
    "InstructionInput",
    "InstructionPlan",
    "PlannedInstruction",
    "RowStatus",
    "new_instruction_key",
    "plan_instructions",
    "underlier_position",
    "underlier_price",
]

_SHORT = {
    InstructionType.EXERCISE: "EXERCISE",
    InstructionType.DO_NOT_EXERCISE: "DO_NOT_EXERCISE",
    InstructionType.CONTRARY_EXERCISE: "CONTRARY_EXERCISE",
}
_OCC = "OCC exercise by exception"
_THOUSANDTH = Decimal("0.001")
_CANCELLING = frozenset({InstructionStatus.CANCELLED, InstructionStatus.CANCEL_REQUESTED})
"""An instruction cancelled, or being cancelled: its key is never a repeat. Clear Street rejects a
persisted client_instruction_id as DUPLICATE_INSTRUCTION (existing_id: the original) whatever the
original's status (its documented idempotency), so sending the key again creates nothing."""
_STATE_WORDS = {
    MoneynessState.ITM: "in the money",
    MoneynessState.ATM: "at the money",
    MoneynessState.OTM: "out of the money",
}


class RowStatus(StrEnum):
    OK = "OK"
    BLOCKED = "BLOCKED"
    ALREADY_SUBMITTED = "ALREADY_SUBMITTED"
    """The row's key names a persisted instruction of the same type, contract and quantity: this
    is a repeat of it. Sending it again is harmless (Clear Street answers with the original)."""


class InstructionCode(StrEnum):
    INVALID_QUANTITY = "INVALID_QUANTITY"
    DUPLICATE_INSTRUCTION = "DUPLICATE_INSTRUCTION"
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    AMBIGUOUS_INSTRUMENT = "AMBIGUOUS_INSTRUMENT"
    NOT_AN_OPTION = "NOT_AN_OPTION"
    NOT_LONG = "NOT_LONG"
    CONFLICTING_INSTRUCTIONS = "CONFLICTING_INSTRUCTIONS"
    INSUFFICIENT_POSITION = "INSUFFICIENT_POSITION"
    DNE_NOT_ON_EXPIRY = "DNE_NOT_ON_EXPIRY"
    CEA_NOT_ON_EXPIRY = "CEA_NOT_ON_EXPIRY"
    EUROPEAN_EXERCISE_BEFORE_EXPIRY = "EUROPEAN_EXERCISE_BEFORE_EXPIRY"
    EXERCISE_PAST_CUTOFF = "EXERCISE_PAST_CUTOFF"
    CONTRACT_TERMS_UNUSABLE = "CONTRACT_TERMS_UNUSABLE"


class InstructionInput(BaseModel):
    """One requested row, as the tool receives it (``client_instruction_id`` is accepted too)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    instruction_type: InstructionType
    instrument_id: str
    quantity: Decimal
    instruction_id: str | None = Field(
        default=None, validation_alias=AliasChoices("instruction_id", "client_instruction_id")
    )


class ExerciseDelivery(BaseModel):
    """What exercising delivers. Signed from the account's side: ``shares`` > 0 received (call),
    < 0 delivered (put); ``cash`` < 0 paid, > 0 received. Cash-settled (index) options deliver no
    shares and receive the intrinsic value (``cash`` None when the index level is unknown)."""

    settlement: Literal["PHYSICAL", "CASH"]
    underlier: str
    strike: DecimalString
    shares: DecimalString
    cash: DecimalString | None = None
    shares_held: DecimalString | None = None
    enough_shares: bool | None = None
    text: str


class PlannedInstruction(BaseModel):
    row: int
    instruction_type: InstructionType
    requested: str
    instrument_id: str | None = None
    symbol: str | None = None
    quantity: DecimalString
    instruction_id: str
    generated_key: bool
    status: RowStatus
    reason: InstructionCode | None = None
    message: str
    metadata: dict[str, str] = {}
    expiry: date | None = None
    submit_before: datetime | None = None
    moneyness: Moneyness | None = None
    delivery: ExerciseDelivery | None = None
    notes: list[str] = []
    time_value: DecimalString | None = Field(
        None,
        description="An early EXERCISE in the money: what selling the contracts at the bid would bring minus "
        "the intrinsic value exercise is worth, total USD (an estimate at the bid; source in notes)",
    )
    after_cancel: str | None = Field(
        None,
        description="An identical request sent a moment ago created an instruction that was cancelled (or is being "
        "cancelled): which, and that this row is a new instruction under a new key",
    )


class CashCheck(BaseModel):
    """What settles with the batch's exercises, against the account's cash (balances):
    :mod:`.cash_check`, on the one model of :mod:`.settlement`. An exercise settles on the exercise
    settlement date, T+1 (OCC exercise settlement, SEC Rule 15c6-1), as does the expiry the same
    night. Counted: every payment and only the certain receipts. All figures are totals."""

    exercise_cash: DecimalString = Field(description="What this batch's exercises pay (< 0) or receive (> 0), counted")
    pending_exercise_cash: DecimalString | None = Field(
        None, description="What instructions already sent and in force pay or receive, counted"
    )
    expiry_cash: DecimalString | None = Field(
        None,
        description="What the rest of today's expiry settles by default (auto-exercise, likely assignment), counted",
    )
    short_sale_proceeds: DecimalString | None = Field(
        None, description="Cash for delivering shares not held free: collateral, not counted (Reg T)"
    )
    trade_cash: DecimalString | None = Field(None, description="The account's trade-date cash (balances)")
    cash_after: DecimalString | None = Field(
        None, description="trade_cash + exercise_cash + pending_exercise_cash + expiry_cash"
    )
    buying_power: DecimalString | None = None
    warning: str | None = None


class InstructionPlan(BaseModel):
    rows: list[PlannedInstruction]
    cutoff_time: str
    summary: str
    cash: CashCheck | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ready(self) -> bool:
        """True when every row passes (or repeats an instruction already submitted); only then may
        the batch be submitted."""
        return bool(self.rows) and all(r.status is not RowStatus.BLOCKED for r in self.rows)

    @property
    def instruction_keys(self) -> list[str]:
        return [r.instruction_id for r in self.rows]

    @property
    def instrument_ids(self) -> list[str]:
        """The option positions the batch touches (for the positions fingerprint)."""
        return list(dict.fromkeys(r.instrument_id for r in self.rows if r.instrument_id))

    def why_blocked(self) -> str:
        """Why this batch cannot be submitted, in one line ('' when it can)."""
        return "; ".join(f"row {r.row}: {r.message}" for r in self.rows if r.status is RowStatus.BLOCKED)

    @property
    def sends(self) -> tuple[str, ...]:
        """What the plan sends, one canonical line per row (status, type, quantity, instrument,
        key): a confirmation binds these, so execution refuses a plan that differs in any of them."""
        return tuple(
            f"{r.status} {r.instruction_type} {r.quantity} {r.instrument_id or r.requested} {r.instruction_id}"
            for r in self.rows
        )

    def requests(self) -> list[InstructionRequest]:
        """The submit body, in request order. Only for a ready plan."""
        if not self.ready:
            raise ValueError("the instruction plan is not ready: blocked rows cannot be submitted")
        return [
            InstructionRequest(
                instruction_type=r.instruction_type,
                instrument_id=r.instrument_id or "",
                quantity=r.quantity,
                client_instruction_id=r.instruction_id,
            )
            for r in self.rows
        ]


class _Blocked(Exception):
    def __init__(self, code: InstructionCode, message: str, **metadata: str) -> None:
        self.code = code
        self.message = message
        self.metadata = metadata
        super().__init__(message)


@dataclass
class _Row:
    """One requested row while it is planned."""

    index: int
    request: InstructionInput
    key: str
    generated: bool
    position: Position | None = None
    symbol: OptionSymbol | None = None
    terms: ContractTerms | None = None
    blocked: _Blocked | None = None
    already: PositionInstruction | None = None
    """The persisted instruction this row repeats (same key, type, contract and quantity)."""
    after_cancel: PositionInstruction | None = None
    """The cancelled (or cancel-requested) instruction an identical earlier request created in this
    row's place: this row is a new instruction, under a new key."""
    # filled for OK rows
    m: Moneyness | None = None
    default: DefaultAtExpiry = DefaultAtExpiry.UNKNOWN
    exercises: bool = False
    time_value: _TimeValue | None = None
    """An early exercise in the money: the time value it gives up, at the bid."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _TimeValue:
    """What an early exercise gives up, total: selling at the bid would bring ``sale`` (bid ×
    multiplier × contracts); exercising is worth ``intrinsic``; ``amount`` = sale − intrinsic
    (None when no bid is known). ``note`` says it, with the bid's source."""

    amount: Decimal | None
    note: str


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


def _same_instrument(instruction: PositionInstruction, position: Position) -> bool:
    return instruction.instrument_id.strip().lower() == position.instrument_id.strip().lower() or (
        symbol_key(instruction.symbol) == symbol_key(position.symbol)
    )


def underlier_position(positions: Sequence[Position], option: Position, symbol: OptionSymbol) -> Position | None:
    """The account's position in the underlier of ``option``: by ``underlying_instrument_id``, else
    a non-option position whose symbol is the OSI root."""
    for p in positions:
        if option.underlying_instrument_id and p.instrument_id == option.underlying_instrument_id:
            return p
    for p in positions:
        if not is_option(p) and symbol_key(p.symbol) == symbol.root:
            return p
    return None


def underlier_price(
    positions: Sequence[Position], prices: Mapping[str, Decimal], option: Position, symbol: OptionSymbol
) -> Decimal | None:
    """The price of ``option``'s underlier: ``prices`` by its ``underlying_instrument_id``, else the
    underlier position's own (:func:`.moneyness.best_price`)."""
    if option.underlying_instrument_id and option.underlying_instrument_id in prices:
        return prices[option.underlying_instrument_id]
    underlier = underlier_position(positions, option, symbol)
    return None if underlier is None else best_price(underlier)[0]


def _rows_text(numbers: Sequence[int]) -> str:
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


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _describe(kind: InstructionType | str, contracts: Decimal, symbol: str) -> str:
    return f"{_SHORT.get(kind, kind) if isinstance(kind, InstructionType) else kind} {qty(contracts)} {symbol}"


def _cancel_text(instruction: PositionInstruction, *, key: bool = False) -> str:
    """``instruction 0195… (EXERCISE 5 AAPL 280121C00195000) was cancelled at Mon 2026-11-23 10:00 ET``
    (``key``: with its ``client_instruction_id`` in the parenthesis)."""
    what = _describe(instruction.instruction_type, instruction.quantity, display_symbol(instruction.symbol))
    if key:
        what += f", key {instruction.client_instruction_id}"
    at = format_et(instruction.updated_at) if instruction.updated_at is not None else None
    if instruction.status == InstructionStatus.CANCELLED:
        return f"instruction {instruction.id} ({what}) was cancelled{f' at {at}' if at else ''}"
    return f"instruction {instruction.id} ({what}) is being cancelled (CANCEL_REQUESTED{f' since {at}' if at else ''})"


def _after_cancel(row: _Row) -> str | None:
    if row.after_cancel is None:
        return None
    return f"{_cancel_text(row.after_cancel, key=True)}; this is a new instruction, under the new key {row.key}"


class _Planner:
    def __init__(
        self,
        positions: Sequence[Position],
        existing: Sequence[PositionInstruction],
        now: datetime,
        cutoff: time | None,
        prices: Mapping[str, Decimal],
        contracts: Mapping[str, ContractTerms] | None,
        quotes: Mapping[str, Quote] | None = None,
    ) -> None:
        self.positions = positions
        self.quotes = quotes or {}
        self.existing = existing
        self.local = new_york(now)
        self.today = self.local.date()
        self.broker_cutoff = cutoff
        self.prices = prices
        self.contracts = contracts or {}
        self.batch_keys: set[str] = set()

    # -- rules 1-5: each row on its own -----------------------------------------------------------

    def check_row(self, row: _Row) -> None:
        try:
            self._quantity(row.request.quantity)
            earlier = self._key(row.key)
            row.position, row.symbol = self._resolve(row.request.instrument_id)
            if earlier is not None:
                self._repeats(row, earlier, row.position)
                return
            self._long(row.position, row.symbol)
        except _Blocked as blocked:
            row.blocked = blocked
            return
        self.batch_keys.add(row.key)
        row.terms = self.terms(row.position)
        if row.terms.problem:  # what the row delivers or gives up cannot be stated: not approvable
            row.blocked = _Blocked(
                InstructionCode.CONTRACT_TERMS_UNUSABLE,
                f"The terms of {row.symbol.spaced()} cannot be read: {row.terms.problem}. What this instruction "
                "delivers or gives up cannot be stated, so it is not sent; ask Clear Street to correct the "
                "contract's reference data.",
            )
        elif not row.terms.deliverable_confirmed:  # contracts.py: an adjustment may change the deliverable
            row.blocked = _Blocked(
                InstructionCode.CONTRACT_TERMS_UNUSABLE,
                f"The deliverable of {row.symbol.spaced()} is not confirmed: an adjusted contract (its root ends in "
                "a digit) and the option-contracts endpoint gives no deliverable, so the shares a contract "
                f"delivers are not assumed from its multiplier of {qty(row.terms.multiplier)}. What this "
                "instruction delivers or gives up cannot be stated, so it is not sent; ask Clear Street's desk "
                "what the contract delivers.",
            )

    def _quantity(self, quantity: Decimal) -> None:
        if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral_value():
            raise _Blocked(
                InstructionCode.INVALID_QUANTITY,
                f"Quantity {quantity} is not a positive whole number of contracts.",
            )

    def _key(self, key: str) -> PositionInstruction | None:
        """The persisted instruction that already holds ``key``, if any (checked in ``_repeats``)."""
        if key in self.batch_keys:
            raise _Blocked(
                InstructionCode.DUPLICATE_INSTRUCTION,
                f"instruction_id {key!r} is used by an earlier row of this batch; give each row its "
                "own instruction_id or omit it.",
            )
        return next((i for i in self.existing if i.persisted and i.client_instruction_id == key), None)

    def _repeats(self, row: _Row, earlier: PositionInstruction, position: Position) -> None:
        """A key already used: the same instruction again is a harmless repeat (the API answers
        with the original, Clear Street's API documentation); anything else under that key is a duplicate."""
        same = (
            earlier.instruction_type == row.request.instruction_type
            and earlier.quantity == row.request.quantity
            and _same_instrument(earlier, position)
        )
        if earlier.status in _CANCELLING:
            raise _Blocked(
                InstructionCode.DUPLICATE_INSTRUCTION,
                f"instruction_id {row.key!r} is the key of a cancelled instruction: {_cancel_text(earlier)}. Sent "
                "again, Clear Street would answer with that instruction and create nothing. Omit instruction_id "
                "(the preview assigns a new one) or pass a new one.",
                existing_id=earlier.id,
            )
        if not same:
            raise _Blocked(
                InstructionCode.DUPLICATE_INSTRUCTION,
                f"instruction_id {row.key!r} was already used by instruction {earlier.id} "
                f"({earlier.instruction_type} {qty(earlier.quantity)} {display_symbol(earlier.symbol)}, "
                f"{earlier.status}); use a new instruction_id or omit it.",
                existing_id=earlier.id,
            )
        self.batch_keys.add(row.key)
        row.already = earlier

    def key_for(
        self, given: str, earlier_key: str | None, new_key: Callable[[], str]
    ) -> tuple[str, bool, PositionInstruction | None]:
        """A row's key, whether this preview generated it, and the cancelled instruction it replaces.
        ``given``: the row's own key ('' when none); ``earlier_key``: the key an identical request
        sent a moment ago used for this row, lent to a row without its own unless the instruction
        under it was cancelled or is being cancelled (then a new key: sending it again would
        create nothing)."""
        held = next((i for i in self.existing if i.persisted and i.client_instruction_id == earlier_key), None)
        cancelled = held if earlier_key and held is not None and held.status in _CANCELLING else None
        if given:
            return given, False, cancelled if cancelled is not None and given != earlier_key else None
        if earlier_key and cancelled is None:
            return earlier_key, False, None
        return new_key(), True, cancelled

    def _resolve(self, text: str) -> tuple[Position, OptionSymbol]:
        try:
            position = resolve_position(self.positions, text)
        except ResolveError as exc:
            option = try_parse_osi(text)
            if option is not None and exc.code is ResolveCode.UNKNOWN_INSTRUMENT:
                raise _Blocked(
                    InstructionCode.INSUFFICIENT_POSITION,
                    f"The account holds no {option.spaced()} contracts (available 0).",
                    available="0",
                ) from None
            code = (
                InstructionCode.AMBIGUOUS_INSTRUMENT
                if exc.code is ResolveCode.AMBIGUOUS_INSTRUMENT
                else InstructionCode.UNKNOWN_INSTRUMENT
            )
            raise _Blocked(code, exc.message) from None
        symbol = try_parse_osi(position.symbol)
        if not is_option(position):
            raise _Blocked(
                InstructionCode.NOT_AN_OPTION,
                f"{position.symbol} is a {position.instrument_type} position, not an option: only "
                "option contracts can be exercised; pass the contract's OSI symbol.",
            )
        if symbol is None:
            raise _Blocked(
                InstructionCode.UNKNOWN_INSTRUMENT,
                f"Cannot read expiry and strike from the option symbol {position.symbol!r}.",
            )
        return position, symbol

    def _long(self, position: Position, symbol: OptionSymbol) -> None:
        if position.quantity <= 0:
            raise _Blocked(
                InstructionCode.NOT_LONG,
                f"The account is short {qty(abs(position.quantity))} {symbol.spaced()}: only a long "
                "option can be exercised or instructed (a short is assigned, not exercised).",
            )

    def terms(self, position: Position) -> ContractTerms:
        given = self.contracts.get(position.instrument_id)
        return given if given is not None else terms_for(position)

    # -- rule 6: all the rows of one contract together ----------------------------------------------

    def check_contract(self, rows: list[_Row]) -> None:
        position, symbol = rows[0].position, rows[0].symbol
        assert position is not None and symbol is not None
        shown = symbol.spaced()
        numbers = [r.index for r in rows]
        live = [i for i in self.existing if holds_contracts(i) and _same_instrument(i, position)]
        reserved = min(sum((i.quantity for i in live), Decimal(0)), position.quantity)
        not_netted = sum((i.quantity for i in live if i.instruction_type != InstructionType.EXERCISE), Decimal(0))
        reported = min(abs(position.available_quantity), position.quantity) - not_netted
        free = max(min(reported, position.quantity - reserved), Decimal(0))
        requested = sum((r.request.quantity for r in rows), Decimal(0))
        kinds = {r.request.instruction_type for r in rows}
        if len(kinds) > 1:
            asked = ", ".join(
                f"{_SHORT[r.request.instruction_type]} {qty(r.request.quantity)} (row {r.index})" for r in rows
            )
            also = (
                f"; together they also ask for {qty(requested)} where {qty(free)} can be instructed"
                if requested > free
                else ""
            )
            blocked = _Blocked(
                InstructionCode.CONFLICTING_INSTRUCTIONS,
                f"Conflicting instructions for {shown}: {_rows_text(numbers)} ask for {asked}{also}. A "
                "contract is either exercised or not, so one batch carries one instruction type per contract; "
                "keep one type (to exercise some contracts and not others, instruct only those whose default "
                "at expiry should change).",
                rows=",".join(map(str, numbers)),
            )
            for r in rows:
                r.blocked = blocked
            return
        if requested <= free:
            return
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
            head = f"Over-instructed: {_rows_text(numbers)} together instruct {qty(requested)} {shown}"
            tail = f"; every row on this contract is blocked: make them add up to at most {qty(free)}"
        blocked = _Blocked(
            InstructionCode.INSUFFICIENT_POSITION,
            f"{head} but only {qty(free)} can be instructed ({', '.join(parts)}){tail}.",
            available=qty(free),
            requested=qty(requested),
        )
        for r in rows:
            r.blocked = blocked

    # -- rules 7-10: the day and the time -----------------------------------------------------------

    def check_timing(self, row: _Row) -> None:
        assert row.symbol is not None and row.terms is not None
        try:
            self._expiry_day(row.request.instruction_type, row.symbol)
            self._style(row.request.instruction_type, row.symbol, row.terms)
            self._cutoff(row.request.instruction_type, row.symbol)
        except _Blocked as blocked:
            row.blocked = blocked

    def _expiry_day(self, kind: InstructionType, symbol: OptionSymbol) -> None:
        if kind is InstructionType.EXERCISE:
            return
        expiry_day = expiration_business_day(symbol.expiry)
        if self.today != expiry_day:
            code = (
                InstructionCode.DNE_NOT_ON_EXPIRY
                if kind is InstructionType.DO_NOT_EXERCISE
                else InstructionCode.CEA_NOT_ON_EXPIRY
            )
            when = "has passed" if self.today > expiry_day else "has not come yet"
            raise _Blocked(
                code,
                f"{kind.value} must be submitted on the contract's expiration business day "
                f"{expiry_day:%a %Y-%m-%d}, which {when} (today is {self.today:%a %Y-%m-%d} ET).",
                expiry=symbol.expiry.isoformat(),
                business_date=self.today.isoformat(),
            )

    def _style(self, kind: InstructionType, symbol: OptionSymbol, terms: ContractTerms) -> None:
        # A European-style option can be exercised only at expiration (OCC Rules, Chapter I
        # "European-style option"; Clear Street's API documentation and Clear Street's market-data API documentation). The API's code for
        # this rejection is undocumented: EUROPEAN_EXERCISE_BEFORE_EXPIRY is this server's.
        expiry_day = expiration_business_day(symbol.expiry)
        if kind is InstructionType.EXERCISE and terms.exercise_style == "EUROPEAN" and self.today < expiry_day:
            raise _Blocked(
                InstructionCode.EUROPEAN_EXERCISE_BEFORE_EXPIRY,
                f"{symbol.spaced()} is a European-style option ({terms.source}): it can be exercised only "
                f"on its expiration day {expiry_day:%a %Y-%m-%d}, not before; sell it to realise its value now.",
                exercise_style="EUROPEAN",
                expiry=symbol.expiry.isoformat(),
            )

    def deadline(self, day: date) -> datetime:
        """The effective exercise cutoff on ``day``: FINRA's, or the broker's when earlier."""
        return exercise_cutoff(day, self.broker_cutoff)

    def _cutoff(self, kind: InstructionType, symbol: OptionSymbol) -> None:
        expiry_day = expiration_business_day(symbol.expiry)
        deadline = self.deadline(expiry_day)
        if self.today == expiry_day and self.local >= deadline:
            raise _Blocked(
                InstructionCode.EXERCISE_PAST_CUTOFF,
                f"The exercise cutoff for {symbol.spaced()} on its expiration day has passed: "
                f"{describe_exercise_cutoff(expiry_day, self.broker_cutoff)}.",
                cutoff_time=deadline.isoformat(),
            )
        if kind is InstructionType.EXERCISE and self.today > expiry_day:
            raise _Blocked(
                InstructionCode.EXERCISE_PAST_CUTOFF,
                f"{symbol.spaced()} expired: its last exercise cutoff was {deadline:%H:%M} ET on "
                f"{expiry_day:%a %Y-%m-%d}.",
                cutoff_time=deadline.isoformat(),
            )

    # -- what an OK row means ---------------------------------------------------------------

    def after_todays_cutoff(self, symbol: OptionSymbol) -> bool:
        return (
            is_business_day(self.today)
            and self.today < expiration_business_day(symbol.expiry)
            and self.local >= self.deadline(self.today)
        )

    def price(self, position: Position, symbol: OptionSymbol) -> Decimal | None:
        return underlier_price(self.positions, self.prices, position, symbol)

    def underlier_name(self, position: Position, symbol: OptionSymbol) -> str:
        underlier = underlier_position(self.positions, position, symbol)
        return display_symbol(underlier.symbol) if underlier is not None else underlier_of_root(symbol.root)

    def free_shares(self, position: Position, symbol: OptionSymbol) -> tuple[Decimal, Decimal]:
        """(shares held, shares free) of the underlier: free = its available_quantity, never more
        than held and never below 0."""
        underlier = underlier_position(self.positions, position, symbol)
        return (underlier.quantity if underlier is not None else Decimal(0)), free_shares(underlier)

    def delivery(self, row: _Row, batch_shares: Decimal) -> ExerciseDelivery:
        """What exercising ``row`` delivers; ``batch_shares`` = shares every put exercise of the
        batch on the same underlier delivers together (this row included)."""
        position, symbol, terms, m = row.position, row.symbol, row.terms, row.m
        assert position is not None and symbol is not None and terms is not None
        contracts = row.request.quantity
        name = self.underlier_name(position, symbol)
        if terms.settlement == "CASH":
            if m is None:
                return ExerciseDelivery(
                    settlement="CASH",
                    underlier=name,
                    strike=symbol.strike,
                    shares=Decimal(0),
                    cash=None,
                    text=f"cash-settled, no shares: receive the intrinsic value at the settlement value "
                    f"({name} level unknown)",
                )
            per_share = max(in_the_money_by(symbol, m.underlier_price, terms), Decimal(0))
            value = _cents(per_share * terms.multiplier * contracts)
            return ExerciseDelivery(
                settlement="CASH",
                underlier=name,
                strike=symbol.strike,
                shares=Decimal(0),
                cash=value,
                text=f"cash-settled, no shares: receive the intrinsic value, {money(value)} at the current "
                f"level ({price(per_share)} × {qty(terms.multiplier)} × {qty(contracts)}); the settlement "
                "value decides",
            )
        shares = contracts * terms.deliverable_shares
        cash = _cents(contracts * terms.multiplier * symbol.strike)
        adjusted = terms.deliverable_shares != terms.multiplier
        at = (
            f"for an aggregate strike of {money(cash)} ({qty(terms.deliverable_shares)} shares a contract)"
            if adjusted
            else f"at {price(symbol.strike)}"
        )
        held, free = self.free_shares(position, symbol)
        if symbol.is_call:
            pay = "" if adjusted else f" and pay {money(cash)}"
            return ExerciseDelivery(
                settlement="PHYSICAL",
                underlier=name,
                strike=symbol.strike,
                shares=shares,
                cash=-cash,
                shares_held=held,
                text=f"receive {qty(shares)} {name} shares {at}{pay}",
            )
        need = max(batch_shares, shares)
        enough = need <= free
        committed = held - free if held > 0 else Decimal(0)
        holds = f"the account holds {qty(held)}"
        if committed:
            holds += f", of which {qty(committed)} are committed to working orders: "
            holds += f"{'only ' if not enough else ''}{qty(free)} are free"
        if enough:
            holding = f" ({holds}, enough)"
        else:
            short_by = need - free + (-held if held < 0 else Decimal(0))
            verb = (
                f"delivering {qty(shares)}"
                if need == shares
                else f"the batch's put exercises deliver {qty(need)} in all, which"
            )
            holding = f" ({holds}{', so ' if committed else ': '}{verb} leaves it short {qty(short_by)} shares"
            holding += " unless those orders are cancelled)" if committed else ")"
        receive = f"receive {money(cash)}" if not adjusted else f"receive the aggregate strike {money(cash)}"
        at_price = f"at {price(symbol.strike)} and {receive}" if not adjusted else f"and {receive}"
        text = f"deliver {qty(shares)} {name} shares {at_price}{holding}"
        return ExerciseDelivery(
            settlement="PHYSICAL",
            underlier=name,
            strike=symbol.strike,
            shares=-shares,
            cash=cash,
            shares_held=held,
            enough_shares=enough,
            text=text,
        )

    def value_notes(self, row: _Row) -> list[str]:
        """Short phrases (no final period) on what the row does to the position's value."""
        kind, symbol, m, terms = row.request.instruction_type, row.symbol, row.m, row.terms
        assert symbol is not None and terms is not None
        contracts = row.request.quantity
        if m is None:
            return [f"{symbol.root} price unknown: moneyness not shown"]
        intrinsic = _cents(intrinsic_per_contract(symbol, m.underlier_price, terms) * contracts)
        gap = _cents(self._gap(row) * contracts)
        assert row.position is not None
        name = self.underlier_name(row.position, symbol)
        where = f"{name} {price(m.underlier_price)} vs strike {price(symbol.strike)}"
        state = self._state_words(row)
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

    def time_value(self, row: _Row) -> _TimeValue | None:
        """For an EXERCISE in the money before the expiration business day: the time value it gives
        up, estimated at the contract's bid from the market-data snapshot (what selling the
        contracts would bring, bid × multiplier × contracts, minus the intrinsic value exercising is
        worth). A sale at the bid is an estimate: the fill may differ. None otherwise."""
        kind, symbol, m, terms, position = row.request.instruction_type, row.symbol, row.m, row.terms, row.position
        if kind is not InstructionType.EXERCISE or m is None or m.state is not MoneynessState.ITM:
            return None
        if row.blocked is not None or symbol is None or terms is None or position is None:
            return None
        if self.today >= expiration_business_day(symbol.expiry):
            return None
        contracts = row.request.quantity
        intrinsic = _cents(intrinsic_per_contract(symbol, m.underlier_price, terms) * contracts)
        quote = self.quotes.get(position.instrument_id)
        if quote is None or quote.bid is None or quote.bid <= 0:
            why = (
                "no market-data snapshot of the contract"
                if quote is None
                else "the contract's market-data snapshot has no bid"
            )
            return _TimeValue(
                None,
                f"early exercise gives up the remaining time value: how much is not known ({why}); selling the "
                f"contracts may be worth more than the intrinsic value {money(intrinsic)}",
            )
        sale = _cents(quote.bid * terms.multiplier * contracts)
        amount = sale - intrinsic
        source = "market-data snapshot" + (f", quoted {format_et(quote.bid_timestamp)}" if quote.bid_timestamp else "")
        sold = (
            f"selling the {qty(contracts)} contract{'' if contracts == 1 else 's'} at the bid {price(quote.bid)} "
            f"would bring {money(sale)} "
            f"({price(quote.bid)} × {qty(terms.multiplier)} × {qty(contracts)}; bid from the {source})"
        )
        if amount > 0:
            note = (
                f"early exercise gives up about {money(amount)} of time value, an estimate at the bid: {sold}, "
                f"exercising is worth the intrinsic value {money(intrinsic)}"
            )
        else:
            note = (
                f"no time value is given up at the bid: {sold}, {money(-amount)} less than the intrinsic value "
                f"{money(intrinsic)} exercising is worth"
            )
        return _TimeValue(amount, note)

    def _gap(self, row: _Row) -> Decimal:
        """Per contract: how much worse exercising is than trading (0 when in the money)."""
        symbol, m, terms = row.symbol, row.m, row.terms
        assert symbol is not None and m is not None and terms is not None
        edge = in_the_money_by(symbol, m.underlier_price, terms)
        if edge >= 0 or terms.settlement == "CASH":
            return Decimal(0)
        return -edge * terms.deliverable_shares

    def _state_words(self, row: _Row) -> str:
        assert row.m is not None and row.symbol is not None
        if row.m.state is MoneynessState.ITM and row.default is not DefaultAtExpiry.AUTO_EXERCISE:
            return "in the money by less than $0.01"
        return _STATE_WORDS[row.m.state]

    def _why_lapse(self, row: _Row) -> str:
        symbol, m = row.symbol, row.m
        assert symbol is not None and m is not None
        if m.state is MoneynessState.ITM:
            edge = in_the_money_by(symbol, m.underlier_price, row.terms)
            return (
                f"in the money by only {_per_share(edge)} a share, under the {money(EXERCISE_BY_EXCEPTION)} of {_OCC}"
            )
        assert row.position is not None
        name = self.underlier_name(row.position, symbol)
        return f"{_STATE_WORDS[m.state]}: {name} {price(m.underlier_price)} vs strike {price(symbol.strike)}"

    def message(self, row: _Row, delivery: ExerciseDelivery | None) -> str:
        """What the row changes relative to the default at expiry, and what it delivers."""
        kind, symbol, m = row.request.instruction_type, row.symbol, row.m
        assert symbol is not None
        head = _describe(kind, row.request.quantity, symbol.spaced())
        contracts = row.request.quantity
        nothing = "nothing is delivered"
        expiry_day = expiration_business_day(symbol.expiry)
        if m is None:
            if kind is InstructionType.EXERCISE:
                assert delivery is not None
                return f"{head}: {delivery.text}; {symbol.root} price unknown: the default at expiry cannot be said"
            if kind is InstructionType.DO_NOT_EXERCISE:
                return f"{head}: not exercised, whatever the price; {nothing} ({symbol.root} price unknown: whether this gives up value cannot be said)"
            return (
                f"{head}: reverses the default at expiry, which cannot be said without the {symbol.root} price: "
                f"it exercises the contracts if they are less than $0.01 in the money, else it stops their "
                f"automatic exercise"
            )
        assert row.terms is not None
        intrinsic = _cents(intrinsic_per_contract(symbol, m.underlier_price, row.terms) * contracts)
        edge = in_the_money_by(symbol, m.underlier_price, row.terms)
        if row.default is DefaultAtExpiry.AUTO_EXERCISE:
            if kind is InstructionType.EXERCISE:
                assert delivery is not None
                if self.today < expiry_day:
                    change = "exercised now instead of automatically at expiry: gives up the remaining time value"
                    if row.time_value is not None and row.time_value.amount is not None:
                        given = row.time_value.amount
                        change += f", about {money(given)} at the bid" if given > 0 else ", none at the bid"
                else:
                    change = f"no change: it would be exercised automatically anyway (in the money by {_per_share(edge)} a share, {_OCC})"
                return f"{head}: {delivery.text}; {change}"
            return (
                f"{head}: NOT exercised although in the money by {_per_share(edge)} a share (exercised automatically "
                f"otherwise, {_OCC}): gives up intrinsic value {money(intrinsic)}; {nothing}"
            )
        # the default is to lapse
        why = self._why_lapse(row)
        worth = (
            f"intrinsic value {money(intrinsic)}"
            if m.state is MoneynessState.ITM
            else f"exercising costs {money(_cents(self._gap(row) * contracts))} more than trading the shares"
        )
        if kind is InstructionType.DO_NOT_EXERCISE:
            return f"{head}: changes nothing: it lapses anyway ({why}); {nothing}"
        assert delivery is not None
        if kind is InstructionType.EXERCISE and self.today < expiry_day:
            return f"{head}: {delivery.text}; exercised now; at today's price it would lapse at expiry ({why}); {worth}"
        return f"{head}: exercised instead of lapsing ({why}): {delivery.text}; {worth}"

    def terms_notes(self, row: _Row) -> list[str]:
        symbol, terms = row.symbol, row.terms
        assert symbol is not None and terms is not None
        notes = []
        if not terms.is_standard or terms.source != DEFAULT_SOURCE:
            notes.append(f"contract terms: {terms.describe()}")
        if terms.is_settle_on_open:
            last = last_trade(symbol.expiry, terms)
            trades = "its last trade was" if last.passed(self.local) else "it trades for the last time at"
            notes.append(f"{last.settlement(self.local)}; {trades} {last.when(self.local)} ({last.source})")
        early = self.today < expiration_business_day(symbol.expiry)
        if row.request.instruction_type is InstructionType.EXERCISE and early and terms.exercise_style is None:
            why = (
                "the option-contracts row gives none"
                if terms.source == ENDPOINT_SOURCE
                else f"no option-contract data, and {symbol.root} is not a known index root"
            )
            notes.append(
                f"exercise style unknown ({why}): not assumed; an early exercise of a European-style contract "
                "is rejected"
            )
        return notes


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
    """Check every row and say what it would do (module docstring).

    ``cutoff``: an optional broker cutoff (New York wall time), applied only when earlier than the
    day's FINRA deadline (:func:`.calendar.exercise_cutoff`). ``existing``: the account's
    instructions (duplicate keys; live ones hold contracts). ``prices``: underlier instrument id
    -> price (default: the account's own positions). ``contracts``: instrument id ->
    :class:`.contracts.ContractTerms` (default: :func:`.contracts.terms_for`'s fallbacks).
    ``quotes``: instrument id -> the market-data snapshot's :class:`.market_view.Quote` (the contracts'
    bids estimate the time value an early exercise gives up; without them it is said unknown).
    ``earlier_keys``: the keys, in row order, of an identical request sent a moment ago (module
    docstring: lent to rows without a key, unless their instruction was cancelled)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    held = list(positions)
    planner = _Planner(
        held, list(existing), now, cutoff, underlier_prices(held) if prices is None else prices, contracts, quotes
    )
    planned: list[_Row] = []
    for index, raw in enumerate(rows, start=1):
        request = _coerce(raw)
        given = request.instruction_id.strip() if request.instruction_id else ""
        earlier_key = earlier_keys[index - 1] if earlier_keys is not None and index <= len(earlier_keys) else None
        key, generated, cancelled = planner.key_for(given, earlier_key, new_key)
        row = _Row(index=index, request=request, key=key, generated=generated, after_cancel=cancelled)
        planner.check_row(row)
        planned.append(row)

    by_contract: dict[str, list[_Row]] = {}
    for row in planned:
        if row.blocked is None and row.already is None and row.position is not None:
            by_contract.setdefault(row.position.instrument_id, []).append(row)
    for contract_rows in by_contract.values():
        planner.check_contract(contract_rows)
    for row in planned:
        if row.blocked is None and row.already is None:
            planner.check_timing(row)

    # Moneyness and the default at expiry, for every resolved row; what OK rows do.
    for row in planned:
        if row.position is None or row.symbol is None:
            continue
        price_now = planner.price(row.position, row.symbol)
        row.m = contract_moneyness(row.symbol, price_now, row.terms) if price_now is not None else None
        row.default = default_at_expiry(True, row.symbol, price_now, row.terms)
        kind = row.request.instruction_type
        row.exercises = bool(instruction_exercises(kind, row.default))
        row.time_value = planner.time_value(row)
    puts: dict[str, Decimal] = {}  # underlier -> shares the batch's OK put exercises deliver
    for row in planned:
        if row.blocked is None and row.exercises and row.symbol is not None and not row.symbol.is_call:
            assert row.position is not None and row.terms is not None
            if row.terms.settlement == "PHYSICAL":
                name = planner.underlier_name(row.position, row.symbol)
                puts[name] = puts.get(name, Decimal(0)) + row.request.quantity * row.terms.deliverable_shares

    out: list[PlannedInstruction] = []
    for row in planned:
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
            after_cancel=_after_cancel(row),
        )
        if row.blocked is not None:
            out.append(
                PlannedInstruction(
                    **common,
                    status=RowStatus.BLOCKED,
                    reason=row.blocked.code,
                    message=row.blocked.message,
                    metadata=row.blocked.metadata,
                )
            )
            continue
        if row.already is not None:
            earlier = row.already
            out.append(
                PlannedInstruction(
                    **common,
                    status=RowStatus.ALREADY_SUBMITTED,
                    message=f"{_describe(earlier.instruction_type, earlier.quantity, display_symbol(earlier.symbol))} "
                    f"was already submitted with this instruction_id as instruction {earlier.id} "
                    f"({earlier.status}): sending it again makes Clear Street answer with that instruction, "
                    "nothing is instructed twice"
                    + (
                        f"; it ended {earlier.status}, so this row changes nothing: to instruct again, preview "
                        "with a new instruction_id"
                        if earlier.status in FINISHED_INSTRUCTION_STATUSES
                        else ""
                    ),
                    metadata={"existing_id": earlier.id},
                )
            )
            continue
        assert position is not None and symbol is not None
        delivery = None
        if row.exercises:
            name = planner.underlier_name(position, symbol)
            delivery = planner.delivery(row, puts.get(name, Decimal(0)))
        notes = planner.value_notes(row) + planner.terms_notes(row)
        live = [i for i in planner.existing if holds_contracts(i) and _same_instrument(i, position)]
        if live:
            notes.append(
                "also instructed on this contract: "
                + "; ".join(f"{i.id} ({i.instruction_type} {qty(i.quantity)}, {i.status})" for i in live[:3])
            )
        if row.request.instruction_type is InstructionType.EXERCISE and planner.after_todays_cutoff(symbol):
            notes.append(
                f"it is past today's {planner.deadline(planner.today):%H:%M} ET cutoff: the exercise may be "
                "processed on the next business day"
            )
        out.append(
            PlannedInstruction(
                **common,
                status=RowStatus.OK,
                message=planner.message(row, delivery),
                submit_before=planner.deadline(expiration_business_day(symbol.expiry)),
                delivery=delivery,
                notes=notes,
                time_value=row.time_value.amount if row.time_value is not None else None,
            )
        )
    today_cutoff = planner.deadline(planner.today)
    return InstructionPlan(rows=out, cutoff_time=f"{today_cutoff:%H:%M} America/New_York", summary=_summary(out))


def _summary(rows: list[PlannedInstruction]) -> str:
    if not rows:
        return "No instructions were given: nothing to submit."
    blocked = [r for r in rows if r.status is RowStatus.BLOCKED]
    if blocked:
        parts = [
            f"row {r.row} ({_describe(r.instruction_type, r.quantity, display_symbol(r.symbol or r.requested))}) "
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
