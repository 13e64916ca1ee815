"""Orders of the simulated accounts: resting orders put in a book, and the closing orders a close
sends, from ``PENDING_NEW`` to their last fill (simulated time; the delays are ``state.Timings``).

* Closing orders are MARKET DAY orders. ``PENDING_NEW`` → ``NEW`` after ``order_acknowledgement``.
  They fill only while the US regular session is open (``domain.calendar.is_market_open``): an
  order due to fill outside the session waits for the next open. A closing order of more than one
  share or contract fills in two executions (half, rounded down to whole units, then the rest), so
  ``PARTIALLY_FILLED`` is observable; each fill is at the instrument's price (its last close when
  it has no current price), reduces the position and books ``daily_realized_pnl``. A position that
  reaches zero disappears. While an order works, its leaves quantity is not available
  (``availability``). DAY orders never expire here: one still working at the close fills at the
  next open, except an option's once it is past its last trade (``market.last_trade_cutoff``),
  which is REJECTED instead.
* Each fill moves cash too: the account's USD cash position grows by the proceeds of a sale and
  shrinks by the cost of a purchase (quantity × price × multiplier).
* A close covers what is available; with ``cancel_orders`` it first cancels the working orders on
  the positions it closes and covers all but what pending exercises reserve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from functools import partial
from typing import Any

from ..clearstreet.models import OrderStatus, OrderType, SecurityType, Side, TimeInForce
from ..domain.calendar import is_market_open, next_market_open
from .accounts import ZERO, Account, Holding
from .availability import exercise_reservations, free, order_reservations
from .instrument_registry import SimInstrument
from .market import last_trade_cutoff
from .state import SimulatorState
from .wire import ApiError, optional_price, required, round_price, timestamp_ns
from .wire import quantity as quantity_text

WORKING_ORDER_STATUSES = frozenset({OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


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

    def end(self, status: OrderStatus, detail: str, at: datetime) -> None:
        """Stop working with ``status``, saying why in ``details``."""
        self.status = status
        self.details.append(detail)
        self.updated_at = at

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


def add_order(
    state: SimulatorState,
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
        id=state.ids.server_id(created_at),
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


# ------------------------------------------------------------------ closes


def close_position(
    state: SimulatorState, account: Account, instrument: SimInstrument, *, cancel_orders: bool
) -> list[SimOrder]:
    holding = account.holdings.get(instrument.instrument_id)
    if holding is None:
        raise ApiError(404, f"No open position in {instrument.symbol} for account {account.account_id}")
    if instrument.instrument_type is SecurityType.CASH:
        raise ApiError(422, f"{instrument.symbol} is a cash balance; it is not closed with an order")
    closable = _closable(account, cancel_orders=cancel_orders)(holding)
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
    now = state.now()
    if cancel_orders:
        _cancel_working_orders(account, {instrument.instrument_id}, now)
    return [_send_closing_order(state, account, holding, closable, "close-position", now)]


def close_all(state: SimulatorState, account: Account, *, cancel_orders: bool) -> list[SimOrder]:
    """Close every equity and option position (cash stays); positions with nothing available
    are skipped. Orders come in symbol order."""
    plan: list[tuple[Holding, Decimal]] = []
    closable_of = _closable(account, cancel_orders=cancel_orders)
    for holding in account.in_symbol_order():
        if holding.instrument.instrument_type is SecurityType.CASH:
            continue
        closable = closable_of(holding)
        if closable > 0:
            plan.append((holding, closable))
    now = state.now()
    if cancel_orders:
        _cancel_working_orders(account, {h.instrument.instrument_id for h, _ in plan}, now)
    return [
        _send_closing_order(state, account, holding, closable, "close-positions", now) for holding, closable in plan
    ]


def _closable(account: Account, *, cancel_orders: bool) -> Callable[[Holding], Decimal]:
    """How much of a holding a close covers: what is available, or with ``cancel_orders`` all
    of it but the contracts pending exercises reserve (cancelling orders frees the rest)."""
    exercises = exercise_reservations(account)
    if cancel_orders:
        return lambda holding: free(holding, exercises)
    orders = order_reservations(account)
    return lambda holding: free(holding, orders, exercises)


def _cancel_working_orders(account: Account, instrument_ids: set[str], at: datetime) -> None:
    for order in account.orders:
        if order.working and order.instrument.instrument_id in instrument_ids:
            order.end(OrderStatus.CANCELED, "Canceled before closing the position (cancel_orders)", at)


def _next_client_order_id(state: SimulatorState, account: Account, prefix: str) -> str:
    today = state.today()
    sequence = account.order_sequence.get(today, 0) + 1
    account.order_sequence[today] = sequence
    return f"{prefix}-{today:%Y%m%d}-{sequence:04d}"


def _send_closing_order(
    state: SimulatorState, account: Account, holding: Holding, quantity: Decimal, prefix: str, at: datetime
) -> SimOrder:
    order = add_order(
        state,
        account,
        holding.instrument,
        side=holding.closing_side,
        quantity=quantity,
        client_order_id=_next_client_order_id(state, account, prefix),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        created_at=at,
        status=OrderStatus.PENDING_NEW,
    )
    state.scheduler.schedule(at + state.timings.order_acknowledgement, partial(_acknowledge, order))
    state.scheduler.schedule(at + state.timings.order_first_fill, partial(_fill, state, order))
    return order


# ------------------------------------------------------------------ transitions


def _acknowledge(order: SimOrder, due: datetime) -> None:
    if order.status is OrderStatus.PENDING_NEW:
        order.status = OrderStatus.NEW
        order.updated_at = due


def _fill(state: SimulatorState, order: SimOrder, due: datetime) -> None:
    if order.status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
        return
    if not is_market_open(due):
        state.scheduler.schedule(next_market_open(due), partial(_fill, state, order))
        return
    account = state.accounts[order.account_id]
    holding = account.holdings.get(order.instrument.instrument_id)
    refusal = _refusal(order, holding, due)
    if refusal is not None:
        order.end(*refusal, due)
        return
    _execute(state, account, order, required(holding), due)


def _refusal(order: SimOrder, holding: Holding | None, due: datetime) -> tuple[OrderStatus, str] | None:
    """Why a fill due now cannot happen (the order then ends), or None."""
    instrument = order.instrument
    if instrument.option is not None:
        ended = last_trade_cutoff(instrument)
        if due >= ended:
            return (
                OrderStatus.REJECTED,
                f"Rejected: {instrument.symbol} can no longer trade (its last trade was {ended:%Y-%m-%d %H:%M} ET)",
            )
    if holding is None or order.side is not holding.closing_side:
        return OrderStatus.CANCELED, "Canceled: the position it was closing no longer exists"
    if instrument.valuation_price is None:
        return OrderStatus.REJECTED, f"Rejected: no market price for {instrument.symbol}"
    return None


def _execute(state: SimulatorState, account: Account, order: SimOrder, holding: Holding, due: datetime) -> None:
    """One execution at the instrument's price: half of a first fill (whole units), else the rest."""
    instrument = order.instrument
    price = required(instrument.valuation_price)
    leaves = order.quantity - order.filled_quantity
    chunk = leaves
    if order.filled_quantity == 0:
        half = (leaves / 2).to_integral_value(rounding=ROUND_FLOOR)
        if half >= 1:
            chunk = half
    chunk = min(chunk, abs(holding.quantity))
    account.book_trade(instrument, -chunk if order.side is Side.SELL else chunk, price)
    proceeds = chunk * price * instrument.multiplier
    account.adjust_cash(state.cash_instrument(), proceeds if order.side is Side.SELL else -proceeds)
    previous_notional = (order.average_fill_price or ZERO) * order.filled_quantity
    order.filled_quantity += chunk
    order.average_fill_price = round_price((previous_notional + price * chunk) / order.filled_quantity)
    order.updated_at = due
    if order.filled_quantity >= order.quantity:
        order.status = OrderStatus.FILLED
    elif instrument.instrument_id not in account.holdings:
        remaining = quantity_text(order.quantity - order.filled_quantity)
        order.end(OrderStatus.CANCELED, f"Remaining {remaining} canceled: the position is closed", due)
    else:
        order.status = OrderStatus.PARTIALLY_FILLED
        state.scheduler.schedule(due + state.timings.order_next_fill, partial(_fill, state, order))
