"""What-if scenarios: the P&L and delta of a book after a price and volatility shock per underlier.
Pure, no I/O (the use-case layer reads the positions and fills :class:`~.market_view.MarketView`).

The steps, one module each: :mod:`.request` (the shock rows and the rate, checked),
:mod:`.underliers` (the book by underlier and the names that resolve to each), :mod:`.assignment`
(which row shocks which underlier), :mod:`.revaluation` (stock, option by model, intrinsic floor),
:mod:`.report` (totals, ranking, what is left out, notes, the size budget) and :mod:`.result` (the
tables on the wire).

Decisions, stated once (the result's ``method`` block says them again, briefly):

* **Shocks** (:class:`Shock`): 1 to :data:`MAX_SHOCKS` rows. A row names an underlier (an
  instrument UUID — the underlier's or a held contract's —, a ticker or an OSI root, exactly the
  names :func:`.resolve.underlier_keys` accepts) or none (``None``: every underlier that no other
  row names). Among the rows naming the same underlier the **last** wins; among the rows naming
  none the last wins; a row naming an underlier always beats a row naming none, whatever their
  order. A name that matches nothing the account holds raises :class:`ScenarioError`
  (``UNKNOWN_UNDERLIER``, with what is held) — a typo is refused, never silently a zero P&L.
  ``price_change_pct``: −20 means the underlier's price × 0.80. ``volatility_change_pts``: +5
  means every option's implied volatility σ + 0.05 (a parallel shift).
* **Underlier price** (spot): the held stock's ``instrument_price``, else the snapshot's last
  trade, else its midpoint, else the held stock's ``closing_price``, else the snapshot's previous
  close: the freshest first (the two closes are the same figure). One spot per underlier, used for
  the stock and its options alike.
* **Stock, ETF** (``COMMON_STOCK``, ``PREFERRED_STOCK``): P&L = quantity × spot ×
  price_change_pct / 100; delta = quantity shares.
* **Options** are revalued in full with Black-Scholes-Merton (:mod:`.pricing`): the option's price
  (the position's ``instrument_price``, else the snapshot's midpoint, else its last trade, else
  the position's ``closing_price``) gives its implied volatility at the current spot; the option is
  repriced at the shocked spot and shocked volatility; P&L = (new − current price) × contracts ×
  multiplier. Multiplier and deliverable from ``market.terms`` (the contract endpoint), else
  :func:`.contracts.terms_for`. An adjusted contract (physical, deliverable ≠ multiplier) is an
  option on deliverable / multiplier shares per unit of premium (the convention of
  :mod:`.expiry`): it is priced on spot × deliverable / multiplier. Cash-settled index options are
  valued like any other (their delta is in index units).
* **Time to expiry**: calendar time, seconds ÷ (365 × 86,400), from ``now`` to the settlement
  instant: the regular close (16:00 ET, 13:00 on an early close) of the expiration business day
  (the expiry date, or the business day before it when that is a holiday), the open (09:30 ET)
  for an AM-settled contract. The shock is instantaneous: time to expiry, rate and dividends are
  unchanged.
* **Not modelled**: dividends (q = 0), early exercise (American options are valued as
  European, but for those without implied volatility, below), rate moves, time decay, volatility
  skew (each option keeps its own implied volatility and moves by the same points), bid/ask.
* **Delta** per underlier, in shares: stock quantity + Σ contracts × multiplier × BSM delta ×
  deliverable / multiplier (i.e. × deliverable for a physical adjusted contract); before the
  shock at the current spot and implied volatility, after it at the shocked ones. In dollars:
  shares × spot (before) or × shocked spot (after).
* **No implied volatility below the lower bound**: an option priced at or below the European
  lower bound (a deep in-the-money option quoted at parity) has no time value left in its price,
  so no volatility reproduces it. It is not left out: it moves with its intrinsic value
  (:mod:`.revaluation`: new value = price + the change in intrinsic value, never below 0; delta 1 a
  deliverable share in the money, −1 for a put, else 0; the volatility shock does not apply). An
  American option is never worth less than its intrinsic value. Each such option is counted
  (``options_at_intrinsic``, per underlier and in total), named in ``notes`` and the method says
  how it was valued.
* **What cannot be revalued** (no option price, no spot, a price at or above the upper bound so
  no implied volatility, past its settlement instant, unreadable terms or symbol) is left out of
  both the P&L and the deltas, counted (``options_not_revalued``) and named in ``left_out`` with
  examples, which the size budget never cuts — never guessed.
* **Rounding**: each position's P&L is rounded to the cent (half-even); the underlier's and the
  total P&L are exact sums of those. Delta shares are rounded to 0.01, dollars to the cent; the
  totals add the rounded per-underlier figures. Sums run in a wide decimal context.
* **Size**: ``by_underlier`` lists the ``top_n`` underliers by |P&L|; totals and counts cover
  all of them; the compact JSON is kept within ``max_json_bytes`` by shortening the lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, localcontext

from ...clearstreet.models import Position
from ..market_view import MarketView
from .assignment import assign
from .report import MAX_JSON_BYTES, build_result, fit
from .request import (
    DEFAULT_RATE,
    MAX_PRICE_CHANGE_PCT,
    MAX_SHOCKS,
    MAX_VOLATILITY_CHANGE_PTS,
    MIN_PRICE_CHANGE_PCT,
    MIN_VOLATILITY_CHANGE_PTS,
    SHOCK_PLACES,
    ScenarioCode,
    ScenarioError,
    Shock,
    checked_request,
)
from .result import AppliedShock, ScenarioMethod, ScenarioResult, ScenarioTotals, UnderlierScenario
from .revaluation import revalue
from .underliers import UnderlierBook

__all__ = [
    "DEFAULT_RATE",
    "MAX_JSON_BYTES",
    "MAX_PRICE_CHANGE_PCT",
    "MAX_SHOCKS",
    "MAX_VOLATILITY_CHANGE_PTS",
    "MIN_PRICE_CHANGE_PCT",
    "MIN_VOLATILITY_CHANGE_PTS",
    "SHOCK_PLACES",
    "AppliedShock",
    "ScenarioCode",
    "ScenarioError",
    "ScenarioMethod",
    "ScenarioResult",
    "ScenarioTotals",
    "Shock",
    "UnderlierScenario",
    "analyze_scenario",
]

_WIDE = 80  # decimal digits of the context sums run in: nothing is rounded but on purpose


def analyze_scenario(
    positions: Iterable[Position],
    market: MarketView,
    shocks: Sequence[Shock],
    *,
    now: datetime,
    account_id: int,
    environment: str,
    rate: Decimal = DEFAULT_RATE,
    top_n: int = 10,
    max_json_bytes: int | None = MAX_JSON_BYTES,
) -> ScenarioResult:
    """The P&L and delta of ``positions`` after ``shocks`` (see the module docstring).

    Raises :class:`ScenarioError` when there are no shocks or more than :data:`MAX_SHOCKS`, or a
    row names an underlier the account does not hold (``UNKNOWN_UNDERLIER``: the message names it
    and what is held), and ``ValueError`` when ``now`` is naive or ``rate`` is out of range.
    """
    rate, rows = checked_request(now, rate, shocks)
    with localcontext() as ctx:
        ctx.prec = _WIDE
        book = UnderlierBook(market)
        book.add(positions)
        assigned, applied_shocks, row_notes = assign(book, rows)
        outcomes = [
            revalue(book, book.underliers[key], rows[row - 1], row, float(rate), now) for key, row in assigned.items()
        ]
        result = build_result(book, outcomes, applied_shocks, row_notes, rate, now, account_id, environment, top_n)
    if max_json_bytes is not None:
        result = fit(result, max_json_bytes)
    return result
