"""The exposure summary of one account: market value, delta-adjusted exposure by underlier, the API's
greeks, options, what expiry will do and what it costs, against the account's funds.

Pure, no I/O. :class:`ExposureBuilder` is a streaming accumulator: the MCP layer feeds it each page
of positions as it arrives (``add``) and asks for the summary at the end (``build``), passing the
:class:`~.market_view.MarketView` it could read (quotes and greeks, contract terms, balances). Each
position costs O(1) plain-Python work and leaves behind at most one compact tuple of plain values
(never the wire object; the collector stops tracking such tuples, so a large book costs no GC
time), plus its id in the set that catches repeats; ``build`` works on the distinct underliers, the
expiring options and the options whose greeks were not known when they were added.

The result has a bounded size whatever the book. The two lists a person reads row by row (delta by
underlier, expiring options) are tables: column names once, then one JSON array per row. A small
book (``small_book`` positions, 25 by default) lists every underlier and every expiring option; a
larger one keeps exact counts and totals and lists the largest items only. The compact JSON is then
cut to ``max_json_bytes`` (3,000): the largest positions first, then notes, then (a large book's)
lists, the expiring options last; the last note says what was cut.

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
  symbol that is not OSI, by its own id): the keys of :func:`.resolve.underlier_key`.
* **Contract terms**: the multiplier (and for expiry the deliverable and settlement) come from
  ``MarketView.terms`` (the option-contracts endpoint), else from :func:`.contracts.terms_for`'s
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
* **Default at expiry** and the **suggestion**: :func:`.expiry.default_at_expiry` (OCC Rule 805(d)
  exercise by exception at $0.01, the one rule the instruction planner uses too) and
  :func:`.expiry.expiry_suggestion` (what can still be done at ``as_of``: after the day's exercise
  cutoff, or after the contract's last trade for closing trades, :func:`.last_trade.last_trade`,
  contact the desk; an AM-settled contract's last trade is the close of the day before). An
  adjusted contract whose deliverable is not confirmed (:mod:`.contracts`) has no moneyness and an
  UNKNOWN default here.
* **What expiry settles** (:func:`.settlement.settle`, the one model the exercise preview's cash
  check uses too): the defaults, overridden by the account's instructions in force (``instruct``:
  a DO_NOT_EXERCISE stops an auto-exercise, a CONTRARY_EXERCISE exercises a contract that would
  lapse; OCC Rule 805); a row an instruction covers says so in its suggestion, and ``at_expiry``
  lists the instructions counted. Counted cash and short-sale proceeds: :class:`.settlement.Ledger`
  (an aggregate strike for shares the account does not have free is a short sale's proceeds,
  named apart and not counted: Regulation T, 12 CFR 220.4). **Pin risk** (within 1 % of the strike
  or $0.50 a share, whichever is larger): :mod:`.settlement`. Cash needed is compared with the
  balances' trade cash (Clear Street's API documentation: Clear Street does not say which balance it checks; the
  overnight buying power is shown beside it, as an exercise is held overnight).
* Sums are exact (a decimal context wide enough that nothing is ever rounded). Dollar figures
  derived from greeks are rounded to the cent (banker's rounding): each underlier's delta dollars,
  whose exact sums are the net and gross; the greek totals, rounded once from their exact sums.
  Delta shares are shown to 0.01 a share; exact amounts (strikes × multipliers) are written to the
  cent when that loses nothing; percentages are rounded to 0.01. Fields that are None are left out
  of the serialised form, so the JSON carries only what is known.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import MAX_PREC, ROUND_HALF_EVEN, Context, Decimal, localcontext
from itertools import chain
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from pydantic import AwareDatetime, Field

from ..clearstreet.models import Position, PositionInstruction, PositionType, SecurityType
from .calendar import NEW_YORK, business_days_until, exercise_cutoff, expiration_business_day, next_business_day
from .contracts import (
    ENDPOINT_SOURCE,
    KNOWN_AMERICAN_INDEX_ROOTS,
    KNOWN_EUROPEAN_INDEX_ROOTS,
    ContractTerms,
    is_adjusted_root,
    terms_for,
    underlier_of_root,
)
from .expiry import DefaultAtExpiry, contract_moneyness, expiry_suggestion, intrinsic_per_contract
from .last_trade import LastTrade, last_trade
from .market_view import Funds, Greeks, MarketView, Quote
from .numbers import CENT, DecimalString, percent
from .osi import OptionRight, OptionSymbol, parse_osi, symbol_key, try_parse_osi
from .result_model import CompactResult
from .settlement import SOURCES, Instructed, Ledger, Outcome, free_shares, instructed, is_pinned, settle
from .text import counted, money, qty

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

MAX_JSON_BYTES = 3000
"""Default budget of the summary's compact JSON; lists are shortened (counts kept) to meet it."""
SMALL_BOOK_POSITIONS = 25
"""A book of at most this many positions is shown whole: every underlier, every expiring option."""
ZERO = Decimal(0)
EXAMPLES = 3  # at most this many example symbols in a note
TYPE_LIMIT = 8  # at most this many instrument types in the breakdown
MARKET_NOTES = 8  # at most this many distinct notes of the market view(s)
MAX_WITHOUT_GREEKS = 5  # at most this many underliers in delta.contracts_without_greeks (but a small book's all)
_EXAMPLE_WIDTH = 32  # example strings in notes are cut to this many characters
_SHARE = Decimal("0.01")  # delta shares are shown to the hundredth of a share

_SEED_OPTION_TYPES = frozenset(
    {PositionType.LONG_CALL, PositionType.SHORT_CALL, PositionType.LONG_PUT, PositionType.SHORT_PUT}
)
_LONG_TYPES = frozenset({PositionType.LONG, PositionType.LONG_CALL, PositionType.LONG_PUT})
_SHORT_TYPES = frozenset({PositionType.SHORT, PositionType.SHORT_CALL, PositionType.SHORT_PUT})
_KNOWN_TYPES = frozenset(SecurityType)
# Types that are never options, whatever their symbol looks like.
_NON_OPTION_TYPES = frozenset(
    {SecurityType.COMMON_STOCK, SecurityType.INDEX, SecurityType.PREFERRED_STOCK, SecurityType.CASH}
)

# The OSI renderings the upstream sends: padded, single-space, compact; upper-case ASCII only.
# Whatever this accepts, parse_osi accepts with the same meaning (tests/test_exposure.py checks);
# anything else goes through parse_osi itself.
_FAST_OSI = re.compile(r"([A-Z0-9.]{1,6}) {0,5}([0-9]{6})([CP])([0-9]{8})")
_UNSEEN: Any = object()
_POOL_LIMIT = 4096  # distinct quantities and contract terms shared per summary (memory only)

_SNAPSHOT, _POSITION, _CLOSE = "snapshot", "position", "previous close"
_UNDERLIER_OF = itemgetter(3)  # of an expiring option's tuple: its underlier key
_INDEX_ROOTS = KNOWN_EUROPEAN_INDEX_ROOTS | KNOWN_AMERICAN_INDEX_ROOTS


def _yymmdd(text: str) -> date | None:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        return None


def _norm(identifier: str) -> str:
    """The key of an instrument id (:func:`.resolve.underlier_key`: trimmed, lower case), reusing
    the string itself when it already is one (nothing new is kept per row)."""
    key = identifier.strip().lower()
    return identifier if key == identifier else key


_EXACT = Context(prec=MAX_PREC)  # sums and products that are never rounded


def _money(value: Decimal) -> Decimal:
    """An exact amount written to the cent when that loses nothing (``195750`` → ``195750.00``);
    an amount with finer digits (an odd strike times an odd multiplier) stays exact."""
    cents = value.quantize(CENT, context=_EXACT)
    return cents if cents == value else value


