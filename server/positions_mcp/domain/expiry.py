"""What expiry does to an option by default, and what can still be done about it. Pure, no I/O.

One rule for the whole server (the exposure summary and the instruction planner both call
:func:`default_at_expiry`):

* **OCC Rule 805(d) exercise by exception**: at expiration OCC exercises automatically every
  long option that is in the money by at least **$0.01** a share (``EXERCISE_BY_EXCEPTION``),
  unless the holder's broker submits contrary instructions (DO_NOT_EXERCISE / CONTRARY_EXERCISE,
  Clear Street's API documentation). Any other long option lapses unless exercised (EXERCISE, or CONTRARY_EXERCISE on
  the expiration day).
* A **short** option is assigned when a holder's contract is exercised: likely when it is in the
  money by $0.01 or more (the long side is then exercised by exception), possible when it is at
  the money or in the money by less than $0.01 (a holder may still exercise it), and it expires
  worthless out of the money.

"In the money by" is measured per deliverable share at the given underlier price: ``S − K`` for a
call, ``K − S`` for a put. For an adjusted contract (deliverable ≠ multiplier, :mod:`.contracts`)
it is ``(deliverable × S − multiplier × K) / deliverable`` for a call and the opposite for a put,
so the threshold applies to what exercising the contract is really worth.

:func:`expiry_suggestion` says what a person can still do, from the default, the side, the time
now and the expiration business day: the day's exercise cutoff (FINRA Rule 2360(b)(23)(A),
:func:`.calendar.exercise_cutoff`) ends instructions, and the contract's last trade
(:func:`.last_trade.last_trade`: the regular close, 13:00 ET on an early-close day, or the close of
the business day before for an AM-settled contract) ends closing trades. After those, nothing can
be done through this server.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from .calendar import exercise_cutoff, new_york
from .contracts import ContractTerms
from .last_trade import LastTrade, last_trade
from .moneyness import Moneyness, MoneynessState, moneyness
from .numbers import CENT, OPTION_MULTIPLIER, percent
from .osi import OptionSymbol

__all__ = [
    "EXERCISE_BY_EXCEPTION",
    "DefaultAtExpiry",
    "contract_moneyness",
    "default_at_expiry",
    "expiry_suggestion",
    "in_the_money_by",
    "intrinsic_per_contract",
]

EXERCISE_BY_EXCEPTION = CENT
"""OCC Rule 805(d): the in-the-money amount ($0.01 a share) at which OCC exercises automatically."""


class DefaultAtExpiry(StrEnum):
    """What happens at expiry if nobody acts (OCC exercise by exception, current prices)."""

    AUTO_EXERCISE = "AUTO_EXERCISE"
    """Long, ≥ $0.01 in the money: exercised automatically unless DO_NOT_EXERCISE is sent."""
    LAPSE = "LAPSE"
    """Long and not ≥ $0.01 in the money, or short and out of the money: expires worthless."""
    ASSIGNMENT_LIKELY = "ASSIGNMENT_LIKELY"
    """Short, ≥ $0.01 in the money: the holder's contract is auto-exercised, so likely assigned."""
    ASSIGNMENT_POSSIBLE = "ASSIGNMENT_POSSIBLE"
    """Short, at the money or less than $0.01 in the money: the holder may still exercise."""
    UNKNOWN = "UNKNOWN"
    """The underlier's price is not known."""


def _adjusted(terms: ContractTerms | None) -> bool:
    return terms is not None and terms.settlement == "PHYSICAL" and terms.deliverable_shares != terms.multiplier


def in_the_money_by(symbol: OptionSymbol, underlier_price: Decimal, terms: ContractTerms | None = None) -> Decimal:
    """Signed in-the-money amount per deliverable share (< 0: out of the money). See the module
    docstring for adjusted contracts."""
    strike = symbol.strike
    if _adjusted(terms):
        assert terms is not None
        value = terms.deliverable_shares * underlier_price
        cost = terms.multiplier * strike
        edge = (value - cost) if symbol.is_call else (cost - value)
        return edge / terms.deliverable_shares
    return underlier_price - strike if symbol.is_call else strike - underlier_price


