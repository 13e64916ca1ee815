"""Delta and the API's greeks in dollars, by underlier and for the account (package docstring:
**Greeks**, **Delta**, **Dollar gamma**, **Premium**, **Underlier notional**).

Works on the distinct underliers and on the options ``add`` could not fold (no market view then);
keeps the rows it lists and the options' underliers' prices only.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from decimal import Decimal
from itertools import chain

from ..contracts import ContractTerms
from ..examples import EXAMPLES, Examples
from ..market_view import MarketView, Quote
from ..numbers import percent
from .by_underlier import CLOSE, POSITION, Underliers
from .exact import ZERO, amount, cents, shares
from .option_fold import OptionFold
from .option_greeks import Coverage, GreeksByUnderlier, known
from .summary import DeltaExposure, OptionsOverview, UnderlierRow, UnderlierTable

__all__ = ["MAX_WITHOUT_GREEKS", "DeltaFigures", "delta_summary", "work_out_delta"]

MAX_WITHOUT_GREEKS = 5  # at most this many underliers in delta.contracts_without_greeks (but a small book's all)


class DeltaFigures:
    """What ``build`` works out from the underliers: the ranked rows, the totals, the prices of the
    options' underliers (for the expiring options) and the notes' material."""

    __slots__ = (
        "count",
        "from_close",
        "gamma",
        "gross",
        "net",
        "no_greeks",
        "notional",
        "option_delta",
        "prices",
        "ranked",
        "theta",
        "top5",
        "unpriced",
        "vega",
        "without",
    )

    def __init__(self) -> None:
        self.prices: dict[str, Decimal | None] = {}  # option underliers only
        # key -> contracts without greeks, for the first underliers only (all of a small book's);
        # ``without`` counts them all
        self.no_greeks: dict[str, Decimal] = {}
        self.ranked: list[tuple[str, Decimal | None, Decimal, Decimal | None]] = []
        self.count = 0
        self.unpriced = Examples()
        self.from_close = Examples()
        self.net = self.gross = self.gamma = self.vega = self.theta = self.without = ZERO
        self.top5: list[Decimal] = []
        self.option_delta: Decimal | None = None
        self.notional: Decimal | None = None

    def without_greeks(self, key: str, contracts: Decimal, limit: int) -> None:
        """Contracts on ``key`` whose delta is unavailable."""
        self.without += contracts
        if key in self.no_greeks:
            self.no_greeks[key] += contracts
        elif len(self.no_greeks) < limit:
            self.no_greeks[key] = contracts


def work_out_delta(
    underliers: Underliers, options: OptionFold, view: MarketView | None, small: bool, limit: int
) -> tuple[Coverage, DeltaFigures]:
    """Prices, delta and greeks by underlier, and the ranked rows (at most ``limit`` unless the book
    is ``small``); exact: the caller holds a MAX_PREC context. Also what the greeks and terms of
    every option covered."""
    d = DeltaFigures()
    closes: set[str] = set()
    for key in underliers.of_options:
        d.prices[key], source = underliers.price(key, view)
        if source == CLOSE:
            closes.add(key)
    no_greeks_limit = len(underliers.of_options) if small else MAX_WITHOUT_GREEKS
    for key, sums in options.greeks.sums.items():
        if sums.no_greeks:
            d.without_greeks(key, sums.no_greeks, no_greeks_limit)
    late, coverage = _fold_late(options, view, d, no_greeks_limit)
    option_delta = _totals(d, options.greeks, late)
    _rank(d, underliers, view, closes, option_delta, None if small else limit)
    return options.coverage.merged(coverage), d


def _fold_late(
    options: OptionFold, view: MarketView | None, d: DeltaFigures, no_greeks_limit: int
) -> tuple[GreeksByUnderlier, Coverage]:
    """The options added without a view, folded now with build's view, as add() folds the others
    (their contracts without greeks are counted here, one by one, as they come)."""
    late = GreeksByUnderlier()
    coverage = Coverage()
    terms_of: Mapping[str, ContractTerms] = view.terms if view is not None and view.terms else {}
    quotes: Mapping[str, Quote] = view.quotes if view is not None and view.quotes else {}
    for iid, key, quantity, symbol, fallback, adjusted in options.late():
        terms = (terms_of.get(iid) if terms_of else None) or options.fallback_terms(fallback)
        quote = quotes.get(iid) if quotes else None
        greeks = None if quote is None else quote.greeks
        coverage.seen(terms, greeks, symbol, adjusted)
        terms = known(terms)
        if terms is None or greeks is None:
            d.without_greeks(key, abs(quantity), no_greeks_limit)
            if terms is None:
                continue  # no units: it counts toward no notional either
        late.add(key, quantity, terms, greeks)
    return late, coverage


def _totals(d: DeltaFigures, *folded: GreeksByUnderlier) -> dict[str, Decimal]:
    """The account's greeks in dollars, the options' delta dollars and notional at the underliers'
    prices; returns each underlier's Σ contracts × multiplier × delta."""
    option_delta: dict[str, Decimal] = {}
    gamma = notional = dollars_of_options = ZERO
    vega = sum((greeks.vega for greeks in folded), ZERO)
    theta = sum((greeks.theta for greeks in folded), ZERO)
    priced_units = False
    for key, sums in chain.from_iterable(greeks.sums.items() for greeks in folded):
        option_delta[key] = option_delta.get(key, ZERO) + sums.delta
        price = d.prices[key]
        if price is not None:
            gamma += sums.gamma * price * price
            notional += sums.units * price
            dollars_of_options += sums.delta * price
            priced_units = True
    d.gamma = cents(gamma.scaleb(-2))  # per 1 % move: × price / 100, exact
    d.vega, d.theta = cents(vega), cents(theta)
    d.option_delta = cents(dollars_of_options) if priced_units else None
    d.notional = amount(notional) if priced_units else None
    return option_delta


