"""Revaluing one underlier's positions under its shock: the stock linearly, each option in full by
Black-Scholes-Merton, or with its intrinsic value when no volatility reproduces its price, and what
cannot be revalued counted with its reason (the package docstring states each rule)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from ...clearstreet.models import Position
from ..contracts import ContractTerms
from ..expiry import in_the_money_by, intrinsic_per_contract
from ..numbers import CENT
from ..osi import OptionSymbol
from .request import Shock
from .underliers import Underlier, UnderlierBook

__all__ = ["MIN_VOLATILITY", "UnderlierOutcome", "revalue"]

MIN_VOLATILITY = 0.01
"""The lowest volatility a shocked option is priced at (1 %): a shift past zero is floored, said in a note."""
SHARES_STEP = CENT
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


@dataclass(slots=True)
class UnderlierOutcome:
    """One underlier shocked: its figures as the result states them (rounded as the package
    docstring says) and the counts of what was and was not revalued."""

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


def revalue(
    book: UnderlierBook, underlier: Underlier, shock: Shock, row: int, rate: float, now: datetime
) -> UnderlierOutcome:
    """``underlier`` after ``shock`` (row ``row`` of the scenario), at ``rate``, as of ``now``."""
    label = book.label(underlier)
    spot = _usable_spot(book, underlier, label)
    shocked = None if spot is None else spot * (1 + shock.price_change_pct / _HUNDRED)
    tally = _Tally()
    _add_stocks(book, tally, underlier.stocks, spot, shocked)
    vol_shift = float(shock.volatility_change_pts / _HUNDRED)
    _add_options(book, tally, underlier.options, spot, shocked, vol_shift, rate, now)
    return tally.outcome(label, row, spot, shocked, has_options=bool(underlier.options))


def _to_cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _tidy(value: Decimal) -> Decimal:
    """A price for display: to the cent when that is exact, else without trailing zeros."""
    cents = value.quantize(CENT)
    return cents if cents == value else value.normalize()


@dataclass(slots=True)
class _Tally:
    """Sums over one underlier's positions while they are revalued (stock first, then options)."""

    stock_pnl: Decimal = _ZERO
    options_pnl: Decimal = _ZERO
    shares_before: Decimal = _ZERO
    shares_after: Decimal = _ZERO
    stocks: int = 0
    options: int = 0
    not_revalued: int = 0
    at_intrinsic: int = 0

    def outcome(
        self, label: str, row: int, spot: Decimal | None, shocked: Decimal | None, *, has_options: bool
    ) -> UnderlierOutcome:
        has_delta = self.options > 0 or self.stocks > 0
        before = self.shares_before.quantize(SHARES_STEP, rounding=ROUND_HALF_EVEN) if has_delta else None
        after = self.shares_after.quantize(SHARES_STEP, rounding=ROUND_HALF_EVEN) if has_delta else None
        return UnderlierOutcome(
            label=label,
            row=row,
            spot=spot,
            shocked_spot=None if shocked is None else _tidy(shocked),
            pnl=self.stock_pnl + self.options_pnl,
            options_pnl=self.options_pnl if has_options else None,
            shares_before=before,
            shares_after=after,
            dollars_before=None if before is None or spot is None else _to_cent(self.shares_before * spot),
            dollars_after=None if after is None or shocked is None else _to_cent(self.shares_after * shocked),
            options_revalued=self.options,
            options_not_revalued=self.not_revalued,
            options_at_intrinsic=self.at_intrinsic,
            stocks_revalued=self.stocks,
        )


def _usable_spot(book: UnderlierBook, underlier: Underlier, label: str) -> Decimal | None:
    """The underlier's price when it is a positive number (a close is recorded for the notes)."""
    spot, from_close = _spot(book, underlier)
    if spot is not None and (not spot.is_finite() or spot <= 0):
        return None
    if spot is not None and from_close:
        book.spot_from_close.append(label)
    return spot


def _spot(book: UnderlierBook, underlier: Underlier) -> tuple[Decimal | None, bool]:
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


def _add_stocks(
    book: UnderlierBook, tally: _Tally, stocks: Sequence[Position], spot: Decimal | None, shocked: Decimal | None
) -> None:
    """Stock and ETF: P&L = quantity × (shocked − spot), to the cent; delta = quantity shares."""
    for position in stocks:
        if spot is None or shocked is None:
            book.skip("no price for the stock", position.symbol)
            continue
        tally.stock_pnl += _to_cent(position.quantity * (shocked - spot))
        tally.stocks += 1
        tally.shares_before += position.quantity
        tally.shares_after += position.quantity


def _add_options(
    book: UnderlierBook,
    tally: _Tally,
    options: Sequence[tuple[Position, OptionSymbol]],
    spot: Decimal | None,
    shocked: Decimal | None,
    vol_shift: float,
    rate: float,
    now: datetime,
) -> None:
    for position, option in options:
        if spot is None or shocked is None:
            priced: _Priced | str = "no underlier price"
        else:
            priced = _option(book, position, option, spot, shocked, vol_shift, rate, now)
        if isinstance(priced, str):
            book.skip(priced, position.symbol)
            tally.not_revalued += 1
            continue
        if priced.at_intrinsic:
            book.at_intrinsic.hit(position.symbol)
            tally.at_intrinsic += 1
        tally.options_pnl += priced.change
        tally.shares_before += priced.before
        tally.shares_after += priced.after
        tally.options += 1


def _option_price(book: UnderlierBook, position: Position) -> Decimal | None:
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
    book: UnderlierBook,
    position: Position,
    option: OptionSymbol,
    spot: Decimal,
    shocked: Decimal,
    vol_shift: float,
    rate: float,
    now: datetime,
) -> _Priced | str:
    """The option revalued (package docstring), or why it cannot be (the reason the notes give)."""
    from ..pricing import NoImpliedVolatility, bsm_delta, bsm_price, implied_volatility

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
        change=_to_cent((_float(new_price) - price) * units),
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
        change=_to_cent(change),
        before=delta(spot),
        after=delta(shocked),
        at_intrinsic=True,
    )