def contract_moneyness(symbol: OptionSymbol, underlier_price: Decimal, terms: ContractTerms | None = None) -> Moneyness:
    """:func:`.moneyness.moneyness`, measured on what the contract really delivers: for an
    adjusted contract the state, the intrinsic value per deliverable share (to the thousandth;
    money is computed with :func:`intrinsic_per_contract`) and the distance (in % of the aggregate
    strike) come from ``deliverable × S`` against ``multiplier × K``; ``strike`` stays the listed one."""
    if not _adjusted(terms):
        return moneyness(symbol, underlier_price)
    assert terms is not None
    edge = in_the_money_by(symbol, underlier_price, terms)
    state = MoneynessState.ITM if edge > 0 else MoneynessState.ATM if edge == 0 else MoneynessState.OTM
    aggregate = terms.multiplier * symbol.strike
    return Moneyness(
        state=state,
        underlier_price=underlier_price,
        strike=symbol.strike,
        intrinsic_per_share=max(edge, Decimal(0)).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN),
        distance_pct=percent(edge * terms.deliverable_shares, aggregate),
    )


def intrinsic_per_contract(
    symbol: OptionSymbol, underlier_price: Decimal, terms: ContractTerms | None = None
) -> Decimal:
    """What exercising one contract is worth now (never negative): the in-the-money amount times
    the deliverable shares, or times the multiplier for a cash-settled contract."""
    edge = in_the_money_by(symbol, underlier_price, terms)
    if edge <= 0:
        return Decimal(0)
    if terms is None:
        return edge * OPTION_MULTIPLIER
    if terms.settlement == "CASH":
        return edge * terms.multiplier
    if _adjusted(terms):
        # exact: deliverable × S − multiplier × K, without the division's rounding
        value, cost = terms.deliverable_shares * underlier_price, terms.multiplier * symbol.strike
        return (value - cost) if symbol.is_call else (cost - value)
    return edge * terms.deliverable_shares


def default_at_expiry(
    long: bool, symbol: OptionSymbol, underlier_price: Decimal | None, terms: ContractTerms | None = None
) -> DefaultAtExpiry:
    """What expiry does to a long (``long``) or short option at ``underlier_price`` if nobody acts:
    OCC Rule 805(d) exercise by exception at $0.01 (module docstring). UNKNOWN without a price."""
    if underlier_price is None:
        return DefaultAtExpiry.UNKNOWN
    edge = in_the_money_by(symbol, underlier_price, terms)
    if long:
        return DefaultAtExpiry.AUTO_EXERCISE if edge >= EXERCISE_BY_EXCEPTION else DefaultAtExpiry.LAPSE
    if edge >= EXERCISE_BY_EXCEPTION:
        return DefaultAtExpiry.ASSIGNMENT_LIKELY
    return DefaultAtExpiry.ASSIGNMENT_POSSIBLE if edge >= 0 else DefaultAtExpiry.LAPSE


_BEFORE_EXPIRY_DAY: dict[tuple[DefaultAtExpiry, bool], str] = {
    (DefaultAtExpiry.AUTO_EXERCISE, True): "to let it lapse, send DO_NOT_EXERCISE on expiry day",
    (DefaultAtExpiry.LAPSE, True): "to exercise, send EXERCISE (CONTRARY_EXERCISE on expiry day)",
    (DefaultAtExpiry.LAPSE, False): "no action needed",
    (DefaultAtExpiry.ASSIGNMENT_LIKELY, False): "close before expiry to avoid assignment",
    (DefaultAtExpiry.ASSIGNMENT_POSSIBLE, False): "near the money: consider closing",
    (DefaultAtExpiry.UNKNOWN, True): "check the underlier price, then decide",
    (DefaultAtExpiry.UNKNOWN, False): "check the underlier price before expiry",
}
_DESK = "contact the desk"
_TOO_LATE = "nothing can change that through this server, " + _DESK


