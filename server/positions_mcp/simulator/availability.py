"""What of a position is free to act on: its magnitude minus what working closing orders and
pending position instructions reserve.

* A position row's ``available_quantity`` and a close: |quantity| minus the leaves quantity of
  working orders that would reduce it, minus the contracts pending (SENT or CANCEL_REQUESTED)
  EXERCISE instructions reserve; never below zero, a magnitude for shorts too.
* A new position instruction: the long quantity minus working closing orders' leaves minus every
  pending instruction on the contract, of any type (0 for shorts).
"""

from __future__ import annotations

from decimal import Decimal

from .accounts import ZERO, Account, Holding

Reservations = dict[str, Decimal]
"""Reserved quantity by instrument id."""


def order_reservations(account: Account) -> Reservations:
    """Leaves quantity of working orders that would reduce each position."""
    reserved: Reservations = {}
    for order in account.orders:
        if not order.working:
            continue
        holding = account.holdings.get(order.instrument.instrument_id)
        if holding is not None and order.side is holding.closing_side:
            key = order.instrument.instrument_id
            reserved[key] = reserved.get(key, ZERO) + order.leaves_quantity
    return reserved


def exercise_reservations(account: Account) -> Reservations:
    """Contracts held by pending EXERCISE instructions."""
    return _instruction_reservations(account, exercises_only=True)


def _instruction_reservations(account: Account, *, exercises_only: bool) -> Reservations:
    reserved: Reservations = {}
    for instruction in account.instructions:
        wanted = instruction.reserves_contracts if exercises_only else instruction.pending
        if wanted and instruction.instrument is not None:
            key = instruction.instrument.instrument_id
            reserved[key] = reserved.get(key, ZERO) + instruction.quantity
    return reserved


def free(holding: Holding, *reservations: Reservations) -> Decimal:
    """|quantity| minus what ``reservations`` hold of it, never below zero."""
    key = holding.instrument.instrument_id
    return max(ZERO, abs(holding.quantity) - sum((r.get(key, ZERO) for r in reservations), ZERO))


def instructable_quantity(account: Account, holding: Holding | None) -> Decimal:
    """Long contracts a new instruction may cover (the module docstring; 0 for shorts)."""
    if holding is None or holding.quantity <= 0:
        return ZERO
    return free(holding, order_reservations(account), _instruction_reservations(account, exercises_only=False))
