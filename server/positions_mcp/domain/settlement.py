"""What an expiring option's default at expiry moves (cash and shares), and pin risk. Pure, no I/O.

The default itself is :func:`.expiry.default_at_expiry` (OCC Rule 805(d) exercise by exception);
this module says what carrying it out settles, per position, at the given underlier price:

* **Physically settled** (OCC Rules, Chapter VIII exercise and assignment, Chapter IX delivery and
  payment; the aggregate exercise price is the strike times the multiplier, and an adjusted
  contract's deliverable is set by OCC By-Laws Article VI, Section 11A, :mod:`.contracts`):

  - a long call exercised **pays** contracts × multiplier × strike and **receives**
    contracts × deliverable shares;
  - a long put exercised **delivers** contracts × deliverable shares and **receives**
    contracts × multiplier × strike (without the shares in the account it opens a short);
  - a short call assigned delivers the shares and receives the aggregate strike;
  - a short put assigned receives the shares and pays the aggregate strike.

* **Cash-settled** (index options, OCC Rules 1601 ff.): no shares move; the holder receives and the
  writer pays the exercise settlement amount, the intrinsic value × multiplier
  (:func:`.expiry.intrinsic_per_contract`). At the current price this is an **estimate**: the
  settlement value is fixed at expiry (for AM-settled series, from the opening prints).

Only the two defaults that happen without anybody acting are carried out here: AUTO_EXERCISE and
ASSIGNMENT_LIKELY. ASSIGNMENT_POSSIBLE, LAPSE and UNKNOWN move nothing (the caller counts the
possible and unknown ones apart).

**Pin risk** (a decision of this server, stated once): an expiring, physically settled option is
*pinned* when its underlier is within :data:`PIN_RISK_PCT` % of the strike or :data:`PIN_RISK_MIN`
a share, whichever is larger (measured per deliverable share, :func:`.expiry.in_the_money_by`).
Near the strike, whether it is exercised or assigned can go either way with the last prints and the
holders' contrary instructions, so the shares the account ends up with are uncertain over the
weekend. Cash-settled options are never pinned: they deliver no shares.
"""

from __future__ import annotations

from decimal import MAX_PREC, Context, Decimal
from typing import NamedTuple

from .contracts import ContractTerms
from .expiry import DefaultAtExpiry, in_the_money_by, intrinsic_per_contract
from .osi import OptionSymbol

__all__ = ["PIN_RISK_MIN", "PIN_RISK_PCT", "ExpiryFlow", "expiry_flow", "is_pinned", "pin_threshold"]

PIN_RISK_PCT = Decimal(1)
"""Pin risk: the underlier within this many percent of the strike (or :data:`PIN_RISK_MIN`)."""
PIN_RISK_MIN = Decimal("0.50")
"""Pin risk: the underlier within this many dollars a share of the strike, at least."""
_ZERO = Decimal(0)
_EXACT = Context(prec=MAX_PREC)  # the products below are never rounded, whatever the caller's context


class ExpiryFlow(NamedTuple):
    """What one position's default at expiry settles (totals for the position, not per contract).

    ``cash_out`` / ``cash_in``: aggregate strikes paid / received (physical delivery, ≥ 0).
    ``cash_settled``: exercise settlement amount of a cash-settled option, received (> 0) or paid
    (< 0), an estimate at the given price. ``shares``: shares received (> 0) or delivered (< 0).
    A named tuple: a large book's expiring options make many of them."""

    cash_out: Decimal = _ZERO
    cash_in: Decimal = _ZERO
    cash_settled: Decimal = _ZERO
    shares: Decimal = _ZERO


NOTHING = ExpiryFlow()


def expiry_flow(
    default: DefaultAtExpiry,
    quantity: Decimal,
    symbol: OptionSymbol,
    terms: ContractTerms,
    underlier_price: Decimal | None,
) -> ExpiryFlow:
    """The cash and shares that ``default`` moves for a position of ``quantity`` contracts (signed:
    < 0 written) of ``symbol`` with ``terms``; see the module docstring. Nothing moves for the
    defaults that need nobody to act on them being carried out (LAPSE, ASSIGNMENT_POSSIBLE, UNKNOWN)."""
    if default is DefaultAtExpiry.AUTO_EXERCISE:
        long = True
    elif default is DefaultAtExpiry.ASSIGNMENT_LIKELY:
        long = False
    else:
        return NOTHING
    contracts = abs(quantity)
    if terms.settlement == "CASH":
        if underlier_price is None:
            return NOTHING
        amount = _EXACT.multiply(contracts, intrinsic_per_contract(symbol, underlier_price, terms))
        return ExpiryFlow(cash_settled=amount if long else -amount)
    aggregate_strike = _EXACT.multiply(_EXACT.multiply(contracts, terms.multiplier), symbol.strike)
    shares = _EXACT.multiply(contracts, terms.deliverable_shares)
    # Receiving shares: long call exercised, short put assigned. Delivering: the other two.
    receives_shares = symbol.is_call == long
    if receives_shares:
        return ExpiryFlow(cash_out=aggregate_strike, shares=shares)
    return ExpiryFlow(cash_in=aggregate_strike, shares=-shares)


def pin_threshold(symbol: OptionSymbol, terms: ContractTerms | None = None) -> Decimal:
    """The distance (per deliverable share) within which ``symbol`` is pinned: the larger of
    :data:`PIN_RISK_PCT` % of the strike per deliverable share and :data:`PIN_RISK_MIN`."""
    strike = symbol.strike
    if terms is not None and terms.settlement == "PHYSICAL" and terms.deliverable_shares != terms.multiplier:
        strike = terms.multiplier * strike / terms.deliverable_shares
    return max((strike * PIN_RISK_PCT).scaleb(-2), PIN_RISK_MIN)


def is_pinned(symbol: OptionSymbol, underlier_price: Decimal | None, terms: ContractTerms | None = None) -> bool:
    """Whether an expiring option is at pin risk at ``underlier_price`` (module docstring); False
    for a cash-settled option and when the price is unknown."""
    if underlier_price is None or (terms is not None and terms.settlement == "CASH"):
        return False
    return abs(in_the_money_by(symbol, underlier_price, terms)) <= pin_threshold(symbol, terms)
