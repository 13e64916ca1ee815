"""The exposure summary of one account: totals, breakdowns, options by underlier, expiring options.

Pure, no I/O. :class:`ExposureBuilder` is a streaming accumulator: the MCP layer feeds it each page
of positions as it arrives (``add``) and asks for the summary at the end (``build``). Each position
costs O(1) plain-Python work (no model construction, no full OSI parse per row); ``build`` works on
the distinct underliers and the expiring options only, and its result has a bounded size whatever
the size of the book: top-N lists plus counts, never every row, and a byte budget on the JSON.

Definitions (decisions, stated once):

* **Side** comes from the sign of ``quantity``: long ``> 0``, short ``< 0``. ``position_type`` is not
  trusted (seed-era rows say ``LONG_CALL`` etc.); a disagreement is reported as a note.
* **Long / short market value** = Σ ``|market_value|`` of the long rows / Σ ``−|market_value|`` of
  the short rows: the side, and so the sign, comes from the quantity. A row whose reported value
  has the other sign (a short reported positive) is counted with the quantity's sign and noted,
  never added with the wrong sign (a row with quantity 0 and a value is filed by the sign of its
  value, so that long + short = net always). **Gross** = Σ ``|market_value|``, **net** = long + short.
* **CASH** rows are not exposure: they are left out of long/short/gross/net, the type breakdown,
  the largest positions and the concentration, and reported as ``cash`` instead. They still count
  in ``positions`` and in the P&L totals.
* **P&L totals** are Σ of the rows that report the field; rows that leave it empty are counted in a
  note. A total is omitted when no row of a non-empty book reports the field at all.
* An **option** is a row with ``instrument_type == OPTION`` (or a seed-era option ``position_type``).
  Contracts are quantities; notional = (long + short contracts) × 100 × underlier price.
* The **underlier price** comes from a non-option row of the same book whose ``instrument_id`` is the
  option's ``underlying_instrument_id``: its ``instrument_price``, else its ``closing_price`` (noted).
  Rows arrive in any order across pages, so prices are looked up in ``build``.
* **Expiring**: options whose expiration business day (the expiry, or the business day before it
  when the expiry is not a business day) is within ``expiry_window_business_days`` business days
  of ``today`` (today counts as 0), sorted by that day, then the ones needing a decision first.
* **Default at expiry** and the **suggestion**: :func:`.expiry.default_at_expiry` (OCC Rule 805(d)
  exercise by exception at $0.01, the one rule the instruction planner uses too) and
  :func:`.expiry.expiry_suggestion` (what can still be done at ``as_of``: after the day's exercise
  cutoff, or after the close for closing trades, nothing through this server).
* All sums are exact: they run in a decimal context wide enough that nothing is ever rounded.
  Percentages are rounded to 0.01 (banker's rounding). Fields that are None are left out of the
  serialised form, so the JSON carries only what is known.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import MAX_PREC, Decimal, localcontext
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from ..clearstreet.models import Position, PositionType, SecurityType
from .calendar import NEW_YORK, business_days_until, expiration_business_day, next_business_day
from .expiry import DefaultAtExpiry, default_at_expiry, expiry_suggestion
from .moneyness import moneyness
from .numbers import OPTION_MULTIPLIER, DecimalString, percent
from .osi import parse_osi, try_parse_osi

__all__ = [
    "MAX_JSON_BYTES",
    "Concentration",
    "DefaultAtExpiry",
    "ExpiringOption",
    "ExpiryWatch",
    "ExposureBuilder",
    "ExposureSummary",
    "LargestPosition",
    "OptionsOverview",
    "SideExposure",
    "TypeExposure",
    "UnderlierOptions",
    "summarize_exposure",
]

MAX_JSON_BYTES = 3000
"""Default budget of the summary's compact JSON; lists are shortened (counts kept) to meet it."""
ZERO = Decimal(0)
EXAMPLES = 3  # at most this many example symbols in a note
TYPE_LIMIT = 8  # at most this many instrument types in the breakdown
_EXAMPLE_WIDTH = 32  # example strings in notes are cut to this many characters

