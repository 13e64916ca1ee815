"""The last moment an option contract can trade. Pure, no I/O.

:func:`last_trade` is the one place that says it; the exposure summary's suggestion
(:func:`.expiry.expiry_suggestion`), the close previews (:mod:`.closing`), the instruction
planner's notes and the prompts' facts (:func:`describe_last_trades`) all call it. Which moment, in
order:

1. The contract's own ``last_trade_cutoff`` (a row of ``GET /v1/instruments/options/contracts``,
   Clear Street's market-data API documentation: "last moment the contract can trade", in UTC), when the row gives one.
2. Otherwise the regular close of the trading day it is bound to, from the NYSE calendar
   (:mod:`.calendar`: 16:00 ET, 13:00 ET on an early close):

   * an **AM-settled** contract (``is_settle_on_open``, e.g. the SPX monthly): the business day
     *before* its expiration business day. Its exercise settlement value is computed from the
     opening prices of the index's components on the expiration day (Cboe's contract
     specifications for A.M.-settled index options, SPX's "SET"; OCC By-Laws Article XVII, index
     options' exercise settlement value), so trading stops at the previous close (Cboe; the API
     says the same of ``OptionExpiryDate.has_settles_on_open``, Clear Street's market-data API documentation);
   * any other contract: its expiration business day (the expiry, or the business day before it
     when the expiry is not one).

   For an AM-settled contract a row's cutoff later than that close is not believed: the earlier
   of the two stands, so a close is never advised after trading stopped.

After the last trade a closing order cannot trade before the contract expires: a MARKET DAY order
sent then waits for the next open, when the contract no longer exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .calendar import expiration_business_day, is_business_day, new_york, next_business_day, previous_business_day
from .calendar import regular_session as _session
from .contracts import ContractTerms

__all__ = ["AM_RULE", "PM_RULE", "ROW_CUTOFF", "LastTrade", "describe_last_trades", "last_trade", "trading_ends"]

ROW_CUTOFF = "the contract's last_trade_cutoff"
AM_RULE = "AM-settled: the close of the business day before its expiration day"
PM_RULE = "the close of its expiration day"


@dataclass(frozen=True, slots=True)
class LastTrade:
    """When one contract trades for the last time, and why then."""

    at: datetime
    """The last moment it can trade (aware, America/New_York)."""
    expiration_day: date
    """Its expiration business day (settlement day; for an AM-settled contract, at the open)."""
    settles_on_open: bool
    """AM-settled: the settlement value comes from the opening prints of ``expiration_day``."""
    source: str
    """Where ``at`` comes from: the contract row's cutoff or the calendar rule (module docstring)."""

    def passed(self, now: datetime) -> bool:
        """Whether trading has ended at ``now`` (aware): a close can no longer trade."""
        return now >= self.at

    def is_today(self, now: datetime) -> bool:
        """Whether the last trade falls on ``now``'s New York date."""
        return new_york(now).date() == self.at.date()

    def when(self, now: datetime) -> str:
        """``16:00 ET today`` or ``16:00 ET on Thu 2027-01-14``."""
        return f"{self.at:%H:%M} ET today" if self.is_today(now) else f"{self.at:%H:%M} ET on {self.at:%a %Y-%m-%d}"

    def settlement(self, now: datetime) -> str:
        """For an AM-settled contract, where its settlement value comes from ('' otherwise):
        ``AM-settled: its settlement value is set from the opening prices on Fri 2027-01-15``."""
        if not self.settles_on_open:
            return ""
        day = self.expiration_day
        on = "today's opening prices" if new_york(now).date() == day else f"the opening prices on {day:%a %Y-%m-%d}"
        return f"AM-settled: its settlement value is set from {on}"


def last_trade(expiry: date, terms: ContractTerms | None = None) -> LastTrade:
    """The last moment a contract expiring ``expiry`` (its OSI date) with ``terms`` can trade: see
    the module docstring. Without terms (or a row without the fields), a PM-settled contract on
    the NYSE calendar."""
    am = bool(terms is not None and terms.is_settle_on_open)
    return _last_trade(expiry, am, terms.last_trade_cutoff if terms is not None else None)


def trading_ends(expiry: date, settles_on_open: bool) -> datetime:
    """The calendar rule alone (rule 2 of the module docstring): the regular close of the
    expiration business day, or of the business day before it for an AM-settled contract. The
    simulator's contracts give it as their ``last_trade_cutoff``."""
    day = expiration_business_day(expiry)
    session = _session(previous_business_day(day) if settles_on_open else day)
    assert session is not None  # both are business days
    return session[1]


def _last_trade(expiry: date, am: bool, cutoff: datetime | None = None) -> LastTrade:
    day = expiration_business_day(expiry)
    close = trading_ends(expiry, am)
    if cutoff is not None and cutoff.tzinfo is not None and (not am or cutoff < close):
        return LastTrade(new_york(cutoff), day, am, ROW_CUTOFF)
    return LastTrade(close, day, am, AM_RULE if am else PM_RULE)


def describe_last_trades(now: datetime) -> str:
    """When options stop trading, said for today at ``now`` (aware), for a prompt: today's close
    for options expiring today; AM-settled ones expiring on the next business day trade for the
    last time at that close too, and AM-settled ones expiring today no longer trade."""
    local = new_york(now)
    today = local.date()
    if not is_business_day(today):
        following = next_business_day(today)
        return (
            f"none today ({today:%a %Y-%m-%d}: the market is closed); on {following:%a %Y-%m-%d}: "
            f"{_last_trades(following, now)}"
        )
    return _last_trades(today, now)


def _last_trades(day: date, now: datetime) -> str:
    pm = _last_trade(day, False)
    am_next = _last_trade(next_business_day(day), True)
    am_today = _last_trade(day, True)
    on = _day(day, now)
    until = f"traded for the last time at {pm.when(now)} (PASSED)" if pm.passed(now) else f"trade until {pm.when(now)}"
    last = "traded" if am_next.passed(now) else "trade"
    return (
        f"options expiring {on} {until}; AM-settled index options (is_settle_on_open, e.g. SPX monthlies) stop a "
        f"business day earlier: those expiring {am_next.expiration_day:%a %Y-%m-%d} {last} for the last time at "
        f"{am_next.when(now)}, those expiring {on} no longer trade (last trade {am_today.when(now)}; their settlement "
        "value comes from the opening prints). After its last trade an option cannot be closed, only settled at expiry"
    )


def _day(day: date, now: datetime) -> str:
    return "today" if new_york(now).date() == day else f"{day:%a %Y-%m-%d}"
