"""Which ``client_instruction_id`` each row uses, and rule 2 (the key is unique in the batch and
the account, else DUPLICATE_INSTRUCTION).

* Any persisted instruction holds its ``client_instruction_id``, whatever its status; a repeat of
  the same instruction under its key is harmless (Clear Street answers with the original, its
  documented idempotency), except when the original was cancelled or its cancel requested: sending
  its key again creates nothing (the answer is the cancelled original), so such a key is never
  reused.
* ``earlier_keys`` (the keys of an identical request sent a moment ago) are lent to rows without a
  key of their own, unless they name such an instruction: the row then gets a new key and says
  which instruction was cancelled (``after_cancel``); a key given for such an instruction is a
  DUPLICATE_INSTRUCTION.
* Rule 2 is the one rule that depends on row order, as at the API: the first row with a key that
  passes rules 1, 3, 4 and 5 holds the key (:meth:`BatchKeys.take`); a later row with the same key
  is a duplicate.
* Rows without a key of their own or an earlier one get ``cs-mcp-<uuid4>``
  (:func:`.clearstreet.models.new_instruction_key`, injectable).
"""

from __future__ import annotations

from collections.abc import Callable

from ...clearstreet.models import InstructionStatus, Position, PositionInstruction
from ..resolve import display_symbol
from ..text import qty
from .instruction_plan import InstructionCode
from .plan_inputs import PlanInputs, same_instrument
from .plan_row import Blocked, PlanRow
from .plan_wording import cancel_text

__all__ = ["BatchKeys"]

_CANCELLING = frozenset({InstructionStatus.CANCELLED, InstructionStatus.CANCEL_REQUESTED})
"""An instruction cancelled, or being cancelled: its key is never a repeat. Clear Street rejects a
persisted client_instruction_id as DUPLICATE_INSTRUCTION (existing_id: the original) whatever the
original's status (its documented idempotency), so sending the key again creates nothing."""


class BatchKeys:
    """The keys of one batch: which key each row uses, and the keys earlier rows already hold."""

    def __init__(self, inputs: PlanInputs) -> None:
        self.inputs = inputs
        self.taken: set[str] = set()

    def key_for(
        self, given: str, earlier_key: str | None, new_key: Callable[[], str]
    ) -> tuple[str, bool, PositionInstruction | None]:
        """A row's key, whether this preview generated it, and the cancelled instruction it replaces.
        ``given``: the row's own key ('' when none); ``earlier_key``: the key an identical request
        sent a moment ago used for this row, lent to a row without its own unless the instruction
        under it was cancelled or is being cancelled (then a new key: sending it again would
        create nothing)."""
        held = self.inputs.holder_of(earlier_key)
        cancelled = held if earlier_key and held is not None and held.status in _CANCELLING else None
        if given:
            return given, False, cancelled if cancelled is not None and given != earlier_key else None
        if earlier_key and cancelled is None:
            return earlier_key, False, None
        return new_key(), True, cancelled

    def holder(self, key: str) -> PositionInstruction | None:
        """The persisted instruction that already holds ``key``, if any (checked in :meth:`repeat`);
        blocked when an earlier row of the batch holds it."""
        if key in self.taken:
            raise Blocked(
                InstructionCode.DUPLICATE_INSTRUCTION,
                f"instruction_id {key!r} is used by an earlier row of this batch; give each row its "
                "own instruction_id or omit it.",
            )
        return self.inputs.holder_of(key)

    def take(self, key: str) -> None:
        self.taken.add(key)

    def repeat(self, row: PlanRow, earlier: PositionInstruction, position: Position) -> None:
        """A key already used: the same instruction again is a harmless repeat (the API answers
        with the original, Clear Street's API documentation); anything else under that key is a duplicate."""
        same = (
            earlier.instruction_type == row.request.instruction_type
            and earlier.quantity == row.request.quantity
            and same_instrument(earlier, position)
        )
        if earlier.status in _CANCELLING:
            raise Blocked(
                InstructionCode.DUPLICATE_INSTRUCTION,
                f"instruction_id {row.key!r} is the key of a cancelled instruction: {cancel_text(earlier)}. Sent "
                "again, Clear Street would answer with that instruction and create nothing. Omit instruction_id "
                "(the preview assigns a new one) or pass a new one.",
                existing_id=earlier.id,
            )
        if not same:
            raise Blocked(
                InstructionCode.DUPLICATE_INSTRUCTION,
                f"instruction_id {row.key!r} was already used by instruction {earlier.id} "
                f"({earlier.instruction_type} {qty(earlier.quantity)} {display_symbol(earlier.symbol)}, "
                f"{earlier.status}); use a new instruction_id or omit it.",
                existing_id=earlier.id,
            )
        self.take(row.key)
        row.already = earlier
