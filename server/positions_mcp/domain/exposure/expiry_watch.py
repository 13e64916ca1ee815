"""What expiry does to the options expiring inside the window, and what it settles (package
docstring: **Expiring**, **Default at expiry**, **What expiry settles**).

Every figure comes from the shared model, :func:`..settlement.settle` and
:class:`..settlement.Ledger` (the exercise preview's cash check calls the same), with the
instructions in force (:func:`..settlement.instructed`); the default and the suggestion come from
:mod:`..expiry`. Works through the expiring options once and keeps the rows it lists.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from ...clearstreet.models import PositionInstruction
from ..calendar import business_days_until, exercise_cutoff, next_business_day
from ..contracts import ContractTerms
from ..examples import EXAMPLES
from ..expiry import DefaultAtExpiry, contract_moneyness, expiry_suggestion, intrinsic_per_contract
from ..last_trade import LastTrade, last_trade
from ..market_view import Funds, MarketView
from ..osi import OptionSymbol, symbol_key
from ..settlement import SOURCES, Instructed, Ledger, Outcome, instructed, is_pinned, settle
from ..text import money, qty
from .by_underlier import Underliers, key_of
from .exact import EXACT, ZERO, amount
from .option_fold import OptionFold
from .option_greeks import known
from .shown import cut
from .summary import ExpiringRow, ExpiringTable, ExpirySettlement, ExpiryWatch

__all__ = ["ExpiryWindow", "InstructionsInForce", "Shorts", "watch_expiry", "with_warning"]

# Within one expiration day, the rows that need a decision come first.
_ATTENTION = {
    DefaultAtExpiry.ASSIGNMENT_LIKELY: 0,
    DefaultAtExpiry.AUTO_EXERCISE: 1,
    DefaultAtExpiry.ASSIGNMENT_POSSIBLE: 2,
    DefaultAtExpiry.UNKNOWN: 3,
    DefaultAtExpiry.LAPSE: 4,
}


@dataclass(frozen=True, slots=True)
class ExpiryWindow:
    """The options looked at: those whose expiration business day (the expiry, or the business day
    before it when the expiry is not a business day) is within ``business_days`` business days of
    ``today`` (today counts as 0), that is on or before ``through``; ``as_of``: now."""

    today: date
    business_days: int
    through: date
    as_of: datetime

    @classmethod
    def of(cls, today: date, business_days: int, as_of: datetime) -> ExpiryWindow:
        through = today
        for _ in range(business_days):
            through = next_business_day(through)
        return cls(today, business_days, through, as_of)


class InstructionsInForce:
    """The account's position instructions in force (:func:`..settlement.instructed`), by
    instrument id key and by ``osi:`` + symbol key; ``unread``: why they could not be read."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[Instructed]] = {}
        self.unread: str | None = None

    def add(self, instructions: Iterable[PositionInstruction]) -> None:
        for row in instructions:
            found = instructed(row)
            if found is None:
                continue
            self._by_key.setdefault(key_of(row.instrument_id), []).append(found)
            self._by_key.setdefault(f"osi:{symbol_key(row.symbol)}", []).append(found)

    def on(self, instrument_id: str, symbol: str) -> list[Instructed]:
        """The instructions in force on one option position (by instrument id, else by symbol)."""
        if not self._by_key:
            return []
        found = self._by_key.get(key_of(instrument_id))
        return found if found is not None else self._by_key.get(f"osi:{symbol_key(symbol)}", [])


class Shorts:
    """The underliers expiry would leave short: how many, and the largest few by name."""

    __slots__ = ("count", "largest", "named")

    def __init__(self) -> None:
        self.count = 0
        self.largest: list[tuple[Decimal, str]] = []  # min-heap (shares short, key)
        self.named: list[tuple[str, Decimal]] = []  # (label, shares short), largest first

    def add(self, shares: Decimal, key: str) -> None:
        self.count += 1
        if len(self.largest) < EXAMPLES:
            heapq.heappush(self.largest, (shares, key))
        elif (shares, key) > self.largest[0]:
            heapq.heapreplace(self.largest, (shares, key))

    def name(self, label: Callable[[str], str]) -> None:
        self.named = [(label(key), shares) for shares, key in sorted(self.largest, reverse=True)]


class _Judged(NamedTuple):
    """One expiring option as settle() judged it."""

    order: tuple[date, int, Decimal, str]  # expiration day, attention, -|market value|, symbol
    quantity: Decimal
    contract: OptionSymbol
    price: Decimal | None
    terms: ContractTerms | None
    outcome: Outcome
    pinned: bool


