"""What-if scenarios: the P&L and delta of a book after a price and volatility shock per underlier.
Pure, no I/O (the use-case layer reads the positions and fills :class:`~.market_view.MarketView`).

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
  (``_at_intrinsic``: new value = price + the change in intrinsic value, never below 0; delta 1 a
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
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from ..clearstreet.models import Position, PositionType, SecurityType
from .calendar import expiration_business_day, regular_session
from .contracts import ContractTerms, terms_for
from .expiry import in_the_money_by, intrinsic_per_contract
from .market_view import MarketView, Quote
from .numbers import CENT, DecimalString, NumberError, read_decimal
from .osi import OptionSymbol, symbol_key, try_parse_osi
from .resolve import display_symbol

__all__ = [
    "DEFAULT_RATE",
    "MAX_JSON_BYTES",
    "MAX_SHOCKS",
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

DEFAULT_RATE = Decimal("0.04")
"""The risk-free rate used unless the caller states another (continuously compounded, annual)."""
MAX_SHOCKS = 20
MAX_JSON_BYTES = 3000
"""Default budget of the result's compact JSON; lists are shortened (totals and counts kept)."""
MIN_PRICE_CHANGE_PCT = Decimal(-100)
MAX_PRICE_CHANGE_PCT = Decimal(1000)
MIN_VOLATILITY_CHANGE_PTS = Decimal(-100)
MAX_VOLATILITY_CHANGE_PTS = Decimal(1000)
SHOCK_PLACES = 4
"""Decimal places a shock may have (−12.3456 %): finer than any move a person means."""
MIN_RATE = Decimal("-0.1")
MAX_RATE = Decimal(1)

MIN_VOLATILITY = 0.01
"""The lowest volatility a shocked option is priced at (1 %): a shift past zero is floored, said in a note."""
SECONDS_PER_YEAR = 365 * 24 * 3600
SHARES_STEP = CENT
EXAMPLES = 3
LEFT_OUT_LINES = 10
HELD_SHOWN = 10
_ZERO = Decimal(0)
_OSI_MIN_LENGTH = 16  # root (≥ 1) + YYMMDD + C/P + 8 digits
_HUNDRED = Decimal(100)
_TEXT_WIDTH = 40  # a caller's underlier text is echoed cut to this many characters
_WIDE = 80  # decimal digits of the context sums run in: nothing is rounded but on purpose
_LINEAR_TYPES = frozenset({SecurityType.COMMON_STOCK, SecurityType.PREFERRED_STOCK})
_OPTION_POSITION_TYPES = frozenset(
    {PositionType.LONG_CALL, PositionType.SHORT_CALL, PositionType.LONG_PUT, PositionType.SHORT_PUT}
)

NOT_MODELLED = (
    "dividends",
    "early exercise (American valued as European)",
    "rate moves",
    "time decay",
    "skew (parallel volatility shift)",
)


# ----------------------------------------------------------------------------------------------
# Input


@dataclass(frozen=True, slots=True)
class Shock:
    """One row of a scenario. ``underlier``: an instrument UUID, ticker or OSI root, or None for
    every underlier no other row names. ``price_change_pct``: percent (−20 = −20 %).
    ``volatility_change_pts``: volatility points (+5 = σ + 0.05)."""

    underlier: str | None
    price_change_pct: Decimal
    volatility_change_pts: Decimal = field(default=_ZERO)

    def __post_init__(self) -> None:
        if self.underlier is not None and (not isinstance(self.underlier, str) or not symbol_key(self.underlier)):
            raise ScenarioError(
                ScenarioCode.INVALID_SHOCK,
                f"underlier must be an instrument UUID, a ticker or an OSI root, or omitted, got {self.underlier!r}",
            )
        for name, low, high in (
            ("price_change_pct", MIN_PRICE_CHANGE_PCT, MAX_PRICE_CHANGE_PCT),
            ("volatility_change_pts", MIN_VOLATILITY_CHANGE_PTS, MAX_VOLATILITY_CHANGE_PTS),
        ):
            object.__setattr__(self, name, _exact(getattr(self, name), name, low, high))


