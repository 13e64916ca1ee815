"""What a plan of position instructions says: the requested rows (:class:`InstructionInput`), each
row's verdict (:class:`PlannedInstruction`: OK, BLOCKED with the reason code the API would use, or
ALREADY_SUBMITTED), what an exercise delivers (:class:`ExerciseDelivery`), the batch's cash
(:class:`CashCheck`, filled by :mod:`..cash_check`) and the batch (:class:`InstructionPlan`).

Rows keep the caller's ``instruction_id`` (which key a row uses: :mod:`.idempotency`).
``requests()`` sends the resolved instrument UUID, never the caller's symbol rendering.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field

from ...clearstreet.models import InstructionRequest, InstructionType
from ..moneyness import Moneyness
from ..numbers import DecimalString

__all__ = [
    "CashCheck",
    "ExerciseDelivery",
    "InstructionCode",
    "InstructionInput",
    "InstructionPlan",
    "PlannedInstruction",
    "RowStatus",
]


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
    :mod:`..cash_check`, on the one model of :mod:`..settlement`. An exercise settles on the exercise
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
