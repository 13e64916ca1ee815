"""What a close preview says about an option on its last trading day or past its last trade.
Pure, no I/O; the close plan calls :func:`last_trade_issues` for every option it would close.

* Past its last trade (:func:`..last_trade.last_trade`: the contract row's cutoff, else the close of
  its expiration day, 13:00 ET on an early close, or of the business day before for an AM-settled
  contract) an option cannot trade before it expires: a MARKET DAY order sent then only waits for
  the next open, when the contract no longer exists. The close is blocked, and the preview says
  what expiry does instead: the default of :func:`..expiry.default_at_expiry` (OCC Rule 805(d)
  exercise by exception) and what it settles, :func:`..settlement.exercise_flow` (the cash and the
  shares); for a long option, what can still be sent (:func:`..expiry.expiry_suggestion`).
* On its last trading day, before the last trade, the close is allowed and warned about: an
  order not filled by then does not carry over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ...clearstreet.models import Position, PositionInstruction
from ..contracts import ContractTerms
from ..expiry import DefaultAtExpiry, default_at_expiry, expiry_suggestion, in_the_money_by
from ..last_trade import LastTrade, last_trade
from ..osi import OptionSymbol, try_parse_osi
from ..resolve import display_symbol
from ..settlement import ExpiryFlow, Outcome, exercise_flow, instructed, settle
from ..text import money, qty
from ..text import price as price_text
from .context import CloseContext
from .issues import CloseCode, Issue

__all__ = ["cannot_close", "last_day_warning", "last_trade_issues"]

_OCC = "OCC Rule 805(d) exercise by exception"


def last_trade_issues(
    position: Position, terms: ContractTerms | None, context: CloseContext, warnings: list[Issue], blocked: list[Issue]
) -> None:
    """An option past its last trade cannot be closed (``blocked`` gets why, with what expiry does
    instead); on its last trading day the close is warned about (``warnings``)."""
    option = try_parse_osi(position.symbol)
    if option is None:
        return
    symbol, now = display_symbol(position.symbol), context.now
    last = last_trade(option.expiry, terms)
    underlier = context.underlier(position, option.root)
    instructions = context.in_force(position)
    reason = cannot_close(symbol, option, position.quantity, terms, last, now, underlier, instructions)
    if reason is not None:
        blocked.append(Issue(code=CloseCode.PAST_LAST_TRADE, symbol=symbol, message=reason))
    elif (warning := last_day_warning(symbol, last, now)) is not None:
        warnings.append(Issue(code=CloseCode.LAST_TRADING_DAY, symbol=symbol, message=warning))


def last_day_warning(name: str, last: LastTrade, now: datetime) -> str | None:
    """The warning for a close on the contract's last trading day, before its last trade."""
    if last.passed(now) or not last.is_today(now):
        return None
    settlement = f"; {last.settlement(now)}" if last.settles_on_open else ""
    return (
        f"{name}: today is its last trading day: it trades until {last.when(now)} ({last.source}){settlement}. "
        "A MARKET DAY order not filled by then does not carry over, and after that it can no longer be closed."
    )


def cannot_close(
    name: str,
    symbol: OptionSymbol,
    quantity: Decimal,
    terms: ContractTerms | None,
    last: LastTrade,
    now: datetime,
    underlier: tuple[str, Decimal | None],
    instructions: Sequence[PositionInstruction] = (),
) -> str | None:
    """Why a close of ``quantity`` contracts (signed, < 0 written) of ``symbol`` cannot trade at
    ``now``, and what expiry does instead; None while it can still trade. ``underlier``: its name
    and price (None: unknown). ``instructions``: those in force on the contract, named (what they
    change is theirs to say)."""
    if not last.passed(now):
        return None
    head = (
        f"{name}: its last trade was {last.when(now)} ({last.source}), so a closing order could not trade before "
        "it expires (a MARKET DAY order would only wait for the next open); none is sent."
    )
    long = quantity > 0
    if terms is not None and (terms.problem or not terms.deliverable_confirmed):
        # contracts.py: an adjusted contract's deliverable is never assumed, so what it settles is
        # not stated (the exposure summary and the exercise preview leave it out alike)
        terms = None
    default = default_at_expiry(long, symbol, underlier[1], terms) if terms is not None else DefaultAtExpiry.UNKNOWN
    in_force = [row for row in map(instructed, instructions) if row is not None]
    outcome = settle(quantity, symbol, terms, underlier[1], in_force)
    if outcome.applied:
        text = f"{head} At expiry instead: {_instructed_outcome(outcome, quantity, symbol, terms, underlier)}."
    else:
        text = f"{head} At expiry instead: {_outcome(default, quantity, symbol, terms, underlier)}."
    if long:  # the suggestion names the settlement of an AM-settled contract
        text += f" What can still be done: {expiry_suggestion(default, True, now, last.expiration_day, last)}."
    else:
        settlement = f" {last.settlement(now)}." if last.settles_on_open else ""
        text += f"{settlement} Nothing can change that through this server; contact the desk."
    return text