def _exact(value: Any, name: str, low: Decimal, high: Decimal) -> Decimal:
    """A Decimal (or int) as given, bounded (:func:`.numbers.read_decimal`: range, places, digits,
    exponent) and canonical; a float or bool is refused: amounts are never binary floats."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"{name} must be a Decimal, never a float ({value!r:.40})")
    try:
        return read_decimal(value, low=low, high=high, places=SHOCK_PLACES)
    except NumberError as exc:
        raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"{name} {exc}") from None


class ScenarioCode(StrEnum):
    UNKNOWN_UNDERLIER = "UNKNOWN_UNDERLIER"
    INVALID_SHOCK = "INVALID_SHOCK"


class ScenarioError(ValueError):
    """The shocks cannot be applied as given. ``str()`` says why and what to do; ``held`` lists
    (some of) the underliers the account holds, for an unknown one."""

    def __init__(self, code: ScenarioCode, message: str, held: tuple[str, ...] = ()) -> None:
        self.code = code
        self.message = message
        self.held = held
        super().__init__(message)


# ----------------------------------------------------------------------------------------------
# Result models


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # No return annotation on purpose: pydantic then keeps the model's own serialization schema.
    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class AppliedShock(_Result):
    underlier: str | None = Field(None, description="The underlier the row names, as given; absent: every other one.")
    price_change_pct: DecimalString = Field(description="Underlier price change, percent (−20 = × 0.80).")
    volatility_change_pts: DecimalString = Field(description="Added to each implied volatility, points (+5 = +0.05).")
    underliers: int = Field(description="Underliers of the book this row was applied to (0: overridden).")


class ScenarioMethod(_Result):
    model: str = "Black-Scholes-Merton, European; each option fully revalued"
    rate: DecimalString = Field(description="Risk-free rate, annual, continuously compounded; not shocked.")
    dividends: DecimalString = Field(_ZERO, description="Dividend yield assumed (none).")
    time_to_expiry: str = (
        "ACT/365 from as_of to 16:00 ET (13:00 on an early close; 09:30 if AM-settled) on the expiration "
        "business day; unchanged by the shock"
    )
    volatility: str = (
        "implied from each option's price, + volatility_change_pts / 100, floored at 1 %; "
        "an option priced at or below its lower bound (no volatility fits) moves with its intrinsic value"
    )
    delta: str = "this model's, not the API's greeks"
    prices: str = "instrument_price, else snapshot (spot: last, mid; option: mid, last), else closing price"
    not_modelled: tuple[str, ...] = NOT_MODELLED
    shocks: list[AppliedShock] = Field(description="The rows given, in order (row 1 first), and what each applied to.")


class UnderlierScenario(_Result):
    underlier: str = Field(description="Ticker of the underlier (the OSI root when nothing else names it).")
    shock_row: int = Field(description="The row of method.shocks applied to it.")
    spot: DecimalString | None = Field(None, description="Underlier price before the shock; absent when unknown.")
    shocked_spot: DecimalString | None = Field(None, description="Underlier price after the shock.")
    pnl: DecimalString = Field(
        description="P&L of the positions revalued, USD: stock quantity × (shocked − spot); options (new − "
        "current price) × contracts × multiplier; each position rounded to the cent."
    )
    options_pnl: DecimalString | None = Field(None, description="The options' part of pnl.")
    delta_shares_before: DecimalString | None = Field(
        None,
        description="Share-equivalent delta now: stock quantity + Σ contracts × multiplier × BSM delta "
        "(× deliverable / multiplier for an adjusted contract; index units for index options).",
    )
    delta_shares_after: DecimalString | None = Field(None, description="Share-equivalent delta after the shock.")
    delta_dollars_before: DecimalString | None = Field(None, description="delta_shares_before × spot, USD.")
    delta_dollars_after: DecimalString | None = Field(None, description="delta_shares_after × shocked_spot, USD.")
    options_revalued: int = 0
    options_at_intrinsic: int | None = Field(
        None, description="Of options_revalued: no implied volatility, moved with their intrinsic value (method)."
    )
    options_not_revalued: int | None = Field(None, description="Left out of pnl and delta (see left_out).")


class ScenarioTotals(_Result):
    pnl: DecimalString = Field(description="Σ P&L of every underlier (all, not only those listed), USD.")
    delta_dollars_before: DecimalString = Field(description="Σ delta_dollars_before of every underlier, USD.")
    delta_dollars_after: DecimalString = Field(description="Σ delta_dollars_after of every underlier, USD.")
    underliers: int = Field(description="Underliers shocked.")
    stock_positions: int = Field(description="Stock and ETF positions revalued.")
    options_revalued: int
    options_at_intrinsic: int = Field(
        description="Of options_revalued: no implied volatility, moved with their intrinsic value (method)."
    )
    options_not_revalued: int = Field(description="Options of shocked underliers left out (see left_out).")


class ScenarioResult(_Result):
    as_of: AwareDatetime
    environment: str
    account_id: int
    method: ScenarioMethod
    total: ScenarioTotals
    by_underlier: list[UnderlierScenario] = Field(description="The underliers with the largest |P&L|, largest first.")
    left_out: list[str] | None = Field(
        None, description="What is not in pnl and delta, by reason, with a count and examples: never cut."
    )
    notes: list[str] = Field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Accumulation


class _Examples:
    """A count and the first few display symbols."""

    __slots__ = ("count", "examples")

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def hit(self, symbol: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(display_symbol(symbol)[:32])


@dataclass(slots=True)
class _Underlier:
    key: str
    instrument_id: str | None = None
    """The underlier's own instrument id, as the API spells it (for the snapshot)."""
    label: str | None = None
    held_price: Decimal | None = None
    held_close: Decimal | None = None
    stocks: list[Position] = field(default_factory=list)
    options: list[tuple[Position, OptionSymbol]] = field(default_factory=list)
    roots: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Outcome:
    label: str
    row: int
    spot: Decimal | None
    shocked_spot: Decimal | None
    pnl: Decimal
    options_pnl: Decimal | None
    shares_before: Decimal | None
    shares_after: Decimal | None
    dollars_before: Decimal | None
    dollars_after: Decimal | None
    options_revalued: int
    options_not_revalued: int
    options_at_intrinsic: int
    stocks_revalued: int


