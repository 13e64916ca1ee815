"""What exercising gives and costs: the shares and cash an exercise moves (:func:`delivery`, on the
one model of :func:`.settlement.exercise_flow`), its intrinsic value, how much worse than trading
the shares an out-of-the-money exercise is, and the time value an early exercise gives up at the
bid (:func:`time_value`).

* **Contract terms** (``contracts``, keyed by instrument id; else :func:`.contracts.terms_for`):
  multiplier, deliverable shares, exercise style, settlement. A cash-settled contract delivers no
  shares and pays intrinsic per share × multiplier × contracts.
* **Put exercises** deliver shares: the free shares of the underlier (its ``available_quantity``,
  not its quantity) are compared with what every put exercise of the batch on that underlier
  delivers together (:func:`put_deliveries`); a shortfall is shown, not blocked (a margin account
  may deliver short).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from ...clearstreet.models import InstructionType
from ..calendar import expiration_business_day
from ..contracts import ContractTerms
from ..expiry import in_the_money_by, intrinsic_per_contract
from ..moneyness import MoneynessState
from ..numbers import CENT
from ..osi import OptionSymbol
from ..settlement import ExpiryFlow, exercise_flow
from ..text import format_et, money, price, qty
from .instruction_plan import ExerciseDelivery
from .plan_inputs import PlanInputs
from .plan_row import PlanRow, TimeValue

__all__ = ["cents", "cost_over_trading", "delivery", "intrinsic_total", "put_deliveries", "time_value"]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def intrinsic_total(row: PlanRow) -> Decimal:
    """What exercising the row's contracts is worth now, in cents (:func:`.expiry.intrinsic_per_contract`)."""
    assert row.symbol is not None and row.m is not None
    return cents(intrinsic_per_contract(row.symbol, row.m.underlier_price, row.terms) * row.contracts)


def cost_over_trading(row: PlanRow) -> Decimal:
    """How much worse exercising the row's contracts is than trading the shares, in cents (0 when
    in the money, and for a cash-settled contract)."""
    symbol, m, terms = row.symbol, row.m, row.terms
    assert symbol is not None and m is not None and terms is not None
    edge = in_the_money_by(symbol, m.underlier_price, terms)
    if edge >= 0 or terms.settlement == "CASH":
        return cents(Decimal(0))
    return cents(-edge * terms.deliverable_shares * row.contracts)


def put_deliveries(inputs: PlanInputs, rows: Iterable[PlanRow]) -> dict[str, Decimal]:
    """Underlier -> the shares the batch's OK put exercises deliver together (physically settled)."""
    puts: dict[str, Decimal] = {}
    for row in rows:
        if row.pending and row.exercises and row.symbol is not None and not row.symbol.is_call:
            assert row.position is not None and row.terms is not None
            if row.terms.settlement == "PHYSICAL":
                name = inputs.underlier_name(row.position, row.symbol)
                puts[name] = puts.get(name, Decimal(0)) + row.contracts * row.terms.deliverable_shares
    return puts


def delivery(inputs: PlanInputs, row: PlanRow, batch_shares: Decimal) -> ExerciseDelivery:
    """What exercising ``row`` delivers; ``batch_shares`` = shares every put exercise of the
    batch on the same underlier delivers together (this row included)."""
    position, symbol, terms, m = row.position, row.symbol, row.terms, row.m
    assert position is not None and symbol is not None and terms is not None
    name = inputs.underlier_name(position, symbol)
    flow = exercise_flow(row.contracts, symbol, terms, m.underlier_price if m is not None else None)
    if terms.settlement == "CASH":
        return _cash_settled(row, name, flow)
    assert flow is not None  # physically settled with known terms: always said
    held, free = inputs.free_shares(position, symbol)
    if symbol.is_call:
        return _call_delivery(row, name, flow, held)
    return _put_delivery(row, name, flow, held, free, batch_shares)


def _cash_settled(row: PlanRow, name: str, flow: ExpiryFlow | None) -> ExerciseDelivery:
    symbol, terms = row.symbol, row.terms
    assert symbol is not None and terms is not None
    if flow is None or row.m is None:
        return ExerciseDelivery(
            settlement="CASH",
            underlier=name,
            strike=symbol.strike,
            shares=Decimal(0),
            cash=None,
            text=f"cash-settled, no shares: receive the intrinsic value at the settlement value ({name} level unknown)",
        )
    per_share = max(in_the_money_by(symbol, row.m.underlier_price, terms), Decimal(0))
    value = cents(flow.cash_settled)
    return ExerciseDelivery(
        settlement="CASH",
        underlier=name,
        strike=symbol.strike,
        shares=Decimal(0),
        cash=value,
        text=f"cash-settled, no shares: receive the intrinsic value, {money(value)} at the current "
        f"level ({price(per_share)} × {qty(terms.multiplier)} × {qty(row.contracts)}); the settlement "
        "value decides",
    )


def _adjusted(terms: ContractTerms) -> bool:
    """An adjusted contract: its deliverable is not its multiplier in shares (:mod:`.contracts`)."""
    return terms.deliverable_shares != terms.multiplier