def _instructed_outcome(
    outcome: Outcome,
    quantity: Decimal,
    symbol: OptionSymbol,
    terms: ContractTerms | None,
    underlier: tuple[str, Decimal | None],
) -> str:
    """What the instructions in force do to the position (OCC Rule 805: contrary instructions
    override exercise by exception), on the model the exposure summary uses (:func:`..settlement.settle`),
    then what the contracts they leave do by default, and what it all settles."""
    parts = outcome.instructions_in_words()
    left = abs(quantity) - outcome.covered
    if left > 0:
        default = outcome.default or DefaultAtExpiry.UNKNOWN
        parts.append(
            f"the other {qty(left)}: {_outcome(default, left if quantity > 0 else -left, symbol, terms, underlier)}"
        )
    if terms is not None and outcome.settled:
        total = ExpiryFlow(
            *(sum(values, Decimal(0)) for values in zip(*(s.flow for s in outcome.settled), strict=True))
        )
        parts.append(f"in all it would {_flow_text(total, terms, underlier[0])}")
    return "; ".join(parts)


def _outcome(
    default: DefaultAtExpiry,
    quantity: Decimal,
    symbol: OptionSymbol,
    terms: ContractTerms | None,
    underlier: tuple[str, Decimal | None],
) -> str:
    """What ``default`` does to the position, and the cash and shares it moves."""
    name, spot = underlier
    if terms is None:
        return (
            "its contract terms or deliverable are not confirmed (an adjusted contract's deliverable is never "
            "assumed), so what expiry settles is not stated: ask the desk what it delivers"
        )
    if default is DefaultAtExpiry.UNKNOWN or spot is None:
        return (
            f"it depends on {name}'s price, which is not known here ({_OCC}: a long option in the money by "
            "$0.01 or more is exercised, a written one then likely assigned)"
        )
    edge = in_the_money_by(symbol, spot, terms)
    where = f"{name} at {price_text(spot)}"
    if default is DefaultAtExpiry.LAPSE:
        worthless = "nothing is assigned" if quantity < 0 else "nothing is received"
        return f"it expires worthless, {worthless} (out of the money or under $0.01 in it, {where})"
    cash = terms is not None and terms.settlement == "CASH"
    itm = f"in the money by {format(edge, 'f')} points" if cash else f"in the money by {price_text(edge)} a share"
    itm += f", {where}"
    if default is DefaultAtExpiry.AUTO_EXERCISE:
        return f"it will be exercised automatically ({_OCC}; {itm}): {_moves(default, quantity, symbol, terms, name, spot)}"
    if default is DefaultAtExpiry.ASSIGNMENT_LIKELY:
        return f"assignment is likely ({itm}): {_moves(default, quantity, symbol, terms, name, spot)}"
    moves = _moves(DefaultAtExpiry.ASSIGNMENT_LIKELY, quantity, symbol, terms, name, spot)
    return f"it may be assigned (at or near the money, {where}); an assignment would {moves}"


def _moves(
    default: DefaultAtExpiry,
    quantity: Decimal,
    symbol: OptionSymbol,
    terms: ContractTerms | None,
    name: str,
    spot: Decimal,
) -> str:
    if terms is None or terms.problem:
        return "its contract terms or deliverable are not confirmed, so the cash and shares it moves are not stated"
    # signed: a long position's contracts are exercised, a written one's assigned
    flow = exercise_flow(quantity, symbol, terms, spot)
    if flow is None:
        return "the cash and shares it moves cannot be stated"
    return _flow_text(flow, terms, name)


def _flow_text(flow: ExpiryFlow, terms: ContractTerms, name: str) -> str:
    if terms.settlement == "CASH":
        verb = "receive" if flow.cash_settled >= 0 else "pay"
        return (
            f"{verb} about {money(abs(flow.cash_settled))} in cash, the intrinsic value at the index's current level "
            "(an estimate until the settlement value is set; no shares move)"
        )
    shares = f"{qty(abs(flow.shares))} {name} shares"
    if flow.shares > 0:
        return f"pay {money(flow.cash_out)} and receive {shares}"
    return f"deliver {shares} and receive {money(flow.cash_in)}"
