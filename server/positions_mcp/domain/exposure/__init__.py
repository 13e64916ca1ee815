"""The exposure summary of one account: market value, delta-adjusted exposure by underlier, the API's
greeks, options, what expiry will do and what it costs, against the account's funds. Pure, no I/O.

The use-case layer (``actions/reads.py``) feeds :class:`ExposureBuilder` each page of positions as
it arrives, with the page's market view, and builds the summary at the end; ``summarize_exposure``
does it in one go. The package, by concept:

* :mod:`.summary`: the result (:class:`ExposureSummary`, its tables and parts);
* folding the book as rows arrive: :mod:`.builder` (what an option is), :mod:`.totals` (market
  value, P&L, types, the largest), :mod:`.by_underlier` (shares held, the options' underliers,
  their prices and names), :mod:`.option_fold` and :mod:`.option_greeks` (the options, their
  greeks and terms), :mod:`.option_symbols` (each OSI symbol read once);
* :mod:`.delta`: delta and the greeks in dollars; :mod:`.expiry_watch`: what expiry settles, with
  the shared model of :mod:`..settlement`;
* :mod:`.notes`: what was missing or odd; :mod:`.budget`: the summary cut to its size budget.

The result has a bounded size whatever the book. The two lists a person reads row by row (delta by
underlier, expiring options) are tables: column names once, then one JSON array per row. A small
book (``small_book`` positions, 25 by default) lists every underlier and every expiring option; a
larger one keeps exact counts and totals and lists the largest items only. The compact JSON is then
cut to ``max_json_bytes`` (4,096) by shortening lists, never by leaving a section out: the largest
positions first, then (a large book's) other lists, the expiring options last; every list keeps a
row and every note stays; the last note says what was cut.

Definitions (decisions, stated once):

* **Side** comes from the sign of ``quantity``: long ``> 0``, short ``< 0``. ``position_type`` is not
  trusted (seed-era rows say ``LONG_CALL`` etc.); a disagreement is reported as a note.
* **Market value** (what the positions API reports, *not* risk): long / short market value =
  Σ ``|market_value|`` of the long rows / Σ ``−|market_value|`` of the short rows; a row whose
  reported value has the other sign (a short reported positive) is counted with the quantity's
  sign and noted (a row with quantity 0 is filed by the sign of its value, so that long + short =
  net always). **Gross market value** = Σ ``|market_value|``, **net** = long + short. For an option
  that is its **premium**, which says little about its risk.
* **CASH** rows are not exposure: they are left out of every exposure figure, the type breakdown,
  the largest positions and the concentration, and reported as ``cash`` instead. They still count
  in ``positions`` and in the P&L totals. The account's cash and buying power come from balances
  (``funds``), not from these rows.
* **P&L totals** are Σ of the rows that report the field; rows that leave it empty are counted in a
  note. A total is omitted when no row of a non-empty book reports the field at all.
* An **option** is a row with ``instrument_type == OPTION``, a seed-era option ``position_type``, or
  any other type that is not a known non-option type (``OTHER``, or a string this server does not
  know) whose symbol is an OSI symbol. Everything else non-cash counts as the underlier itself, at
  delta 1 a unit.
* **Underlier**: an option counts toward its ``underlying_instrument_id``, anything else toward its
  own ``instrument_id``; an option without one is grouped by its OSI root (``root:<ROOT>``; a
  symbol that is not OSI, by its own id): the keys of :func:`..resolve.underlier_key`.
* **Contract terms**: the multiplier (and for expiry the deliverable and settlement) come from
  ``MarketView.terms`` (the option-contracts endpoint), else from :func:`..contracts.terms_for`'s
  documented fallbacks (known index roots; a standard equity option of 100 shares), noted.
* **Underlier price** (Clear Street's market-data API documentation): the snapshot's last trade, else its midpoint, else
  the underlier's own position ``instrument_price``, else a previous close (the snapshot's, then
  the position's ``closing_price``; noted). The snapshot thus prices an underlier the account does
  not hold (SPY, SPX): its moneyness and delta dollars are known.
* **Greeks** are the API's (snapshot ``greeks``): per share, computed at their ``timestamp``;
  theta per trading day, vega per volatility point as the API defines it (Clear Street's API documentation: whether that
  is σ + 0.01 or σ + 1.0 is not stated). ``iv`` is withheld upstream and never used. A contract
  without greeks is **not** guessed: its delta is unavailable, counted in ``contracts_without_greeks``
  and a note, and left out of every delta and greek figure.
* **Delta** (Clear Street's API documentation): an underlier's **net delta in shares** = its shares (delta 1) +
  Σ contracts (signed) × multiplier × delta; in **dollars** (delta-adjusted exposure) = delta shares ×
  underlier price, rounded to the cent. The account's **net** delta dollars = Σ over underliers; the
  **gross** = Σ ``|underlier delta dollars|`` (an underlier's hedges offset within it, not across
  underliers); concentration is each underlier's ``|delta dollars|`` as a share of the gross.
* **Dollar gamma** = Σ contracts × multiplier × gamma × price² / 100: how many dollars of delta an
  underlier gains when it rises **1 %**. **Vega dollars** = Σ contracts × multiplier × vega (per
  volatility point), **theta dollars** = Σ contracts × multiplier × theta (per trading day). All
  totals, all estimates from the API's greeks.
* **Premium** = the options' market value (signed: written options count negative). **Underlier
  notional** = Σ ``|contracts|`` × multiplier × underlier price: what the contracts control, not what
  they are worth nor how they move (that is delta).
* **Expiring**: options whose expiration business day (the expiry, or the business day before it
  when the expiry is not a business day) is within ``expiry_window_business_days`` business days
  of ``today`` (today counts as 0), sorted by that day, then the ones needing a decision first.
* **Default at expiry** and the **suggestion**: :func:`..expiry.default_at_expiry` (OCC Rule 805(d)
  exercise by exception at $0.01, the one rule the instruction planner uses too) and
  :func:`..expiry.expiry_suggestion` (what can still be done at ``as_of``: after the day's exercise
  cutoff, or after the contract's last trade for closing trades, :func:`..last_trade.last_trade`,
  contact the desk; an AM-settled contract's last trade is the close of the day before). An
  adjusted contract whose deliverable is not confirmed (:mod:`..contracts`) has no moneyness and an
  UNKNOWN default here.
* **What expiry settles** (:func:`..settlement.settle`, the one model the exercise preview's cash
  check uses too): the defaults, overridden by the account's instructions in force (``instruct``:
  a DO_NOT_EXERCISE stops an auto-exercise, a CONTRARY_EXERCISE exercises a contract that would
  lapse; OCC Rule 805); a row an instruction covers says so in its suggestion, and ``at_expiry``
  lists the instructions counted. Counted cash and short-sale proceeds: :class:`..settlement.Ledger`
  (an aggregate strike for shares the account does not have free is a short sale's proceeds,
  named apart and not counted: Regulation T, 12 CFR 220.4). **Pin risk** (within 1 % of the strike
  or $0.50 a share, whichever is larger): :mod:`..settlement`. Cash needed is compared with the
  balances' trade cash (Clear Street's API documentation: Clear Street does not say which balance it checks; the
  overnight buying power is shown beside it, as an exercise is held overnight).
* Sums are exact (a decimal context wide enough that nothing is ever rounded). Dollar figures
  derived from greeks are rounded to the cent (banker's rounding): each underlier's delta dollars,
  whose exact sums are the net and gross; the greek totals, rounded once from their exact sums.
  Delta shares are shown to 0.01 a share; exact amounts (strikes × multipliers) are written to the
  cent when that loses nothing; percentages are rounded to 0.01. Fields that are None are left out
  of the serialised form, so the JSON carries only what is known.
"""