def _is_option(position: Position) -> bool:
    return position.instrument_type == SecurityType.OPTION or position.position_type in _OPTION_POSITION_TYPES


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def _tidy(value: Decimal) -> Decimal:
    """A price for display: to the cent when that is exact, else without trailing zeros."""
    cents = value.quantize(CENT)
    return cents if cents == value else value.normalize()


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _examples(items: Sequence[str], count: int) -> str:
    """``: A, B, C …`` — the first :data:`EXAMPLES` of ``count`` items, with … when there are more."""
    shown = list(items[:EXAMPLES])
    return f": {', '.join(shown)}{' …' if count > len(shown) else ''}" if shown else ""


# ----------------------------------------------------------------------------------------------
# The scenario


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
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if isinstance(rate, bool) or not isinstance(rate, Decimal | int) or not Decimal(rate).is_finite():
        raise ValueError(f"rate must be a finite Decimal, got {rate!r}")
    rate = Decimal(rate)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"rate must be from {MIN_RATE} to {MAX_RATE}, got {_plain(rate)}")
    rows = list(shocks)
    if not 1 <= len(rows) <= MAX_SHOCKS:
        raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"give 1 to {MAX_SHOCKS} shocks, got {len(rows)}")
    for row in rows:
        if not isinstance(row, Shock):
            raise ScenarioError(ScenarioCode.INVALID_SHOCK, f"each shock must be a Shock, got {type(row).__name__}")

    with localcontext() as ctx:
        ctx.prec = _WIDE
        book = _Book(market)
        book.add(positions)
        assigned, applied_shocks, row_notes = _assign(book, rows)
        outcomes = [
            _revalue(book, underlier, rows[row - 1], row, float(rate), now)
            for underlier, row in ((book.underliers[key], row) for key, row in assigned.items())
        ]
        result = _result(book, outcomes, applied_shocks, row_notes, rate, now, account_id, environment, top_n)
    if max_json_bytes is not None:
        result = _fit(result, max_json_bytes)
    return result