class _Counts:
    """What the expiring options add up to: by default, at pin risk, the ledger of what settles."""

    def __init__(self) -> None:
        self.by_default: dict[DefaultAtExpiry, int] = {}
        self.ledger = Ledger()
        self.instructions: set[str] = set()  # ids of the instructions in force that bear on them
        self.pinned = self.not_counted = self.settling = 0

    def add(self, key: str, judged: _Judged) -> None:
        outcome = judged.outcome
        default = outcome.default or DefaultAtExpiry.UNKNOWN
        self.by_default[default] = self.by_default.get(default, 0) + 1
        self.pinned += judged.pinned
        for piece in outcome.settled:
            self.ledger.add(key, piece.source, piece.flow)
        self.settling += bool(outcome.settled)
        self.not_counted += outcome.uncertain > 0
        self.instructions.update(instruction.id for instruction, _, _ in outcome.applied)


def watch_expiry(
    options: OptionFold,
    underliers: Underliers,
    instructions: InstructionsInForce,
    view: MarketView | None,
    prices: dict[str, Decimal | None],
    window: ExpiryWindow,
    limit: int,
) -> tuple[ExpiryWatch | None, Shorts, dict[str, int]]:
    """The expiring options (the ``limit`` first), what expiry settles with the instructions in
    force, and the underliers it would leave short though the account is not short them now."""
    shorts = Shorts()
    if not options.n:
        return None, shorts, {}
    counts = _Counts()
    judged = _judge(options, instructions, view, prices, counts)
    kept = heapq.nsmallest(limit, judged, key=lambda row: row.order)
    shown = _rows(kept, window.today, window.as_of)
    by_default = {k.value: v for k, v in sorted(counts.by_default.items(), key=lambda kv: _ATTENTION[kv[0]])}
    settlement = None
    if counts.settling or counts.not_counted or counts.instructions:
        settlement = _settlement(counts, limit, shorts, underliers, view)
    count = len(options.expiring)
    watch = ExpiryWatch(
        window_business_days=window.business_days,
        through=window.through,
        count=count,
        by_default=by_default if len(shown) < count else None,  # else: the rows say it
        pin_risk=counts.pinned or None,
        options=ExpiringTable(rows=shown),
        at_expiry=settlement,
    )
    return watch, shorts, by_default


def _judge(
    options: OptionFold,
    instructions: InstructionsInForce,
    view: MarketView | None,
    prices: dict[str, Decimal | None],
    counts: _Counts,
) -> Iterator[_Judged]:
    """Each expiring option settled (:func:`..settlement.settle`) and counted, in the order added."""
    terms_of: Mapping[str, ContractTerms] = view.terms if view is not None and view.terms else {}
    for option in options.expiring:
        iid, contract = option.instrument_id, option.contract
        terms = known(
            options.expiring_terms.get(iid)
            or (terms_of.get(iid) if terms_of else None)
            or options.fallback_terms(option.fallback)
        )
        price = prices.get(option.key)
        outcome = settle(option.quantity, contract, terms, price, instructions.on(iid, option.symbol))
        default = outcome.default or DefaultAtExpiry.UNKNOWN
        order = (option.day, _ATTENTION[default], -abs(option.market_value), option.symbol)
        row = _Judged(order, option.quantity, contract, price, terms, outcome, is_pinned(contract, price, terms))
        counts.add(option.key, row)
        yield row


def _rows(kept: list[_Judged], today: date, as_of: datetime) -> list[ExpiringRow]:
    days_left: dict[date, int] = {}
    shown: list[ExpiringRow] = []
    for row in kept:
        day, _, _, symbol = row.order
        if day not in days_left:
            days_left[day] = business_days_until(today, day)
        state: Literal["ITM", "ATM", "OTM"] | None = None
        intrinsic = distance = None
        if row.price is not None and row.terms is not None:
            where = contract_moneyness(row.contract, row.price, row.terms)
            state, distance = where.state.value, where.distance_pct
            intrinsic = intrinsic_per_contract(row.contract, row.price, row.terms)
        default = row.outcome.default or DefaultAtExpiry.UNKNOWN
        last = last_trade(row.contract.expiry, row.terms)
        suggestion = _suggestion(row.outcome, row.quantity, row.terms, as_of, day, last)
        shown.append(
            ExpiringRow(
                cut(symbol), row.quantity, days_left[day], state, distance, intrinsic, row.pinned, default, suggestion
            )
        )
    return shown


