"""Instruction plans: the pre-acceptance rules of reference 6.3 / 7.3, run before anything is sent.

Pure, no I/O. Each requested row is checked in this order and stops at the first failure, with the
reason code the API would use where it has one:

1. quantity is a positive whole number of contracts ............ INVALID_QUANTITY
2. the idempotency key is unique in the batch and the account .. DUPLICATE_INSTRUCTION
3. the instrument is a position of the account ................. UNKNOWN_INSTRUMENT / AMBIGUOUS_INSTRUMENT
   (an OSI symbol the account does not hold: INSUFFICIENT_POSITION, available 0, as the API would)
4. it is an option ............................................. NOT_AN_OPTION
5. the position is long ........................................ NOT_LONG
6. quantity ≤ available, less contracts already reserved ....... INSUFFICIENT_POSITION
7. DO_NOT_EXERCISE / CONTRARY_EXERCISE only on the expiration
   business day ................................................ DNE_NOT_ON_EXPIRY / CEA_NOT_ON_EXPIRY
8. before the cutoff (default 17:30 America/New_York) on the expiration business day ..
                                                                 EXERCISE_PAST_CUTOFF
9. EXERCISE after the expiration business day .................. EXERCISE_PAST_CUTOFF

Decisions:

* Available = min(|available_quantity|, quantity − pending EXERCISE instructions) − contracts
  exercised by earlier OK rows of the batch. Pending = persisted EXERCISE rows still SENT or
  CANCEL_REQUESTED (a cancel may fail). The min() never counts a reservation twice whether or not
  the API already nets pending exercises out of ``available_quantity`` (reference 12.6; the
  simulator does).
* There is no daily cutoff for early exercise (the API documents none; the simulator has none):
  an EXERCISE after the day's cutoff before expiry gets a note, not a block.
* Any persisted instruction (``id`` not the nil UUID) holds its key, whatever its status; in the
  batch, only rows that pass hold theirs (rejected rows are never persisted; reference 6.2, 8).
* ``cutoff_time`` metadata is the cutoff instant in RFC 3339 with the New York offset.
* Rows keep the caller's ``instruction_id``; rows without one get ``cs-mcp-<uuid4>`` (injectable).
* ``requests()`` sends the resolved instrument UUID, never the caller's symbol rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
    SecurityType,
    new_instruction_key,
)
from .calendar import (
    DEFAULT_EXERCISE_CUTOFF,
    NEW_YORK,
    expiration_business_day,
    is_business_day,
    new_york,
)
from .closing import is_option
from .moneyness import Moneyness, MoneynessState, best_price, moneyness, underlier_prices
from .numbers import CENT, OPTION_MULTIPLIER, DecimalString
from .osi import OptionSymbol, symbol_key, try_parse_osi
from .resolve import ResolveCode, ResolveError, display_symbol, resolve_position
from .text import format_et, money, qty

__all__ = [
    "ExerciseDelivery",
    "InstructionCode",
    "InstructionInput",
    "InstructionPlan",
    "PlannedInstruction",
    "RowStatus",
    "new_instruction_key",
    "plan_instructions",
]

_PENDING = frozenset({InstructionStatus.SENT, InstructionStatus.CANCEL_REQUESTED})
_SHORT = {
    InstructionType.EXERCISE: "EXERCISE",
    InstructionType.DO_NOT_EXERCISE: "DO_NOT_EXERCISE",
    InstructionType.CONTRARY_EXERCISE: "CONTRARY_EXERCISE",
}


class RowStatus(StrEnum):
    OK = "OK"
    BLOCKED = "BLOCKED"


class InstructionCode(StrEnum):
    INVALID_QUANTITY = "INVALID_QUANTITY"
    DUPLICATE_INSTRUCTION = "DUPLICATE_INSTRUCTION"
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    AMBIGUOUS_INSTRUMENT = "AMBIGUOUS_INSTRUMENT"
    NOT_AN_OPTION = "NOT_AN_OPTION"
    NOT_LONG = "NOT_LONG"
    INSUFFICIENT_POSITION = "INSUFFICIENT_POSITION"
    DNE_NOT_ON_EXPIRY = "DNE_NOT_ON_EXPIRY"
    CEA_NOT_ON_EXPIRY = "CEA_NOT_ON_EXPIRY"
    EXERCISE_PAST_CUTOFF = "EXERCISE_PAST_CUTOFF"


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


class InstructionPlan(BaseModel):
    rows: list[PlannedInstruction]
    cutoff_time: str
    summary: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ready(self) -> bool:
        """True when every row passes; only then may the batch be submitted."""
        return bool(self.rows) and all(r.status is RowStatus.OK for r in self.rows)

    @property
    def instruction_keys(self) -> list[str]:
        return [r.instruction_id for r in self.rows]

    @property
    def instrument_ids(self) -> list[str]:
        """The option positions the batch touches (for the positions fingerprint)."""
        return list(dict.fromkeys(r.instrument_id for r in self.rows if r.instrument_id))

    def why_blocked(self) -> str:
        """Why this batch cannot be submitted, in one line ('' when it can)."""
        return "; ".join(f"row {r.row}: {r.message}" for r in self.rows if r.status != RowStatus.OK)

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


def _underlier(positions: Sequence[Position], option: Position, symbol: OptionSymbol) -> Position | None:
    for p in positions:
        if option.underlying_instrument_id and p.instrument_id == option.underlying_instrument_id:
            return p
    for p in positions:
        if not is_option(p) and symbol_key(p.symbol) == symbol.root:
            return p
    return None


class _Planner:
    def __init__(
        self,
        positions: Sequence[Position],
        existing: Sequence[PositionInstruction],
        now: datetime,
        cutoff: time,
        prices: Mapping[str, Decimal],
    ) -> None:
        self.positions = positions
        self.existing = existing
        self.local = new_york(now)
        self.today = self.local.date()
        self.cutoff = cutoff
        self.prices = prices
        self.cutoff_text = f"{cutoff:%H:%M} America/New_York"
        self.batch_keys: set[str] = set()
        self.batch_exercised: dict[str, Decimal] = {}

    # -- the rules, in order ------------------------------------------------------------------

    def check(
        self, request: InstructionInput, key: str
    ) -> tuple[Position | None, OptionSymbol | None, _Blocked | None]:
        position: Position | None = None
        symbol: OptionSymbol | None = None
        try:
            self._quantity(request.quantity)
            self._key(key)
            position, symbol = self._resolve(request.instrument_id)
            self._long(position, symbol)
            self._available(request, position, symbol)
            self._expiry_day(request.instruction_type, symbol)
            self._cutoff(request.instruction_type, symbol)
        except _Blocked as blocked:
            return position, symbol, blocked
        return position, symbol, None

    def _quantity(self, quantity: Decimal) -> None:
        if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral_value():
            raise _Blocked(
                InstructionCode.INVALID_QUANTITY,
                f"Quantity {quantity} is not a positive whole number of contracts.",
            )

    def _key(self, key: str) -> None:
        if key in self.batch_keys:
            raise _Blocked(
                InstructionCode.DUPLICATE_INSTRUCTION,
                f"instruction_id {key!r} is used by an earlier row of this batch; give each row its "
                "own instruction_id or omit it.",
            )
        for earlier in self.existing:
            if earlier.persisted and earlier.client_instruction_id == key:
                raise _Blocked(
                    InstructionCode.DUPLICATE_INSTRUCTION,
                    f"instruction_id {key!r} was already used by instruction {earlier.id} "
                    f"({earlier.instruction_type} {qty(earlier.quantity)} "
                    f"{display_symbol(earlier.symbol)}, {earlier.status}). If that is this request, "
                    "it was already submitted (see get_position_instructions); otherwise use a new "
                    "instruction_id or omit it.",
                    existing_id=earlier.id,
                )

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

    def _available(self, request: InstructionInput, position: Position, symbol: OptionSymbol) -> None:
        reserved = sum(
            (
                i.quantity
                for i in self.existing
                if i.persisted
                and i.instruction_type == InstructionType.EXERCISE
                and i.status in _PENDING
                and _same_instrument(i, position)
            ),
            Decimal(0),
        )
        batch = self.batch_exercised.get(position.instrument_id, Decimal(0))
        reported = abs(position.available_quantity)
        available = max(min(reported, position.quantity - reserved) - batch, Decimal(0))
        if request.quantity > available:
            parts = [f"available_quantity {qty(reported)} of {qty(position.quantity)} held"]
            if reserved:
                parts.append(f"{qty(reserved)} held by pending EXERCISE instructions")
            if batch:
                parts.append(f"{qty(batch)} exercised by earlier rows of this batch")
            raise _Blocked(
                InstructionCode.INSUFFICIENT_POSITION,
                f"Requested {qty(request.quantity)} {symbol.spaced()} but only {qty(available)} can "
                f"be instructed ({', '.join(parts)}).",
                available=qty(available),
                requested=qty(request.quantity),
            )

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

    def _cutoff(self, kind: InstructionType, symbol: OptionSymbol) -> None:
        expiry_day = expiration_business_day(symbol.expiry)
        deadline = datetime.combine(expiry_day, self.cutoff, NEW_YORK)
        if self.today == expiry_day and self.local >= deadline:
            raise _Blocked(
                InstructionCode.EXERCISE_PAST_CUTOFF,
                f"The cutoff for {symbol.spaced()}, {self.cutoff:%H:%M} ET on its expiration day "
                f"{expiry_day:%a %Y-%m-%d}, has passed.",
                cutoff_time=deadline.isoformat(),
            )
        if kind is InstructionType.EXERCISE and self.today > expiry_day:
            raise _Blocked(
                InstructionCode.EXERCISE_PAST_CUTOFF,
                f"{symbol.spaced()} expired: its last exercise cutoff was {self.cutoff:%H:%M} ET on "
                f"{expiry_day:%a %Y-%m-%d}.",
                cutoff_time=deadline.isoformat(),
            )

    # -- what an OK row means ---------------------------------------------------------------

    def submit_before(self, symbol: OptionSymbol) -> datetime:
        """The last moment the row can be submitted: the cutoff on the expiration business day."""
        return datetime.combine(expiration_business_day(symbol.expiry), self.cutoff, NEW_YORK)

    def after_todays_cutoff(self, symbol: OptionSymbol) -> bool:
        return (
            is_business_day(self.today)
            and self.today < expiration_business_day(symbol.expiry)
            and self.local.time() >= self.cutoff
        )

    def price(self, position: Position, symbol: OptionSymbol) -> Decimal | None:
        if position.underlying_instrument_id and position.underlying_instrument_id in self.prices:
            return self.prices[position.underlying_instrument_id]
        underlier = _underlier(self.positions, position, symbol)
        return None if underlier is None else best_price(underlier)[0]

    def delivery(
        self, position: Position, symbol: OptionSymbol, contracts: Decimal, m: Moneyness | None
    ) -> ExerciseDelivery:
        shares = contracts * OPTION_MULTIPLIER
        cash = (shares * symbol.strike).quantize(CENT, rounding=ROUND_HALF_EVEN)
        root = symbol.root
        if position.underlying_instrument_type == SecurityType.INDEX:
            value = None if m is None else (m.intrinsic_per_share * shares).quantize(CENT, rounding=ROUND_HALF_EVEN)
            return ExerciseDelivery(
                settlement="CASH",
                underlier=root,
                strike=symbol.strike,
                shares=Decimal(0),
                cash=value,
                text=f"cash-settled: receive the intrinsic value of {qty(shares)} × {root}"
                + (f", {money(value)} at the current level" if value is not None else " (level unknown)"),
            )
        underlier = _underlier(self.positions, position, symbol)
        held = underlier.quantity if underlier is not None else Decimal(0)
        if symbol.is_call:
            text = f"receive {qty(shares)} {root} shares at {money(symbol.strike)} and pay {money(cash)}"
            return ExerciseDelivery(
                settlement="PHYSICAL",
                underlier=root,
                strike=symbol.strike,
                shares=shares,
                cash=-cash,
                shares_held=held,
                text=text,
            )
        enough = held >= shares
        text = f"deliver {qty(shares)} {root} shares at {money(symbol.strike)} and receive {money(cash)}"
        if enough:
            text += f" (the account holds {qty(held)}, enough)"
        else:
            text += (
                f" (the account holds {qty(held)}: delivering {qty(shares)} leaves it short "
                f"{qty(shares - held)} shares)"
            )
        return ExerciseDelivery(
            settlement="PHYSICAL",
            underlier=root,
            strike=symbol.strike,
            shares=-shares,
            cash=cash,
            shares_held=held,
            enough_shares=enough,
            text=text,
        )

    def notes(
        self,
        kind: InstructionType,
        symbol: OptionSymbol,
        contracts: Decimal,
        m: Moneyness | None,
    ) -> list[str]:
        """Short phrases (no final period) on what the row does to the position's value."""
        shares = contracts * OPTION_MULTIPLIER
        if m is None:
            return [f"{symbol.root} price unknown: moneyness not shown"]
        intrinsic = m.intrinsic_per_share * shares
        gap = abs(m.underlier_price - symbol.strike) * shares
        where = f"{symbol.root} {money(m.underlier_price)} vs strike {money(symbol.strike)}"
        state = {
            MoneynessState.ITM: "in the money",
            MoneynessState.ATM: "at the money",
            MoneynessState.OTM: "out of the money",
        }[m.state]
        if kind is InstructionType.EXERCISE:
            if m.state is MoneynessState.ITM:
                notes = [f"in the money ({where}): intrinsic value {money(intrinsic)}"]
                if self.today < expiration_business_day(symbol.expiry):
                    notes.append(
                        "early exercise gives up the remaining time value; selling the contracts may be worth more"
                    )
                return notes
            return [f"{state} ({where}): exercising costs {money(gap)} more than trading the shares"]
        if kind is InstructionType.DO_NOT_EXERCISE:
            if m.state is MoneynessState.ITM:
                return [f"gives up intrinsic value {money(intrinsic)} ({state}: {where})"]
            return [f"{state} ({where}): it would not be exercised automatically anyway"]
        # CONTRARY_EXERCISE: the opposite of exercise-by-exception
        if m.state is MoneynessState.ITM:
            return [f"NOT exercised although in the money: gives up intrinsic value {money(intrinsic)} ({where})"]
        return [f"exercised although {state}: {money(gap)} worse than trading the shares ({where})"]