class _Book:
    """The positions by underlier key, the names that resolve to each key, and what is left out."""

    def __init__(self, market: MarketView) -> None:
        self.market = market
        self.underliers: dict[str, _Underlier] = {}
        self.names: dict[str, set[str]] = {}
        self.cash = _Examples()
        self.other_types: dict[str, _Examples] = {}
        self.bad_symbol = _Examples()
        self.skipped: dict[str, _Examples] = {}
        """Options and stock not revalued, by reason (filled while revaluing)."""
        self.floored = _Examples()  # options whose shocked volatility fell below MIN_VOLATILITY
        self.at_intrinsic = _Examples()  # options without implied volatility, moved with their intrinsic value
        self.from_close = _Examples()
        self.spot_from_close: list[str] = []
        self._quotes_lower: dict[str, Quote] | None = None
        self._default_terms: dict[tuple[str, bool], ContractTerms] = {}
        self._settlements: dict[tuple[date, bool], datetime] = {}

    def _name(self, name: str, key: str) -> None:
        if name:
            self.names.setdefault(name, set()).add(key)

    def add(self, positions: Iterable[Position]) -> None:
        for position in positions:
            if position.instrument_type == SecurityType.CASH:
                self.cash.hit(position.symbol)
                continue
            # resolve.underlier_key and the names resolve.underlier_keys accepts, by the same rules
            # with one OSI parse (tests check that they agree): the key is the underlier's id, else
            # ``root:<root>`` for an option without one, else the position's own id; the names are
            # its id, and with an OSI symbol its root and underlier id, else its symbol.
            # (An OSI symbol has at least 16 characters: shorter ones, tickers, are not parsed.)
            option = try_parse_osi(position.symbol) if len(position.symbol) >= _OSI_MIN_LENGTH else None
            underlier_id = (position.underlying_instrument_id or "").strip()
            if underlier_id:
                key = underlier_id.lower()
            elif option is not None and position.instrument_type != SecurityType.COMMON_STOCK:
                key = f"root:{option.root}"
            else:
                key = position.instrument_id.strip().lower()
            underlier = self.underliers.get(key)
            if underlier is None:
                underlier = self.underliers[key] = _Underlier(key)
            self._name(position.instrument_id.strip().upper(), key)
            if option is not None:
                self._name(option.root, key)
                self._name(underlier_id.upper(), key)
            else:
                self._name(symbol_key(position.symbol), key)
            if _is_option(position):
                if underlier_id and underlier.instrument_id is None:
                    underlier.instrument_id = underlier_id
                if option is None:
                    self.bad_symbol.hit(position.symbol)
                    continue
                underlier.roots.add(option.root)
                underlier.options.append((position, option))
                continue
            underlier.instrument_id = position.instrument_id.strip()
            underlier.label = position.symbol.strip()
            if position.instrument_type not in _LINEAR_TYPES:
                self.other_types.setdefault(str(position.instrument_type), _Examples()).hit(position.symbol)
                continue
            if position.instrument_price is not None:
                underlier.held_price = position.instrument_price
            if position.closing_price is not None:
                underlier.held_close = position.closing_price
            underlier.stocks.append(position)

    def quote(self, instrument_id: str | None) -> Quote | None:
        if not instrument_id:
            return None
        found = self.market.quotes.get(instrument_id)
        if found is None:
            if self._quotes_lower is None:
                self._quotes_lower = {k.strip().lower(): q for k, q in self.market.quotes.items()}
            found = self._quotes_lower.get(instrument_id.strip().lower())
        return found

    def label(self, underlier: _Underlier) -> str:
        if underlier.label:
            return underlier.label
        quote = self.quote(underlier.instrument_id)
        if quote is not None and quote.symbol.strip():
            return quote.symbol.strip()
        if underlier.roots:
            return min(underlier.roots, key=lambda root: (len(root), root))
        return underlier.key.removeprefix("root:")

    def terms(self, position: Position, option: OptionSymbol) -> ContractTerms | None:
        """The contract endpoint's terms, else :func:`.contracts.terms_for` (which, without a
        contract row, depends only on the root and whether the underlier is an index: cached)."""
        terms = self.market.terms.get(position.instrument_id)
        if terms is not None:
            return terms
        fallback = (option.root, position.underlying_instrument_type == SecurityType.INDEX)
        terms = self._default_terms.get(fallback)
        if terms is None:
            try:
                terms = self._default_terms[fallback] = terms_for(position)
            except ValueError:
                return None
        return terms

    def years(self, option: OptionSymbol, terms: ContractTerms, now: datetime) -> float:
        """Years (ACT/365) from ``now`` to the option's settlement instant."""
        at_open = bool(terms.is_settle_on_open)
        instant = self._settlements.get((option.expiry, at_open))
        if instant is None:
            instant = self._settlements[(option.expiry, at_open)] = _settlement(option.expiry, at_open)
        return (instant - now).total_seconds() / SECONDS_PER_YEAR

    def skip(self, reason: str, symbol: str) -> None:
        self.skipped.setdefault(reason, _Examples()).hit(symbol)