def _suggestion(
    outcome: Outcome, quantity: Decimal, terms: ContractTerms | None, as_of: datetime, day: date, last: LastTrade
) -> str:
    """What a row's contracts do and what can still be done: the instructions in force first (a
    contract they cover is never advised an instruction it already has), then the default's
    suggestion (:func:`..expiry.expiry_suggestion`) for the contracts they leave."""
    default = outcome.default or DefaultAtExpiry.UNKNOWN
    advice = expiry_suggestion(default, quantity > 0, as_of, day, last)
    if terms is None:
        advice = f"deliverable not confirmed, ask the desk what it delivers; {advice}"
    if not outcome.applied:
        return advice
    parts = outcome.instructions_in_words()
    cutoff = exercise_cutoff(day)
    if any(i.status == "SENT" for i, _, _ in outcome.applied) and as_of < cutoff:
        parts.append(f"a SENT one can be cancelled by {cutoff:%H:%M} ET on {day:%a %m-%d}")
    left = quantity - outcome.covered
    if left > 0:
        parts.append(f"the other {qty(left)}: {advice}")
    return "; ".join(parts)


def _settlement(
    counts: _Counts, limit: int, shorts: Shorts, underliers: Underliers, view: MarketView | None
) -> ExpirySettlement:
    """What the ledger of the expiring options settles: cash (counted and named apart), the
    largest share moves by underlier, the underliers it leaves short, how many instructions count."""
    ledger = counts.ledger
    proceeds = ledger.proceeds(underliers.free)
    totals = ledger.totals()
    net = sum((ledger.counted(source, proceeds.get(source, ZERO)) for source in SOURCES), ZERO)
    moves: list[tuple[Decimal, str, Decimal]] = []  # min-heap (|shares|, key, shares) of the largest
    for key, shares in ledger.shares().items():
        if not shares:
            continue
        now = underliers.shares(key)
        if now >= 0 > now + shares:
            shorts.add(-(now + shares), key)
        item = (abs(shares), key, shares)
        if len(moves) < limit:
            heapq.heappush(moves, item)
        elif limit and item > moves[0]:
            heapq.heapreplace(moves, item)
    listed: dict[str, Decimal] = {}
    for _, key, shares in sorted(moves, key=lambda item: (-item[0], item[1])):
        label = underliers.label(key, view)
        listed[label] = EXACT.add(listed.get(label, ZERO), shares)
    shorts.name(lambda key: underliers.label(key, view))
    sold = sum(proceeds.values(), ZERO)
    return ExpirySettlement(
        cash_out=amount(totals.cash_out),
        cash_in=amount(totals.cash_in),
        cash_settled=amount(totals.cash_settled) if totals.cash_settled else None,
        net_cash=amount(net),
        shares=listed,
        not_counted=counts.not_counted or None,
        short_sale_proceeds=amount(sold) if sold else None,
        instructed=len(counts.instructions) or None,
    )


def with_warning(watch: ExpiryWatch, funds: Funds | None, shorted: Shorts) -> ExpiryWatch:
    """The expiry settlement compared with the account's cash (when the balances are known), with a
    plain warning when the cash does not cover it or when it would leave the account short shares."""
    settlement = watch.at_expiry
    assert settlement is not None
    update: dict[str, Any] = {}
    problems = []
    if funds is not None:
        # net_cash counts what Ledger.counted counts: short-sale proceeds (collateral for the short
        # in a margin account, Regulation T, 12 CFR 220.4) and cash-settled receipts (estimates)
        # are not cash to pay with, and the warning says they were left out
        after = EXACT.add(funds.trade_cash, settlement.net_cash)
        update["cash_after"] = amount(after)
        if after < 0:
            apart = []
            if settlement.short_sale_proceeds:
                apart.append(
                    f"the {money(settlement.short_sale_proceeds)} of short-sale proceeds from delivering shares not held free"
                )
            if settlement.cash_settled is not None and settlement.cash_settled > 0:
                apart.append(f"the {money(settlement.cash_settled)} cash-settled estimate")
            besides = f", not counting {' nor '.join(apart)}" if apart else ""
            problems.append(f"cash short by {money(-after)} at expiry{besides}")
    problems += [f"{label} would go short {qty(shares)} shares" for label, shares in shorted.named]
    if shorted.count > len(shorted.named):
        problems.append(f"{shorted.count - len(shorted.named)} more underliers would go short")
    if problems:
        # never advise a close outright: past a contract's last trade it cannot trade
        # (domain/last_trade.py); each row's suggestion says what can still be done for it
        update["warning"] = "; ".join(problems) + ": add funds, or act as each row's suggestion says"
    if not update:
        return watch
    return watch.model_copy(update={"at_expiry": settlement.model_copy(update=update)})