def _cents(value: Decimal) -> Decimal:
    """Rounded to the cent, half-even (banker's rounding), however large."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN, context=_EXACT)


# ----------------------------------------------------------------------------------------------
# Result models


# Within one expiration day, the rows that need a decision come first.
_ATTENTION = {
    DefaultAtExpiry.ASSIGNMENT_LIKELY: 0,
    DefaultAtExpiry.AUTO_EXERCISE: 1,
    DefaultAtExpiry.ASSIGNMENT_POSSIBLE: 2,
    DefaultAtExpiry.UNKNOWN: 3,
    DefaultAtExpiry.LAPSE: 4,
}


class TypeExposure(CompactResult):
    type: str = Field(
        description="Instrument type: a SecurityType, or the raw string the upstream sent for an unknown one."
    )
    positions: int
    long: DecimalString = Field(description="Σ market_value of the long rows of this type (total).")
    short: DecimalString = Field(description="Σ market_value of the short rows of this type (total).")
    gross_pct: DecimalString | None = Field(None, description="Share of gross market value, in percent.")


class LargestRow(NamedTuple):
    """One position of :class:`LargestTable` (a JSON array on the wire; names in ``columns``)."""

    symbol: str
    quantity: Decimal
    market_value: Decimal
    gross_pct: Decimal | None


class LargestTable(CompactResult):
    """The largest positions by |market_value|: a table (column names once)."""

    columns: tuple[str, ...] = Field(
        LargestRow._fields,
        description="symbol; quantity: signed; market_value: as reported (an option's is its premium), "
        "total; gross_pct: |market_value| as a % of gross market value.",
    )
    rows: list[LargestRow] = Field(description="Largest first.")


class Concentration(CompactResult):
    largest: str | None = Field(None, description="Symbol of the largest position by |market_value|.")
    largest_pct: DecimalString | None = Field(
        None, description="Share of gross market value held by the largest position, in percent."
    )
    top5_pct: DecimalString | None = Field(
        None, description="Share of gross market value held by the five largest positions, in percent."
    )


class UnderlierRow(NamedTuple):
    """One underlier of :class:`UnderlierTable` (a JSON array on the wire; names in ``columns``)."""

    underlier: str
    price: DecimalString | None
    delta_shares: DecimalString
    delta_dollars: DecimalString | None
    gross_pct: DecimalString | None


class ExpiringRow(NamedTuple):
    """One expiring option position of :class:`ExpiringTable` (a JSON array on the wire)."""

    symbol: str
    contracts: DecimalString
    days_left: int
    moneyness: Literal["ITM", "ATM", "OTM"] | None
    distance_pct: DecimalString | None
    intrinsic_per_contract: DecimalString | None
    pin_risk: bool
    default_at_expiry: DefaultAtExpiry
    suggestion: str


UNDERLIER_COLUMNS: tuple[str, ...] = UnderlierRow._fields
"""The columns of :class:`UnderlierTable` rows, in order."""
EXPIRING_COLUMNS: tuple[str, ...] = ExpiringRow._fields
"""The columns of :class:`ExpiringTable` rows, in order."""


class UnderlierTable(CompactResult):
    """One row per underlier: a table (column names once), so a small book fits whole."""

    columns: tuple[str, ...] = Field(
        UNDERLIER_COLUMNS,
        description="underlier: symbol (held, named by the snapshot, or the options' OSI root); price: the "
        "underlier price the dollars use; delta_shares: net delta in share-equivalents, total (shares + Σ "
        "contracts × multiplier × API delta, to 0.01, contracts without greeks excluded); delta_dollars: "
        "delta_shares × price, total, to the cent; gross_pct: |delta_dollars| as a % of the gross.",
    )
    rows: list[UnderlierRow] = Field(description="By |delta_dollars|, largest first; unpriced ones last.")

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}``."""
        return [row._asdict() for row in self.rows]