def _assign(book: _Book, rows: list[Shock]) -> tuple[dict[str, int], list[AppliedShock], list[str]]:
    """``underlier key -> 1-based row`` for every shocked underlier, the rows as applied, notes."""
    named: dict[str, int] = {}
    general: int | None = None
    notes: list[str] = []
    for number, shock in enumerate(rows, start=1):
        if shock.underlier is None:
            if general is not None:
                notes.append(f"row {general} (every underlier) is replaced by row {number}")
            general = number
            continue
        keys = book.names.get(symbol_key(shock.underlier), set()) & book.underliers.keys()
        if not keys:
            held = tuple(sorted({book.label(u) for u in book.underliers.values()}))
            shown = ", ".join(held[:HELD_SHOWN]) + (
                f" and {len(held) - HELD_SHOWN} more" if len(held) > HELD_SHOWN else ""
            )
            raise ScenarioError(
                ScenarioCode.UNKNOWN_UNDERLIER,
                f"Row {number}: the account holds no stock or option whose underlier is "
                f"{shock.underlier.strip()[:_TEXT_WIDTH]!r}. "
                + (f"Underliers held: {shown}. " if held else "It holds no stock or option. ")
                + "Pass an instrument UUID, a ticker or an OSI root of one of them, or omit "
                "underlying_instrument_id to shock every underlier.",
                held,
            )
        for key in keys:
            named[key] = number
    # A named row beats the row without underlier, whatever their order (the later of two alike wins).
    assigned: dict[str, int] = {}
    for key in book.underliers:
        row = named.get(key, general)
        if row is not None:
            assigned[key] = row
    counts: dict[int, int] = {}
    for row in assigned.values():
        counts[row] = counts.get(row, 0) + 1
    applied = [
        AppliedShock(
            underlier=None if shock.underlier is None else shock.underlier.strip()[:_TEXT_WIDTH],
            price_change_pct=shock.price_change_pct,
            volatility_change_pts=shock.volatility_change_pts,
            underliers=counts.get(number, 0),
        )
        for number, shock in enumerate(rows, start=1)
    ]
    if not book.underliers:
        notes.append("the account holds no stock, ETF or option: nothing to shock")
        return assigned, applied, notes
    for number, shock_row in enumerate(applied, start=1):
        if shock_row.underliers == 0 and (shock_row.underlier is not None or number == general):
            what = shock_row.underlier or "every other underlier"
            notes.append(f"row {number} ({what}) applies to no underlier: later or named rows override it")
    unshocked = [book.label(u) for key, u in book.underliers.items() if key not in assigned]
    if unshocked:
        notes.append(
            f"{_n(len(unshocked), 'underlier is', 'underliers are')} not shocked (no row names them, "
            f"no row without underlier){_examples(sorted(unshocked), len(unshocked))}"
        )
    return assigned, applied, notes


def _settlement(expiry: date, at_open: bool) -> datetime:
    """The regular close of the expiration business day (16:00 ET, 13:00 on an early close), or
    its open (09:30 ET) for an AM-settled contract."""
    session = regular_session(expiration_business_day(expiry))
    assert session is not None  # an expiration business day is a business day
    return session[0] if at_open else session[1]


def _spot(book: _Book, underlier: _Underlier) -> tuple[Decimal | None, bool]:
    """The underlier's price and whether it is a close (the freshest first)."""
    if underlier.held_price is not None:
        return underlier.held_price, False
    quote = book.quote(underlier.instrument_id)
    if quote is not None:
        for value in (quote.last, quote.midpoint):
            if value is not None:
                return value, False
    if underlier.held_close is not None:
        return underlier.held_close, True
    return (quote.previous_close, True) if quote is not None else (None, False)


def _option_price(book: _Book, position: Position) -> Decimal | None:
    if position.instrument_price is not None:
        return position.instrument_price
    quote = book.quote(position.instrument_id)
    if quote is not None:
        for value in (quote.midpoint, quote.last):
            if value is not None:
                return value
    if position.closing_price is not None:
        book.from_close.hit(position.symbol)
        return position.closing_price
    return None


def _float(value: float) -> Decimal:
    return Decimal(repr(value))