_SEED_OPTION_TYPES = frozenset(
    {PositionType.LONG_CALL, PositionType.SHORT_CALL, PositionType.LONG_PUT, PositionType.SHORT_PUT}
)
_LONG_TYPES = frozenset({PositionType.LONG, PositionType.LONG_CALL, PositionType.LONG_PUT})
_SHORT_TYPES = frozenset({PositionType.SHORT, PositionType.SHORT_CALL, PositionType.SHORT_PUT})
_KNOWN_TYPES = frozenset(SecurityType)

# The OSI renderings the upstream sends: padded, single-space, compact; upper-case ASCII only.
# Whatever this accepts, parse_osi accepts with the same meaning (tests/test_exposure.py checks);
# anything else goes through parse_osi itself.
_FAST_OSI = re.compile(r"([A-Z0-9.]{1,6}) {0,5}([0-9]{6})([CP])([0-9]{8})")
_UNSEEN: Any = object()


def _yymmdd(text: str) -> date | None:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------
# Result models


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # No return annotation on purpose: pydantic then keeps the model's own serialization schema.
    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        return {key: value for key, value in data.items() if value is not None}


# Within one expiration day, the rows that need a decision come first.
_ATTENTION = {
    DefaultAtExpiry.ASSIGNMENT_LIKELY: 0,
    DefaultAtExpiry.AUTO_EXERCISE: 1,
    DefaultAtExpiry.ASSIGNMENT_POSSIBLE: 2,
    DefaultAtExpiry.UNKNOWN: 3,
    DefaultAtExpiry.LAPSE: 4,
}


class SideExposure(_Result):
    side: Literal["LONG", "SHORT"]
    positions: int
    market_value: DecimalString
    gross_pct: DecimalString | None = Field(
        None, description="Share of gross exposure, in percent (absent when gross is 0)."
    )


class TypeExposure(_Result):
    type: str = Field(
        description="Instrument type: a SecurityType, or the raw string the upstream sent for an unknown one."
    )
    positions: int
    long: DecimalString = Field(description="Σ market_value of the long rows of this type.")
    short: DecimalString = Field(description="Σ market_value of the short rows of this type.")
    gross_pct: DecimalString | None = Field(None, description="Share of gross exposure, in percent.")


class LargestPosition(_Result):
    symbol: str
    quantity: DecimalString
    market_value: DecimalString
    gross_pct: DecimalString | None = Field(
        None, description="|market_value| as a share of gross exposure, in percent."
    )


class Concentration(_Result):
    largest_pct: DecimalString | None = Field(
        None, description="Share of gross exposure held by the largest position, in percent."
    )
    top5_pct: DecimalString | None = Field(
        None, description="Share of gross exposure held by the five largest positions, in percent."
    )


class UnderlierOptions(_Result):
    underlier: str = Field(description="Symbol of the underlier when the book holds it, else the option root.")
    price: DecimalString | None = Field(
        None, description="Underlier price taken from the book; absent when the book does not price the underlier."
    )
    long: DecimalString = Field(description="Long contracts.")
    short: DecimalString = Field(description="Short contracts (positive number).")
    calls: DecimalString = Field(description="Contracts (long + short) of calls.")
    puts: DecimalString = Field(description="Contracts (long + short) of puts.")
    notional: DecimalString | None = Field(None, description="(long + short) × 100 × price.")
    market_value: DecimalString = Field(description="Σ market_value of these option positions.")
    next_expiry: date | None = Field(None, description="Nearest expiry among these options (past ones excluded).")


class OptionsOverview(_Result):
    positions: int
    long: DecimalString = Field(description="Long contracts over all underliers.")
    short: DecimalString = Field(description="Short contracts over all underliers (positive number).")
    underliers: int = Field(description="Distinct underliers; by_underlier lists the largest by notional.")
    by_underlier: list[UnderlierOptions]


