"""Position instructions once they pass the submit checks (``instruction_batch``): clearing's decision,
cancels, and the delivery of an accepted exercise (simulated time; the delays are ``state.Timings``).

* ``SENT`` → ``ACCEPTED`` (``accepted_quantity`` = quantity) after ``instruction_decision``, or
  ``REJECTED`` (domain ``com.clearstreet.oems.clearing``) when a rejection was queued on
  ``SimulatorState.clearing_rejections``. A ``SENT`` or ``CANCEL_REQUESTED`` instruction is
  pending: a pending EXERCISE reserves its contracts for closing, and every pending instruction,
  of any type, consumes the contracts it covers for new instructions (``availability``).
* An ``ACCEPTED`` EXERCISE is delivered at once and moves cash: the contracts leave the option
  position; a physically settled contract books ``contracts × multiplier`` shares of the underlier
  at the strike adjusted by the premium paid (calls: bought at strike + average premium per share,
  cash − shares × strike; puts: sold at strike − average premium, cash + shares × strike); a
  cash-settled (index) contract delivers nothing and pays its intrinsic value at the underlier's
  current level (cash + intrinsic × contracts × multiplier, realized P&L against the premium).
  Accepted DO_NOT_EXERCISE / CONTRARY_EXERCISE instructions change nothing: they govern expiration
  processing, which the simulator does not run (expired contracts simply stay in the book).
* Cancels: ``CANCEL_REQUESTED`` → ``CANCELLED`` after ``cancel_decision``, or ``CANCEL_FAILED``
  when that moment is at or after the contract's exercise cutoff on its expiration business day
  (``SimulatorState.cutoff_instant``): the instruction then stands (``accepted_quantity`` set, an
  EXERCISE is delivered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from ..clearstreet.models import InstructionStatus, InstructionType
from .accounts import ZERO, Account
from .instrument_registry import SimInstrument
from .state import SimulatorState
from .wire import ApiError, optional_timestamp_s
from .wire import quantity as quantity_text

EXERCISE_DOMAIN = "com.clearstreet.oems.exercise"
CLEARING_DOMAIN = "com.clearstreet.oems.clearing"
PENDING_INSTRUCTION_STATUSES = frozenset({InstructionStatus.SENT, InstructionStatus.CANCEL_REQUESTED})
STANDING_INSTRUCTION_STATUSES = frozenset({InstructionStatus.ACCEPTED, InstructionStatus.CANCEL_FAILED})
"""Statuses in which an instruction stands with its ``accepted_quantity``."""


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    domain: str
    description: str
    metadata: dict[str, str] = field(default_factory=dict)
    cause: int = 400
    """HTTP status this rejection stands for when a batch is aggregated (Clear Street's API documentation)."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "domain": self.domain,
            "description": self.description,
            "metadata": dict(self.metadata),
        }


@dataclass(eq=False, slots=True)
class SimInstruction:
    """A position instruction; persisted ones have a server id, rejected rows the nil UUID."""

    id: str
    account_id: int
    client_instruction_id: str
    instruction_type: InstructionType
    instrument: SimInstrument | None
    instrument_ref: str
    """The identifier as the caller sent it (shown when it did not resolve)."""
    quantity: Decimal
    status: InstructionStatus
    created_at: datetime | None = None
    updated_at: datetime | None = None
    accepted_quantity: Decimal | None = None
    rejection: Rejection | None = None

    @property
    def pending(self) -> bool:
        """SENT or CANCEL_REQUESTED: clearing has not decided yet."""
        return self.status in PENDING_INSTRUCTION_STATUSES

    @property
    def reserves_contracts(self) -> bool:
        return self.instruction_type is InstructionType.EXERCISE and self.pending

    def to_wire(self) -> dict[str, Any]:
        instrument = self.instrument
        underlying = instrument.underlying if instrument else None
        return {
            "id": self.id,
            "account_id": self.account_id,
            "client_instruction_id": self.client_instruction_id,
            "instruction_type": self.instruction_type.value,
            "instrument_id": instrument.instrument_id if instrument else self.instrument_ref,
            "quantity": quantity_text(self.quantity),
            "status": self.status.value,
            "symbol": instrument.instruction_symbol if instrument else self.instrument_ref,
            "accepted_quantity": None if self.accepted_quantity is None else quantity_text(self.accepted_quantity),
            "created_at": optional_timestamp_s(self.created_at),
            "updated_at": optional_timestamp_s(self.updated_at),
            "rejection": self.rejection.to_wire() if self.rejection else None,
            "rejection_reason": self.rejection.description if self.rejection else None,
            "underlying_instrument_id": underlying.instrument_id if underlying else None,
        }


# ------------------------------------------------------------------ into the book


def persist_instruction(
    state: SimulatorState,
    account: Account,
    *,
    client_instruction_id: str,
    instruction_type: InstructionType,
    instrument: SimInstrument,
    quantity: Decimal,
) -> SimInstruction:
    """Record an instruction that passed pre-acceptance validation as ``SENT``."""
    now = state.now()
    instruction = SimInstruction(
        id=state.ids.server_id(now),
        account_id=account.account_id,
        client_instruction_id=client_instruction_id,
        instruction_type=instruction_type,
        instrument=instrument,
        instrument_ref=instrument.instrument_id,
        quantity=quantity,
        status=InstructionStatus.SENT,
        created_at=now,
        updated_at=now,
    )
    account.record_instruction(instruction)
    state.scheduler.schedule(now + state.timings.instruction_decision, partial(_decide, state, instruction))
    return instruction