@dataclass(frozen=True, slots=True)
class _Priced:
    """One option revalued: its P&L (to the cent) and share-equivalent deltas before and after."""

    change: Decimal
    before: Decimal
    after: Decimal
    at_intrinsic: bool


def _option(
    book: _Book,
    position: Position,
    option: OptionSymbol,
    spot: Decimal,
    shocked: Decimal,
    vol_shift: float,
    rate: float,
    now: datetime,
) -> _Priced | str:
    """The option revalued (module docstring), or why it cannot be (the reason the notes give)."""
    from .pricing import NoImpliedVolatility, bsm_delta, bsm_price, implied_volatility

    price = _option_price(book, position)
    if price is None or not price.is_finite() or price < 0:
        return "no option price"
    terms = book.terms(position, option)
    if terms is None:
        return "unreadable contract terms"
    if option.strike <= 0:
        return "strike 0"
    years = book.years(option, terms, now)
    if years <= 0:
        return "past its settlement time"
    # An adjusted physical contract is an option on deliverable / multiplier shares per unit.
    ratio = Decimal(1) if terms.settlement == "CASH" else terms.deliverable_shares / terms.multiplier
    units = position.quantity * terms.multiplier
    is_call, strike = option.is_call, float(option.strike)
    try:
        volatility = implied_volatility(float(price), float(spot * ratio), strike, years, rate, is_call=is_call)
    except NoImpliedVolatility as exc:
        if exc.bound == "at or above the upper bound":
            return f"price {exc.bound}: no implied volatility"
        return _at_intrinsic(position, option, terms, price, spot, shocked, units * ratio)
    shocked_volatility = volatility + vol_shift
    if shocked_volatility < MIN_VOLATILITY:  # a shift past zero: the option at the floor, said
        shocked_volatility = MIN_VOLATILITY
        book.floored.hit(position.symbol)
    new_price = bsm_price(float(shocked * ratio), strike, years, shocked_volatility, rate, is_call=is_call)
    before = bsm_delta(float(spot * ratio), strike, years, volatility, rate, is_call=is_call)
    after = bsm_delta(float(shocked * ratio), strike, years, shocked_volatility, rate, is_call=is_call)
    return _Priced(
        change=((_float(new_price) - price) * units).quantize(CENT, rounding=ROUND_HALF_EVEN),
        before=units * ratio * _float(before),
        after=units * ratio * _float(after),
        at_intrinsic=False,
    )


def _at_intrinsic(
    position: Position,
    option: OptionSymbol,
    terms: ContractTerms,
    price: Decimal,
    spot: Decimal,
    shocked: Decimal,
    shares: Decimal,
) -> _Priced:
    """An option priced at or below the European lower bound has no implied volatility: no time
    value is left in its price, so it moves with its intrinsic value
    (:func:`.expiry.intrinsic_per_contract`, exact). An American option is never worth less than
    its intrinsic value: it can be exercised for it at any time before expiration (OCC By-Laws,
    Article I, the definition of an American-style option). New value a contract = price ×
    multiplier + the change in intrinsic value, never below 0; delta ±1 a deliverable share in the
    money, else 0; the volatility shock does not apply. ``shares``: contracts × multiplier ×
    deliverable / multiplier (the delta of 1 a share)."""
    held = price * terms.multiplier
    moved = intrinsic_per_contract(option, shocked, terms) - intrinsic_per_contract(option, spot, terms)
    change = max(moved, -held) * position.quantity
    sign = 1 if option.is_call else -1

    def delta(at: Decimal) -> Decimal:
        return shares * sign if in_the_money_by(option, at, terms) > 0 else _ZERO

    return _Priced(
        change=change.quantize(CENT, rounding=ROUND_HALF_EVEN),
        before=delta(spot),
        after=delta(shocked),
        at_intrinsic=True,
    )