class ExpiringOption(_Result):
    symbol: str
    quantity: DecimalString = Field(description="Contracts; negative = short (written).")
    expiry: date = Field(description="The contract's expiry, from its OSI symbol.")
    expiration_day: date | None = Field(
        None, description="The business day decisions happen, when it is not expiry (expiry on a holiday)."
    )
    days_left: int = Field(description="Business days from today to the expiration day; 0 = today.")
    moneyness: Literal["ITM", "ATM", "OTM"] | None = None
    spot: DecimalString | None = Field(None, description="Underlier price the moneyness is computed at.")
    intrinsic: DecimalString | None = Field(None, description="Intrinsic value per contract (× 100) at spot.")
    distance_pct: DecimalString | None = Field(
        None, description="Signed distance of spot from the strike in % of the strike; > 0 = in the money."
    )
    default_at_expiry: DefaultAtExpiry
    suggestion: str


class ExpiryWatch(_Result):
    window_business_days: int
    through: date = Field(description="Last expiration day inside the window.")
    count: int = Field(description="Option positions expiring inside the window; options lists the first ones.")
    by_default: dict[str, int] = Field(description="How many of them do what by default (DefaultAtExpiry values).")
    options: list[ExpiringOption]


class ExposureSummary(_Result):
    as_of: AwareDatetime
    environment: str
    account_id: int
    positions: int = Field(description="Rows read, over every page.")
    long_market_value: DecimalString
    short_market_value: DecimalString
    gross_exposure: DecimalString = Field(description="Σ |market_value| (CASH excluded).")
    net_exposure: DecimalString = Field(description="Σ market_value (CASH excluded).")
    cash: DecimalString | None = Field(
        None, description="Σ market_value of CASH rows, which are not part of the exposure figures."
    )
    unrealized_pnl: DecimalString | None = None
    daily_unrealized_pnl: DecimalString | None = None
    daily_realized_pnl: DecimalString | None = None
    by_side: list[SideExposure]
    by_type: list[TypeExposure]
    largest: list[LargestPosition] = Field(description="Largest positions by |market_value|.")
    concentration: Concentration
    options: OptionsOverview | None = None
    expiring: ExpiryWatch | None = None
    notes: list[str] = Field(description="Data-quality notes: what was missing or odd, as counts with a few examples.")


# ----------------------------------------------------------------------------------------------
# The accumulator


class _Group:
    """Options on one underlier (one per distinct underlier)."""

    __slots__ = ("calls", "long", "market_value", "nearest", "puts", "root", "short")

    def __init__(self) -> None:
        self.long = self.short = self.calls = self.puts = self.market_value = ZERO
        self.nearest: date | None = None
        self.root: str | None = None


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

    def __bool__(self) -> bool:
        return self.count > 0


def _cut(text: str) -> str:
    return text if len(text) <= _EXAMPLE_WIDTH else text[: _EXAMPLE_WIDTH - 1] + "…"


def _examples(items: list[str]) -> str:
    return f" (e.g. {', '.join(map(_cut, items))})" if items else ""


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _json_size(summary: ExposureSummary) -> int:
    return len(summary.model_dump_json().encode())