from ..expiry import DefaultAtExpiry
from .budget import MAX_JSON_BYTES
from .builder import SMALL_BOOK_POSITIONS, ExposureBuilder, summarize_exposure
from .summary import (
    EXPIRING_COLUMNS,
    UNDERLIER_COLUMNS,
    AccountFunds,
    Concentration,
    DeltaExposure,
    ExpiringRow,
    ExpiringTable,
    ExpirySettlement,
    ExpiryWatch,
    ExposureSummary,
    LargestRow,
    LargestTable,
    OptionsOverview,
    TypeExposure,
    UnderlierRow,
    UnderlierTable,
)

__all__ = [
    "EXPIRING_COLUMNS",
    "MAX_JSON_BYTES",
    "SMALL_BOOK_POSITIONS",
    "UNDERLIER_COLUMNS",
    "AccountFunds",
    "Concentration",
    "DefaultAtExpiry",
    "DeltaExposure",
    "ExpiringRow",
    "ExpiringTable",
    "ExpirySettlement",
    "ExpiryWatch",
    "ExposureBuilder",
    "ExposureSummary",
    "LargestRow",
    "LargestTable",
    "OptionsOverview",
    "TypeExposure",
    "UnderlierRow",
    "UnderlierTable",
    "summarize_exposure",
]