class ExpiringTable(CompactResult):
    """One row per expiring option position: a table (column names once)."""

    columns: tuple[str, ...] = Field(
        EXPIRING_COLUMNS,
        description="symbol: OSI symbol; contracts: signed, < 0 written; days_left: business days to the "
        "expiration day (0 = today); moneyness: ITM/ATM/OTM at the underlier's price; distance_pct: "
        "signed distance from the strike, % of the strike, > 0 in the money; intrinsic_per_contract: "
        "value of exercising one contract now; pin_risk: within 1 % of the strike or $0.50 a share "
        "(physical delivery); default_at_expiry: what happens if nobody acts (OCC Rule 805(d)); "
        "suggestion: what can still be done, and by when.",
    )
    rows: list[ExpiringRow] = Field(description="By expiration day, the ones needing a decision first.")

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}``."""
        return [row._asdict() for row in self.rows]


class DeltaExposure(CompactResult):
    greeks_as_of: AwareDatetime | None = Field(
        None, description="Timestamp of the API's snapshot greeks used (the oldest, when they differ)."
    )
    net_dollars: DecimalString = Field(
        description="Net delta-adjusted exposure of the account, total: Σ underliers' delta_dollars."
    )
    gross_dollars: DecimalString = Field(
        description="Gross delta-adjusted exposure, total: Σ |delta_dollars| over the underliers."
    )
    gamma_dollars_per_1pct: DecimalString | None = Field(
        None,
        description="Dollar gamma, total: change of delta dollars when every underlier rises 1 % "
        "(Σ contracts × multiplier × gamma × price² / 100), from the API's greeks.",
    )
    vega_dollars_per_vol_point: DecimalString | None = Field(
        None, description="Σ contracts × multiplier × vega: value change per volatility point (API's vega), total."
    )
    theta_dollars_per_day: DecimalString | None = Field(
        None, description="Σ contracts × multiplier × theta: value change per trading day (API's theta), total."
    )
    top5_pct: DecimalString | None = Field(
        None,
        description="Share of gross_dollars held by the five largest underliers, in percent; present when "
        "by_underlier does not list them all.",
    )
    underliers: int = Field(description="Distinct underliers; by_underlier lists them (the largest when many).")
    contracts_without_greeks: dict[str, DecimalString] | None = Field(
        None,
        description="By underlier: contracts whose greeks are unavailable, left out of its delta and the greeks "
        "(the first underliers found, when many; options.contracts_without_greeks counts them all).",
    )
    by_underlier: UnderlierTable | None = Field(None, description="Left out when cut to fit (see notes).")


class OptionsOverview(CompactResult):
    positions: int
    long_contracts: DecimalString = Field(description="Long contracts over all underliers.")
    short_contracts: DecimalString = Field(description="Short contracts over all underliers (positive number).")
    premium: DecimalString = Field(description="Σ market_value of the option rows (written ones negative), total.")
    underlier_notional: DecimalString | None = Field(
        None, description="Σ |contracts| × multiplier × underlier price (priced underliers), total."
    )
    delta_dollars: DecimalString | None = Field(
        None, description="Σ contracts × multiplier × delta × underlier price of the options alone, total."
    )
    contracts_without_greeks: DecimalString | None = Field(
        None, description="Contracts whose greeks are unavailable: their delta is not estimated."
    )


class ExpirySettlement(CompactResult):
    cash_out: DecimalString = Field(
        description="Cash paid, total: long calls exercised and short puts likely assigned, "
        "contracts × multiplier × strike."
    )
    cash_in: DecimalString = Field(
        description="Cash received, total: long puts exercised and short calls likely assigned, "
        "contracts × multiplier × strike (short-sale proceeds included)."
    )
    cash_settled: DecimalString | None = Field(
        None, description="Cash-settled options: intrinsic × multiplier received (+) or paid (−), an estimate."
    )
    net_cash: DecimalString = Field(
        description="What cash_after counts, total: cash_in − short_sale_proceeds − cash_out, less a cash-settled "
        "payment at its estimate (a cash-settled receipt is not counted)."
    )
    cash_after: DecimalString | None = Field(
        None, description="funds.trade_cash + net_cash: the account's cash once these settle."
    )
    shares: dict[str, DecimalString] = Field(
        description="By underlier: shares received (> 0) or delivered (< 0), total (the largest moves when many)."
    )
    not_counted: int | None = Field(
        None,
        description="Expiring positions whose outcome is uncertain (ASSIGNMENT_POSSIBLE, UNKNOWN) or whose contract "
        "terms are unknown: not counted.",
    )
    short_sale_proceeds: DecimalString | None = Field(
        None,
        description="Part of cash_in raised by delivering shares the account does not have free (a short sale), "
        "total: collateral in a margin account, not cash; not in net_cash.",
    )
    instructed: int | None = Field(
        None,
        description="Instructions in force on these options, counted in the figures above; the suggestion of "
        "each row they cover names them (type, quantity, status, id).",
    )
    warning: str | None = Field(None, description="Present when the account's cash does not cover net_cash.")


class ExpiryWatch(CompactResult):
    window_business_days: int
    through: date = Field(description="Last expiration day inside the window.")
    count: int = Field(description="Option positions expiring inside the window; options lists them (or the first).")
    by_default: dict[str, int] | None = Field(
        None,
        description="How many of them do what by default (DefaultAtExpiry values); present when options does "
        "not list them all.",
    )
    pin_risk: int | None = Field(None, description="How many of them are at pin risk (within 1 % or $0.50).")
    options: ExpiringTable
    at_expiry: ExpirySettlement | None = Field(
        None,
        description="What expiry would pay, receive and deliver: the defaults (auto-exercise, likely assignment) "
        "as the instructions in force change them.",
    )


class AccountFunds(CompactResult):
    currency: str
    trade_cash: DecimalString = Field(description="Cash on a trade-date basis (balances).")
    buying_power: DecimalString = Field(description="Buying power now (balances).")
    overnight_buying_power: DecimalString | None = Field(
        None, description="Margin accounts: buying power for positions held overnight (balances)."
    )


class ExposureSummary(CompactResult):
    as_of: AwareDatetime
    environment: str
    account_id: int
    positions: int = Field(description="Rows read, over every page.")
    long_market_value: DecimalString
    short_market_value: DecimalString
    gross_market_value: DecimalString = Field(
        description="Σ |market_value| (CASH excluded): market value, not risk (an option counts its premium)."
    )
    net_market_value: DecimalString = Field(description="Σ market_value (CASH excluded).")
    long_positions: int = Field(description="Rows with quantity > 0 (CASH excluded).")
    short_positions: int = Field(description="Rows with quantity < 0.")
    cash: DecimalString | None = Field(
        None, description="Σ market_value of CASH rows, which are not part of the exposure figures."
    )
    unrealized_pnl: DecimalString | None = None
    daily_unrealized_pnl: DecimalString | None = None
    daily_realized_pnl: DecimalString | None = None
    by_type: list[TypeExposure] | None = Field(None, description="Left out when cut to fit (see notes).")
    largest: LargestTable | None = Field(
        None, description="Largest positions by |market_value|; left out when cut to fit (see notes)."
    )
    concentration: Concentration = Field(description="Concentration of market value.")
    delta: DeltaExposure | None = Field(
        None, description="Delta-adjusted exposure by underlier and the API's greeks in dollars."
    )
    options: OptionsOverview | None = None
    expiring: ExpiryWatch | None = None
    funds: AccountFunds | None = Field(None, description="Cash and buying power from the account's balances.")
    notes: list[str] = Field(description="Data-quality notes: what was missing or odd, as counts with a few examples.")


# ----------------------------------------------------------------------------------------------
# The accumulator


class _Tally:
    """A count of odd rows plus the first few of their symbols."""

    __slots__ = ("count", "examples")

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def hit(self, symbol: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(symbol)

    def merged(self, other: _Tally) -> _Tally:
        both = _Tally()
        both.count = self.count + other.count
        both.examples = (self.examples + other.examples)[:EXAMPLES]
        return both

    def __bool__(self) -> bool:
        return self.count > 0


class _Sums:
    """Greeks folded in ``add`` for the options on one underlier, before its price is known:
    Σ contracts × multiplier (× delta, × gamma) and the contracts without greeks."""

    __slots__ = ("delta", "gamma", "no_greeks", "units")

    def __init__(self) -> None:
        self.units = self.delta = self.gamma = self.no_greeks = ZERO


class _Fold:
    """Counts of applying greeks and terms to options: for the notes."""

    __slots__ = ("adjusted", "assumed_terms", "first", "last", "no_greeks", "unconfirmed", "with_greeks")

    def __init__(self) -> None:
        self.no_greeks = _Tally()
        self.assumed_terms = _Tally()
        self.adjusted = _Tally()  # adjusted contracts whose terms nobody gave: never assumed standard
        self.unconfirmed = _Tally()  # adjusted contracts with a contract row but no deliverable
        self.with_greeks = 0
        self.first: datetime | None = None
        self.last: datetime | None = None

    def seen(self, terms: ContractTerms | None, greeks: Greeks | None, symbol: str) -> None:
        if terms is not None and not terms.deliverable_confirmed:
            (self.adjusted if terms.problem else self.unconfirmed).hit(symbol)
            return
        if terms is None and _adjusted(symbol):
            self.adjusted.hit(symbol)
            return
        if terms is not None and terms.source != ENDPOINT_SOURCE:
            self.assumed_terms.hit(symbol)
        if terms is None or greeks is None:
            self.no_greeks.hit(symbol)
            return
        self.with_greeks += 1
        stamp = greeks.timestamp
        if stamp is not None:
            if self.first is None or stamp < self.first:
                self.first = stamp
            if self.last is None or stamp > self.last:
                self.last = stamp

    def merged(self, other: _Fold) -> _Fold:
        both = _Fold()
        both.no_greeks = self.no_greeks.merged(other.no_greeks)
        both.assumed_terms = self.assumed_terms.merged(other.assumed_terms)
        both.adjusted = self.adjusted.merged(other.adjusted)
        both.unconfirmed = self.unconfirmed.merged(other.unconfirmed)
        both.with_greeks = self.with_greeks + other.with_greeks
        stamps = [s for s in (self.first, self.last, other.first, other.last) if s is not None]
        both.first, both.last = (min(stamps), max(stamps)) if stamps else (None, None)
        return both


def _adjusted(symbol: str) -> bool:
    option = try_parse_osi(symbol)
    return option is not None and is_adjusted_root(option.root)


def _known(terms: ContractTerms | None) -> ContractTerms | None:
    """``terms`` when they say what a contract delivers; None for an adjusted contract whose
    deliverable is not confirmed (:mod:`.contracts`): left out of delta, notional and expiry cash."""
    return terms if terms is None or terms.deliverable_confirmed else None


def _cut(text: str) -> str:
    return text if len(text) <= _EXAMPLE_WIDTH else text[: _EXAMPLE_WIDTH - 1] + "…"


def _examples(items: list[str]) -> str:
    return f" (e.g. {', '.join(map(_cut, items))})" if items else ""


def _json_size(summary: ExposureSummary) -> int:
    return len(summary.model_dump_json().encode())


def _current(quote: Quote | None) -> Decimal | None:
    """A quote's current price: the last trade, else the midpoint (Clear Street's API documentation)."""
    if quote is None:
        return None
    return quote.last if quote.last is not None else quote.midpoint


# A non-option row's underlier (itself): (symbol, shares, price, price is a closing price, id as written,
# shares free to deliver: settlement.free_shares).
_Stock = tuple[str, Decimal, Decimal | None, bool, str, Decimal]
# An option's underlier: (its instrument id as written or None, a name: the OSI root, or the symbol,
# its key: the one string object the rows of this underlier share).
_Underlying = tuple[str | None, str | None, str]
# An underlier as the market view of an add() saw it: (current price, previous close, symbol).
_Seen = tuple[Decimal | None, Decimal | None, str | None]
# The key of an option's fallback terms in ``ExposureBuilder._fallback`` (None: no OSI symbol, no fallback).
# Tuples of plain values only: the collector stops tracking them, so a large book costs no GC time.
_FallbackKey = tuple[str, bool] | None
# An option added without a market view: (instrument id, underlier key, quantity, symbol, fallback key).
_Deferred = tuple[str, str, Decimal, str, _FallbackKey]
# An expiring option: (expiration day, symbol, instrument id, underlier key, quantity, market value,
#  fallback key, greeks already folded in add(): then its terms are in ``_expiring_terms``).
_Expiring = tuple[date, str, str, str, Decimal, Decimal, _FallbackKey, bool]


class _Delta:
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
        self.unpriced = _Tally()
        self.from_close = _Tally()
        self.net = self.gross = self.gamma = self.vega = self.theta = self.without = ZERO
        self.top5: list[Decimal] = []
        self.option_delta: Decimal | None = None
        self.notional: Decimal | None = None


class ExposureBuilder:
    """Streaming accumulator of an :class:`ExposureSummary`; see the module docstring.

    ``add`` may be called any number of times (once per page); ``build`` may be called at any
    point and does not consume the state. ``today`` defaults to the New York date of ``as_of``.

    Market data (all optional; every part degrades to a note when missing):

    * ``market`` given to the constructor: a view for every row and for ``build``;
    * ``add(rows, market)``: the view of those rows (their options' greeks and terms, their
      underliers' quotes), applied there and then, so nothing of those options is kept but their
      sums per underlier; an option whose greeks that view lacks is reported without delta;
    * ``build(market)``: the view for everything else: the options added without a view (kept as
      compact tuples until then), underlier prices, contract terms of the expiring options, funds,
      and the view's notes.

    ``underlier_ids()`` and ``option_ids()`` say which instruments the view of ``build`` should
    cover. ``top_n`` caps the largest positions, ``underlier_limit`` the underliers and
    ``expiring_limit`` the expiring options listed, unless the book has at most ``small_book``
    positions (then every underlier and every expiring option is listed); ``max_json_bytes`` (None:
    no budget) shortens the lists further, and the notes, until the compact JSON fits.
    """

    def __init__(
        self,
        *,
        account_id: int,
        environment: str,
        as_of: datetime,
        today: date | None = None,
        expiry_window_business_days: int = 3,
        top_n: int = 10,
        underlier_limit: int = 10,
        expiring_limit: int = 5,
        max_json_bytes: int | None = MAX_JSON_BYTES,
        small_book: int = SMALL_BOOK_POSITIONS,
        market: MarketView | None = None,
    ) -> None:
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError("as_of must be an aware datetime")
        if min(expiry_window_business_days, top_n, underlier_limit, expiring_limit, small_book) < 0:
            raise ValueError("the expiry window, the list limits and small_book must not be negative")
        self.account_id = account_id
        self.environment = environment
        self.as_of = as_of
        self.today = today if today is not None else as_of.astimezone(NEW_YORK).date()
        self.window = expiry_window_business_days
        self.top_n = top_n
        self.underlier_limit = underlier_limit
        self.expiring_limit = expiring_limit
        self.max_json_bytes = max_json_bytes
        self.small_book = small_book
        self.market = market
        through = self.today
        for _ in range(expiry_window_business_days):
            through = next_business_day(through)
        self.through = through

        self._rows = 0
        self._long_n = self._short_n = 0
        self._long = self._short = self._gross = ZERO
        self._cash: Decimal | None = None
        self._pnl = [ZERO, ZERO, ZERO]  # unrealized, daily unrealized, daily realized
        self._pnl_missing = [0, 0, 0]
        self._types: dict[str, list[Any]] = {}  # type -> [positions, long, short, gross]
        # min-heap of the largest |market_value|: (size, -row number, symbol, quantity, market value)
        self._heap: list[tuple[Decimal, int, str, Decimal, Decimal]] = []
        self._heap_size = max(top_n, 5)
        self._stock: dict[str, _Stock] = {}  # non-option rows, by underlier key
        self._underlying: dict[str, _Underlying] = {}  # the options' underliers, by key
        self._deferred: list[_Deferred] = []  # options added without a view, not expiring
        self._expiring: list[_Expiring] = []
        # folded in add() with a market view (nothing here when no add() had one)
        self._sums: dict[str, _Sums] = {}
        self._seen_quotes: dict[str, _Seen] = {}
        self._vega = self._theta = ZERO
        self._fold = _Fold()
        self._yymmdd: dict[str, date | None] = {}
        self._expiration_days: dict[date, date] = {}
        self._fallback: dict[tuple[str, bool], ContractTerms] = {}
        self._fallback_keys: dict[tuple[str, bool], tuple[str, bool]] = {}
        self._strikes: dict[str, Decimal] = {}  # OSI strike digits -> strike, while build runs
        self._expiring_terms: dict[str, ContractTerms] = {}  # terms of add()'s views, expiring options only
        # instructions in force, by instrument id key and by "osi:" + symbol key (``instruct``)
        self._instructions: dict[str, list[Instructed]] = {}
        self._instruction_note: str | None = None
        self._seen: set[str] = set()
        # What the rows repeat, kept once: a large book stores one object per distinct quantity,
        # underlier key and contract terms, not one per row (the memory budget bench/bench_exposure.py measures).
        self._quantities: dict[Decimal, Decimal] = {}
        self._terms: dict[ContractTerms, ContractTerms] = {}
        self._option_n = 0
        self._option_long = self._option_short = self._premium = ZERO
        self._viewed = market is not None  # some market view was given
        self._market_notes: dict[str, None] = {}
        if market is not None:
            self._keep_notes(market)
        # data quality
        self._foreign = 0
        self._unknown_types: dict[tuple[str, bool], int] = {}  # (type, counted as an option) -> rows
        self._dupes = _Tally()
        self._no_price = _Tally()
        self._bad_osi = _Tally()
        self._no_underlier_id = _Tally()
        self._expired = _Tally()
        self._flat = _Tally()
        self._sign_mismatch = _Tally()
        self._type_mismatch = _Tally()

    # -- streaming ---------------------------------------------------------------------------

    def _keep_notes(self, view: MarketView) -> None:
        for note in view.notes:
            if note not in self._market_notes and len(self._market_notes) < MARKET_NOTES:
                self._market_notes[note] = None

    def add(self, positions: Iterable[Position], market: MarketView | None = None) -> ExposureBuilder:
        """Fold one page (or any iterable) of positions into the summary, with the market view of
        those rows when there is one (else the constructor's). Returns self."""
        view = market if market is not None else self.market
        if market is not None:
            self._viewed = True
            self._keep_notes(market)
        option_type, cash_type = SecurityType.OPTION, SecurityType.CASH
        account_id, seen, types, stock = self.account_id, self._seen, self._types, self._stock
        heap, heap_size = self._heap, self._heap_size
        (upnl, dupnl, drpnl), (upnl_gap, dupnl_gap, drpnl_gap) = self._pnl, self._pnl_missing
        rows, gross = self._rows, self._gross
        long_n, short_n, long_mv, short_mv = self._long_n, self._short_n, self._long, self._short
        try:
            with localcontext() as ctx:
                ctx.prec = MAX_PREC  # additions and multiplications are then always exact
                for p in positions:
                    rows += 1
                    iid = p.instrument_id
                    if iid in seen:
                        self._dupes.hit(p.symbol)
                    else:
                        seen.add(iid)
                    if p.account_id != account_id:
                        self._foreign += 1
                    value = p.unrealized_pnl
                    if value is None:
                        upnl_gap += 1
                    else:
                        upnl += value
                    value = p.daily_unrealized_pnl
                    if value is None:
                        dupnl_gap += 1
                    else:
                        dupnl += value
                    value = p.daily_realized_pnl
                    if value is None:
                        drpnl_gap += 1
                    else:
                        drpnl += value

                    kind = p.instrument_type
                    mv = p.market_value
                    if kind is cash_type:
                        self._cash = mv if self._cash is None else self._cash + mv
                        continue
                    symbol = p.symbol
                    position_type = p.position_type
                    is_option = kind is option_type or position_type in _SEED_OPTION_TYPES
                    if not is_option and kind not in _NON_OPTION_TYPES:
                        # OTHER or a type this server does not know: an OSI symbol makes it an option
                        is_option = self._osi(symbol) is not None
                        if kind not in _KNOWN_TYPES:
                            tag = (str(kind), is_option)
                            self._unknown_types[tag] = self._unknown_types.get(tag, 0) + 1

                    quantity = self._pooled(p.quantity)
                    size = abs(mv)
                    gross += size
                    bucket = types.get(kind)
                    if bucket is None:
                        bucket = types[kind] = [0, ZERO, ZERO, ZERO]
                    bucket[0] += 1
                    bucket[3] += size
                    if quantity > 0:
                        if mv < 0:  # the side comes from the quantity: counted long, and noted
                            self._sign_mismatch.hit(symbol)
                            mv = size
                        long_n += 1
                        long_mv += mv
                        bucket[1] += mv
                        if position_type in _SHORT_TYPES:
                            self._type_mismatch.hit(symbol)
                    elif quantity < 0:
                        if mv > 0:  # a short reported positive: counted short, and noted
                            self._sign_mismatch.hit(symbol)
                            mv = -size
                        short_n += 1
                        short_mv += mv
                        bucket[2] += mv
                        if position_type in _LONG_TYPES:
                            self._type_mismatch.hit(symbol)
                    else:
                        self._flat.hit(symbol)
                        if mv > 0:
                            long_mv += mv
                            bucket[1] += mv
                        else:
                            short_mv += mv
                            bucket[2] += mv

                    # Min-heap of the largest |market_value|; on ties the earlier row stays.
                    if len(heap) < heap_size:
                        heapq.heappush(heap, (size, -rows, symbol, quantity, p.market_value))
                    elif heap_size and size > heap[0][0]:
                        heapq.heapreplace(heap, (size, -rows, symbol, quantity, p.market_value))

                    price = p.instrument_price
                    if price is None:
                        self._no_price.hit(symbol)
                    if is_option:
                        self._add_option(p, symbol, quantity, mv, view)
                        continue
                    # Anything else counts toward its underlier (itself) at delta 1.
                    uid = p.underlying_instrument_id
                    key = _norm(uid) if uid else _norm(iid)
                    if price is None:
                        price, from_close = p.closing_price, True
                    else:
                        from_close = False
                    if uid:  # a row of another instrument does not price the underlier
                        price = None
                    held = stock.get(key)
                    free = ZERO if uid or quantity <= 0 else free_shares(p)
                    if held is None:
                        stock[key] = (symbol, quantity, price, from_close, uid or iid, free)
                    else:  # the same underlier again: shares add up; a current price beats a close
                        _, shares, old_price, old_close, ref, old_free = held
                        if old_price is not None and (price is None or from_close or not old_close):
                            price, from_close = old_price, old_close
                        stock[key] = (held[0], shares + quantity, price, from_close, ref, old_free + free)
        finally:
            self._rows, self._gross = rows, gross
            self._pnl, self._pnl_missing = [upnl, dupnl, drpnl], [upnl_gap, dupnl_gap, drpnl_gap]
            self._long_n, self._short_n, self._long, self._short = long_n, short_n, long_mv, short_mv
        return self

    def _pooled(self, quantity: Decimal) -> Decimal:
        """``quantity``, or an earlier row's Decimal of the very same digits and exponent (``10``
        and ``10.0`` are kept apart: ``compare_total`` tells them apart where ``==`` does not)."""
        known = self._quantities.get(quantity)
        if known is None:
            if len(self._quantities) < _POOL_LIMIT:
                self._quantities[quantity] = quantity
            return quantity
        return quantity if known.compare_total(quantity) else known

    def _osi(self, symbol: str) -> tuple[str, date | None, bool] | None:
        """(root, expiry or None when the date is impossible, is a call), or None: not OSI. Fast
        path for the renderings the upstream sends (one regex, a cached date, no Decimal); anything
        else goes through the canonical parser."""
        match = _FAST_OSI.fullmatch(symbol)
        if match is not None:
            expiry = self._yymmdd.get(match[2], _UNSEEN)
            if expiry is _UNSEEN:
                expiry = self._yymmdd[match[2]] = _yymmdd(match[2])
            return match[1], expiry, match[3] == "C"
        osi = try_parse_osi(symbol)
        return None if osi is None else (osi.root, osi.expiry, osi.is_call)

    def _symbol(self, symbol: str) -> OptionSymbol:
        """The OSI symbol of an expiring option (it passed :meth:`_osi`, so this cannot fail): the
        fast path builds it from the regex's parts and the cached date."""
        match = _FAST_OSI.fullmatch(symbol)
        expiry = self._yymmdd.get(match[2]) if match is not None else None
        if match is None or expiry is None:
            return parse_osi(symbol)
        strike = self._strikes.get(match[4])
        if strike is None:  # strikes repeat across a book: each distinct one is made once per build
            strike = self._strikes[match[4]] = Decimal(match[4]) / 1000  # as parse_osi does
        return OptionSymbol(match[1], expiry, OptionRight.CALL if match[3] == "C" else OptionRight.PUT, strike)

    def _add_option(self, p: Position, symbol: str, quantity: Decimal, mv: Decimal, view: MarketView | None) -> None:
        self._option_n += 1
        self._premium += mv
        if quantity > 0:
            self._option_long += quantity
        elif quantity < 0:
            self._option_short -= quantity
        parsed = self._osi(symbol)
        root, expiry = (parsed[0], parsed[1]) if parsed is not None else (None, None)
        uid = p.underlying_instrument_id
        iid = p.instrument_id
        if uid:
            key = _norm(uid)
        else:
            self._no_underlier_id.hit(symbol)
            key = f"root:{root}" if root is not None else _norm(iid)
        known = self._underlying.get(key)
        if known is not None:
            key = known[2]  # the rows of one underlier share one key string
        if known is None or (known[1] is None and root is not None):
            # the name to show when nothing better is known: the OSI root (an adjusted one names
            # its underlier without the digit), else (no underlier id either) the option's own symbol
            name = underlier_of_root(root) if root is not None else None if uid else symbol
            self._underlying[key] = (uid or None, name, key)
        fallback: ContractTerms | None = None
        cache_key: _FallbackKey = None
        if expiry is not None and root is not None and not is_adjusted_root(root):
            # terms_for without a contract row depends on the kind of root and of underlier only;
            # an adjusted contract (root ending in a digit) gets none: its deliverable is unknown
            wanted = (root if root in _INDEX_ROOTS else "", p.underlying_instrument_type == SecurityType.INDEX)
            fallback = self._fallback.get(wanted)
            if fallback is None:
                fallback = self._fallback[wanted] = terms_for(p)
                self._fallback_keys[wanted] = wanted
            cache_key = self._fallback_keys[wanted]  # one tuple object for every row alike
        listed: ContractTerms | None = None  # the terms the view gives (not a fallback)
        folded = view is not None
        if view is not None:
            listed = view.terms.get(iid) if view.terms else None
            quote = view.quotes.get(iid) if view.quotes else None
            self._fold_now(key, symbol, quantity, listed or fallback, None if quote is None else quote.greeks)
            if uid and key not in self._seen_quotes:
                underlier = view.quotes.get(uid) if view.quotes else None
                if underlier is not None:
                    self._seen_quotes[key] = (_current(underlier), underlier.previous_close, underlier.symbol)
        day = None
        if expiry is None:
            self._bad_osi.hit(symbol)
        else:
            day = self._expiration_days.get(expiry)
            if day is None:
                day = self._expiration_days[expiry] = expiration_business_day(expiry)
            if day < self.today:
                self._expired.hit(symbol)
            elif day <= self.through and quantity != 0:
                self._expiring.append((day, symbol, iid, key, quantity, mv, cache_key, folded))
                if listed is not None:
                    self._expiring_terms[iid] = (
                        self._terms.setdefault(listed, listed)
                        if len(self._terms) < _POOL_LIMIT
                        else self._terms.get(listed, listed)
                    )
                return
        if not folded:
            self._deferred.append((iid, key, quantity, symbol, cache_key))

    def _fold_now(
        self, key: str, symbol: str, quantity: Decimal, terms: ContractTerms | None, greeks: Greeks | None
    ) -> None:
        """Fold one option with the greeks and terms of add()'s view into its underlier's sums
        (exact: the caller holds a MAX_PREC context)."""
        self._fold.seen(terms, greeks, symbol)
        sums = self._sums.get(key)
        if sums is None:
            sums = self._sums[key] = _Sums()
        terms = _known(terms)
        if terms is None:
            sums.no_greeks += abs(quantity)
            return
        units = quantity * terms.multiplier
        sums.units += abs(units)
        if greeks is None:
            sums.no_greeks += abs(quantity)
            return
        sums.delta += units * greeks.delta
        sums.gamma += units * greeks.gamma
        self._vega += units * greeks.vega
        self._theta += units * greeks.theta

    def instruct(self, instructions: Iterable[PositionInstruction], *, unread: str | None = None) -> ExposureBuilder:
        """The account's position instructions: those in force (:func:`.settlement.instructed`)
        change what the expiring options settle. ``unread``: why they could not be read (a note
        says the figures assume none). Returns self."""
        if unread is not None:
            self._instruction_note = unread
        for row in instructions:
            found = instructed(row)
            if found is None:
                continue
            self._instructions.setdefault(_norm(row.instrument_id), []).append(found)
            self._instructions.setdefault(f"osi:{symbol_key(row.symbol)}", []).append(found)
        return self

    # -- what build's market view should cover -----------------------------------------------

    def underlier_ids(self) -> list[str]:
        """Instrument ids of the underliers (the options' first): snapshot them for prices."""
        ids = [ref for ref, _, _ in self._underlying.values() if ref]
        ids += [held[4] for key, held in self._stock.items() if key not in self._underlying]
        return ids

    def unpriced_underlier_ids(self) -> list[str]:
        """Instrument ids of the options' underliers this book prices at no current price: not
        held (SPY behind a SPY put), held without ``instrument_price``, or priced only by a close,
        and not quoted by a view yet. The snapshot prices them; a held underlier keeps the price the
        positions API gives it."""
        ids = []
        for key, (ref, _, _) in self._underlying.items():
            held = self._stock.get(key)
            seen = self._seen_quotes.get(key)
            if ref and (held is None or held[2] is None or held[3]) and (seen is None or seen[0] is None):
                ids.append(ref)
        return ids

    def option_ids(self) -> list[str]:
        """Instrument ids of the options ``build`` still needs greeks and terms for: the expiring
        ones first (their terms decide what expiry settles), then those added without a market
        view. Each id once."""
        ids = dict.fromkeys(row[2] for row in self._expiring)
        ids.update(dict.fromkeys(row[0] for row in self._deferred))
        return list(ids)

    # -- result ------------------------------------------------------------------------------

    def _price(self, key: str, view: MarketView | None) -> tuple[Decimal | None, str | None]:
        """An underlier's price and where it came from (module docstring)."""
        held = self._stock.get(key)
        ref = held[4] if held is not None else self._underlying[key][0]
        quote = None
        if ref and view is not None and view.quotes:
            quote = view.quotes.get(ref)
            if quote is None:
                quote = view.quotes.get(key)
        current = _current(quote)
        if current is not None:
            return current, _SNAPSHOT
        seen = self._seen_quotes.get(key)
        if seen is not None and seen[0] is not None:
            return seen[0], _SNAPSHOT
        if held is not None and held[2] is not None and not held[3]:
            return held[2], _POSITION
        if quote is not None and quote.previous_close is not None:
            return quote.previous_close, _CLOSE
        if seen is not None and seen[1] is not None:
            return seen[1], _CLOSE
        if held is not None and held[2] is not None:
            return held[2], _CLOSE
        return None, None

    def _label(self, key: str, view: MarketView | None) -> str:
        """An underlier's name: the held symbol, else the snapshot's, else the options' root; cut
        to 32 characters (an odd upstream symbol cannot push the summary past its budget)."""
        return _cut(self._name(key, view))

    def _name(self, key: str, view: MarketView | None) -> str:
        held = self._stock.get(key)
        if held is not None:
            return held[0]
        ref, root, _ = self._underlying.get(key, (None, None, key))
        quote = view.quotes.get(ref) if ref and view is not None and view.quotes else None
        if quote is not None and quote.symbol.strip():
            return quote.symbol.strip()
        seen = self._seen_quotes.get(key)
        if seen is not None and seen[2] and seen[2].strip():
            return seen[2].strip()
        return root or key

    def build(self, market: MarketView | None = None) -> ExposureSummary:
        """The summary of everything added so far, with ``market`` (else the constructor's view)
        for what the rows' own views did not cover."""
        view = market if market is not None else self.market
        market_notes = dict(self._market_notes)
        if market is not None:
            for note in market.notes:
                if note not in market_notes and len(market_notes) < MARKET_NOTES:
                    market_notes[note] = None
        viewed = self._viewed or market is not None
        gross = self._gross
        rows = self._rows
        small = rows <= self.small_book
        pnl_totals: list[Decimal | None] = [
            None if rows and missing == rows else total
            for total, missing in zip(self._pnl, self._pnl_missing, strict=True)
        ]
        ranked_types = sorted(self._types.items(), key=lambda item: (-item[1][3], str(item[0])))
        by_type = [
            TypeExposure(type=str(kind), positions=n, long=long, short=short, gross_pct=percent(size, gross))
            for kind, (n, long, short, size) in ranked_types[:TYPE_LIMIT]
        ]
        ranked = sorted(self._heap, reverse=True)
        largest = LargestTable(
            rows=[
                LargestRow(_cut(symbol), quantity, value, percent(size, gross))
                for size, _, symbol, quantity, value in ranked[: self.top_n]
            ]
        )
        with localcontext() as ctx:
            ctx.prec = MAX_PREC  # exact sums and products; nothing divides in here
            top5 = sum((size for size, *_ in ranked[:5]), ZERO)
            fold, d = self._delta(view, small)
        concentration = Concentration(
            largest=_cut(ranked[0][2]) if ranked else None,
            largest_pct=percent(ranked[0][0], gross) if ranked else None,
            top5_pct=percent(top5, gross) if ranked else None,
        )
        delta, options = self._delta_and_options(d, fold, view)
        expiring, shorted, by_default = self._expiry_watch(view, d.prices, small)
        funds = None
        f = view.funds if view is not None else None
        if f is not None:
            funds = AccountFunds(
                currency=f.currency,
                trade_cash=f.trade_cash,
                buying_power=f.buying_power,
                overnight_buying_power=f.overnight_buying_power,
            )
        if expiring is not None and expiring.at_expiry is not None:
            expiring = _with_warning(expiring, f, shorted)
        summary = ExposureSummary(
            as_of=self.as_of,
            environment=self.environment,
            account_id=self.account_id,
            positions=rows,
            long_market_value=self._long,
            short_market_value=self._short,
            gross_market_value=gross,
            net_market_value=self._long + self._short,
            cash=self._cash,
            unrealized_pnl=pnl_totals[0],
            daily_unrealized_pnl=pnl_totals[1],
            daily_realized_pnl=pnl_totals[2],
            long_positions=self._long_n,
            short_positions=self._short_n,
            by_type=by_type,
            largest=largest,
            concentration=concentration,
            delta=delta,
            options=options,
            expiring=expiring,
            funds=funds,
            notes=self._notes(len(ranked_types), viewed, view, list(market_notes), fold, d),
        )
        if self.max_json_bytes is not None:
            delta_top5 = percent(sum(d.top5, ZERO), d.gross)
            summary = _fit(summary, self.max_json_bytes, small, by_default, delta_top5)
        return summary

    def _delta(self, view: MarketView | None, small: bool) -> tuple[_Fold, _Delta]:
        """Prices, delta and greeks by underlier, and the ranked rows (exact: the caller holds a
        MAX_PREC context). Works on the distinct underliers and the options not folded in add();
        keeps the rows it lists and the options' underliers' prices only."""
        d = _Delta()
        prices = d.prices
        closes: set[str] = set()
        for key in self._underlying:
            price, source = self._price(key, view)
            prices[key] = price
            if source == _CLOSE:
                closes.add(key)
        option_delta: dict[str, Decimal] = {}  # key -> Σ contracts × multiplier × delta
        without = ZERO
        no_greeks_limit = len(self._underlying) if small else MAX_WITHOUT_GREEKS
        gamma = vega = theta = notional = dollars_of_options = ZERO
        priced_units = False
        # what add() folded: its sums wait for the underliers' prices
        for key, sums in self._sums.items():
            price = prices[key]
            option_delta[key] = sums.delta
            if sums.no_greeks:
                without += sums.no_greeks
                if len(d.no_greeks) < no_greeks_limit:
                    d.no_greeks[key] = sums.no_greeks
            if price is not None:
                gamma += sums.gamma * price * price
                notional += sums.units * price
                dollars_of_options += sums.delta * price
                priced_units = True
        vega, theta = self._vega, self._theta
        # the options added without a view, folded now with build's view
        fold = _Fold()
        terms_of: Mapping[str, ContractTerms] = view.terms if view is not None and view.terms else {}
        quotes: Mapping[str, Quote] = view.quotes if view is not None and view.quotes else {}
        fallbacks = self._fallback
        expiring = ((row[2], row[3], row[4], row[1], row[6]) for row in self._expiring if not row[7])
        for iid, key, quantity, symbol, fallback in chain(self._deferred, expiring):
            terms = (terms_of.get(iid) if terms_of else None) or (None if fallback is None else fallbacks[fallback])
            quote = quotes.get(iid) if quotes else None
            greeks = None if quote is None else quote.greeks
            fold.seen(terms, greeks, symbol)
            terms = _known(terms)
            if terms is None or greeks is None:
                contracts = abs(quantity)
                without += contracts
                if key in d.no_greeks:
                    d.no_greeks[key] += contracts
                elif len(d.no_greeks) < no_greeks_limit:
                    d.no_greeks[key] = contracts
                if terms is None:
                    continue
            units = quantity * terms.multiplier
            price = prices[key]
            if price is not None:
                notional += abs(units) * price
                priced_units = True
            if greeks is None:
                continue
            delta = units * greeks.delta
            option_delta[key] = option_delta.get(key, ZERO) + delta
            vega += units * greeks.vega
            theta += units * greeks.theta
            if price is not None:
                gamma += units * greeks.gamma * price * price
                dollars_of_options += delta * price
        d.gamma = _cents(gamma.scaleb(-2))  # per 1 % move: × price / 100, exact
        d.vega, d.theta = _cents(vega), _cents(theta)
        d.option_delta = _cents(dollars_of_options) if priced_units else None
        d.notional = _money(notional) if priced_units else None
        d.without = without
        # every underlier: shares (delta 1) + its options' delta, at its price
        limit = None if small else self.underlier_limit
        heap: list[tuple[Decimal, str, Decimal | None, Decimal, Decimal | None]] = []
        top5: list[Decimal] = []
        net = gross = ZERO
        unknown = Decimal(-1)  # unpriced underliers rank last
        stock, underlying = self._stock, self._underlying
        for key in [*stock, *(k for k in underlying if k not in stock)]:
            held = stock.get(key)
            shares = held[1] if held is not None else ZERO
            in_options = option_delta.get(key)
            delta_shares = shares if in_options is None else shares + in_options
            if key in prices:
                price = prices[key]
                source = _CLOSE if key in closes else None
            elif view is None and held is not None:  # a plain holding without market data: fast path
                price, source = held[2], (_CLOSE if held[3] else _POSITION)
            else:
                price, source = self._price(key, view)
            dollars: Decimal | None = None
            size = unknown
            if price is None:
                d.unpriced.hit(self._label(key, view) if len(d.unpriced.examples) < EXAMPLES else "")
            else:
                if source == _CLOSE:
                    d.from_close.hit(self._label(key, view) if len(d.from_close.examples) < EXAMPLES else "")
                dollars = _cents(delta_shares * price)
                size = abs(dollars)
                net += dollars
                gross += size
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
        d.net, d.gross, d.top5 = net, gross, top5
        listed = [(size, self._label(key, view), price, shares, dollars) for size, key, price, shares, dollars in heap]
        listed.sort(key=lambda row: (-row[0], row[1]))  # largest first; ties and the unpriced by name
        d.ranked = [(label, price, shares, dollars) for _, label, price, shares, dollars in listed]
        return self._fold.merged(fold), d

    def _delta_and_options(
        self, d: _Delta, fold: _Fold, view: MarketView | None
    ) -> tuple[DeltaExposure | None, OptionsOverview | None]:
        if not d.count:
            return None, None
        has_greeks = fold.with_greeks > 0
        rows: list[UnderlierRow] = [
            UnderlierRow(
                label,
                price,
                delta_shares.quantize(_SHARE, rounding=ROUND_HALF_EVEN, context=_EXACT),
                dollars,
                percent(abs(dollars), d.gross) if dollars is not None else None,
            )
            for label, price, delta_shares, dollars in d.ranked
        ]
        without: dict[str, Decimal] = {}
        for key, contracts in sorted(d.no_greeks.items(), key=lambda kv: (-kv[1], kv[0])):
            label = self._label(key, view)
            without[label] = without.get(label, ZERO) + contracts
        delta = DeltaExposure(
            greeks_as_of=fold.first,
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
        options = None
        if self._option_n:
            options = OptionsOverview(
                positions=self._option_n,
                long_contracts=self._option_long,
                short_contracts=self._option_short,
                premium=self._premium,
                underlier_notional=d.notional,
                delta_dollars=d.option_delta if has_greeks else None,
                contracts_without_greeks=d.without or None,
            )
        return delta, options

    def _expiry_watch(
        self, view: MarketView | None, prices: dict[str, Decimal | None], small: bool
    ) -> tuple[ExpiryWatch | None, _Shorts, dict[str, int]]:
        """The expiring options, what expiry settles with the instructions in force
        (:func:`.settlement.settle`), and the underliers that would leave short though the account
        is not short them now. Works through the expiring options once; keeps the rows it lists."""
        shorts = _Shorts()
        if not self._option_n:
            return None, shorts, {}
        terms_of: Mapping[str, ContractTerms] = view.terms if view is not None and view.terms else {}
        counts: dict[DefaultAtExpiry, int] = {}
        ledger = Ledger()
        counted: set[str] = set()  # ids of the instructions in force that bear on the expiring options
        pinned = not_counted = settling = 0
        added, fallbacks = self._expiring_terms, self._fallback
        count = len(self._expiring)
        limit = count if small else self.expiring_limit

        def judged() -> Iterable[tuple[Any, ...]]:
            nonlocal pinned, not_counted, settling
            for day, symbol, iid, key, quantity, mv, fallback, _ in self._expiring:
                osi = self._symbol(symbol)
                terms = _known(
                    added.get(iid)
                    or (terms_of.get(iid) if terms_of else None)
                    or (None if fallback is None else fallbacks[fallback])
                )
                price = prices.get(key)
                outcome = settle(quantity, osi, terms, price, self._instructed(iid, symbol))
                default = outcome.default or DefaultAtExpiry.UNKNOWN
                counts[default] = counts.get(default, 0) + 1
                pin = is_pinned(osi, price, terms)
                pinned += pin
                for piece in outcome.settled:
                    ledger.add(key, piece.source, piece.flow)
                settling += bool(outcome.settled)
                not_counted += outcome.uncertain > 0
                counted.update(instruction.id for instruction, _, _ in outcome.applied)
                yield ((day, _ATTENTION[default], -abs(mv), symbol), quantity, osi, price, terms, outcome, pin)

        kept = heapq.nsmallest(limit, judged(), key=lambda row: row[0])
        self._strikes.clear()
        days_left: dict[date, int] = {}
        shown: list[ExpiringRow] = []
        for (day, _, _, symbol), quantity, osi, price, terms, outcome, pin in kept:
            if day not in days_left:
                days_left[day] = business_days_until(self.today, day)
            state: Literal["ITM", "ATM", "OTM"] | None = None
            intrinsic = distance = None
            if price is not None and terms is not None:
                where = contract_moneyness(osi, price, terms)
                state, distance = where.state.value, where.distance_pct
                intrinsic = intrinsic_per_contract(osi, price, terms)
            default = outcome.default or DefaultAtExpiry.UNKNOWN
            suggestion = _suggestion(outcome, quantity, terms, self.as_of, day, last_trade(osi.expiry, terms))
            shown.append(
                ExpiringRow(
                    _cut(symbol), quantity, days_left[day], state, distance, intrinsic, pin, default, suggestion
                )
            )
        by_default = {k.value: v for k, v in sorted(counts.items(), key=lambda kv: _ATTENTION[kv[0]])}
        settlement = None
        if settling or not_counted or counted:
            settlement = self._settlement(ledger, counted, not_counted, limit, shorts, view)
        watch = ExpiryWatch(
            window_business_days=self.window,
            through=self.through,
            count=count,
            by_default=by_default if len(shown) < count else None,  # else: the rows say it
            pin_risk=pinned or None,
            options=ExpiringTable(rows=shown),
            at_expiry=settlement,
        )
        return watch, shorts, by_default

    def _instructed(self, instrument_id: str, symbol: str) -> list[Instructed]:
        """The instructions in force on one option position (by instrument id, else by symbol)."""
        if not self._instructions:
            return []
        found = self._instructions.get(_norm(instrument_id))
        return found if found is not None else self._instructions.get(f"osi:{symbol_key(symbol)}", [])

    def _settlement(
        self,
        ledger: Ledger,
        counted: set[str],
        not_counted: int,
        limit: int,
        shorts: _Shorts,
        view: MarketView | None,
    ) -> ExpirySettlement:
        """What the ledger of the expiring options settles: cash (counted and named apart), the
        largest share moves by underlier, the underliers it leaves short, how many instructions count."""
        stock = self._stock
        proceeds = ledger.proceeds(lambda key: stock[key][5] if key in stock else ZERO)
        totals = ledger.totals()
        net = sum((ledger.counted(source, proceeds.get(source, ZERO)) for source in SOURCES), ZERO)
        moves: list[tuple[Decimal, str, Decimal]] = []  # min-heap (|shares|, key, shares) of the largest
        for key, amount in ledger.shares().items():
            if not amount:
                continue
            held = stock.get(key)
            now = held[1] if held is not None else ZERO
            if now >= 0 > now + amount:
                shorts.add(-(now + amount), key)
            item = (abs(amount), key, amount)
            if len(moves) < limit:
                heapq.heappush(moves, item)
            elif limit and item > moves[0]:
                heapq.heapreplace(moves, item)
        listed: dict[str, Decimal] = {}
        for _, key, amount in sorted(moves, key=lambda item: (-item[0], item[1])):
            label = self._label(key, view)
            listed[label] = _EXACT.add(listed.get(label, ZERO), amount)
        shorts.name(lambda key: self._label(key, view))
        sold = sum(proceeds.values(), ZERO)
        return ExpirySettlement(
            cash_out=_money(totals.cash_out),
            cash_in=_money(totals.cash_in),
            cash_settled=_money(totals.cash_settled) if totals.cash_settled else None,
            net_cash=_money(net),
            shares=listed,
            not_counted=not_counted or None,
            short_sale_proceeds=_money(sold) if sold else None,
            instructed=len(counted) or None,
        )

    def _notes(
        self,
        type_count: int,
        viewed: bool,
        view: MarketView | None,
        market_notes: list[str],
        fold: _Fold,
        d: _Delta,
    ) -> list[str]:
        notes: list[str] = []
        rows = self._rows
        if self._instruction_note is not None and self._expiring:  # first: it qualifies at_expiry, kept when cut
            notes.append(f"{self._instruction_note}: what expiry settles assumes no instruction in force")
        # What qualifies the headline totals comes first, then the delta, greeks and funds figures
        # (the budget cuts from the end). The P&L fields missing on the same rows share one note.
        missing_pnl: dict[int, list[str]] = {}
        for name, missing in zip(
            ("unrealized_pnl", "daily_unrealized_pnl", "daily_realized_pnl"), self._pnl_missing, strict=True
        ):
            if missing:
                missing_pnl.setdefault(missing, []).append(name)
        for missing, names in missing_pnl.items():
            fields = ", ".join(names)
            if rows and missing == rows:
                notes.append(f"{fields} missing on every position: {'total' if len(names) == 1 else 'totals'} omitted")
            else:
                notes.append(
                    f"{fields} missing on {counted(missing, 'position', 'positions')}: "
                    f"{'the total excludes' if len(names) == 1 else 'their totals exclude'} "
                    f"{'it' if missing == 1 else 'them'}"
                )
        if not viewed:
            if d.count:
                parts = (
                    ["no greeks: option delta unavailable", "contract terms assumed standard"] if self._option_n else []
                )
                notes.append("; ".join(["no market data: prices from the positions", *parts, "no balances"]))
        else:
            notes.extend(market_notes)
        if viewed and fold.no_greeks and self._option_n:
            notes.append(
                f"no greeks for {counted(fold.no_greeks.count, 'option', 'options')}{_examples(fold.no_greeks.examples)}: "
                "left out of delta and greeks"
            )
        if d.unpriced:
            notes.append(
                f"no price for {counted(d.unpriced.count, 'underlier', 'underliers')}: delta dollars, "
                f"notional and moneyness omitted{_examples(d.unpriced.examples)}"
            )
        if d.from_close:
            notes.append(
                f"{counted(d.from_close.count, 'underlier', 'underliers')} priced at a previous close"
                f"{_examples(d.from_close.examples)}"
            )
        if fold.adjusted:
            notes.append(
                f"no contract terms for {counted(fold.adjusted.count, 'adjusted option', 'adjusted options')} (root "
                f"ending in a digit): deliverable unknown, left out of delta, notional and expiry cash"
                f"{_examples(fold.adjusted.examples)}"
            )
        if fold.unconfirmed:
            notes.append(
                f"deliverable not confirmed for {counted(fold.unconfirmed.count, 'adjusted option', 'adjusted options')}"
                f"{_examples(fold.unconfirmed.examples)}: left out of delta, notional and expiry cash"
            )
        if viewed and fold.assumed_terms:
            notes.append(
                f"no contract terms for {counted(fold.assumed_terms.count, 'option', 'options')}: multiplier "
                f"from the standard default (domain.contracts){_examples(fold.assumed_terms.examples)}"
            )
        if viewed and (view is None or view.funds is None):
            notes.append("no balances: cash and buying power unknown")
        if fold.first is not None and fold.last is not None and fold.first != fold.last:
            notes.append(f"greeks computed from {fold.first.isoformat()} to {fold.last.isoformat()}")
        if self._foreign:
            notes.append(
                f"{counted(self._foreign, 'position belongs', 'positions belong')} to another account "
                f"than {self.account_id}: included in the totals"
            )
        if self._dupes:
            notes.append(
                f"{counted(self._dupes.count, 'instrument_id was', 'instrument_ids were')} read more "
                f"than once (book changed while paging?): counted each time"
                f"{_examples(self._dupes.examples)}"
            )
        unknown = sorted(self._unknown_types.items(), key=lambda kv: (-kv[1], kv[0]))
        for (kind, as_option), count in unknown[:EXAMPLES]:
            treated = "counted as options (OSI symbol)" if as_option else "counted as non-option exposure"
            notes.append(
                f"{counted(count, 'position has', 'positions have')} an unknown instrument_type {_cut(kind)!r}: {treated}"
            )
        if len(unknown) > EXAMPLES:
            notes.append(f"{len(unknown) - EXAMPLES} more unknown instrument_types")
        if type_count > TYPE_LIMIT:
            notes.append(f"by_type lists the {TYPE_LIMIT} largest of {type_count} instrument types")
        if self._no_price:
            notes.append(
                f"{counted(self._no_price.count, 'position has', 'positions have')} no instrument_price"
                f"{_examples(self._no_price.examples)}"
            )
        if self._bad_osi:
            notes.append(
                f"{counted(self._bad_osi.count, 'option symbol', 'option symbols')} could not be parsed "
                f"as OSI: no expiry, strike or right for them{_examples(self._bad_osi.examples)}"
            )
        if self._no_underlier_id:
            notes.append(
                f"{counted(self._no_underlier_id.count, 'option has', 'options have')} no "
                f"underlying_instrument_id: grouped by OSI root, no underlier price"
                f"{_examples(self._no_underlier_id.examples)}"
            )
        if self._expired:
            notes.append(
                f"{counted(self._expired.count, 'option is', 'options are')} past expiration but still "
                f"listed{_examples(self._expired.examples)}"
            )
        if self._flat:
            notes.append(
                f"{counted(self._flat.count, 'position has', 'positions have')} quantity 0{_examples(self._flat.examples)}"
            )
        if self._sign_mismatch:
            notes.append(
                f"{counted(self._sign_mismatch.count, 'position has', 'positions have')} a market_value "
                f"whose sign disagrees with quantity: counted with the quantity's sign"
                f"{_examples(self._sign_mismatch.examples)}"
            )
        if self._type_mismatch:
            notes.append(
                f"{counted(self._type_mismatch.count, 'position has', 'positions have')} a position_type "
                f"that disagrees with the quantity sign: quantity used"
                f"{_examples(self._type_mismatch.examples)}"
            )
        return notes


class _Shorts:
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


def _suggestion(
    outcome: Outcome, quantity: Decimal, terms: ContractTerms | None, as_of: datetime, day: date, last: LastTrade
) -> str:
    """What a row's contracts do and what can still be done: the instructions in force first (a
    contract they cover is never advised an instruction it already has), then the default's
    suggestion (:func:`.expiry.expiry_suggestion`) for the contracts they leave."""
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


def _with_warning(watch: ExpiryWatch, funds: Funds | None, shorted: _Shorts) -> ExpiryWatch:
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
        after = _EXACT.add(funds.trade_cash, settlement.net_cash)
        update["cash_after"] = _money(after)
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
    problems += [f"{label} would go short {qty(amount)} shares" for label, amount in shorted.named]
    if shorted.count > len(shorted.named):
        problems.append(f"{shorted.count - len(shorted.named)} more underliers would go short")
    if problems:
        # never advise a close outright: past a contract's last trade it cannot trade
        # (domain/last_trade.py); each row's suggestion says what can still be done for it
        update["warning"] = "; ".join(problems) + ": add funds, or act as each row's suggestion says"
    if not update:
        return watch
    return watch.model_copy(update={"at_expiry": settlement.model_copy(update=update)})


def _fit(
    summary: ExposureSummary, budget: int, small: bool, by_default: dict[str, int], top5: Decimal | None
) -> ExposureSummary:
    """Shorten the lists (their counts and every total stay complete) and then the notes until the
    compact JSON fits ``budget``. Expiring options, where decisions are due, are shortened last; a
    small book keeps every underlier and expiring option unless nothing else is left to shorten. A
    shortened list gets back the counts its rows no longer show (``by_default``, ``top5_pct``)."""
    if _json_size(summary) <= budget:
        return summary
    largest = list(summary.largest.rows) if summary.largest else []
    types = list(summary.by_type or ())
    underliers = list(summary.delta.by_underlier.rows) if summary.delta and summary.delta.by_underlier else []
    without = list((summary.delta.contracts_without_greeks or {}).items()) if summary.delta else []
    expiring = list(summary.expiring.options.rows) if summary.expiring else []
    settlement = summary.expiring.at_expiry if summary.expiring else None
    moves = list(settlement.shares.items()) if settlement else []
    notes = list(summary.notes)
    steps: list[tuple[list[Any], int]]
    if small:
        # by_type mostly repeats the options' premium beside the stock: it goes before the positions
        steps = [
            (largest, 5),
            (types, 0),
            (largest, 3),
            (without, 3),
            (notes, 2),
            (largest, 0),
            (notes, 0),
            (without, 0),
        ]
    else:
        steps = [
            (largest, 5),
            (underliers, 5),
            (largest, 3),
            (underliers, 3),
            (moves, 3),
            (expiring, 3),
            (largest, 1),
            (underliers, 1),
            (moves, 1),
            (expiring, 1),
            (without, 1),
            (notes, 0),
            (types, 0),
            (without, 0),
        ]
    steps += [(moves, 0), (underliers, 0), (largest, 0), (expiring, 0)]
    note_count = len(notes)

    def candidate() -> ExposureSummary:
        left_out = note_count - len(notes)
        cut = f"lists and {counted(left_out, 'note', 'notes')}" if left_out else "lists"
        extra = [f"{cut} cut to fit {budget} bytes; count fields and totals are complete"]
        update: dict[str, Any] = {  # a list cut whole is left out, never shown empty ("no shorts")
            "largest": summary.largest.model_copy(update={"rows": largest}) if largest and summary.largest else None,
            "by_type": types or None if summary.by_type else types,
            "notes": notes + extra,
        }
        if summary.delta:
            table = summary.delta.by_underlier
            delta_update: dict[str, Any] = {
                # a table cut whole is left out, never shown empty
                "by_underlier": table.model_copy(update={"rows": underliers}) if table and underliers else None,
                "contracts_without_greeks": dict(without) or None,
            }
            if len(underliers) < summary.delta.underliers:
                delta_update["top5_pct"] = top5
            update["delta"] = summary.delta.model_copy(update=delta_update)
        if summary.expiring:
            watch_update: dict[str, Any] = {"options": summary.expiring.options.model_copy(update={"rows": expiring})}
            if len(expiring) < summary.expiring.count:
                watch_update["by_default"] = by_default
            if settlement is not None:
                watch_update["at_expiry"] = settlement.model_copy(update={"shares": dict(moves)})
            update["expiring"] = summary.expiring.model_copy(update=watch_update)
        return summary.model_copy(update=update)

    current = candidate()
    for rows, floor in steps:
        while len(rows) > floor and _json_size(current) > budget:
            rows.pop()
            current = candidate()
    # a later cut may have made room for notes an earlier step dropped: take back what fits, in order
    for note in summary.notes[len(notes) :]:
        notes.append(note)
        trial = candidate()
        if _json_size(trial) > budget:
            notes.pop()
            break
        current = trial
    return current


def summarize_exposure(
    positions: Iterable[Position],
    *,
    account_id: int,
    environment: str,
    as_of: datetime,
    market: MarketView | None = None,
    today: date | None = None,
    expiry_window_business_days: int = 3,
    top_n: int = 10,
    underlier_limit: int = 10,
    expiring_limit: int = 5,
    max_json_bytes: int | None = MAX_JSON_BYTES,
    small_book: int = SMALL_BOOK_POSITIONS,
    instructions: Iterable[PositionInstruction] = (),
) -> ExposureSummary:
    """The exposure summary of ``positions`` in one go, with ``market`` when there is one and the
    account's ``instructions`` (see :class:`ExposureBuilder`)."""
    return (
        ExposureBuilder(
            account_id=account_id,
            environment=environment,
            as_of=as_of,
            today=today,
            expiry_window_business_days=expiry_window_business_days,
            top_n=top_n,
            underlier_limit=underlier_limit,
            expiring_limit=expiring_limit,
            max_json_bytes=max_json_bytes,
            small_book=small_book,
        )
        .add(positions)
        .instruct(instructions)
        .build(market)
    )
