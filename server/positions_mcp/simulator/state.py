"""The simulated accounts: holdings, orders and position instructions, and how they evolve.

Everything here is synchronous and guarded by ``SimulatorState.lock``; the HTTP layer takes the
lock for the whole of each request, so a request sees and leaves a consistent state.

Lifecycle (simulated time; the delays are ``Timings``):

* Closing orders are MARKET DAY orders. ``PENDING_NEW`` → ``NEW`` after ``order_acknowledgement``.
  They fill only while the US regular session is open (``domain.calendar.is_market_open``): an
  order due to fill outside the session waits for the next open. A closing order of more than one
  share or contract fills in two executions (half, rounded down to whole units, then the rest), so
  ``PARTIALLY_FILLED`` is observable; each fill is at the instrument's price (its last close when
  it has no current price), reduces the position and books ``daily_realized_pnl``. A position that
  reaches zero disappears. While an order works, its leaves quantity is not available. DAY orders
  never expire here: one still working at the close fills at the next open, except an option's
  once it is past its last trade (``market.last_trade_cutoff``), which is REJECTED instead.
  Each fill moves cash too: the account's USD cash position grows by the proceeds of a sale and
  shrinks by the cost of a purchase (quantity × price × multiplier).
* Position instructions: ``SENT`` → ``ACCEPTED`` (``accepted_quantity`` = quantity) after
  ``instruction_decision``, or ``REJECTED`` (domain ``com.clearstreet.oems.clearing``) when a
  rejection was queued with ``queue_clearing_rejection``. A ``SENT`` or ``CANCEL_REQUESTED``
  EXERCISE reserves its contracts for closing (they are not available to a closing order); for
  new instructions every pending instruction, of any type, consumes the contracts it covers.
  An ``ACCEPTED`` EXERCISE is delivered at once and moves cash: the contracts leave the option
  position; a physically settled contract books ``contracts × multiplier`` shares of the underlier
  at the strike adjusted by the premium paid (calls: bought at strike + average premium per share,
  cash − shares × strike; puts: sold at strike − average premium, cash + shares × strike); a
  cash-settled (index) contract delivers nothing and pays its intrinsic value at the underlier's
  current level (cash + intrinsic × contracts × multiplier, realized P&L against the premium).
  Accepted DO_NOT_EXERCISE / CONTRARY_EXERCISE instructions change nothing: they govern expiration
  processing, which the simulator does not run (expired contracts simply stay in the book).
* Cancels: ``CANCEL_REQUESTED`` → ``CANCELLED`` after ``cancel_decision``, or ``CANCEL_FAILED``
  when that moment is at or after the contract's exercise cutoff on its expiration business day:
  the instruction then stands (``accepted_quantity`` set, an EXERCISE is delivered).

Exercise cutoff on a contract's expiration business day: ``domain.calendar.exercise_cutoff`` (17:30
ET, 14:30 ET on an early-close day, FINRA Rule 2360(b)(23)(A)), or the broker cutoff configured
with ``exercise_cutoff`` (a New York wall time) when that is earlier.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import partial
from typing import Any

from ..clearstreet.models import (
    InstructionStatus,
    InstructionType,
    OrderStatus,
    OrderType,
    SecurityType,
    Side,
    TimeInForce,
)
from ..domain.calendar import (
    NEW_YORK,
    exercise_cutoff,
    expiration_business_day,
    is_market_open,
    new_york,
    next_market_open,
    previous_business_day,
)
from ..domain.last_trade import trading_ends
from ..domain.osi import OptionSymbol
from .clock import Scheduler, SimulatedClock
from .instruments import InstrumentRegistry, SimInstrument
from .wire import (
    ApiError,
    IdFactory,
    optional_price,
    optional_timestamp_s,
    round_price,
    timestamp_ns,
)
from .wire import (
    quantity as quantity_text,
)

EXERCISE_DOMAIN = "com.clearstreet.oems.exercise"
CLEARING_DOMAIN = "com.clearstreet.oems.clearing"
WORKING_ORDER_STATUSES = frozenset({OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
RESERVING_INSTRUCTION_STATUSES = frozenset({InstructionStatus.SENT, InstructionStatus.CANCEL_REQUESTED})
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Timings:
    """Delays of the simulated lifecycle transitions."""

    order_acknowledgement: timedelta = timedelta(seconds=1)
    order_first_fill: timedelta = timedelta(seconds=2)
    order_next_fill: timedelta = timedelta(seconds=1)
    instruction_decision: timedelta = timedelta(seconds=3)
    cancel_decision: timedelta = timedelta(seconds=2)


@dataclass(eq=False, slots=True)
class Holding:
    """One position: signed quantity (negative = short) and average price per share/contract."""

    instrument: SimInstrument
    quantity: Decimal
    avg_price: Decimal | None
    realized_today: Decimal = ZERO

    @property
    def closing_side(self) -> Side:
        return Side.SELL if self.quantity > 0 else Side.BUY


@dataclass(eq=False, slots=True)
class SimOrder:
    id: str
    account_id: int
    client_order_id: str
    instrument: SimInstrument
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    created_at: datetime
    updated_at: datetime
    status: OrderStatus = OrderStatus.PENDING_NEW
    filled_quantity: Decimal = ZERO
    average_fill_price: Decimal | None = None
    limit_price: Decimal | None = None
    details: list[str] = field(default_factory=list)

    @property
    def working(self) -> bool:
        return self.status in WORKING_ORDER_STATUSES

    @property
    def leaves_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity if self.working else ZERO

    def to_wire(self) -> dict[str, Any]:
        instrument = self.instrument
        underlying = instrument.underlying
        return {
            "id": self.id,
            "account_id": self.account_id,
            "client_order_id": self.client_order_id,
            "instrument_id": instrument.instrument_id,
            "instrument_type": instrument.instrument_type.value,
            "symbol": instrument.symbol,
            "underlying_instrument_id": underlying.instrument_id if underlying else None,
            "underlying_instrument_type": underlying.instrument_type.value if underlying else None,
            "side": self.side.value,
            "quantity": quantity_text(self.quantity),
            "filled_quantity": quantity_text(self.filled_quantity),
            "leaves_quantity": quantity_text(self.leaves_quantity),
            "order_type": self.order_type.value,
            "time_in_force": self.time_in_force.value,
            "status": self.status.value,
            "venue": instrument.venue,
            "average_fill_price": optional_price(self.average_fill_price),
            "limit_price": optional_price(self.limit_price),
            "stop_price": None,
            "extended_hours": False,
            "expires_at": None,
            "details": list(self.details) or None,
            "strategy": None,
            "queue_state": None,
            "releases_at": None,
            "limit_offset": None,
            "trailing_offset": None,
            "trailing_offset_type": None,
            "trailing_stop_px": None,
            "trailing_limit_px": None,
            "created_at": timestamp_ns(self.created_at),
            "updated_at": timestamp_ns(self.updated_at),
        }


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
    def reserves_contracts(self) -> bool:
        return self.instruction_type is InstructionType.EXERCISE and self.status in RESERVING_INSTRUCTION_STATUSES

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


class Holdings(dict[str, Holding]):
    """An account's holdings by instrument id; ``version`` moves whenever one is added, replaced or
    removed, so a listing order computed from them can be reused until then."""

    version = 0

    def __setitem__(self, key: str, value: Holding) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def clear(self) -> None:
        super().clear()
        self.version += 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.version += 1

    def setdefault(self, key: str, default: Holding) -> Holding:
        self.version += 1
        return super().setdefault(key, default)

    def popitem(self) -> tuple[str, Holding]:
        self.version += 1
        return super().popitem()


@dataclass(eq=False)
class Account:
    account_id: int
    holdings: Holdings = field(default_factory=Holdings)
    """By instrument id."""
    orders: list[SimOrder] = field(default_factory=list)
    instructions: list[SimInstruction] = field(default_factory=list)
    """Persisted instructions, in creation order."""
    instructions_by_id: dict[str, SimInstruction] = field(default_factory=dict)
    instructions_by_key: dict[str, SimInstruction] = field(default_factory=dict)
    order_sequence: dict[date, int] = field(default_factory=dict)
    closed_realized: Decimal = ZERO
    """Realized P&L of positions that were closed out entirely (their holdings are gone)."""
    start_of_day: list[tuple[SimInstrument, Decimal]] | None = None
    """The holdings (instrument, quantity) at the start of the simulated day; see ``mark_start_of_day``."""
    symbol_order: tuple[int, list[Holding]] | None = field(default=None, repr=False)
    """``(holdings.version, the holdings in listing order)``: see ``positions.symbol_order``."""

    def record_instruction(self, instruction: SimInstruction) -> None:
        self.instructions.append(instruction)
        self.instructions_by_id[instruction.id] = instruction
        self.instructions_by_key[instruction.client_instruction_id] = instruction


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
        self._clearing_rejections: deque[Rejection] = deque()

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

    def hold(
        self,
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

    # ---------------------------------------------------------- reservations

    @staticmethod
    def order_reservations(account: Account) -> dict[str, Decimal]:
        """Leaves quantity of working orders that would reduce each position."""
        reserved: dict[str, Decimal] = {}
        for order in account.orders:
            if not order.working:
                continue
            holding = account.holdings.get(order.instrument.instrument_id)
            if holding is not None and order.side is holding.closing_side:
                key = order.instrument.instrument_id
                reserved[key] = reserved.get(key, ZERO) + order.leaves_quantity
        return reserved

    @staticmethod
    def exercise_reservations(account: Account) -> dict[str, Decimal]:
        """Contracts held by pending EXERCISE instructions."""
        reserved: dict[str, Decimal] = {}
        for instruction in account.instructions:
            if instruction.reserves_contracts and instruction.instrument is not None:
                key = instruction.instrument.instrument_id
                reserved[key] = reserved.get(key, ZERO) + instruction.quantity
        return reserved

    @staticmethod
    def instruction_reservations(account: Account) -> dict[str, Decimal]:
        """Contracts covered by pending instructions of every type (SENT or CANCEL_REQUESTED)."""
        reserved: dict[str, Decimal] = {}
        for instruction in account.instructions:
            if instruction.status in RESERVING_INSTRUCTION_STATUSES and instruction.instrument is not None:
                key = instruction.instrument.instrument_id
                reserved[key] = reserved.get(key, ZERO) + instruction.quantity
        return reserved

    def instructable_quantity(self, account: Account, holding: Holding | None) -> Decimal:
        """Long contracts a new instruction may cover: the long quantity minus working closing
        orders' leaves minus every pending instruction on the contract (0 for shorts)."""
        if holding is None or holding.quantity <= 0:
            return ZERO
        return self._free(holding, self.order_reservations(account), self.instruction_reservations(account))

    def available_quantity(self, account: Account, holding: Holding) -> Decimal:
        """What is free to act on, as a magnitude (shorts too): |quantity| minus working closing
        orders' leaves minus contracts reserved by pending exercises, never below zero."""
        return self._free(holding, self.order_reservations(account), self.exercise_reservations(account))

    @staticmethod
    def _free(holding: Holding, *reservations: dict[str, Decimal]) -> Decimal:
        key = holding.instrument.instrument_id
        return max(ZERO, abs(holding.quantity) - sum((r.get(key, ZERO) for r in reservations), ZERO))

    # ------------------------------------------------------------------ cash

    def cash_instrument(self) -> SimInstrument:
        """The USD cash instrument (a CASH position of quantity = dollars, price 1.00)."""
        return self.instruments.equity("USD", Decimal("1.00"), Decimal("1.00"), instrument_type=SecurityType.CASH)

    def adjust_cash(self, account: Account, amount: Decimal) -> None:
        """Move the account's USD cash position by ``amount`` (negative: a debit; below zero the
        account borrows on margin and the row turns SHORT)."""
        if amount == 0:
            return
        usd = self.cash_instrument()
        holding = account.holdings.get(usd.instrument_id)
        if holding is None:
            account.holdings[usd.instrument_id] = Holding(usd, amount, Decimal("1.00"))
            return
        holding.quantity += amount
        if holding.quantity == 0:
            self._drop(account, holding)

    @staticmethod
    def _drop(account: Account, holding: Holding) -> None:
        """Remove a holding that reached zero, keeping its realized P&L on the account."""
        account.closed_realized += holding.realized_today
        del account.holdings[holding.instrument.instrument_id]

    # ---------------------------------------------------------------- trades

    def book_trade(self, account: Account, instrument: SimInstrument, delta: Decimal, price: Decimal) -> None:
        """Apply a trade of ``delta`` (signed) at ``price`` per share/contract to the position.

        Adding to a position averages its price; reducing it books realized P&L against the
        average; crossing zero opens the remainder at ``price``; zero removes the position.
        """
        holding = account.holdings.get(instrument.instrument_id)
        if holding is None:
            account.holdings[instrument.instrument_id] = Holding(instrument, delta, round_price(price))
            return
        held = holding.quantity
        if (held > 0) == (delta > 0):
            if holding.avg_price is not None:
                total = abs(held) * holding.avg_price + abs(delta) * price
                holding.avg_price = round_price(total / (abs(held) + abs(delta)))
            holding.quantity = held + delta
            return
        closed = min(abs(delta), abs(held))
        if holding.avg_price is not None:
            direction = Decimal(1) if held > 0 else Decimal(-1)
            holding.realized_today += (price - holding.avg_price) * closed * instrument.multiplier * direction
        holding.quantity = held + delta
        if holding.quantity == 0:
            self._drop(account, holding)
        elif abs(delta) > abs(held):
            holding.avg_price = round_price(price)

    # ---------------------------------------------------------------- orders

    def add_order(
        self,
        account: Account,
        instrument: SimInstrument,
        *,
        side: Side,
        quantity: Decimal,
        client_order_id: str,
        order_type: OrderType,
        time_in_force: TimeInForce,
        created_at: datetime,
        status: OrderStatus,
        limit_price: Decimal | None = None,
    ) -> SimOrder:
        """Put a resting order in the book as it stands (no lifecycle; used to build books)."""
        order = SimOrder(
            id=self.ids.server_id(created_at),
            account_id=account.account_id,
            client_order_id=client_order_id,
            instrument=instrument,
            side=side,
            quantity=quantity,
            order_type=order_type,
            time_in_force=time_in_force,
            created_at=created_at,
            updated_at=created_at,
            status=status,
            limit_price=limit_price,
        )
        account.orders.append(order)
        return order

    def close_position(self, account: Account, instrument: SimInstrument, *, cancel_orders: bool) -> list[SimOrder]:
        holding = account.holdings.get(instrument.instrument_id)
        if holding is None:
            raise ApiError(404, f"No open position in {instrument.symbol} for account {account.account_id}")
        if instrument.instrument_type is SecurityType.CASH:
            raise ApiError(422, f"{instrument.symbol} is a cash balance; it is not closed with an order")
        closable = self._closable(account, cancel_orders=cancel_orders)(holding)
        if closable == 0:
            hint = (
                "pending exercise instructions reserve it"
                if cancel_orders
                else "working orders or pending exercise instructions reserve it; "
                "cancel_orders=true cancels the working orders first"
            )
            raise ApiError(
                422,
                f"Nothing to close in {instrument.symbol}: none of the {quantity_text(abs(holding.quantity))} "
                f"is available ({hint})",
            )
        now = self.now()
        if cancel_orders:
            self._cancel_working_orders(account, {instrument.instrument_id}, now)
        return [self._send_closing_order(account, holding, closable, "close-position", now)]

    def close_all(self, account: Account, *, cancel_orders: bool) -> list[SimOrder]:
        """Close every equity and option position (cash stays); positions with nothing available
        are skipped. Orders come in symbol order."""
        plan: list[tuple[Holding, Decimal]] = []
        closable_of = self._closable(account, cancel_orders=cancel_orders)
        holdings = sorted(account.holdings.values(), key=lambda h: (h.instrument.symbol, h.instrument.instrument_id))
        for holding in holdings:
            if holding.instrument.instrument_type is SecurityType.CASH:
                continue
            closable = closable_of(holding)
            if closable > 0:
                plan.append((holding, closable))
        now = self.now()
        if cancel_orders:
            self._cancel_working_orders(account, {h.instrument.instrument_id for h, _ in plan}, now)
        return [
            self._send_closing_order(account, holding, closable, "close-positions", now) for holding, closable in plan
        ]

    def _closable(self, account: Account, *, cancel_orders: bool) -> Callable[[Holding], Decimal]:
        """How much of a holding a close covers: what is available, or with ``cancel_orders`` all
        of it but the contracts pending exercises reserve (cancelling orders frees the rest)."""
        exercises = self.exercise_reservations(account)
        if cancel_orders:
            return lambda holding: self._free(holding, exercises)
        orders = self.order_reservations(account)
        return lambda holding: self._free(holding, orders, exercises)

    def _cancel_working_orders(self, account: Account, instrument_ids: set[str], at: datetime) -> None:
        for order in account.orders:
            if order.working and order.instrument.instrument_id in instrument_ids:
                order.status = OrderStatus.CANCELED
                order.updated_at = at
                order.details.append("Canceled before closing the position (cancel_orders)")

    def _next_client_order_id(self, account: Account, prefix: str) -> str:
        today = self.today()
        sequence = account.order_sequence.get(today, 0) + 1
        account.order_sequence[today] = sequence
        return f"{prefix}-{today:%Y%m%d}-{sequence:04d}"

    def _send_closing_order(
        self, account: Account, holding: Holding, quantity: Decimal, prefix: str, at: datetime
    ) -> SimOrder:
        order = self.add_order(
            account,
            holding.instrument,
            side=holding.closing_side,
            quantity=quantity,
            client_order_id=self._next_client_order_id(account, prefix),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            created_at=at,
            status=OrderStatus.PENDING_NEW,
        )
        self.scheduler.schedule(at + self.timings.order_acknowledgement, partial(self._acknowledge, order))
        self.scheduler.schedule(at + self.timings.order_first_fill, partial(self._fill, order))
        return order

    def _acknowledge(self, order: SimOrder, due: datetime) -> None:
        if order.status is OrderStatus.PENDING_NEW:
            order.status = OrderStatus.NEW
            order.updated_at = due

    def _fill(self, order: SimOrder, due: datetime) -> None:
        if order.status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            return
        if not is_market_open(due):
            self.scheduler.schedule(next_market_open(due), partial(self._fill, order))
            return
        account = self.accounts[order.account_id]
        instrument = order.instrument
        if instrument.option is not None:
            ended = trading_ends(instrument.option.expiry, instrument.settles_on_open)
            if due >= ended:
                order.status = OrderStatus.REJECTED
                order.details.append(
                    f"Rejected: {instrument.symbol} can no longer trade (its last trade was {ended:%Y-%m-%d %H:%M} ET)"
                )
                order.updated_at = due
                return
        holding = account.holdings.get(instrument.instrument_id)
        price = instrument.valuation_price
        if holding is None or order.side is not holding.closing_side:
            order.status = OrderStatus.CANCELED
            order.details.append("Canceled: the position it was closing no longer exists")
            order.updated_at = due
            return
        if price is None:
            order.status = OrderStatus.REJECTED
            order.details.append(f"Rejected: no market price for {instrument.symbol}")
            order.updated_at = due
            return
        leaves = order.quantity - order.filled_quantity
        chunk = leaves
        if order.filled_quantity == 0:
            half = (leaves / 2).to_integral_value(rounding=ROUND_FLOOR)
            if half >= 1:
                chunk = half
        chunk = min(chunk, abs(holding.quantity))
        self.book_trade(account, instrument, -chunk if order.side is Side.SELL else chunk, price)
        proceeds = chunk * price * instrument.multiplier
        self.adjust_cash(account, proceeds if order.side is Side.SELL else -proceeds)
        previous_notional = (order.average_fill_price or ZERO) * order.filled_quantity
        order.filled_quantity += chunk
        order.average_fill_price = round_price((previous_notional + price * chunk) / order.filled_quantity)
        order.updated_at = due
        if order.filled_quantity >= order.quantity:
            order.status = OrderStatus.FILLED
        elif instrument.instrument_id not in account.holdings:
            order.status = OrderStatus.CANCELED
            order.details.append(
                f"Remaining {quantity_text(order.quantity - order.filled_quantity)} canceled: the position is closed"
            )
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
            self.scheduler.schedule(due + self.timings.order_next_fill, partial(self._fill, order))

    # ---------------------------------------------------------- instructions

    def persist_instruction(
        self,
        account: Account,
        *,
        client_instruction_id: str,
        instruction_type: InstructionType,
        instrument: SimInstrument,
        quantity: Decimal,
    ) -> SimInstruction:
        """Record an instruction that passed pre-acceptance validation as ``SENT``."""
        now = self.now()
        instruction = SimInstruction(
            id=self.ids.server_id(now),
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
        self.scheduler.schedule(now + self.timings.instruction_decision, partial(self._decide, instruction))
        return instruction

    def queue_clearing_rejection(self, rejection: Rejection) -> None:
        """The next instruction clearing decides on is rejected with ``rejection``."""
        self._clearing_rejections.append(rejection)

    def _decide(self, instruction: SimInstruction, due: datetime) -> None:
        if instruction.status is not InstructionStatus.SENT:
            return
        instruction.updated_at = due
        if self._clearing_rejections:
            instruction.status = InstructionStatus.REJECTED
            instruction.rejection = self._clearing_rejections.popleft()
            return
        instruction.status = InstructionStatus.ACCEPTED
        instruction.accepted_quantity = instruction.quantity
        self._deliver(instruction)

    def _deliver(self, instruction: SimInstruction) -> None:
        """Book an accepted EXERCISE (see the module docstring)."""
        instrument = instruction.instrument
        if instruction.instruction_type is not InstructionType.EXERCISE or instrument is None:
            return
        account = self.accounts[instruction.account_id]
        self.exercise(account, instrument, instruction.quantity)

    def exercise(self, account: Account, instrument: SimInstrument, quantity: Decimal) -> None:
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
        if instrument.cash_settled:
            level = underlying.valuation_price
            intrinsic = ZERO
            if level is not None:
                intrinsic = max(ZERO, level - contract.strike if contract.is_call else contract.strike - level)
            holding.realized_today += (intrinsic - premium) * shares
            if holding.quantity == 0:
                self._drop(account, holding)
            self.adjust_cash(account, intrinsic * shares)
            return
        if holding.quantity == 0:
            self._drop(account, holding)
        if contract.is_call:
            self.book_trade(account, underlying, shares, contract.strike + premium)
            self.adjust_cash(account, -shares * contract.strike)
        else:
            self.book_trade(account, underlying, -shares, contract.strike - premium)
            self.adjust_cash(account, shares * contract.strike)

    def request_cancel(self, account: Account, instruction_id: str) -> SimInstruction:
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
        now = self.now()
        instruction.status = InstructionStatus.CANCEL_REQUESTED
        instruction.updated_at = now
        self.scheduler.schedule(now + self.timings.cancel_decision, partial(self._resolve_cancel, instruction))
        return instruction

    def _resolve_cancel(self, instruction: SimInstruction, due: datetime) -> None:
        if instruction.status is not InstructionStatus.CANCEL_REQUESTED:
            return
        instruction.updated_at = due
        contract = instruction.instrument.option if instruction.instrument else None
        cutoff = self.cutoff_instant(contract) if contract is not None else None
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
        self._deliver(instruction)
