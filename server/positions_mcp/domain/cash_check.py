"""The exercise preview's cash check: what settles with the batch, against the account's cash. Pure,
no I/O.

Everything that settles is worked out by the one model of :mod:`.settlement` (the exposure
summary's too), over the whole settlement the batch joins: an exercise sent now settles T+1 (OCC
exercise settlement, SEC Rule 15c6-1), with the contracts expiring today (their exercises and
assignments settle the same day), so those are one settlement. Three figures, each named:

* ``exercise_cash``: what the batch's rows settle (its DO_NOT_EXERCISE / CONTRARY_EXERCISE rows
  change what expiry does too);
* ``pending_exercise_cash``: what the instructions already sent and in force settle
  (:func:`.settlement.instructed`): an EXERCISE not yet accepted (the balances do not show it yet),
  a CONTRARY_EXERCISE that exercises a contract expiring today;
* ``expiry_cash``: what the rest of today's expiry settles by default (auto-exercises not stopped,
  likely assignments: a short put in the money pays its aggregate strike).

Counted as :class:`.settlement.Ledger` counts (every payment, only the certain receipts):
short-sale proceeds (Regulation T, 12 CFR 220.4) and cash-settled receipts (estimates until the
settlement value is fixed) are named in the warning, not counted. ``cash_after`` = trade cash +
the three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from ..clearstreet.models import InstructionType, Position, PositionInstruction
from .calendar import expiration_business_day, new_york
from .closing import is_option
from .contracts import ContractTerms, terms_for
from .instructions import CashCheck, InstructionPlan, RowStatus, underlier_position, underlier_price
from .market_view import Funds
from .numbers import CENT
from .osi import OptionSymbol, symbol_key, try_parse_osi
from .resolve import display_symbol, underlier_key
from .settlement import SOURCES, Instructed, Ledger, Outcome, Source, free_shares, instructed, settle
from .text import money, qty

__all__ = ["check_cash"]

_ZERO = Decimal(0)


class _Night:
    """The settlement the batch joins, worked out by :func:`.settlement.settle`."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.cover: dict[str, Decimal] = {}  # underlier key -> free shares
        self.sources: set[Source] = set()
        self.uncertain = _ZERO
        self.sent: dict[str, Instructed] = {}  # the instructions already sent that settle something

    def add(self, position: Position, symbol: OptionSymbol, outcome: Outcome, positions: Sequence[Position]) -> None:
        """What ``position`` settles, into the sums of its underlier."""
        key = underlier_key(position)
        if key not in self.cover:
            self.cover[key] = free_shares(underlier_position(positions, position, symbol))
        for piece in outcome.settled:
            self.ledger.add(key, piece.source, piece.flow)
            self.sources.add(piece.source)
        self.uncertain += outcome.uncertain
        for applied, _, does in outcome.applied:
            if applied.source == "sent" and does:
                self.sent[applied.id] = applied

    def figure(self, source: Source, proceeds: Mapping[Source, Decimal]) -> Decimal:
        return self.ledger.counted(source, proceeds.get(source, _ZERO)).quantize(CENT)


class _Instructions:
    """The instructions in force (:func:`.settlement.instructed`) and the batch's OK rows, found for
    a position by its instrument id, else by its symbol."""

    def __init__(self, plan: InstructionPlan, existing: Iterable[PositionInstruction]) -> None:
        self._by_id: dict[str, list[Instructed]] = {}
        self._by_symbol: dict[str, list[Instructed]] = {}
        for instruction in existing:
            found = instructed(instruction)
            if found is not None:
                self._keep(found, instruction.instrument_id)
        for row in plan.rows:
            if row.status is RowStatus.OK and row.instrument_id and row.symbol:
                batch = Instructed(
                    row.instruction_id, str(row.instruction_type), row.quantity, "PREVIEW", row.symbol, "batch"
                )
                self._keep(batch, row.instrument_id)

    def _keep(self, row: Instructed, instrument_id: str) -> None:
        self._by_id.setdefault(instrument_id.strip().lower(), []).append(row)
        self._by_symbol.setdefault(symbol_key(row.symbol), []).append(row)

    def on(self, position: Position) -> list[Instructed]:
        return self._by_id.get(position.instrument_id.strip().lower()) or self._by_symbol.get(
            symbol_key(position.symbol), []
        )