def _call_delivery(row: PlanRow, name: str, flow: ExpiryFlow, held: Decimal) -> ExerciseDelivery:
    symbol, terms = row.symbol, row.terms
    assert symbol is not None and terms is not None
    shares, cash = flow.shares, cents(flow.cash_out)
    if _adjusted(terms):
        text = (
            f"receive {qty(shares)} {name} shares for an aggregate strike of {money(cash)} "
            f"({qty(terms.deliverable_shares)} shares a contract)"
        )
    else:
        text = f"receive {qty(shares)} {name} shares at {price(symbol.strike)} and pay {money(cash)}"
    return ExerciseDelivery(
        settlement="PHYSICAL",
        underlier=name,
        strike=symbol.strike,
        shares=shares,
        cash=-cash,
        shares_held=held,
        text=text,
    )


def _put_delivery(
    row: PlanRow, name: str, flow: ExpiryFlow, held: Decimal, free: Decimal, batch_shares: Decimal
) -> ExerciseDelivery:
    symbol, terms = row.symbol, row.terms
    assert symbol is not None and terms is not None
    shares, cash = -flow.shares, cents(flow.cash_in)
    need = max(batch_shares, shares)
    enough = need <= free
    committed = held - free if held > 0 else Decimal(0)
    holds = f"the account holds {qty(held)}"
    if committed:
        holds += f", of which {qty(committed)} are committed to working orders: "
        holds += f"{'only ' if not enough else ''}{qty(free)} are free"
    if enough:
        holding = f" ({holds}, enough)"
    else:
        short_by = need - free + (-held if held < 0 else Decimal(0))
        verb = (
            f"delivering {qty(shares)}"
            if need == shares
            else f"the batch's put exercises deliver {qty(need)} in all, which"
        )
        holding = f" ({holds}{', so ' if committed else ': '}{verb} leaves it short {qty(short_by)} shares"
        holding += " unless those orders are cancelled)" if committed else ")"
    if _adjusted(terms):
        at_price = f"and receive the aggregate strike {money(cash)}"
    else:
        at_price = f"at {price(symbol.strike)} and receive {money(cash)}"
    return ExerciseDelivery(
        settlement="PHYSICAL",
        underlier=name,
        strike=symbol.strike,
        shares=-shares,
        cash=cash,
        shares_held=held,
        enough_shares=enough,
        text=f"deliver {qty(shares)} {name} shares {at_price}{holding}",
    )


def time_value(inputs: PlanInputs, row: PlanRow) -> TimeValue | None:
    """For an EXERCISE in the money before the expiration business day: the time value it gives
    up, estimated at the contract's bid from the market-data snapshot (what selling the
    contracts would bring, bid × multiplier × contracts, minus the intrinsic value exercising is
    worth). A sale at the bid is an estimate: the fill may differ. None otherwise."""
    kind, symbol, m, terms, position = row.request.instruction_type, row.symbol, row.m, row.terms, row.position
    if kind is not InstructionType.EXERCISE or m is None or m.state is not MoneynessState.ITM:
        return None
    if row.blocked is not None or symbol is None or terms is None or position is None:
        return None
    if inputs.today >= expiration_business_day(symbol.expiry):
        return None
    intrinsic = intrinsic_total(row)
    quote = inputs.quotes.get(position.instrument_id)
    if quote is None or quote.bid is None or quote.bid <= 0:
        why = (
            "no market-data snapshot of the contract"
            if quote is None
            else "the contract's market-data snapshot has no bid"
        )
        return TimeValue(
            None,
            f"early exercise gives up the remaining time value: how much is not known ({why}); selling the "
            f"contracts may be worth more than the intrinsic value {money(intrinsic)}",
        )
    return _time_value_at_bid(row, symbol, terms, quote.bid, intrinsic, quote_time=quote.bid_timestamp)


def _time_value_at_bid(
    row: PlanRow,
    symbol: OptionSymbol,
    terms: ContractTerms,
    bid: Decimal,
    intrinsic: Decimal,
    *,
    quote_time: datetime | None,
) -> TimeValue:
    contracts = row.contracts
    sale = cents(bid * terms.multiplier * contracts)
    amount = sale - intrinsic
    source = "market-data snapshot" + (f", quoted {format_et(quote_time)}" if quote_time else "")
    sold = (
        f"selling the {qty(contracts)} contract{'' if contracts == 1 else 's'} at the bid {price(bid)} "
        f"would bring {money(sale)} "
        f"({price(bid)} × {qty(terms.multiplier)} × {qty(contracts)}; bid from the {source})"
    )
    if amount > 0:
        note = (
            f"early exercise gives up about {money(amount)} of time value, an estimate at the bid: {sold}, "
            f"exercising is worth the intrinsic value {money(intrinsic)}"
        )
    else:
        note = (
            f"no time value is given up at the bid: {sold}, {money(-amount)} less than the intrinsic value "
            f"{money(intrinsic)} exercising is worth"
        )
    return TimeValue(amount, note)
