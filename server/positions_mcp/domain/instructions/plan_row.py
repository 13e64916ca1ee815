"""One requested row while it is planned (:class:`PlanRow`), the block that stops it
(:class:`Blocked`) and what an early exercise gives up (:class:`TimeValue`). The rule modules fill
a row in, :mod:`.batch_planner` turns it into a :class:`.instruction_plan.PlannedInstruction`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ...clearstreet.models import Position, PositionInstruction
from ..contracts import ContractTerms
from ..expiry import DefaultAtExpiry
from ..moneyness import Moneyness
from ..osi import OptionSymbol
from .instruction_plan import InstructionCode, InstructionInput

__all__ = ["Blocked", "PlanRow", "TimeValue"]


class Blocked(Exception):
    """A rule the row fails: the reason code, the message a person reads, and the metadata the
    row's result carries."""

    def __init__(self, code: InstructionCode, message: str, **metadata: str) -> None:
        self.code = code
        self.message = message
        self.metadata = metadata
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class TimeValue:
    """What an early exercise gives up, total: selling at the bid would bring ``sale`` (bid ×
    multiplier × contracts); exercising is worth ``intrinsic``; ``amount`` = sale − intrinsic
    (None when no bid is known). ``note`` says it, with the bid's source."""

    amount: Decimal | None
    note: str


@dataclass
class PlanRow:
    """One requested row while it is planned."""

    index: int
    request: InstructionInput
    key: str
    generated: bool
    position: Position | None = None
    symbol: OptionSymbol | None = None
    terms: ContractTerms | None = None
    blocked: Blocked | None = None
    already: PositionInstruction | None = None
    """The persisted instruction this row repeats (same key, type, contract and quantity)."""
    after_cancel: PositionInstruction | None = None
    """The cancelled (or cancel-requested) instruction an identical earlier request created in this
    row's place: this row is a new instruction, under a new key."""
    # filled for every resolved row (the rules passed or not)
    m: Moneyness | None = None
    default: DefaultAtExpiry = DefaultAtExpiry.UNKNOWN
    exercises: bool = False
    time_value: TimeValue | None = None
    """An early exercise in the money: the time value it gives up, at the bid."""

    @property
    def pending(self) -> bool:
        """Neither blocked nor a repeat of an instruction already submitted: the rules still apply."""
        return self.blocked is None and self.already is None

    @property
    def contracts(self) -> Decimal:
        return self.request.quantity