def _night(
    plan: InstructionPlan,
    positions: Sequence[Position],
    existing: Iterable[PositionInstruction],
    prices: Mapping[str, Decimal],
    contracts: Mapping[str, ContractTerms],
    now: datetime,
) -> _Night:
    """Settle every option position that expires today or that an EXERCISE (sent, or in the batch)
    covers, with the instructions in force and the batch's OK rows on it."""
    today = new_york(now).date()
    instructions = _Instructions(plan, existing)
    night = _Night()
    for position in positions:
        symbol = try_parse_osi(position.symbol)
        if symbol is None or not is_option(position) or position.quantity == 0:
            continue
        rows = instructions.on(position)
        expires = expiration_business_day(symbol.expiry) == today
        if not expires and not any(r.kind == InstructionType.EXERCISE for r in rows):
            continue
        terms = contracts.get(position.instrument_id) or terms_for(position)
        known = terms if terms.deliverable_confirmed else None
        price = underlier_price(positions, prices, position, symbol)
        night.add(position, symbol, settle(position.quantity, symbol, known, price, rows, expires=expires), positions)
    return night


def _pays(amount: Decimal, one: bool) -> str:
    if not amount:
        return f"{'pays' if one else 'pay'} nothing counted"
    verb = ("pays" if one else "pay") if amount < 0 else ("receives" if one else "receive")
    return f"{verb} {money(abs(amount))}"


def _named(night: _Night, figures: Mapping[Source, Decimal]) -> str:
    """What each part of the settlement pays or receives, in words."""
    parts = [f"these exercises {_pays(figures['batch'], False)}"]
    if "sent" in night.sources:
        sent = list(night.sent.values())
        shown = "; ".join(f"{i.kind} {qty(i.quantity)} {display_symbol(i.symbol)}, {i.status}" for i in sent[:3])
        more = f"; {len(sent) - 3} more" if len(sent) > 3 else ""
        head = "1 instruction already sent" if len(sent) == 1 else f"{len(sent)} instructions already sent"
        parts.append(f"{head} ({shown}{more}) {_pays(figures['sent'], len(sent) == 1)}")
    if "expiry" in night.sources:
        # what expiry does by default depends on where the underliers close (OCC Rule 805(d)):
        # judged at the prices now, so it is an estimate and says so
        parts.append(f"the rest of today's expiry {_pays(figures['expiry'], True)} (by default, at today's prices)")
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def check_cash(
    plan: InstructionPlan,
    funds: Funds | None,
    *,
    positions: Sequence[Position],
    existing: Iterable[PositionInstruction] = (),
    prices: Mapping[str, Decimal] | None = None,
    contracts: Mapping[str, ContractTerms] | None = None,
    now: datetime,
) -> CashCheck | None:
    """The settlement the batch joins (module docstring) against the account's cash; None when no
    row that would be sent exercises anything. ``funds`` None: the balances could not be read (the
    preview's notes say why): the figures are given, the cash is not checked. ``prices``,
    ``contracts``: as for :func:`.instructions.plan_instructions`."""
    if not any(r.status is RowStatus.OK and r.delivery is not None for r in plan.rows):
        return None
    night = _night(plan, positions, existing, prices or {}, contracts or {}, now)
    ledger = night.ledger
    proceeds = ledger.proceeds(lambda key: night.cover.get(key, _ZERO))
    figures = {source: night.figure(source, proceeds) for source in SOURCES}
    left_out = []
    sold = sum(proceeds.values(), _ZERO)
    if sold:
        left_out.append(f"{money(sold)} of short-sale proceeds (delivering shares not held free)")
    estimate = sum((ledger.settled_received(source) for source in SOURCES), _ZERO)
    if estimate:
        left_out.append(f"{money(estimate)} cash-settled at today's level (an estimate)")
    if night.uncertain:
        left_out.append(f"{qty(night.uncertain)} contracts whose outcome cannot be said")
    not_counted = f"; not counted: {', '.join(left_out)}" if left_out else ""
    common = dict(
        exercise_cash=figures["batch"],
        pending_exercise_cash=figures["sent"] if "sent" in night.sources else None,
        expiry_cash=figures["expiry"] if "expiry" in night.sources else None,
        short_sale_proceeds=sold.quantize(CENT) if sold else None,
    )
    what = _named(night, figures)
    if funds is None:
        return CashCheck(
            **common,
            warning=f"{what} at settlement; the account's cash was not checked (balances unavailable: see the "
            f"notes){not_counted}",
        )
    after = (funds.trade_cash + sum(figures.values(), _ZERO)).quantize(CENT)
    warning = None
    if after < 0:
        warning = (
            f"{what} at settlement (T+1) against trade cash of {money(funds.trade_cash)}: cash short by "
            f"{money(-after)} (buying power {money(funds.buying_power)}); add funds or exercise fewer, or the "
            f"broker may call for funds or sell the shares received{not_counted}"
        )
    elif left_out:
        warning = f"cash after these exercises counts only what is certain{not_counted}"
    return CashCheck(
        **common, trade_cash=funds.trade_cash, cash_after=after, buying_power=funds.buying_power, warning=warning
    )
