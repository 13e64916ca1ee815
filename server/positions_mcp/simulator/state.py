"""The simulated world every request works on: instruments, accounts, ids, simulated time and the
queue of lifecycle transitions.

Everything here is synchronous and guarded by ``SimulatorState.lock``; the HTTP layer takes the
lock for the whole of each request, so a request sees and leaves a consistent state. What the
accounts hold is in ``accounts``, what is free to act on in ``availability``; how closing orders
and position instructions evolve (simulated time; the delays are ``Timings``) is in
``order_lifecycle`` and ``instruction_lifecycle``.

Exercise cutoff on a contract's expiration business day: ``domain.calendar.exercise_cutoff`` (17:30
ET, 14:30 ET on an early-close day, FINRA Rule 2360(b)(23)(A)), or the broker cutoff configured
with ``exercise_cutoff`` (a New York wall time) when that is earlier.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ..clearstreet.models import SecurityType
from ..domain.calendar import (
    NEW_YORK,
    exercise_cutoff,
    expiration_business_day,
    new_york,
    previous_business_day,
)
from ..domain.osi import OptionSymbol
from .accounts import ZERO, Account, Holding
from .instrument_registry import InstrumentRegistry, SimInstrument
from .simulated_time import Scheduler, SimulatedClock
from .wire import IdFactory

if TYPE_CHECKING:
    from .instruction_lifecycle import Rejection


@dataclass(frozen=True, slots=True)
class Timings:
    """Delays of the simulated lifecycle transitions."""

    order_acknowledgement: timedelta = timedelta(seconds=1)
    order_first_fill: timedelta = timedelta(seconds=2)
    order_next_fill: timedelta = timedelta(seconds=1)
    instruction_decision: timedelta = timedelta(seconds=3)
    cancel_decision: timedelta = timedelta(seconds=2)


class SimulatorState:
    def __init__(
        self,
        *,
        seed: int,
        clock: SimulatedClock,
        exercise_cutoff: time | None,
        timings: Timings,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.clock = clock
        self.scheduler = Scheduler()
        self.instruments = InstrumentRegistry()
        self.accounts: dict[int, Account] = {}
        self.ids = IdFactory(seed)
        self.exercise_cutoff = exercise_cutoff
        self.timings = timings
        self.clearing_rejections: deque[Rejection] = deque()
        """Rejections clearing gives the next instructions it decides on, oldest first."""

    # ------------------------------------------------------------------ time

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """The current date in New York."""
        return new_york(self.now()).date()

    def closing_price_date(self) -> date:
        """The market date of every closing price: the business day before today."""
        return previous_business_day(self.today())

    def catch_up(self) -> int:
        """Run every transition due by now; returns how many ran."""
        return self.scheduler.run_until(self.now())

    def cutoff_instant(self, contract: OptionSymbol) -> datetime:
        """The exercise cutoff on the contract's expiration business day: FINRA's (17:30 ET, 14:30
        ET on an early close) or the configured broker cutoff when that is earlier."""
        day = expiration_business_day(contract.expiry)
        cutoff = exercise_cutoff(day)
        if self.exercise_cutoff is not None:
            cutoff = min(cutoff, datetime.combine(day, self.exercise_cutoff, NEW_YORK))
        return cutoff

    # -------------------------------------------------------------- accounts

    def open_account(self, account_id: int) -> Account:
        if account_id in self.accounts:
            raise ValueError(f"account {account_id} already exists")
        account = Account(account_id)
        self.accounts[account_id] = account
        return account

    @staticmethod
    def mark_start_of_day(account: Account) -> None:
        """Record the account's holdings as they stand as its start of day (balances' ``sod``)."""
        account.start_of_day = [(holding.instrument, holding.quantity) for holding in account.holdings.values()]

    @staticmethod
    def hold(
        account: Account,
        instrument: SimInstrument,
        quantity: Decimal,
        avg_price: Decimal | None,
        *,
        realized_today: Decimal = ZERO,
    ) -> Holding:
        """Put a position in the book as it stands (used to build books)."""
        if quantity == 0:
            raise ValueError("a position has a non-zero quantity")
        holding = Holding(instrument, quantity, avg_price, realized_today)
        account.holdings[instrument.instrument_id] = holding
        return holding

    def cash_instrument(self) -> SimInstrument:
        """The USD cash instrument (a CASH position of quantity = dollars, price 1.00)."""
        return self.instruments.equity("USD", Decimal("1.00"), Decimal("1.00"), instrument_type=SecurityType.CASH)