def place_instruction(
    state: SimulatorState,
    account_id: int,
    instrument: SimInstrument,
    instruction_type: InstructionType,
    quantity: Decimal,
    status: InstructionStatus,
    client_instruction_id: str | None = None,
) -> SimInstruction:
    """Put an instruction in the book as it stands, in any status, with no transition scheduled
    (used to build books). An ACCEPTED one has its ``accepted_quantity``; an ACCEPTED EXERCISE is
    delivered as clearing would (``exercise``); REJECTED and CANCEL_FAILED carry a rejection
    saying why."""
    now = state.now()
    account = state.accounts[account_id]
    rejection = None
    if status is InstructionStatus.REJECTED:
        rejection = Rejection("CLEARING_REJECTED", CLEARING_DOMAIN, "Rejected by clearing")
    elif status is InstructionStatus.CANCEL_FAILED:
        rejection = Rejection("CANCEL_FAILED", CLEARING_DOMAIN, "Cancel failed: the instruction stands")
    instruction = SimInstruction(
        id=state.ids.server_id(now),
        account_id=account_id,
        client_instruction_id=client_instruction_id or f"book-{len(account.instructions) + 1:04d}",
        instruction_type=instruction_type,
        instrument=instrument,
        instrument_ref=instrument.instrument_id,
        quantity=quantity,
        status=status,
        created_at=now,
        updated_at=now,
        accepted_quantity=quantity if status in STANDING_INSTRUCTION_STATUSES else None,
        rejection=rejection,
    )
    account.record_instruction(instruction)
    if status is InstructionStatus.ACCEPTED and instruction_type is InstructionType.EXERCISE:
        exercise(state, account, instrument, quantity)
    return instruction


# ------------------------------------------------------------------ clearing


def _decide(state: SimulatorState, instruction: SimInstruction, due: datetime) -> None:
    if instruction.status is not InstructionStatus.SENT:
        return
    instruction.updated_at = due
    if state.clearing_rejections:
        instruction.status = InstructionStatus.REJECTED
        instruction.rejection = state.clearing_rejections.popleft()
        return
    instruction.status = InstructionStatus.ACCEPTED
    instruction.accepted_quantity = instruction.quantity
    _deliver(state, instruction)


def _deliver(state: SimulatorState, instruction: SimInstruction) -> None:
    """Book an accepted EXERCISE (see the module docstring)."""
    instrument = instruction.instrument
    if instruction.instruction_type is not InstructionType.EXERCISE or instrument is None:
        return
    exercise(state, state.accounts[instruction.account_id], instrument, instruction.quantity)


def exercise(state: SimulatorState, account: Account, instrument: SimInstrument, quantity: Decimal) -> None:
    """Exercise up to ``quantity`` long contracts of ``instrument``: contracts out, then shares
    and cash (physical settlement) or cash only (cash settlement)."""
    contract, underlying = instrument.option, instrument.underlying
    holding = account.holdings.get(instrument.instrument_id)
    if contract is None or underlying is None or holding is None or holding.quantity <= 0:
        return
    contracts = min(quantity, holding.quantity)
    premium = holding.avg_price or ZERO
    shares = contracts * instrument.multiplier
    holding.quantity -= contracts
    cash = state.cash_instrument()
    if instrument.cash_settled:
        level = underlying.valuation_price
        intrinsic = ZERO
        if level is not None:
            intrinsic = max(ZERO, level - contract.strike if contract.is_call else contract.strike - level)
        holding.realized_today += (intrinsic - premium) * shares
        if holding.quantity == 0:
            account.drop(holding)
        account.adjust_cash(cash, intrinsic * shares)
        return
    if holding.quantity == 0:
        account.drop(holding)
    if contract.is_call:
        account.book_trade(underlying, shares, contract.strike + premium)
        account.adjust_cash(cash, -shares * contract.strike)
    else:
        account.book_trade(underlying, -shares, contract.strike - premium)
        account.adjust_cash(cash, shares * contract.strike)


# ------------------------------------------------------------------ cancels


def request_cancel(state: SimulatorState, account: Account, instruction_id: str) -> SimInstruction:
    instruction = account.instructions_by_id.get(instruction_id.strip().lower())
    if instruction is None:
        raise ApiError(404, f"Position instruction {instruction_id} not found for account {account.account_id}")
    if instruction.status is InstructionStatus.CANCEL_REQUESTED:
        return instruction
    if instruction.status is not InstructionStatus.SENT:
        raise ApiError(
            409,
            f"Position instruction {instruction.id} is {instruction.status.value} and can no longer be cancelled",
        )
    now = state.now()
    instruction.status = InstructionStatus.CANCEL_REQUESTED
    instruction.updated_at = now
    state.scheduler.schedule(now + state.timings.cancel_decision, partial(_resolve_cancel, state, instruction))
    return instruction


def _resolve_cancel(state: SimulatorState, instruction: SimInstruction, due: datetime) -> None:
    if instruction.status is not InstructionStatus.CANCEL_REQUESTED:
        return
    instruction.updated_at = due
    contract = instruction.instrument.option if instruction.instrument else None
    cutoff = state.cutoff_instant(contract) if contract is not None else None
    if cutoff is None or due < cutoff:
        instruction.status = InstructionStatus.CANCELLED
        return
    description = f"Cancel failed: the exercise cutoff ({cutoff.isoformat()}) has passed; the instruction stands"
    instruction.status = InstructionStatus.CANCEL_FAILED
    instruction.rejection = Rejection(
        reason="EXERCISE_PAST_CUTOFF",
        domain=CLEARING_DOMAIN,
        description=description,
        metadata={"cutoff_time": cutoff.isoformat()},
    )
    instruction.accepted_quantity = instruction.quantity
    _deliver(state, instruction)
