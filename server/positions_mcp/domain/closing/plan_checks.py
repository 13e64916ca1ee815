"""What a close plan as a whole warns about or blocks on, once its orders are made. Pure, no I/O.

* Close-all leaves CASH positions out (Clear Street's API documentation) and says so.
* Option quantities are contracts: the multiplier of each is said, and contract terms that cannot
  be read are warned about (the estimate then assumes the standard 100).
* The market's session: closed (the orders wait for the open) or closing early (a DAY order not
  filled by then does not carry over).
* Close-all is one request that "submit[s] closing orders for every position in the account"
  (Clear Street's API documentation): a position past its last trade cannot be left out of it, so
  the whole close is refused rather than a plan shown that differs from what would be sent.
* The notional cap applies to the total of one close; when a cap is set and a price or a
  multiplier is unknown the cap cannot be checked, so the close is blocked (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from ...clearstreet.models import Position
from ..calendar import is_market_open, next_market_open
from ..contracts import ContractTerms
from ..numbers import OPTION_MULTIPLIER
from ..resolve import display_symbol
from ..text import format_et, join_words, money, qty
from .context import CloseContext
from .issues import NAMED_AT_MOST, CloseCode, Issue
from .planned_order import PlannedOrder
from .selection import Scope

__all__ = [
    "CAP_SETTING",
    "cap_issues",
    "cash_excluded",
    "close_all_past_last_trade",
    "nothing_to_close",
    "option_issues",
    "session_issues",
]

CAP_SETTING = "POSITIONS_MCP_MAX_CLOSE_NOTIONAL"


def cash_excluded(excluded: Sequence[str]) -> Issue:
    return Issue(code=CloseCode.CASH_EXCLUDED, message=f"CASH positions are not closed: {', '.join(excluded)}.")


def close_all_past_last_trade(blocked: list[Issue]) -> None:
    """Close-all cannot leave out a position past its last trade: the whole close is blocked, first."""
    symbols = [i.symbol or "" for i in blocked if i.code == CloseCode.PAST_LAST_TRADE]
    if not symbols:
        return
    more = [f"{len(symbols) - NAMED_AT_MOST} more"] if len(symbols) > NAMED_AT_MOST else []
    listed = join_words(symbols[:NAMED_AT_MOST] + more)
    verb = "is" if len(symbols) == 1 else "are"
    issue = Issue(
        code=CloseCode.PAST_LAST_TRADE,
        message=f"close-all sends a closing order for every position, and {listed} {verb} past the last trade (such an "
        "order cannot trade before expiry), so close-all is refused: close the other positions one at a time with "
        "preview_close_position. What expiry does instead is said for each contract in blocked.",
    )
    blocked.insert(0, issue)


def option_issues(orders: Sequence[PlannedOrder], terms: Mapping[str, ContractTerms], warnings: list[Issue]) -> bool:
    """The warnings about the option orders' multipliers; True when some contract's terms cannot be
    read (its estimate assumes 100, so a cap cannot be checked on it)."""
    options = [o for o in orders if o.multiplier != 1 or o.instrument_id in terms]
    if not options:
        return False
    warnings.append(_option_warning(options, terms))
    unusable = [o for o in options if (t := terms.get(o.instrument_id)) is not None and t.problem]
    if unusable:
        first = terms[unusable[0].instrument_id].problem
        names = join_words([display_symbol(o.symbol) for o in unusable[:NAMED_AT_MOST]])
        warnings.append(
            Issue(
                code=CloseCode.CONTRACT_TERMS_UNUSABLE,
                symbol=display_symbol(unusable[0].symbol) if len(unusable) == 1 else None,
                message=f"The contract terms of {names} cannot be read ({first}): their estimates assume the "
                "standard multiplier of 100 and may be wrong.",
            )
        )
    return bool(unusable)


def _option_warning(options: list[PlannedOrder], terms: Mapping[str, ContractTerms]) -> Issue:
    listed = options[:NAMED_AT_MOST]
    more = [f"{len(options) - NAMED_AT_MOST} more"] if len(options) > NAMED_AT_MOST else []
    symbol = display_symbol(options[0].symbol) if len(options) == 1 else None
    standard = all(
        o.multiplier == OPTION_MULTIPLIER and (o.instrument_id not in terms or terms[o.instrument_id].is_standard)
        for o in options
    )
    if standard:
        names = join_words([display_symbol(o.symbol) for o in listed] + more)
        text = f"Option quantities are contracts of 100 shares: notional = contracts × price × 100 ({names})."
        return Issue(code=CloseCode.OPTION_CONTRACTS, symbol=symbol, message=text)
    parts = []
    for o in listed:
        t = terms.get(o.instrument_id)
        if t is not None and t.settlement == "CASH":
            parts.append(f"{display_symbol(o.symbol)}: cash-settled, multiplier {qty(t.multiplier)}")
        elif t is not None and not t.deliverable_confirmed:
            parts.append(f"{display_symbol(o.symbol)}: deliverable not confirmed, multiplier {o.multiplier}")
        else:
            shares = t.deliverable_shares if t is not None else Decimal(o.multiplier)
            parts.append(f"{display_symbol(o.symbol)}: {qty(shares)} shares a contract, multiplier {o.multiplier}")
    text = f"Option quantities are contracts: notional = contracts × price × multiplier ({'; '.join(parts + more)})."
    return Issue(code=CloseCode.OPTION_CONTRACTS, symbol=symbol, message=text)


def session_issues(
    context: CloseContext, blocked: Sequence[Issue], warnings: list[Issue]
) -> tuple[bool, datetime | None]:
    """Whether the market is open and, when not, its next open (the snapshot's session, else the
    local calendar); ``warnings`` gets a closed market or an early close."""
    session = context.market.session if context.market is not None else None
    if session is not None:
        market_open, next_open = session.is_open, None if session.is_open else session.next_open
    else:
        market_open = is_market_open(context.now)
        next_open = None if market_open else next_market_open(context.now)
    # past a contract's last trade the plan is blocked whole: "orders sent now wait for the open"
    # would describe a close that cannot trade (domain/last_trade.py)
    if any(i.code == CloseCode.PAST_LAST_TRADE for i in blocked):
        return market_open, next_open
    if not market_open:
        opens = f"; it opens {format_et(next_open)}" if next_open is not None else ""
        warnings.append(
            Issue(
                code=CloseCode.MARKET_CLOSED,
                message=f"The US regular session is closed now{opens}. MARKET DAY orders sent now wait for the "
                "open and fill at the opening price, which may differ from the estimate.",
            )
        )
    elif session is not None and session.day_type == "EARLY_CLOSE" and session.close is not None:
        warnings.append(
            Issue(
                code=CloseCode.EARLY_CLOSE,
                message=f"The market closes early today, at {format_et(session.close)}: a MARKET DAY order not "
                "filled by then does not carry over.",
            )
        )
    return market_open, next_open


def nothing_to_close(scope: Scope, positions: Sequence[Position], context: CloseContext) -> Issue:
    """Why a plan without orders (and nothing else blocking it) sends nothing, and what frees units."""
    what = "the position" if scope == "position" else "the account's positions"
    if context.held_by_exercise:
        wait = context.waiting()
        orders_too = f"(as for the working orders, {wait}) " if wait else "(and use cancel_orders=true for the orders) "
        reason = (
            f"every unit of {what} is held by pending exercise instructions ({context.held_by_exercise_text()}) or "
            f"working orders; cancel the instructions with cancel_position_instruction {orders_too}to close"
        )
    elif any(p.quantity != 0 for p in positions):
        reason = (
            f"every unit of {what} is tied up in working orders; "
            f"{context.freeing('use cancel_orders=true to cancel them and close')}"
        )
    else:
        reason = f"{'it has' if scope == 'position' else 'the account holds'} no quantity to close"
    return Issue(code=CloseCode.NOTHING_TO_CLOSE, message=f"Nothing to close: {reason}.")


def cap_issues(
    orders: Sequence[PlannedOrder],
    total: Decimal,
    cap: Decimal | None,
    unusable_terms: bool,
    warnings: list[Issue],
    blocked: list[Issue],
) -> None:
    """The notional cap on one close: above it the close is refused; when a price or a multiplier
    is unknown the total cannot be checked against it, so the close is refused (fail closed)."""
    if cap is None or not orders:
        return
    if total > cap:
        text = (
            f"The estimated notional {money(total)} is above the {CAP_SETTING} cap of "
            f"{money(cap)}, so this close will be refused."
        )
        warnings.append(Issue(code=CloseCode.NOTIONAL_CAP, message=text))
        blocked.append(Issue(code=CloseCode.NOTIONAL_CAP, message=text))
    elif unusable_terms or any(o.estimated_notional is None for o in orders):
        blocked.append(
            Issue(
                code=CloseCode.NOTIONAL_UNKNOWN,
                message=f"{'A multiplier is unreadable' if unusable_terms else 'A price is missing'}, so the close "
                "cannot be checked against the "
                f"{CAP_SETTING} cap of {money(cap)} and will be refused.",
            )
        )