def _rank(
    d: DeltaFigures,
    underliers: Underliers,
    view: MarketView | None,
    closes: set[str],
    option_delta: dict[str, Decimal],
    limit: int | None,
) -> None:
    """Every underlier: shares (delta 1) + its options' delta, at its price; the net and gross, the
    five largest, and the ``limit`` largest rows (all when None), largest first."""
    heap: list[tuple[Decimal, str, Decimal | None, Decimal, Decimal | None]] = []
    top5: list[Decimal] = []
    unknown = Decimal(-1)  # unpriced underliers rank last
    for key in underliers.in_order():
        held = underliers.held.get(key)
        in_options = option_delta.get(key)
        delta_shares = underliers.shares(key) if in_options is None else underliers.shares(key) + in_options
        if key in d.prices:
            price, source = d.prices[key], (CLOSE if key in closes else None)
        elif view is None and held is not None:  # a plain holding without market data: fast path
            price, source = held[2], (CLOSE if held[3] else POSITION)
        else:
            price, source = underliers.price(key, view)
        dollars: Decimal | None = None
        size = unknown
        if price is None:
            d.unpriced.hit(underliers.label(key, view) if len(d.unpriced.examples) < EXAMPLES else "")
        else:
            if source == CLOSE:
                d.from_close.hit(underliers.label(key, view) if len(d.from_close.examples) < EXAMPLES else "")
            dollars = cents(delta_shares * price)
            size = abs(dollars)
            d.net += dollars
            d.gross += size
            if len(top5) < 5:
                heapq.heappush(top5, size)
            elif size > top5[0]:
                heapq.heapreplace(top5, size)
        item = (size, key, price, delta_shares, dollars)
        if limit is None or len(heap) < limit:
            heapq.heappush(heap, item)
        elif limit and item > heap[0]:
            heapq.heapreplace(heap, item)
        d.count += 1
    d.top5 = top5
    listed = [
        (size, underliers.label(key, view), price, in_shares, dollars) for size, key, price, in_shares, dollars in heap
    ]
    listed.sort(key=lambda row: (-row[0], row[1]))  # largest first; ties and the unpriced by name
    d.ranked = [(label, price, delta_shares, dollars) for _, label, price, delta_shares, dollars in listed]


def delta_summary(
    d: DeltaFigures, coverage: Coverage, options: OptionFold, underliers: Underliers, view: MarketView | None
) -> tuple[DeltaExposure | None, OptionsOverview | None]:
    """The delta by underlier and the options' overview, as the summary shows them."""
    if not d.count:
        return None, None
    has_greeks = coverage.with_greeks > 0
    rows: list[UnderlierRow] = [
        UnderlierRow(
            label, price, shares(delta_shares), dollars, percent(abs(dollars), d.gross) if dollars is not None else None
        )
        for label, price, delta_shares, dollars in d.ranked
    ]
    without: dict[str, Decimal] = {}
    for key, contracts in sorted(d.no_greeks.items(), key=lambda kv: (-kv[1], kv[0])):
        label = underliers.label(key, view)
        without[label] = without.get(label, ZERO) + contracts
    delta = DeltaExposure(
        greeks_as_of=coverage.first,
        net_dollars=d.net,
        gross_dollars=d.gross,
        gamma_dollars_per_1pct=d.gamma if has_greeks else None,
        vega_dollars_per_vol_point=d.vega if has_greeks else None,
        theta_dollars_per_day=d.theta if has_greeks else None,
        top5_pct=percent(sum(d.top5, ZERO), d.gross) if len(rows) < d.count else None,  # else: the rows say it
        underliers=d.count,
        contracts_without_greeks=without or None,
        by_underlier=UnderlierTable(rows=rows),
    )
    if not options.n:
        return delta, None
    return delta, OptionsOverview(
        positions=options.n,
        long_contracts=options.long,
        short_contracts=options.short,
        premium=options.premium,
        underlier_notional=d.notional,
        delta_dollars=d.option_delta if has_greeks else None,
        contracts_without_greeks=d.without or None,
    )
