"""Closing one position, or every position: two confirmed actions (reference 3 and 4).

Each sends MARKET DAY orders for what the plan says (``domain.closing``); the pipeline does the
rest. A close has no idempotency key upstream, so a close whose outcome is unknown is never retried
automatically, and a repeat within 15 minutes is named as such to the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clearstreet.models import Order
from ..domain.calendar import new_york
from ..domain.closing import ClosePlan, close_scope, estimate_text, plan_close_position, plan_close_positions
from ..domain.osi import symbol_key
from ..domain.resolve import ResolveError, display_symbol
from ..domain.text import qty
from ..safety.ledger import Submission
from .pipeline import CannotPlan, ConfirmedAction, Draft, Execution, Preview, Sent
from .reads import Reads

if TYPE_CHECKING:
    from ..clearstreet.client import ClearStreetClient

__all__ = ["CloseAll", "CloseArgs", "CloseExecution", "ClosePosition", "ClosePreview"]


@dataclass(frozen=True, slots=True)
class CloseArgs:
    instrument_id: str | None
    """None: every position (close-all)."""
    cancel_orders: bool = False


class ClosePreview(Preview[ClosePlan]):
    """What a close would send, and the token that allows exactly that once."""


class CloseExecution(Execution):
    """The closing orders Clear Street created."""

    orders: list[Order]


class ClosePosition(ConfirmedAction[CloseArgs, ClosePlan]):
    name = "close_position"
    preview_name = "preview_close_position"
    preview_model = ClosePreview
    execution_model = CloseExecution

    def arguments(self, args: CloseArgs) -> dict[str, Any]:
        arguments: dict[str, Any] = {"cancel_orders": args.cancel_orders}
        if args.instrument_id is not None:
            arguments["instrument_id"] = args.instrument_id
        return arguments

    def request(self, args: CloseArgs) -> dict[str, Any]:
        """A close of the same position is a repeat whatever ``cancel_orders`` says: the first
        close's order is what a second one finds 'tied up in working orders', and
        ``cancel_orders=true`` would cancel it and send another."""
        return {} if args.instrument_id is None else {"instrument_id": symbol_key(args.instrument_id)}

    def repeat_notice(self, repeat: Submission, draft: Draft[ClosePlan]) -> str:
        when = f"{new_york(repeat.sent_at):%H:%M:%S} ET"
        orders = f" (orders {', '.join(repeat.ids)})" if repeat.ids else ""
        what = "every position" if draft.plan.scope == "all" else "this position"
        head = f"REPEAT: a close of {what} was sent at {when}{orders}, outcome {repeat.outcome or 'not known yet'}."
        if draft.blocked:
            return (
                f"{head} Its orders are likely what ties up these units: wait for them to fill (read the "
                "position again), rather than cancel_orders=true, which would cancel that close and send a new one."
            )
        return (
            f"{head} Its orders may still be working: what this plan finds tied up in working orders may be that "
            "close, and cancel_orders=true would cancel it and send a new one. A yes sends this close as well."
        )

    async def draft(self, reads: Reads, account: int, args: CloseArgs, keys: Sequence[str] | None) -> Draft[ClosePlan]:
        positions = await reads.positions(account)
        instructions, _ = await reads.instruction_rows(account)  # pending exercises hold contracts
        settings = reads.deps.settings
        now = reads.deps.upstream.now()
        try:
            targets = close_scope(positions, args.instrument_id, account)
        except ResolveError as exc:
            raise CannotPlan(exc.code.value, exc.message) from None
        market = await reads.market(account, targets, funds=False, instruments=True)
        contracts = market.terms
        try:
            if args.instrument_id is None:
                plan = plan_close_positions(
                    positions,
                    cancel_orders=args.cancel_orders,
                    now=now,
                    max_close_notional=settings.max_close_notional,
                    pending_instructions=instructions,
                    contracts=contracts,
                    market=market,
                )
            else:
                plan = plan_close_position(
                    positions,
                    args.instrument_id,
                    cancel_orders=args.cancel_orders,
                    now=now,
                    max_close_notional=settings.max_close_notional,
                    account_id=account,
                    pending_instructions=instructions,
                    contracts=contracts,
                    market=market,
                )
        except ResolveError as exc:
            raise CannotPlan(exc.code.value, exc.message) from None
        lines = [
            f"{o.side} {qty(o.quantity)} {display_symbol(o.symbol)} {o.order_type} {o.time_in_force} "
            f"({estimate_text(o)})"
            for o in plan.orders
        ]
        if unlisted := plan.order_count - len(plan.orders):
            lines.append(f"and {unlisted} smaller orders, all counted in the total above")
        return Draft(
            plan=plan,
            scope=targets,
            keys=None,
            blocked=plan.why_blocked() or None,
            summary=plan.summary,
            lines=lines,
            sends=plan.sends,
            warnings=[w.message for w in plan.warnings],
            notes=market.notes,
        )

    async def send(
        self,
        client: ClearStreetClient,
        account: int,
        args: CloseArgs,
        draft: Draft[ClosePlan],
        sent_before: Sequence[str],
    ) -> Sent:
        if args.instrument_id is None:
            result = await client.positions.close_all(account, cancel_orders=args.cancel_orders)
        else:  # the resolved instrument id, never the text the assistant typed
            result = await client.positions.close(
                account, draft.plan.orders[0].instrument_id, cancel_orders=args.cancel_orders
            )
        orders = result.orders
        summary = (
            f"{len(orders)} closing order(s) created: "
            + ", ".join(f"{o.side} {o.quantity} {o.symbol} ({o.status})" for o in orders)
            if orders
            else "Clear Street created no closing order."
        )
        return Sent(
            fields={"orders": orders},
            request_id=result.request_id,
            ids=[o.id for o in orders],
            outcome="sent",
            summary=summary,
        )


class CloseAll(ClosePosition):
    name = "close_positions"
    preview_name = "preview_close_positions"