def _describe(kind: InstructionType, contracts: Decimal, symbol: str) -> str:
    return f"{_SHORT[kind]} {qty(contracts)} {symbol}"


def plan_instructions(
    positions: Iterable[Position],
    rows: Sequence[InstructionInput | InstructionRequest | Mapping[str, Any]],
    *,
    now: datetime,
    cutoff: time = DEFAULT_EXERCISE_CUTOFF,
    existing: Iterable[PositionInstruction] = (),
    prices: Mapping[str, Decimal] | None = None,
    new_key: Callable[[], str] = new_instruction_key,
) -> InstructionPlan:
    """Check every row and say what it would do. ``cutoff`` is a wall time in America/New_York;
    ``existing`` are the account's instructions (duplicate keys, pending exercises);
    ``prices`` maps underlier instrument ids to prices (default: the account's own positions)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    held = list(positions)
    planner = _Planner(held, list(existing), now, cutoff, underlier_prices(held) if prices is None else prices)
    planned: list[PlannedInstruction] = []
    for index, raw in enumerate(rows, start=1):
        request = _coerce(raw)
        given = request.instruction_id.strip() if request.instruction_id else ""
        key = given or new_key()
        position, symbol, blocked = planner.check(request, key)
        if blocked is None:
            planner.batch_keys.add(key)
        shown = symbol.spaced() if symbol is not None else request.instrument_id.strip()
        m = None
        if position is not None and symbol is not None:
            price = planner.price(position, symbol)
            m = moneyness(symbol, price) if price is not None else None
        common: dict[str, Any] = dict(
            row=index,
            instruction_type=request.instruction_type,
            requested=request.instrument_id,
            instrument_id=position.instrument_id if position is not None else None,
            symbol=symbol.padded() if symbol is not None else None,
            quantity=request.quantity,
            instruction_id=key,
            generated_key=not given,
            expiry=symbol.expiry if symbol is not None else None,
            moneyness=m,
        )
        if blocked is not None:
            planned.append(
                PlannedInstruction(
                    **common,
                    status=RowStatus.BLOCKED,
                    reason=blocked.code,
                    message=blocked.message,
                    metadata=blocked.metadata,
                )
            )
            continue
        assert position is not None and symbol is not None
        kind = request.instruction_type
        if kind is InstructionType.EXERCISE:
            planner.batch_exercised[position.instrument_id] = (
                planner.batch_exercised.get(position.instrument_id, Decimal(0)) + request.quantity
            )
        exercises = kind is InstructionType.EXERCISE or (
            kind is InstructionType.CONTRARY_EXERCISE and m is not None and m.state is not MoneynessState.ITM
        )
        delivery = planner.delivery(position, symbol, request.quantity, m) if exercises else None
        notes = planner.notes(kind, symbol, request.quantity, m)
        if kind is InstructionType.EXERCISE and planner.after_todays_cutoff(symbol):
            notes.append(
                f"it is past today's {cutoff:%H:%M} ET cutoff: the exercise may be processed on the next business day"
            )
        details = [delivery.text] if delivery is not None else []
        if delivery is None or (m is not None and m.state is not MoneynessState.ITM):
            details.append(notes[0])
        detail = "; ".join(details)
        planned.append(
            PlannedInstruction(
                **common,
                status=RowStatus.OK,
                message=f"{_describe(kind, request.quantity, shown)}: {detail}",
                submit_before=planner.submit_before(symbol),
                delivery=delivery,
                notes=notes,
            )
        )
    return InstructionPlan(rows=planned, cutoff_time=planner.cutoff_text, summary=_summary(planned))


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
    deadline = min(r.submit_before for r in rows if r.submit_before is not None)
    count = f"{len(rows)} instruction{'s' if len(rows) != 1 else ''}"
    return f"Submit {count} before {format_et(deadline)}: {'; '.join(parts)}{more}."