def _revalue(book: _Book, underlier: _Underlier, shock: Shock, row: int, rate: float, now: datetime) -> _Outcome:
    label = book.label(underlier)
    spot, from_close = _spot(book, underlier)
    if spot is not None and (not spot.is_finite() or spot <= 0):
        spot = None
    elif spot is not None and from_close:
        book.spot_from_close.append(label)
    shocked = None if spot is None else spot * (1 + shock.price_change_pct / _HUNDRED)
    pnl = _ZERO
    shares_before = shares_after = _ZERO
    stocks = 0
    for position in underlier.stocks:
        if spot is None or shocked is None:
            book.skip("no price for the stock", position.symbol)
            continue
        pnl += (position.quantity * (shocked - spot)).quantize(CENT, rounding=ROUND_HALF_EVEN)
        stocks += 1
        shares_before += position.quantity
        shares_after += position.quantity

    options_pnl = _ZERO
    revalued = not_revalued = at_intrinsic = 0
    vol_shift = float(shock.volatility_change_pts / _HUNDRED)
    for position, option in underlier.options:
        if spot is None or shocked is None:
            priced: _Priced | str = "no underlier price"
        else:
            priced = _option(book, position, option, spot, shocked, vol_shift, rate, now)
        if isinstance(priced, str):
            book.skip(priced, position.symbol)
            not_revalued += 1
            continue
        if priced.at_intrinsic:
            book.at_intrinsic.hit(position.symbol)
            at_intrinsic += 1
        options_pnl += priced.change
        shares_before += priced.before
        shares_after += priced.after
        revalued += 1

    pnl += options_pnl
    has_delta = revalued > 0 or stocks > 0
    before_shares = shares_before.quantize(SHARES_STEP, rounding=ROUND_HALF_EVEN) if has_delta else None
    after_shares = shares_after.quantize(SHARES_STEP, rounding=ROUND_HALF_EVEN) if has_delta else None
    return _Outcome(
        label=label,
        row=row,
        spot=spot,
        shocked_spot=None if shocked is None else _tidy(shocked),
        pnl=pnl,
        options_pnl=options_pnl if underlier.options else None,
        shares_before=before_shares,
        shares_after=after_shares,
        dollars_before=None
        if before_shares is None or spot is None
        else (shares_before * spot).quantize(CENT, rounding=ROUND_HALF_EVEN),
        dollars_after=None
        if after_shares is None or shocked is None
        else (shares_after * shocked).quantize(CENT, rounding=ROUND_HALF_EVEN),
        options_revalued=revalued,
        options_not_revalued=not_revalued,
        options_at_intrinsic=at_intrinsic,
        stocks_revalued=stocks,
    )


def _result(
    book: _Book,
    outcomes: list[_Outcome],
    applied: list[AppliedShock],
    row_notes: list[str],
    rate: Decimal,
    now: datetime,
    account_id: int,
    environment: str,
    top_n: int,
) -> ScenarioResult:
    ranked = sorted(outcomes, key=lambda o: (-abs(o.pnl), o.label))
    # the underliers a row names (what the person asked about) are listed whatever their size
    named = _named_rows(applied)
    kept = {id(o) for o in sorted(ranked, key=lambda o: o.row not in named)[: max(0, top_n)]}
    total = ScenarioTotals(
        pnl=sum((o.pnl for o in outcomes), _ZERO),
        delta_dollars_before=sum((o.dollars_before or _ZERO for o in outcomes), _ZERO),
        delta_dollars_after=sum((o.dollars_after or _ZERO for o in outcomes), _ZERO),
        underliers=len(outcomes),
        stock_positions=sum(o.stocks_revalued for o in outcomes),
        options_revalued=sum(o.options_revalued for o in outcomes),
        options_at_intrinsic=sum(o.options_at_intrinsic for o in outcomes),
        options_not_revalued=sum(o.options_not_revalued for o in outcomes),
    )
    rows = [
        UnderlierScenario(
            underlier=o.label,
            shock_row=o.row,
            spot=o.spot,
            shocked_spot=o.shocked_spot,
            pnl=o.pnl,
            options_pnl=o.options_pnl,
            delta_shares_before=o.shares_before,
            delta_shares_after=o.shares_after,
            delta_dollars_before=o.dollars_before,
            delta_dollars_after=o.dollars_after,
            options_revalued=o.options_revalued,
            options_at_intrinsic=o.options_at_intrinsic or None,
            options_not_revalued=o.options_not_revalued or None,
        )
        for o in ranked
        if id(o) in kept
    ]
    return ScenarioResult(
        as_of=now,
        environment=environment,
        account_id=account_id,
        method=ScenarioMethod(rate=rate, shocks=applied),
        total=total,
        by_underlier=rows,
        left_out=_left_out(book) or None,
        notes=row_notes + _notes(book, len(outcomes), len(rows)),
    )


def _named_rows(shocks: list[AppliedShock]) -> set[int]:
    """The 1-based numbers of the rows that name an underlier (what the person asked about)."""
    return {number for number, shock in enumerate(shocks, start=1) if shock.underlier is not None}


