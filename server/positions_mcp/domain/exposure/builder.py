"""The streaming accumulator of an exposure summary, and the summary in one go.

:class:`ExposureBuilder` folds each page of positions as it arrives (``add``) and builds the
summary at the end (``build``), with the :class:`~..market_view.MarketView` the caller could read
(quotes and greeks, contract terms, balances). Each position costs O(1) plain-Python work and
leaves behind at most one compact tuple of plain values (never the wire object), plus its id in the
set that catches repeats; ``build`` works on the distinct underliers, the expiring options and the
options whose greeks were not known when they were added.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import MAX_PREC, localcontext
from typing import Required, TypedDict, Unpack

from ...clearstreet.models import Position, PositionInstruction, PositionType, SecurityType
from ..calendar import NEW_YORK
from ..market_view import MarketView
from ..numbers import percent
from .budget import MAX_JSON_BYTES, fit
from .by_underlier import Underliers
from .delta import delta_summary, work_out_delta
from .exact import ZERO
from .expiry_watch import ExpiryWindow, InstructionsInForce, watch_expiry, with_warning
from .notes import notes
from .option_fold import OptionFold
from .option_symbols import Osi, OsiReader
from .summary import AccountFunds, ExposureSummary
from .totals import BookTotals

__all__ = ["SMALL_BOOK_POSITIONS", "ExposureBuilder", "summarize_exposure"]

SMALL_BOOK_POSITIONS = 25
"""A book of at most this many positions is shown whole: every underlier, every expiring option."""
MARKET_NOTES = 8  # at most this many distinct notes of the market view(s)

_SEED_OPTION_TYPES = frozenset(
    {PositionType.LONG_CALL, PositionType.SHORT_CALL, PositionType.LONG_PUT, PositionType.SHORT_PUT}
)
_KNOWN_TYPES = frozenset(SecurityType)
# Types that are never options, whatever their symbol looks like.
_NON_OPTION_TYPES = frozenset(
    {SecurityType.COMMON_STOCK, SecurityType.INDEX, SecurityType.PREFERRED_STOCK, SecurityType.CASH}
)


class ExposureBuilder:
    """Streaming accumulator of an :class:`.summary.ExposureSummary` (module docstring).

    ``add`` may be called any number of times (once per page); ``build`` may be called at any
    point and does not consume the state. ``today`` defaults to the New York date of ``as_of``.

    Market data (all optional; every part degrades to a note when missing):

    * ``market`` given to the constructor: a view for every row and for ``build``;
    * ``add(rows, market)``: the view of those rows (their options' greeks and terms, their
      underliers' quotes), applied there and then, so nothing of those options is kept but their
      sums per underlier; an option whose greeks that view lacks is reported without delta;
    * ``build(market)``: the view for everything else: the options added without a view (kept as
      compact tuples until then), underlier prices, contract terms of the expiring options, funds,
      and the view's notes. ``unpriced_underlier_ids()`` says which underliers it should quote.

    ``top_n`` caps the largest positions, ``underlier_limit`` the underliers and ``expiring_limit``
    the expiring options listed, unless the book has at most ``small_book`` positions (then every
    underlier and every expiring option is listed); ``max_json_bytes`` (None: no budget) shortens
    the lists further, and the notes, until the compact JSON fits (:mod:`.budget`).
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
        self.window = ExpiryWindow.of(
            today if today is not None else as_of.astimezone(NEW_YORK).date(), expiry_window_business_days, as_of
        )
        self.today, self.through = self.window.today, self.window.through
        self.top_n = top_n
        self.underlier_limit = underlier_limit
        self.expiring_limit = expiring_limit
        self.max_json_bytes = max_json_bytes
        self.small_book = small_book
        self.market = market
        self._reader = OsiReader()
        self._totals = BookTotals(account_id, top_n)
        self._underliers = Underliers()
        self._options = OptionFold(self._reader, self.today, self.through)
        self._instructions = InstructionsInForce()
        self._viewed = market is not None  # some market view was given
        self._market_notes: dict[str, None] = {}
        if market is not None:
            self._keep_notes(self._market_notes, market)

    @staticmethod
    def _keep_notes(kept: dict[str, None], view: MarketView) -> None:
        for note in view.notes:
            if note not in kept and len(kept) < MARKET_NOTES:
                kept[note] = None

    def add(self, positions: Iterable[Position], market: MarketView | None = None) -> ExposureBuilder:
        """Fold one page (or any iterable) of positions into the summary, with the market view of
        those rows when there is one (else the constructor's). Returns self."""
        view = market if market is not None else self.market
        if market is not None:
            self._viewed = True
            self._keep_notes(self._market_notes, market)
        totals, options, underliers = self._totals, self._options, self._underliers
        with localcontext() as ctx:
            ctx.prec = MAX_PREC  # additions and multiplications are then always exact
            for p in positions:
                folded = totals.add(p)
                if folded is None:
                    continue  # CASH: not exposure
                quantity, mv = folded
                is_option, osi = self._read_option(p)
                if is_option:
                    options.add(p, quantity, mv, osi, view, underliers)
                else:
                    underliers.hold(p, quantity)
        return self

    def _read_option(self, p: Position) -> tuple[bool, Osi | None]:
        """Whether a row is an option (package docstring: **Option**), and what its symbol says:
        each symbol is read once."""
        kind = p.instrument_type
        if kind is SecurityType.OPTION or p.position_type in _SEED_OPTION_TYPES:
            return True, self._reader.read(p.symbol)
        if kind in _NON_OPTION_TYPES:
            return False, None
        # OTHER or a type this server does not know: an OSI symbol makes it an option
        osi = self._reader.read(p.symbol)
        if kind not in _KNOWN_TYPES:
            self._totals.unknown_type(kind, osi is not None)
        return osi is not None, osi

    def instruct(self, instructions: Iterable[PositionInstruction], *, unread: str | None = None) -> ExposureBuilder:
        """The account's position instructions: those in force (:func:`..settlement.instructed`)
        change what the expiring options settle. ``unread``: why they could not be read (a note
        says the figures assume none). Returns self."""
        if unread is not None:
            self._instructions.unread = unread
        self._instructions.add(instructions)
        return self

    def unpriced_underlier_ids(self) -> list[str]:
        """Instrument ids of the options' underliers no current price is known for yet: the view
        of ``build`` should quote them (:meth:`.by_underlier.Underliers.unpriced_ids`)."""
        return self._underliers.unpriced_ids()

    def build(self, market: MarketView | None = None) -> ExposureSummary:
        """The summary of everything added so far, with ``market`` (else the constructor's view)
        for what the rows' own views did not cover."""
        view = market if market is not None else self.market
        market_notes = dict(self._market_notes)
        if market is not None:
            self._keep_notes(market_notes, market)
        viewed = self._viewed or market is not None
        totals, options, underliers = self._totals, self._options, self._underliers
        small = totals.rows <= self.small_book
        largest, concentration = totals.largest(self.top_n)
        with localcontext() as ctx:
            ctx.prec = MAX_PREC  # exact sums and products; nothing divides in here
            coverage, d = work_out_delta(underliers, options, view, small, self.underlier_limit)
        delta, overview = delta_summary(d, coverage, options, underliers, view)
        limit = len(options.expiring) if small else self.expiring_limit
        expiring, shorted, by_default = watch_expiry(
            options, underliers, self._instructions, view, d.prices, self.window, limit
        )
        funds = view.funds if view is not None else None
        if expiring is not None and expiring.at_expiry is not None:
            expiring = with_warning(expiring, funds, shorted)
        pnl = totals.pnl_totals()
        summary = ExposureSummary(
            as_of=self.as_of,
            environment=self.environment,
            account_id=self.account_id,
            positions=totals.rows,
            long_market_value=totals.long,
            short_market_value=totals.short,
            gross_market_value=totals.gross,
            net_market_value=totals.long + totals.short,
            cash=totals.cash,
            unrealized_pnl=pnl[0],
            daily_unrealized_pnl=pnl[1],
            daily_realized_pnl=pnl[2],
            long_positions=totals.long_n,
            short_positions=totals.short_n,
            by_type=totals.by_type(),
            largest=largest,
            concentration=concentration,
            delta=delta,
            options=overview,
            expiring=expiring,
            funds=None
            if funds is None
            else AccountFunds(
                currency=funds.currency,
                trade_cash=funds.trade_cash,
                buying_power=funds.buying_power,
                overnight_buying_power=funds.overnight_buying_power,
            ),
            notes=notes(
                totals, options, coverage, d, view, list(market_notes) if viewed else None, self._instructions.unread
            ),
        )
        if self.max_json_bytes is None:
            return summary
        return fit(summary, self.max_json_bytes, small, by_default, percent(sum(d.top5, ZERO), d.gross))


class BuilderOptions(TypedDict, total=False):
    """What :class:`ExposureBuilder` takes, for :func:`summarize_exposure` to pass on (its defaults
    are the builder's: written once)."""

    account_id: Required[int]
    environment: Required[str]
    as_of: Required[datetime]
    today: date | None
    expiry_window_business_days: int
    top_n: int
    underlier_limit: int
    expiring_limit: int
    max_json_bytes: int | None
    small_book: int


def summarize_exposure(
    positions: Iterable[Position],
    *,
    market: MarketView | None = None,
    instructions: Iterable[PositionInstruction] = (),
    **options: Unpack[BuilderOptions],
) -> ExposureSummary:
    """The exposure summary of ``positions`` in one go, with ``market`` when there is one and the
    account's ``instructions`` (see :class:`ExposureBuilder`)."""
    return ExposureBuilder(**options).add(positions).instruct(instructions).build(market)
