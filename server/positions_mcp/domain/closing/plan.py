"""A close plan: what ``close_position`` / ``close_positions`` would send, what it warns about and
why it may be blocked. Pure, no I/O; the package docstring says what the plan mirrors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, PrivateAttr, computed_field

from ...clearstreet.models import Position, PositionInstruction
from ..contracts import ContractTerms
from ..market_view import MarketView
from ..numbers import DecimalString
from ..resolve import resolve_position
from .context import CloseContext
from .issues import CloseCode, Issue
from .plan_checks import (
    cap_issues,
    cash_excluded,
    close_all_past_last_trade,
    nothing_to_close,
    option_issues,
    session_issues,
)
from .plan_text import cancel_orders_effect, plan_summary
from .planned_order import PlannedOrder, plan_order
from .selection import Scope, close_scope, is_cash

__all__ = ["MAX_LISTED_ORDERS", "MAX_LISTED_WARNINGS", "ClosePlan", "plan_close_position", "plan_close_positions"]

MAX_LISTED_ORDERS = 50
"""A preview lists at most this many orders (the largest); counts and totals cover every one."""
MAX_LISTED_WARNINGS = 20


class ClosePlan(BaseModel):
    scope: Scope
    target: str | None = None
    cancel_orders: bool
    order_count: int = Field(description="Orders that will be sent; 'orders' lists the 50 largest")
    orders: list[PlannedOrder]
    estimated_total: DecimalString = Field(
        description="Σ estimated notional of every order, sells and buys alike (what trades, not net cash)"
    )
    max_close_notional: DecimalString | None = None
    market_open: bool
    next_open: datetime | None = None
    cancel_orders_effect: str
    excluded: list[str] = []
    warnings: list[Issue] = []
    blocked: list[Issue] = []
    summary: str

    _sends: tuple[str, ...] = PrivateAttr(default=())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def allowed(self) -> bool:
        """True when the close may be executed (after the human's yes)."""
        return not self.blocked

    @property
    def sends(self) -> tuple[str, ...]:
        """What the close sends, one canonical line per order, every order (``orders`` lists the
        largest only), then the cancel_orders choice: a confirmation binds these."""
        return self._sends

    def why_blocked(self) -> str:
        """Why this close cannot be executed, in one line ('' when it can)."""
        return "; ".join(issue.message for issue in self.blocked)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def _plan(
    scope: Scope,
    target: str | None,
    positions: list[Position],
    excluded: list[str],
    blocked: list[Issue],
    max_close_notional: Decimal | None,
    context: CloseContext,
) -> ClosePlan:
    _require_aware(context.now)
    cancel = context.cancel_orders
    warnings = [cash_excluded(excluded)] if excluded else []
    orders = [o for p in positions if (o := plan_order(p, context, warnings, blocked)) is not None]
    if scope == "all":
        close_all_past_last_trade(blocked)
    total = sum((o.estimated_notional for o in orders if o.estimated_notional is not None), Decimal(0))
    unusable_terms = option_issues(orders, context.terms, warnings)
    market_open, next_open = session_issues(context, blocked, warnings)
    if not orders and not blocked:
        blocked.append(nothing_to_close(scope, positions, context))
    cap_issues(orders, total, max_close_notional, unusable_terms, warnings, blocked)
    plan = ClosePlan(
        scope=scope,
        target=target,
        cancel_orders=cancel,
        order_count=len(orders),
        orders=_listed_orders(orders),
        estimated_total=total,
        max_close_notional=max_close_notional,
        market_open=market_open,
        next_open=next_open,
        cancel_orders_effect=cancel_orders_effect(cancel, positions, context),
        excluded=excluded,
        warnings=_listed_warnings(warnings),
        blocked=blocked,
        summary=plan_summary(orders, total, cancel, blocked, market_open, next_open),
    )
    plan._sends = (
        *(f"{o.side} {o.quantity} {o.instrument_id} {o.order_type} {o.time_in_force}" for o in orders),
        f"cancel_orders={str(cancel).lower()}",
    )
    return plan


def _listed_orders(orders: list[PlannedOrder]) -> list[PlannedOrder]:
    """Every order, or the largest first when there are more than a preview lists."""
    if len(orders) <= MAX_LISTED_ORDERS:
        return orders
    return sorted(orders, key=lambda o: -(o.estimated_notional or Decimal(0)).copy_abs())[:MAX_LISTED_ORDERS]


def _listed_warnings(warnings: Sequence[Issue]) -> list[Issue]:
    """The first warnings, then one that counts the rest and names their codes."""
    if len(warnings) <= MAX_LISTED_WARNINGS:
        return list(warnings)
    rest = warnings[MAX_LISTED_WARNINGS - 1 :]
    codes = ", ".join(sorted({str(w.code) for w in rest}))
    summary = Issue(code=rest[0].code, message=f"{len(rest)} more warnings ({codes}).", symbol=None)
    return [*warnings[: MAX_LISTED_WARNINGS - 1], summary]


def plan_close_position(
    positions: Iterable[Position],
    instrument_id: str,
    *,
    cancel_orders: bool | None,
    now: datetime,
    max_close_notional: Decimal | None = None,
    account_id: int | None = None,
    pending_instructions: Iterable[PositionInstruction] = (),
    contracts: Mapping[str, ContractTerms] | None = None,
    market: MarketView | None = None,
    earlier_close: str | None = None,
) -> ClosePlan:
    """What ``close_position(instrument_id)`` would send. Raises ``ResolveError`` (with a message
    saying what to pass instead) when ``instrument_id`` names no position or several.

    ``pending_instructions``: the account's position instructions (any; the live EXERCISE ones on
    the contract hold contracts no close frees). ``contracts``: instrument id ->
    :class:`..contracts.ContractTerms` (multiplier and deliverable of option positions).
    ``market``: quotes (estimates at the bid or ask), contract terms, tradability flags and the
    market's session, when read; without it, the positions' own prices and the local calendar.
    ``earlier_close``: names an identical close sent a moment ago that may still be working (e.g.
    "the close sent at 10:00:00 ET (orders …)"): the advice about working orders then says to wait
    for it, never to replace it with cancel_orders=true."""
    held = list(positions)
    position = resolve_position(held, instrument_id, account_id)
    blocked: list[Issue] = []
    targets = [position]
    if is_cash(position):
        blocked.append(
            Issue(
                code=CloseCode.CASH_POSITION,
                symbol=position.symbol,
                message=f"{position.symbol} is a CASH position, which is not closed by an order.",
            )
        )
        targets = []
    context = CloseContext(bool(cancel_orders), list(pending_instructions), contracts, held, market, now, earlier_close)
    return _plan("position", instrument_id, targets, [], blocked, max_close_notional, context)


def plan_close_positions(
    positions: Iterable[Position],
    *,
    cancel_orders: bool | None,
    now: datetime,
    max_close_notional: Decimal | None = None,
    pending_instructions: Iterable[PositionInstruction] = (),
    contracts: Mapping[str, ContractTerms] | None = None,
    market: MarketView | None = None,
    earlier_close: str | None = None,
) -> ClosePlan:
    """What ``close_positions`` (close everything) would send. CASH positions are left out.
    ``pending_instructions``, ``contracts`` and ``earlier_close`` as for :func:`plan_close_position`."""
    held = list(positions)
    excluded = [p.symbol for p in held if is_cash(p)]
    targets = close_scope(held, None)
    context = CloseContext(bool(cancel_orders), list(pending_instructions), contracts, held, market, now, earlier_close)
    return _plan("all", None, targets, excluded, [], max_close_notional, context)