def _left_out(book: _Book) -> list[str]:
    """What is in no P&L and no delta, one line a reason, each with its count and first examples
    (at most :data:`LEFT_OUT_LINES` lines: the rest are counted on the last)."""
    lines = [
        f"{_n(hits.count, 'position', 'positions')} not revalued ({reason}): left out of P&L and "
        f"delta{_examples(hits.examples, hits.count)}"
        for reason, hits in sorted(book.skipped.items(), key=lambda item: (-item[1].count, item[0]))
    ]
    if book.bad_symbol.count:
        lines.append(
            f"{_n(book.bad_symbol.count, 'option has', 'options have')} no OSI symbol (no strike, "
            f"expiry or right): not revalued{_examples(book.bad_symbol.examples, book.bad_symbol.count)}"
        )
    for kind, hits in sorted(book.other_types.items(), key=lambda item: (-item[1].count, item[0])):
        lines.append(
            f"{_n(hits.count, 'position', 'positions')} of instrument_type {kind[:24]!r} not "
            f"revalued{_examples(hits.examples, hits.count)}"
        )
    if len(lines) > LEFT_OUT_LINES:
        rest = len(lines) - LEFT_OUT_LINES + 1
        lines = [*lines[: LEFT_OUT_LINES - 1], f"and {rest} more reasons (other instrument types) not revalued"]
    return lines


def _notes(book: _Book, underliers: int, shown: int) -> list[str]:
    notes: list[str] = []
    if book.at_intrinsic.count:
        notes.append(
            f"{_n(book.at_intrinsic.count, 'option is', 'options are')} priced at or below the European lower "
            "bound (no implied volatility): moved with intrinsic value, not with Black-Scholes-Merton"
            f"{_examples(book.at_intrinsic.examples, book.at_intrinsic.count)}"
        )
    if book.floored.count:
        notes.append(
            f"{_n(book.floored.count, 'option', 'options')}: the shock takes the implied volatility below "
            f"{MIN_VOLATILITY:.0%}, so {MIN_VOLATILITY:.0%} is used{_examples(book.floored.examples, book.floored.count)}"
        )
    if book.from_close.count:
        notes.append(
            f"{_n(book.from_close.count, 'option is', 'options are')} priced at the position's "
            f"closing_price (no current price): implied volatility from that close"
            f"{_examples(book.from_close.examples, book.from_close.count)}"
        )
    if book.spot_from_close:
        notes.append(
            f"{_n(len(book.spot_from_close), 'underlier is', 'underliers are')} priced at the "
            f"closing_price (no current price){_examples(book.spot_from_close, len(book.spot_from_close))}"
        )
    if book.cash.count:
        notes.append(f"{_n(book.cash.count, 'cash position', 'cash positions')} not shocked")
    if shown < underliers:
        notes.append(f"by_underlier lists the {shown} largest |P&L| of {underliers} underliers")
    return notes


def _json_size(result: ScenarioResult) -> int:
    return len(result.model_dump_json().encode())


def _fit(result: ScenarioResult, budget: int) -> ScenarioResult:
    """Shorten ``by_underlier`` (to one row), then the notes, then ``by_underlier`` to none, until
    the compact JSON fits ``budget``; totals, counts and the method stay whole. The underliers a row
    names (what the person asked about) go last."""
    if _json_size(result) <= budget:
        return result
    named = _named_rows(result.method.shocks)
    rows = sorted(
        result.by_underlier, key=lambda outcome: outcome.shock_row not in named
    )  # named first; cut from the tail
    order = {id(outcome): index for index, outcome in enumerate(result.by_underlier)}
    notes = list(result.notes)
    note_count = len(notes)

    def candidate() -> ScenarioResult:
        extra = [f"lists shortened to fit {budget} bytes (totals and counts are complete)"]
        if len(notes) < note_count:
            extra.append(f"{note_count - len(notes)} more notes left out")
        shown = sorted(rows, key=lambda outcome: order[id(outcome)])  # back in the result's order
        return result.model_copy(update={"by_underlier": shown, "notes": notes + extra})

    current = candidate()
    for items, floor in ((rows, 1), (notes, 0), (rows, 0)):
        while len(items) > floor and _json_size(current) > budget:
            items.pop()
            current = candidate()
    return current
