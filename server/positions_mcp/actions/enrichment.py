"""Reading the market for a book: snapshots (quotes and greeks), option contracts (multiplier,
style, tradability), balances (cash, buying power) and the market's hours, into a
``domain.market_view.MarketView``.

Every part degrades, never fails: an endpoint that errors, is refused (403) or runs out of its time
leaves its part empty and adds one note saying what is missing; the rest of the answer stands.
Snapshots and contracts go out in batches of 100 as soon as the ids are known, while the positions
are still being read (``MarketReader.add`` takes each page), at most four requests at a time.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from ..clearstreet.errors import APIStatusError, ClearStreetError
from ..clearstreet.models import Position, SecurityType
from ..clearstreet.retry import remaining_budget
from ..domain.calendar import is_early_close, is_market_open, new_york, next_market_open, regular_session
from ..domain.contracts import terms_for_positions
from ..domain.market_view import Funds, Greeks, MarketView, Quote, Session
from ..domain.osi import try_parse_osi

if TYPE_CHECKING:
    from ..clearstreet.client import ClearStreetClient
    from ..clearstreet.market_models import AccountBalances, MarketDataSnapshot, MarketHoursDetail, OptionsContract
    from .reads import Progress

logger = logging.getLogger(__name__)

BATCH = 100
"""Ids per snapshot request and per contracts lookup (Clear Street's market-data API documentation)."""
CONCURRENCY = 4
ENRICHMENT_SECONDS = 12.0
"""At most this long (and never past the call's deadline) for market data after the positions:
what is not in by then becomes a note."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, APIStatusError):
        return f"Clear Street {exc.status_code}: {exc.message}"
    if isinstance(exc, ClearStreetError):
        return str(exc)
    return type(exc).__name__


def quote_of(row: MarketDataSnapshot) -> Quote:
    quote, trade, greeks = row.last_quote, row.last_trade, row.greeks
    return Quote(
        instrument_id=row.instrument_id,
        symbol=row.symbol,
        last=trade.price if trade is not None else None,
        bid=quote.bid if quote is not None else None,
        ask=quote.ask if quote is not None else None,
        bid_timestamp=quote.bid_timestamp if quote is not None else None,
        bid_size=quote.bid_size if quote is not None else None,
        ask_size=quote.ask_size if quote is not None else None,
        midpoint=quote.midpoint if quote is not None else None,
        previous_close=row.session.previous_close,
        greeks=None
        if greeks is None
        else Greeks(
            delta=greeks.delta,
            gamma=greeks.gamma,
            theta=greeks.theta,
            vega=greeks.vega,
            rho=greeks.rho,
            theo_price=greeks.theo_price,
            timestamp=greeks.timestamp,
        ),
        timestamp=trade.timestamp if trade is not None else None,
    )


def funds_of(balances: AccountBalances) -> Funds:
    margin = balances.margin_details
    return Funds(
        currency=balances.currency,
        trade_cash=balances.trade_cash,
        settled_cash=balances.settled_cash,
        withdrawable_cash=balances.withdrawable_cash,
        buying_power=balances.buying_power,
        overnight_buying_power=margin.overnight_details.buying_power if margin is not None else None,
        margin_type=str(balances.margin_type),
    )


def session_of(rows: list[MarketHoursDetail]) -> Session | None:
    row = next((r for r in rows if str(r.market) == "us_options"), rows[0] if rows else None)
    if row is None:
        return None
    regular, upcoming = row.today_sessions.regular, row.next_sessions.regular
    return Session(
        is_open=row.status.is_open and str(row.status.current_session or "") == "regular",
        day_type=str(row.status.day_type),
        close=regular.close if regular is not None else None,
        next_open=upcoming.open if upcoming is not None else None,
        source="Clear Street market hours",
    )


def local_session(now: datetime) -> Session:
    """The US regular session from the local NYSE calendar (the fallback)."""
    day = new_york(now).date()
    session = regular_session(day)
    if session is None:
        day_type = "WEEKEND" if day.weekday() >= 5 else "HOLIDAY"
    else:
        day_type = "EARLY_CLOSE" if is_early_close(day) else "TRADING_DAY"
    open_now = is_market_open(now)
    return Session(
        is_open=open_now,
        day_type=day_type,
        close=session[1] if session is not None else None,
        next_open=None if open_now else next_market_open(now),
        source="local NYSE calendar (the market-hours endpoint was unavailable)",
    )


def quote_ids(rows: Iterable[Position]) -> list[str]:
    """The instruments whose snapshot a book needs: every non-cash position and every option's
    underlier (so an underlier that is not held is priced too)."""
    ids: list[str] = []
    for row in rows:
        if row.instrument_type == SecurityType.CASH:
            continue
        ids.append(row.instrument_id)
        if row.underlying_instrument_id:
            ids.append(row.underlying_instrument_id)
    return ids


def contract_ids(rows: Iterable[Position]) -> list[str]:
    return [row.instrument_id for row in rows if try_parse_osi(row.symbol) is not None]


class MarketReader:
    """Collects a book's market data while its pages are read; ``view`` assembles the result."""

    def __init__(
        self,
        client: ClearStreetClient,
        group: TaskGroup,
        account: int,
        now: datetime,
        *,
        quotes: bool = True,
        contracts: bool = True,
        funds: bool = True,
        session: bool = True,
        instruments: bool = False,
    ) -> None:
        self._client = client
        self._group = group
        self._now = now
        self._limiter = anyio.CapacityLimiter(CONCURRENCY)
        self._quotes: dict[str, Quote] = {}
        self._contracts: list[OptionsContract] = []
        self._funds: Funds | None = None
        self._session: Session | None = None
        self._notes: dict[str, str] = {}
        self._seen_quotes: set[str] = set()
        self._seen_contracts: set[str] = set()
        self._pending_quotes: list[str] = []
        self._pending_contracts: list[str] = []
        self._want = {"quotes": quotes, "contracts": contracts, "instruments": instruments}
        self._instrument_flags: dict[str, tuple[bool, bool]] = {}  # a stock's (is_tradable, is_liquidation_only)
        self._instruments_asked = 0
        self._seen_instruments: set[str] = set()
        if funds:
            self._start("balances", "cash and buying power are not shown", self._read_funds, account)
        if session:
            self._start("market hours", "open/closed comes from the local NYSE calendar", self._read_session)

    def _start(self, what: str, consequence: str, call: Callable[..., Awaitable[None]], *args: Any) -> None:
        async def guarded() -> None:
            try:
                async with self._limiter:
                    await call(*args)
            except (ClearStreetError, ValueError) as exc:
                logger.info("%s unavailable: %s", what, _why(exc))
                self._notes.setdefault(what, f"{what} unavailable ({_why(exc)}): {consequence}")

        self._group.start_soon(guarded)

    async def _read_funds(self, account: int) -> None:
        self._funds = funds_of((await self._client.balances.get(account)).balances)

    async def _read_session(self) -> None:
        self._session = session_of((await self._client.clock.market_hours(market="us_options")).markets)

    async def _read_quotes(self, batch: list[str]) -> None:
        for row in (await self._client.market_data.snapshots(batch)).snapshots:
            self._quotes[row.instrument_id] = quote_of(row)

    async def _read_instrument(self, instrument_id: str) -> None:
        instrument = (await self._client.instruments.get(instrument_id)).instrument
        self._instrument_flags[instrument_id] = (instrument.is_tradable, instrument.is_liquidation_only)

    async def _read_contracts(self, batch: list[str]) -> None:
        self._contracts.extend(await self._client.instruments.all_option_contracts(contract_ids=batch))

    def add(self, rows: Iterable[Position]) -> None:
        """Queue the market data a page of positions needs; send every full batch now."""
        rows = list(rows)
        self.want(quote_ids(rows), contract_ids(rows))
        if self._want["instruments"]:  # an option's flags come with its contract row
            for row in rows:
                if row.instrument_type == SecurityType.CASH or try_parse_osi(row.symbol) is not None:
                    continue
                if row.instrument_id in self._seen_instruments:
                    continue
                self._seen_instruments.add(row.instrument_id)
                self._instruments_asked += 1
                if self._instruments_asked <= INSTRUMENT_READS:
                    self._start(
                        "instruments",
                        "whether a stock can be traded or only liquidated is not checked",
                        self._read_instrument,
                        row.instrument_id,
                    )

    def want(self, quotes: Iterable[str] = (), contracts: Iterable[str] = ()) -> None:
        """Queue snapshots of ``quotes`` and the terms of ``contracts`` (ids, each read once);
        send every full batch now."""
        if self._want["quotes"]:
            for instrument in quotes:
                if instrument not in self._seen_quotes:
                    self._seen_quotes.add(instrument)
                    self._pending_quotes.append(instrument)
        if self._want["contracts"]:
            for contract in contracts:
                if contract not in self._seen_contracts:
                    self._seen_contracts.add(contract)
                    self._pending_contracts.append(contract)
        self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        while len(self._pending_quotes) >= BATCH or (final and self._pending_quotes):
            batch, self._pending_quotes = self._pending_quotes[:BATCH], self._pending_quotes[BATCH:]
            self._start(
                "quotes and greeks", "prices, deltas and moneyness come from positions only", self._read_quotes, batch
            )
        while len(self._pending_contracts) >= BATCH or (final and self._pending_contracts):
            batch, self._pending_contracts = self._pending_contracts[:BATCH], self._pending_contracts[BATCH:]
            self._start(
                "option contracts",
                "multipliers and exercise styles use the standard-contract defaults",
                self._read_contracts,
                batch,
            )

    def finish(self) -> None:
        """Send what is still queued (the last, partial batches)."""
        self._flush(final=True)

    def view(self, positions: Iterable[Position], *, timed_out: bool = False) -> MarketView:
        notes = dict(self._notes)
        if timed_out:
            notes.setdefault("time", "some market data was not read in time: what is missing is left out")
        session = self._session
        if session is None:
            session = local_session(self._now)
        tradability = {c.id: (c.is_tradable, c.is_liquidation_only) for c in self._contracts}
        tradability.update(self._instrument_flags)
        if self._instruments_asked > INSTRUMENT_READS:
            notes.setdefault(
                "instruments",
                f"tradability checked for {INSTRUMENT_READS} of {self._instruments_asked} stocks: the rest are not "
                "checked for not-tradable or liquidation-only",
            )
        return MarketView(
            quotes=self._quotes,
            terms=terms_for_positions(positions, self._contracts),
            funds=self._funds,
            session=session,
            tradability=tradability,
            notes=tuple(notes.values()),
        )


async def read_market(
    client: ClearStreetClient, account: int, positions: list[Position], now: datetime, **parts: bool
) -> MarketView:
    """The market view of positions already read (a preview's), within :data:`ENRICHMENT_SECONDS`."""
    timed_out = False
    reader: MarketReader | None = None
    with anyio.move_on_after(ENRICHMENT_SECONDS) as scope:
        async with anyio.create_task_group() as group:
            reader = MarketReader(client, group, account, now, **parts)
            reader.add(positions)
            reader.finish()
    timed_out = scope.cancelled_caught
    assert reader is not None
    return reader.view(positions, timed_out=timed_out)


INSTRUMENT_READS = 50
"""A preview reads the instrument (is_tradable, is_liquidation_only) of at most this many stocks,
one request each (there is no batch endpoint); a note says when more were left unchecked."""

RESERVE_SECONDS = 10.0
"""The exposure summary reads a page's market data only while more than this is left of the
call's deadline beyond what the remaining pages are expected to take, so the pages, the balances
and the summary itself still fit."""
BOOK_PAGE_SIZE = 200
"""Positions per page for the exposure summary: a fifth of the API's largest page keeps the pages
alive at once (one being read, ``IN_FLIGHT`` being enriched, one being folded) under 1 MiB each
whatever the book (flat memory, bench/bench_exposure.py), and a page's options fill about one snapshot and one
contracts batch. Measured at 10,000 positions (bench/bench_exposure.py): 1000 a page, 25 MiB peak;
250, 12.8 MiB; 200, 11.6 MiB; 150, 10.3 MiB but slower."""
IN_FLIGHT = 2
"""Pages whose market data is read at once, so the requests keep flowing across page boundaries."""
PAGES_WAITING = 0
"""Pages read and waiting for their turn besides the one being handed over (0: the next page is
read while the current ones are enriched, and waits in the reading task)."""


@dataclass(slots=True)
class _Enriching:
    """A page whose market data is being read; ``view`` is set when ``done`` is."""

    rows: list[Position]
    done: anyio.Event = field(default_factory=anyio.Event)
    view: MarketView | None = None


class BookMarket:
    """The market data of a whole book read page by page (the exposure summary), flat in memory.

    The pages are read in a task of their own, one ahead; each page's options get their
    snapshots (greeks) and contract terms while the next pages are read and enriched; each page is
    folded into the summary, in order, with its view, and both are dropped. At the end: the
    balances, and snapshots of the options' underliers the book prices at no current price (a held
    underlier keeps the positions API's price). When the time left would not cover the remaining
    pages, a page is folded without market data (its contracts count as without greeks) and a note
    says so; a failure to read the pages is raised as the ``ActionError`` it is."""

    def __init__(self, client: ClearStreetClient, account: int, now: datetime, progress: Progress | None) -> None:
        self._client = client
        self._account = account
        self._now = now
        self._forward = progress
        self._skipped = 0
        self._read = 0
        self._total: int | None = None
        self._started = anyio.current_time()

    async def progress(self, done: int, total: int | None, message: str) -> None:
        """Counts the pages read (to estimate the time the rest take), then reports as asked."""
        self._read, self._total = done, total
        if self._forward is not None:
            await self._forward(done, total, message)

    def _pages_left_seconds(self) -> float:
        if not self._read or self._total is None:
            return 0.0
        per_page = (anyio.current_time() - self._started) / self._read
        return per_page * max(self._total - self._read, 0)

    async def fold(
        self,
        pages: AsyncIterator[list[Position]],
        fold: Callable[[list[Position], MarketView | None], object],
        underliers: Callable[[], list[str]],
    ) -> MarketView:
        """Fold every page with its view, in order; return the closing view (balances, the
        ``underliers`` still unpriced once every page is in)."""
        send, receive = anyio.create_memory_object_stream[list[Position]](PAGES_WAITING)
        failure: list[BaseException] = []

        async def read() -> None:
            async with send:
                try:
                    async for rows in pages:
                        await send.send(rows)
                except Exception as exc:  # raised below, outside the task group, as it is
                    failure.append(exc)

        async def enrich(page: _Enriching) -> None:
            page.view = await self.page(page.rows)
            page.done.set()

        in_flight: deque[_Enriching] = deque()

        async def fold_first() -> None:
            page = in_flight.popleft()
            await page.done.wait()
            fold(page.rows, page.view)

        async with anyio.create_task_group() as group:
            group.start_soon(read)
            async with receive:
                async for rows in receive:
                    in_flight.append(_Enriching(rows))
                    group.start_soon(enrich, in_flight[-1])
                    while len(in_flight) > IN_FLIGHT:
                        await fold_first()
            while in_flight:
                await fold_first()
        if failure:
            raise failure[0]
        return await self.finish(underliers())

    async def page(self, rows: list[Position]) -> MarketView | None:
        """The market view of one page's options; None when it has none or time is short."""
        options = [r for r in rows if r.instrument_type != SecurityType.CASH and try_parse_osi(r.symbol) is not None]
        if not options:
            return None
        seconds = min(ENRICHMENT_SECONDS, remaining_budget() - RESERVE_SECONDS - self._pages_left_seconds())
        if seconds <= 0:
            self._skipped += len(options)
            return None
        ids = [r.instrument_id for r in options]
        with anyio.move_on_after(seconds) as scope:
            async with anyio.create_task_group() as group:
                reader = MarketReader(self._client, group, self._account, self._now, funds=False, session=False)
                reader.want(ids, ids)
                reader.finish()
        return reader.view(options, timed_out=scope.cancelled_caught)

    async def finish(self, underliers: list[str]) -> MarketView:
        """The balances and the unpriced underliers' snapshots, within what is left of the time."""
        seconds = max(min(ENRICHMENT_SECONDS, remaining_budget() - 2.0), 0.5)
        with anyio.move_on_after(seconds) as scope:
            async with anyio.create_task_group() as group:
                reader = MarketReader(self._client, group, self._account, self._now, contracts=False, session=False)
                reader.want(underliers)
                reader.finish()
        view = reader.view([], timed_out=scope.cancelled_caught)
        if self._skipped:
            note = (
                f"market data was not read for {self._skipped} option positions (the call was running out of "
                "time): their greeks and contract terms are missing"
            )
            view = replace(view, notes=(*view.notes, note))
        return view
