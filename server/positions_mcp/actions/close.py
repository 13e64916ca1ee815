"""Closing one position, or every position: one confirmed action behind two tools (the positions
endpoints of Clear Street's API documentation).

Each sends MARKET DAY orders for what the plan says (``domain.closing``); the pipeline does the
rest. A close has no idempotency key upstream, so a close whose outcome is unknown is never retried
automatically, and a repeat within 15 minutes is named as such to the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clearstreet.models import Order
from ..domain.closing import ClosePlan, close_scope, estimate_text, plan_close_position, plan_close_positions
from ..domain.osi import symbol_key
from ..domain.resolve import ResolveError, display_symbol
from ..domain.text import qty
from ..safety.ledger import Submission
from .earlier import earlier_attempt, listed, may_have_taken_effect, when
from .pipeline import CannotPlan, ConfirmedAction, Draft, Execution, Preview, Sent
from .reads import Reads

if TYPE_CHECKING:
    from ..clearstreet.client import ClearStreetClient

__all__ = ["CloseArgs", "CloseExecution", "ClosePosition", "ClosePreview", "EveryPosition", "OnePosition"]

_CHECK = "check the account's orders and get_positions (what is still available) before closing again"


@dataclass(frozen=True, slots=True)
class OnePosition:
    """``close_position``: the position the assistant named (its text; the plan resolves it)."""

    instrument_id: str


@dataclass(frozen=True, slots=True)
class EveryPosition:
    """``close_positions``: every position of the account, cash excluded."""


@dataclass(frozen=True, slots=True)
class CloseArgs:
    target: OnePosition | EveryPosition
    cancel_orders: bool = False

    @property
    def instrument_id(self) -> str | None:
        """The named instrument, or None for every position (how ``domain.closing.close_scope``
        reads a scope)."""
        return self.target.instrument_id if isinstance(self.target, OnePosition) else None


class ClosePreview(Preview[ClosePlan]):
    """What a close would send, and the token that allows exactly that once."""


class CloseExecution(Execution):
    """The closing orders Clear Street created."""

    orders: list[Order]


class ClosePosition(ConfirmedAction[CloseArgs, ClosePlan]):
    """A close of one position (``OnePosition``) or of every position (``EveryPosition``): the
    ``close_position`` and ``close_positions`` tools, whose surface says which (``CloseArgs.target``)."""

    args_type = CloseArgs
    audit_ids = "order_ids"
    preview_model = ClosePreview
    execution_model = CloseExecution

    def arguments(self, args: CloseArgs) -> dict[str, Any]:
        arguments: dict[str, Any] = {"cancel_orders": args.cancel_orders}
        if isinstance(args.target, OnePosition):
            arguments["instrument_id"] = args.target.instrument_id
        return arguments

    def request(self, args: CloseArgs) -> dict[str, Any]:
        """A close of the same position is a repeat whatever ``cancel_orders`` says: the first
        close's order is what a second one finds 'tied up in working orders', and
        ``cancel_orders=true`` would cancel it and send another."""
        if isinstance(args.target, OnePosition):
            return {"instrument_id": symbol_key(args.target.instrument_id)}
        return {}

    def repeat_notice(self, repeat: Submission, draft: Draft[ClosePlan]) -> str:
        """What is known of the earlier close and what a yes does now. What to do about units tied
        up in its orders is the plan's to say (``earlier_close``), so the advice has one voice."""
        what = "every position" if draft.plan.scope == "all" else "this position"
        head = f"REPEAT: a close of {what} {earlier_attempt(repeat, verb='sent', ids_label='orders', check=_CHECK)}."
        if draft.blocked:
            return f"{head} Nothing can be sent now: the plan says why and what to do."
        if may_have_taken_effect(repeat):
            return f"{head} A yes sends this close as well."
        return f"{head} A yes sends this close."

    async def draft(
        self, reads: Reads, account: int, args: CloseArgs, keys: Sequence[str] | None, earlier: Submission | None
    ) -> Draft[ClosePlan]:
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
            if isinstance(args.target, EveryPosition):
                plan = plan_close_positions(
                    positions,
                    cancel_orders=args.cancel_orders,
                    now=now,
                    max_close_notional=settings.max_close_notional,
                    pending_instructions=instructions,
                    contracts=contracts,
                    market=market,
                    earlier_close=_earlier_close(earlier, "every position"),
                )
            else:
                plan = plan_close_position(
                    positions,
                    args.target.instrument_id,
                    cancel_orders=args.cancel_orders,
                    now=now,
                    max_close_notional=settings.max_close_notional,
                    account_id=account,
                    pending_instructions=instructions,
                    contracts=contracts,
                    market=market,
                    earlier_close=_earlier_close(earlier, "this position"),
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
        if isinstance(args.target, EveryPosition):
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


def _earlier_close(earlier: Submission | None, what: str) -> str | None:
    """How the plan names an identical close whose orders may be working; None when there is none,
    or it provably did nothing (refused, or never sent)."""
    if earlier is None or not may_have_taken_effect(earlier):
        return None
    verb = "sent" if earlier.outcome in ("sent", "partial") else "started (outcome not known)"
    orders = f" (orders {listed(earlier.ids)})" if earlier.ids else ""
    return f"the close of {what} {verb} at {when(earlier)}{orders}"