def expiry_suggestion(
    default: DefaultAtExpiry,
    long: bool,
    now: datetime,
    expiration_day: date,
    last: LastTrade | None = None,
) -> str:
    """What a person can still do about an option whose expiration business day is
    ``expiration_day``, at ``now`` (aware): before that day, the instructions to send; on it, the
    deadline (the day's exercise cutoff for instructions, the contract's last trade for closing
    trades: ``last``, from :func:`.last_trade.last_trade`, else that of a PM-settled contract);
    after the deadline, that nothing more can be done through this server. A close is never
    advised after the last trade (an AM-settled contract's is the close of the day before). Pure."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if last is None:
        last = last_trade(expiration_day)
    if not long and default is DefaultAtExpiry.LAPSE:
        return "no action needed"
    text = _long_suggestion(default, now, expiration_day) if long else _short_suggestion(default, now, last)
    settlement = last.settlement(now) if last.passed(now) else ""
    return f"{text} ({settlement})" if settlement and long else text


def _long_suggestion(default: DefaultAtExpiry, now: datetime, expiration_day: date) -> str:
    local = new_york(now)
    today = local.date()
    if today < expiration_day:
        return _BEFORE_EXPIRY_DAY[default, True]
    cutoff = exercise_cutoff(expiration_day)
    if today == expiration_day and local < cutoff:
        by = f"by {cutoff:%H:%M} ET today"
        return {
            DefaultAtExpiry.AUTO_EXERCISE: f"to let it lapse, send DO_NOT_EXERCISE {by}",
            DefaultAtExpiry.LAPSE: f"to exercise, send CONTRARY_EXERCISE {by}",
        }.get(default, f"check the underlier price, then decide {by}")
    past = (
        f"past today's {cutoff:%H:%M} ET exercise cutoff"
        if today == expiration_day
        else f"past its exercise cutoff ({cutoff:%H:%M} ET on {expiration_day:%a %Y-%m-%d})"
    )
    if default is DefaultAtExpiry.AUTO_EXERCISE:
        return f"{past}: it will be exercised automatically; {_TOO_LATE}"
    if default is DefaultAtExpiry.LAPSE:
        return f"{past}: it will lapse; {_TOO_LATE}"
    return f"{past}: nothing more can be sent through this server; {_DESK}"


def _short_suggestion(default: DefaultAtExpiry, now: datetime, last: LastTrade) -> str:
    if not last.passed(now):
        if not last.is_today(now) and not last.settles_on_open:
            return _BEFORE_EXPIRY_DAY[default, False]
        by = f"by {last.when(now)}"
        # an AM-settled contract's last trading day is the day before expiry: say why then
        why = f" (its last trade; {last.settlement(now)})" if last.settles_on_open else ""
        return {
            DefaultAtExpiry.ASSIGNMENT_LIKELY: f"close {by} to avoid assignment{why}",
            DefaultAtExpiry.ASSIGNMENT_POSSIBLE: f"near the money: consider closing {by}{why}",
        }.get(default, f"check the underlier price before its last trade, {last.when(now)}{why}")
    if last.settles_on_open:
        closed = f"{last.settlement(now)}; its last trade was {last.when(now)}: it can no longer be closed"
    else:
        closed = f"its last trade was {last.when(now)}: it can no longer be closed through this server"
    if default is DefaultAtExpiry.ASSIGNMENT_LIKELY:
        return f"{closed} and assignment is likely; {_DESK}"
    if default is DefaultAtExpiry.ASSIGNMENT_POSSIBLE:
        return f"{closed} and it may be assigned; {_DESK}"
    return f"{closed}; {_DESK}"