class ExposureBuilder:
    """Streaming accumulator of an :class:`ExposureSummary`; see the module docstring.

    ``add`` may be called any number of times (once per page); ``build`` may be called at any
    point and does not consume the state. ``today`` defaults to the New York date of ``as_of``.
    ``top_n`` caps the largest positions, ``underlier_limit`` the options groups and
    ``expiring_limit`` the expiring options listed; ``max_json_bytes`` (None: no budget) shortens
    those lists further, and the notes last, until the compact JSON fits.
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
        underlier_limit: int = 5,
        expiring_limit: int = 5,
        max_json_bytes: int | None = MAX_JSON_BYTES,
    ) -> None:
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError("as_of must be an aware datetime")
        if min(expiry_window_business_days, top_n, underlier_limit, expiring_limit) < 0:
            raise ValueError("the expiry window and the list limits must not be negative")
        self.account_id = account_id
        self.environment = environment
        self.as_of = as_of
        self.today = today if today is not None else as_of.astimezone(NEW_YORK).date()
        self.window = expiry_window_business_days
        self.top_n = top_n
        self.underlier_limit = underlier_limit
        self.expiring_limit = expiring_limit
        self.max_json_bytes = max_json_bytes
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
        self._heap: list[tuple[Decimal, int, Position]] = []
        self._heap_size = max(top_n, 5)
        # non-option rows by instrument id: (price or None, price is a closing price, symbol)
        self._prices: dict[str, tuple[Decimal | None, bool, str]] = {}
        self._groups: dict[str, _Group] = {}
        self._expiring: list[tuple[date, Position, str]] = []
        self._yymmdd: dict[str, date | None] = {}
        self._expiration_days: dict[date, date] = {}
        self._seen: set[str] = set()
        self._option_n = 0
        self._option_long = self._option_short = ZERO
        # data quality
        self._foreign = 0
        self._unknown_types: dict[str, int] = {}
        self._dupes = _Tally()
        self._no_price = _Tally()
        self._bad_osi = _Tally()
        self._no_underlier_id = _Tally()
        self._expired = _Tally()
        self._flat = _Tally()
        self._sign_mismatch = _Tally()
        self._type_mismatch = _Tally()

    # -- streaming ---------------------------------------------------------------------------

    def add(self, positions: Iterable[Position]) -> ExposureBuilder:
        """Fold one page (or any iterable) of positions into the summary. Returns self."""
        option_type, cash_type = SecurityType.OPTION, SecurityType.CASH
        account_id, seen, types, prices = self.account_id, self._seen, self._types, self._prices
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
                    if kind not in _KNOWN_TYPES:
                        self._unknown_types[kind] = self._unknown_types.get(kind, 0) + 1

                    quantity = p.quantity
                    position_type = p.position_type
                    size = abs(mv)
                    gross += size
                    bucket = types.get(kind)
                    if bucket is None:
                        bucket = types[kind] = [0, ZERO, ZERO, ZERO]
                    bucket[0] += 1
                    bucket[3] += size
                    if quantity > 0:
                        if mv < 0:  # the side comes from the quantity: counted long, and noted
                            self._sign_mismatch.hit(p.symbol)
                            mv = size
                        long_n += 1
                        long_mv += mv
                        bucket[1] += mv
                        if position_type in _SHORT_TYPES:
                            self._type_mismatch.hit(p.symbol)
                    elif quantity < 0:
                        if mv > 0:  # a short reported positive: counted short, and noted
                            self._sign_mismatch.hit(p.symbol)
                            mv = -size
                        short_n += 1
                        short_mv += mv
                        bucket[2] += mv
                        if position_type in _LONG_TYPES:
                            self._type_mismatch.hit(p.symbol)
                    else:
                        self._flat.hit(p.symbol)
                        if mv > 0:
                            long_mv += mv
                            bucket[1] += mv
                        else:
                            short_mv += mv
                            bucket[2] += mv

                    # Min-heap of the largest |market_value|; on ties the earlier row stays.
                    if len(heap) < heap_size:
                        heapq.heappush(heap, (size, -rows, p))
                    elif heap_size and size > heap[0][0]:
                        heapq.heapreplace(heap, (size, -rows, p))

                    price = p.instrument_price
                    if price is None:
                        self._no_price.hit(p.symbol)
                    if kind is option_type or position_type in _SEED_OPTION_TYPES:
                        self._add_option(p, quantity, mv)
                    elif price is not None:
                        prices[iid] = (price, False, p.symbol)
                    else:
                        prices[iid] = (p.closing_price, True, p.symbol)
        finally:
            self._rows, self._gross = rows, gross
            self._pnl, self._pnl_missing = [upnl, dupnl, drpnl], [upnl_gap, dupnl_gap, drpnl_gap]
            self._long_n, self._short_n, self._long, self._short = long_n, short_n, long_mv, short_mv
        return self

    def _add_option(self, p: Position, quantity: Decimal, mv: Decimal) -> None:
        self._option_n += 1
        symbol = p.symbol
        # Fast path for the renderings the upstream sends (one regex, a cached date, no Decimal);
        # anything else goes through the canonical parser. Strikes are only needed for expiring
        # options: ``build`` parses those in full.
        match = _FAST_OSI.fullmatch(symbol)
        root: str | None
        expiry: date | None
        if match is not None:
            root, is_call = match[1], match[3] == "C"
            expiry = self._yymmdd.get(match[2], _UNSEEN)
            if expiry is _UNSEEN:
                expiry = self._yymmdd[match[2]] = _yymmdd(match[2])
        else:
            osi = try_parse_osi(symbol)
            root = expiry = None
            if osi is not None:
                root, expiry, is_call = osi.root, osi.expiry, osi.is_call
        key = p.underlying_instrument_id
        if key is None:
            self._no_underlier_id.hit(symbol)
            key = f"root:{root or 'unknown'}"
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        contracts = abs(quantity)
        if quantity > 0:
            group.long += quantity
            self._option_long += quantity
        elif quantity < 0:
            group.short += contracts
            self._option_short += contracts
        group.market_value += mv
        if expiry is None:
            self._bad_osi.hit(symbol)
            return
        if is_call:
            group.calls += contracts
        else:
            group.puts += contracts
        if group.root is None:
            group.root = root
        day = self._expiration_days.get(expiry)
        if day is None:
            day = self._expiration_days[expiry] = expiration_business_day(expiry)
        if day < self.today:
            self._expired.hit(symbol)
            return
        if group.nearest is None or expiry < group.nearest:
            group.nearest = expiry
        if day <= self.through and quantity != 0:
            self._expiring.append((day, p, key))

    # -- result ------------------------------------------------------------------------------

    def _price(self, key: str) -> Decimal | None:
        held = self._prices.get(key)
        return None if held is None else held[0]

    def build(self) -> ExposureSummary:
        """The summary of everything added so far."""
        gross = self._gross
        rows = self._rows
        pnl_totals: list[Decimal | None] = [
            None if rows and missing == rows else total
            for total, missing in zip(self._pnl, self._pnl_missing, strict=True)
        ]
        by_side = [
            SideExposure(
                side="LONG",
                positions=self._long_n,
                market_value=self._long,
                gross_pct=percent(abs(self._long), gross),
            ),
            SideExposure(
                side="SHORT",
                positions=self._short_n,
                market_value=self._short,
                gross_pct=percent(abs(self._short), gross),
            ),
        ]
        ranked_types = sorted(self._types.items(), key=lambda item: (-item[1][3], str(item[0])))
        by_type = [
            TypeExposure(type=str(kind), positions=n, long=long, short=short, gross_pct=percent(size, gross))
            for kind, (n, long, short, size) in ranked_types[:TYPE_LIMIT]
        ]
        ranked = sorted(self._heap, reverse=True)
        largest = [
            LargestPosition(
                symbol=p.symbol,
                quantity=p.quantity,
                market_value=p.market_value,
                gross_pct=percent(size, gross),
            )
            for size, _, p in ranked[: self.top_n]
        ]
        with localcontext() as ctx:
            ctx.prec = MAX_PREC
            top5 = sum((size for size, _, _ in ranked[:5]), ZERO)
        concentration = Concentration(
            largest_pct=percent(ranked[0][0], gross) if ranked else None,
            top5_pct=percent(top5, gross) if ranked else None,
        )
        summary = ExposureSummary(
            as_of=self.as_of,
            environment=self.environment,
            account_id=self.account_id,
            positions=rows,
            long_market_value=self._long,
            short_market_value=self._short,
            gross_exposure=gross,
            net_exposure=self._long + self._short,
            cash=self._cash,
            unrealized_pnl=pnl_totals[0],
            daily_unrealized_pnl=pnl_totals[1],
            daily_realized_pnl=pnl_totals[2],
            by_side=by_side,
            by_type=by_type,
            largest=largest,
            concentration=concentration,
            options=self._options_overview(),
            expiring=self._expiry_watch(),
            notes=self._notes(len(ranked_types)),
        )
        if self.max_json_bytes is not None:
            summary = _fit(summary, self.max_json_bytes)
        return summary

    def _options_overview(self) -> OptionsOverview | None:
        if not self._option_n:
            return None
        rows = []
        with localcontext() as ctx:
            ctx.prec = MAX_PREC
            for key, group in self._groups.items():
                held = self._prices.get(key)
                price = None if held is None else held[0]
                contracts = group.long + group.short
                notional = None if price is None else contracts * OPTION_MULTIPLIER * price
                label = held[2] if held is not None else (group.root or key.removeprefix("root:"))
                rows.append((notional, contracts, label, group, price))
        top = heapq.nsmallest(self.underlier_limit, rows, key=lambda r: (r[0] is None, -(r[0] or ZERO), -r[1], r[2]))
        return OptionsOverview(
            positions=self._option_n,
            long=self._option_long,
            short=self._option_short,
            underliers=len(rows),
            by_underlier=[
                UnderlierOptions(
                    underlier=label,
                    price=price,
                    long=group.long,
                    short=group.short,
                    calls=group.calls,
                    puts=group.puts,
                    notional=notional,
                    market_value=group.market_value,
                    next_expiry=group.nearest,
                )
                for notional, _, label, group, price in top
            ],
        )

    def _expiry_watch(self) -> ExpiryWatch | None:
        if not self._option_n:
            return None
        counts: dict[DefaultAtExpiry, int] = {}
        rows = []
        for day, p, key in self._expiring:
            osi = parse_osi(p.symbol)  # cannot fail: it passed the fast path or try_parse_osi
            price = self._price(key)
            default = default_at_expiry(p.quantity > 0, osi, price)
            counts[default] = counts.get(default, 0) + 1
            rank = (day, _ATTENTION[default], -abs(p.market_value), p.symbol)
            rows.append((rank, p, osi, price, default))
        rows.sort(key=lambda row: row[0])
        days_left: dict[date, int] = {}
        shown = []
        for (day, *_), p, osi, price, default in rows[: self.expiring_limit]:
            if day not in days_left:
                days_left[day] = business_days_until(self.today, day)
            state = intrinsic = distance = None
            if price is not None:
                where = moneyness(osi, price)
                state, distance = where.state.value, where.distance_pct
                intrinsic = where.intrinsic_per_share * OPTION_MULTIPLIER
            shown.append(
                ExpiringOption(
                    symbol=p.symbol,
                    quantity=p.quantity,
                    expiry=osi.expiry,
                    expiration_day=None if day == osi.expiry else day,
                    days_left=days_left[day],
                    moneyness=state,
                    spot=price,
                    intrinsic=intrinsic,
                    distance_pct=distance,
                    default_at_expiry=default,
                    suggestion=expiry_suggestion(default, p.quantity > 0, self.as_of, day),
                )
            )
        return ExpiryWatch(
            window_business_days=self.window,
            through=self.through,
            count=len(rows),
            by_default={k.value: v for k, v in sorted(counts.items(), key=lambda kv: _ATTENTION[kv[0]])},
            options=shown,
        )

    def _notes(self, type_count: int) -> list[str]:
        notes: list[str] = []
        rows = self._rows
        if self._foreign:
            notes.append(
                f"{_n(self._foreign, 'position belongs', 'positions belong')} to another account "
                f"than {self.account_id}: included in the totals"
            )
        if self._dupes:
            notes.append(
                f"{_n(self._dupes.count, 'instrument_id was', 'instrument_ids were')} read more "
                f"than once (book changed while paging?): counted each time"
                f"{_examples(self._dupes.examples)}"
            )
        unknown = sorted(self._unknown_types.items(), key=lambda kv: (-kv[1], kv[0]))
        for kind, count in unknown[:EXAMPLES]:
            notes.append(
                f"{_n(count, 'position has', 'positions have')} an unknown instrument_type "
                f"{_cut(kind)!r}: counted as non-option exposure"
            )
        if len(unknown) > EXAMPLES:
            notes.append(f"{len(unknown) - EXAMPLES} more unknown instrument_types")
        if type_count > TYPE_LIMIT:
            notes.append(f"by_type lists the {TYPE_LIMIT} largest of {type_count} instrument types")
        for name, missing in zip(
            ("unrealized_pnl", "daily_unrealized_pnl", "daily_realized_pnl"),
            self._pnl_missing,
            strict=True,
        ):
            if rows and missing == rows:
                notes.append(f"{name} missing on every position: total omitted")
            elif missing:
                notes.append(f"{name} missing on {_n(missing, 'position', 'positions')}: the total excludes them")
        if self._no_price:
            notes.append(
                f"{_n(self._no_price.count, 'position has', 'positions have')} no instrument_price"
                f"{_examples(self._no_price.examples)}"
            )
        if self._bad_osi:
            notes.append(
                f"{_n(self._bad_osi.count, 'option symbol', 'option symbols')} could not be parsed "
                f"as OSI: no expiry, strike or right for them{_examples(self._bad_osi.examples)}"
            )
        if self._no_underlier_id:
            notes.append(
                f"{_n(self._no_underlier_id.count, 'option has', 'options have')} no "
                f"underlying_instrument_id: grouped by OSI root, no underlier price"
                f"{_examples(self._no_underlier_id.examples)}"
            )
        if self._option_n:
            unpriced = [
                group.root or key.removeprefix("root:")
                for key, group in self._groups.items()
                if self._price(key) is None
            ]
            if unpriced:
                notes.append(
                    f"no price in this book for {_n(len(unpriced), 'underlier', 'underliers')} "
                    f"(not held or unpriced): notional and moneyness omitted"
                    f"{_examples(unpriced[:EXAMPLES])}"
                )
            from_close = [
                held[2]
                for held in map(self._prices.get, self._groups)
                if held is not None and held[1] and held[0] is not None
            ]
            if from_close:
                notes.append(
                    f"{_n(len(from_close), 'underlier is', 'underliers are')} priced at "
                    f"closing_price (no instrument_price){_examples(from_close[:EXAMPLES])}"
                )
        if self._expired:
            notes.append(
                f"{_n(self._expired.count, 'option is', 'options are')} past expiration but still "
                f"listed{_examples(self._expired.examples)}"
            )
        if self._flat:
            notes.append(
                f"{_n(self._flat.count, 'position has', 'positions have')} quantity 0{_examples(self._flat.examples)}"
            )
        if self._sign_mismatch:
            notes.append(
                f"{_n(self._sign_mismatch.count, 'position has', 'positions have')} a market_value "
                f"whose sign disagrees with quantity: counted with the quantity's sign"
                f"{_examples(self._sign_mismatch.examples)}"
            )
        if self._type_mismatch:
            notes.append(
                f"{_n(self._type_mismatch.count, 'position has', 'positions have')} a position_type "
                f"that disagrees with the quantity sign: quantity used"
                f"{_examples(self._type_mismatch.examples)}"
            )
        return notes


def _fit(summary: ExposureSummary, budget: int) -> ExposureSummary:
    """Shorten the lists (their counts stay complete) and then the notes until the compact JSON
    fits ``budget``. Expiring options, where decisions are due, are shortened last."""
    if _json_size(summary) <= budget:
        return summary
    largest = list(summary.largest)
    underliers = list(summary.options.by_underlier) if summary.options else []
    expiring = list(summary.expiring.options) if summary.expiring else []
    notes = list(summary.notes)
    steps: list[tuple[list[Any], int]] = [
        (largest, 5),
        (underliers, 3),
        (largest, 3),
        (underliers, 1),
        (expiring, 3),
        (largest, 1),
        (expiring, 1),
        (notes, 0),
        (underliers, 0),
        (largest, 0),
        (expiring, 0),
    ]
    note_count = len(notes)

    def candidate() -> ExposureSummary:
        extra = [f"lists shortened to fit {budget} bytes (counts are complete)"]
        if len(notes) < note_count:
            extra.append(f"{note_count - len(notes)} more notes left out")
        update: dict[str, Any] = {"largest": largest, "notes": notes + extra}
        if summary.options:
            update["options"] = summary.options.model_copy(update={"by_underlier": underliers})
        if summary.expiring:
            update["expiring"] = summary.expiring.model_copy(update={"options": expiring})
        return summary.model_copy(update=update)

    current = candidate()
    for rows, floor in steps:
        while len(rows) > floor and _json_size(current) > budget:
            rows.pop()
            current = candidate()
    return current


def summarize_exposure(
    positions: Iterable[Position],
    *,
    account_id: int,
    environment: str,
    as_of: datetime,
    today: date | None = None,
    expiry_window_business_days: int = 3,
    top_n: int = 10,
    underlier_limit: int = 5,
    expiring_limit: int = 5,
    max_json_bytes: int | None = MAX_JSON_BYTES,
) -> ExposureSummary:
    """The exposure summary of ``positions`` in one go (see :class:`ExposureBuilder`)."""
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
        )
        .add(positions)
        .build()
    )
