"""The reads: positions (a page, or every page), instructions, the exposure summary, the status.

Without MCP: policy → client → domain → result models. Each read runs under the call's deadline
(POSITIONS_MCP_CALL_TIMEOUT); every failure is an ``ActionError`` that keeps the upstream's status,
message and request_id and says what to do next.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from .. import __version__
from ..clearstreet.errors import APIStatusError, ClearStreetError
from ..clearstreet.models import Position, PositionInstruction, SecurityType, SortBy, SortDirection
from ..domain.calendar import new_york
from ..domain.contracts import underlier_of_root
from ..domain.market_view import MarketView
from ..domain.numbers import plain
from ..domain.osi import symbol_key, try_parse_osi
from ..domain.resolve import underlier_key, underlier_keys
from ..safety.identity import READ_SCOPE, Caller
from ..safety.policy import PolicyError, require_scope
from .action_errors import ActionError, upstream_errors
from .dependencies import Dependencies
from .views import PositionInstructions, PositionsPage, Status

if TYPE_CHECKING:
    from ..domain.exposure import ExposureSummary
    from ..domain.scenario import ScenarioResult, Shock

Progress = Callable[[int, int | None, str], Awaitable[None]]
"""Reports (done, total, message) to a client that asked for progress."""

DEFAULT_UNDERLIER_PAGE = 50
EXPIRY_WINDOW_BUSINESS_DAYS = 5
"""Options expiring within a trading week are listed (from a weekend, the whole next week)."""


@dataclass(frozen=True, slots=True)
class PositionsQuery:
    """One page request of ``get_positions``: filters, sort and paging travel together."""

    instrument_ids: Sequence[str] | None = None
    underlying_instrument_id: str | None = None
    sort_by: SortBy | None = None
    sort_direction: SortDirection | None = None
    page_size: int | None = None
    page_token: str | None = None


_UNDERLIER_TOKEN = "u1."
DOCUMENT_POSITIONS = 500
"""The positions resource lists at most this many (about 0.6 MB): a host that reads a resource
puts all of it in the model's context."""


def _listing(query: PositionsQuery, underlier: str) -> str:
    """What an underlier listing is: the underlier, the filters and the sort (a page token binds it)."""
    ids = ",".join(sorted(query.instrument_ids or ()))
    return f"{symbol_key(underlier)}|{ids}|{query.sort_by or ''}|{query.sort_direction or ''}"


def _underlier_token(query: PositionsQuery, underlier: str, offset: int) -> str:
    """A page token of an underlier listing (ours, not the API's): which listing, where next."""
    payload = json.dumps({"u": _listing(query, underlier), "o": offset}, separators=(",", ":")).encode()
    return _UNDERLIER_TOKEN + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _underlier_offset(token: str, query: PositionsQuery, underlier: str) -> int:
    try:
        if not token.startswith(_UNDERLIER_TOKEN):
            raise ValueError
        body = token.removeprefix(_UNDERLIER_TOKEN)
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if payload["u"] != _listing(query, underlier) or not isinstance(payload["o"], int) or payload["o"] < 0:
            raise ValueError
        return int(payload["o"])
    except (ValueError, KeyError, TypeError):
        raise ActionError(
            "page_token is not a next_page_token of get_positions for this underlying_instrument_id: pass the "
            "token the previous page returned, with the same underlying_instrument_id, filters and sort."
        ) from None


def _no_match_note(
    book: list[Position], rows: list[Position], keys: set[str], underlier: str, instrument_ids: Sequence[str] | None
) -> str:
    """Why an underlier listing is empty, true of the whole book: the underlier is not held (and
    what is), or it is held but none of its positions is among ``instrument_ids``."""
    named = underlier.strip()[:40]
    if keys and instrument_ids is not None:
        held = sum(1 for row in book if underlier_key(row) in keys)
        listed = ", ".join(i.strip()[:40] for i in instrument_ids[:5]) + (" …" if len(instrument_ids) > 5 else "")
        return (
            f"the account holds {held} position(s) on the underlier {named!r}, none of them among instrument_ids "
            f"({listed}; {len(rows)} position(s) matched those): both filters apply. Omit instrument_ids to list "
            f"the {held} on {named!r}, or name some of them in instrument_ids."
        )
    held_names = sorted({_underlier_name(row) for row in book if row.instrument_type != SecurityType.CASH})
    shown = ", ".join(held_names[:12]) + (f" and {len(held_names) - 12} more" if len(held_names) > 12 else "")
    return (
        f"no position of this account has the underlier {named!r} (matched as an instrument UUID, a ticker or an "
        "OSI root)" + (f"; underliers held: {shown}" if held_names else "")
    )


def _underlier_name(position: Position) -> str:
    """How a person names a position's underlier: an option's OSI root without an adjustment's
    digits (``domain.contracts.underlier_of_root``: no security trades as AAPL1), else its own symbol."""
    option = try_parse_osi(position.symbol)
    return underlier_of_root(option.root) if option is not None else position.symbol.strip()


class Reads:
    def __init__(self, deps: Dependencies) -> None:
        self.deps = deps

    @property
    def environment(self) -> str:
        return self.deps.environment

    def account(self, account_id: int | None, caller: Caller) -> int:
        """The account ``caller`` reads (scope ``positions:read``, with OAuth; the allowlist and
        the caller's grants); an ``ActionError`` saying why not."""
        try:
            require_scope(self.deps.settings, caller, READ_SCOPE)
            return self.deps.account(account_id, caller)
        except PolicyError as exc:
            raise ActionError(str(exc)) from None

    def status(self, caller: Caller) -> Status:
        """The server's status as ``caller`` sees it: with grants, only their own accounts."""
        s = self.deps.settings
        mine = self.deps.accounts_of(caller)
        if mine is None:
            allowed, default = (
                (sorted(s.allowed_accounts) if s.allowed_accounts else None),
                self.deps.upstream.default_account,
            )
        else:
            allowed, default = list(mine), self._default_of(caller)
        return Status(
            environment=self.environment,
            is_simulator=s.is_simulator,
            base_url="in-process simulator" if s.is_simulator else s.base_url,
            read_only=s.read_only,
            state_changing_tools=s.state_changing_enabled,
            allowed_accounts=allowed,
            default_account=default,
            confirmation=s.confirmation.value,
            confirm_ttl_seconds=s.confirm_ttl,
            call_timeout_seconds=s.call_timeout,
            max_close_notional=plain(s.max_close_notional) if s.max_close_notional else None,
            server_version=__version__,
        )

    def _default_of(self, caller: Caller) -> int | None:
        try:
            return self.deps.account(None, caller)
        except PolicyError:
            return None

    async def positions_page(self, account_id: int | None, query: PositionsQuery, *, caller: Caller) -> PositionsPage:
        account = self.account(account_id, caller)
        if query.underlying_instrument_id is not None:
            return await self._underlier_page(account, query, query.underlying_instrument_id)
        async with self.deps.deadline("reading positions"), upstream_errors():
            client = await self.deps.upstream.client()
            page = await client.positions.page(
                account,
                instrument_ids=query.instrument_ids,
                sort_by=query.sort_by,
                sort_direction=query.sort_direction,
                page_size=query.page_size,
                page_token=query.page_token,
            )
        meta = page.metadata
        return PositionsPage(
            environment=self.environment,
            account_id=account,
            positions=page.positions,
            page_number=meta.page_number,
            total_items=meta.total_items,
            total_pages=meta.total_pages,
            next_page_token=meta.next_page_token,
            previous_page_token=meta.previous_page_token,
            request_id=page.request_id,
        )

    async def _underlier_page(self, account: int, query: PositionsQuery, underlier: str) -> PositionsPage:
        """The positions on one underlier (its options and the underlier itself), across every page,
        in the requested sort (the API sorts; filtering keeps its order), paged here.

        With ``instrument_ids`` too, both filters apply: the positions on the underlier that are
        among those instruments (the intersection, as every filter of the API narrows the one
        before). The underlier is resolved on the whole book, not on the instruments listed: naming
        TSLA and the underlier AAPL is an empty answer that says the account holds AAPL positions,
        none of them among the instruments named — never that it holds none."""
        offset = _underlier_offset(query.page_token, query, underlier) if query.page_token else 0
        size = query.page_size or DEFAULT_UNDERLIER_PAGE
        async with self.deps.deadline("reading positions"), upstream_errors():
            book = await self._sorted_rows(account, query, None)
            rows = (
                book if query.instrument_ids is None else await self._sorted_rows(account, query, query.instrument_ids)
            )
        keys = underlier_keys(book, underlier)
        if not keys and (contract := try_parse_osi(underlier)) is not None:  # a contract names its underlier
            keys = underlier_keys(book, contract.root)
        matching = [row for row in rows if underlier_key(row) in keys]
        note = None
        if not matching:
            note = _no_match_note(book, rows, keys, underlier, query.instrument_ids)
        total = len(matching)
        following = offset + size
        return PositionsPage(
            environment=self.environment,
            account_id=account,
            positions=matching[offset:following],
            page_number=offset // size + 1,
            total_items=total,
            total_pages=max(1, -(-total // size)),
            next_page_token=_underlier_token(query, underlier, following) if following < total else None,
            previous_page_token=_underlier_token(query, underlier, max(0, offset - size)) if offset else None,
            note=note,
        )

    async def _sorted_rows(
        self, account: int, query: PositionsQuery, instrument_ids: Sequence[str] | None
    ) -> list[Position]:
        """Every position (of ``instrument_ids``, when given), all pages, in the query's sort.
        The caller holds the deadline."""
        client = await self.deps.upstream.client()
        rows: list[Position] = []
        async for page in client.positions.pages(
            account, instrument_ids=instrument_ids, sort_by=query.sort_by, sort_direction=query.sort_direction
        ):
            rows.extend(page.positions)
        return rows

    async def pages(
        self, account: int, progress: Progress | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[list[Position]]:
        """Every page of the account's positions, reporting progress page by page. The caller
        holds the deadline."""
        async with upstream_errors():
            client = await self.deps.upstream.client()
            done = 0
            async for page in client.positions.pages(account, page_size=page_size):
                done += 1
                if progress is not None:
                    total = page.metadata.total_pages
                    await progress(done, total, f"read page {done} of {total or '?'}")
                yield page.positions

    async def positions(self, account: int, progress: Progress | None = None) -> list[Position]:
        """Every position of ``account`` (already checked against the policy), all pages."""
        positions: list[Position] = []
        async for rows in self.pages(account, progress):
            positions.extend(rows)
        return positions

    async def all_positions(
        self, account_id: int | None, progress: Progress | None = None, *, caller: Caller
    ) -> PositionsPage:
        """The positions document (resource): every position up to ``DOCUMENT_POSITIONS``, in the
        API's order; a larger book lists that many and says how many there are and where the rest is."""
        account = self.account(account_id, caller)
        rows: list[Position] = []
        total: int | None = None
        stopped = False
        async with self.deps.deadline("reading the pages of positions"), upstream_errors():
            client = await self.deps.upstream.client()
            async for page in client.positions.pages(account):
                total = page.metadata.total_items if total is None else total
                rows.extend(page.positions)
                if progress is not None:
                    await progress(len(rows), total, f"read {len(rows)} positions")
                if len(rows) >= DOCUMENT_POSITIONS:
                    stopped = True
                    break  # the pages after it are not read
        note = None
        if len(rows) > DOCUMENT_POSITIONS or (stopped and (total is None or total > DOCUMENT_POSITIONS)):
            rows = rows[:DOCUMENT_POSITIONS]
            note = (
                f"the account holds {total if total is not None else 'maybe more than ' + str(DOCUMENT_POSITIONS)} positions: this document lists the first "
                f"{DOCUMENT_POSITIONS}, in the API's order; page through get_positions for the rest, or read the "
                "exposure summary for totals over every position"
            )
        return PositionsPage(
            environment=self.environment,
            account_id=account,
            positions=rows,
            total_items=total if total is not None else len(rows),
            note=note,
        )

    async def market(self, account: int, positions: list[Position], **parts: bool) -> MarketView:
        """What the market says about ``positions`` (quotes, contracts, balances, session), every
        part degrading to a note. The caller holds the deadline."""
        from .enrichment import read_market

        client = await self.deps.upstream.client()
        return await read_market(client, account, positions, self.deps.upstream.now(), **parts)

    async def instruction_rows(
        self, account: int, *, instrument_id: str | None = None, underlying_instrument_id: str | None = None
    ) -> tuple[list[PositionInstruction], str | None]:
        """The account's instructions and the request_id. The caller holds the deadline."""
        async with upstream_errors():
            client = await self.deps.upstream.client()
            result = await client.instructions.get(
                account, instrument_id=instrument_id, underlying_instrument_id=underlying_instrument_id
            )
        return result.instructions, result.request_id

    async def instructions(
        self,
        account_id: int | None,
        *,
        caller: Caller,
        instrument_id: str | None = None,
        underlying_instrument_id: str | None = None,
    ) -> PositionInstructions:
        account = self.account(account_id, caller)
        async with self.deps.deadline("reading position instructions"):
            rows, request_id = await self.instruction_rows(
                account, instrument_id=instrument_id, underlying_instrument_id=underlying_instrument_id
            )
        return PositionInstructions(
            environment=self.environment, account_id=account, instructions=rows, request_id=request_id
        )

    async def scenario(self, account_id: int | None, shocks: Sequence[Shock], *, caller: Caller) -> ScenarioResult:
        """P&L and delta after ``shocks`` (``domain.scenario``), from every position and what the
        market says about them (quotes, contract terms); the model runs in a worker thread."""
        from ..domain.scenario import ScenarioError, analyze_scenario

        account = self.account(account_id, caller)
        async with self.deps.deadline("reading positions and quotes for the scenario"):
            positions = await self.positions(account)
            market = await self.market(account, positions, funds=False, session=False)
            now = self.deps.upstream.now()
            try:
                return await anyio.to_thread.run_sync(
                    lambda: analyze_scenario(
                        positions, market, shocks, now=now, account_id=account, environment=self.environment
                    )
                )
            except ScenarioError as exc:
                raise ActionError(f"Invalid scenario ({exc.code}), nothing was computed: {exc.message}") from None

    async def exposure(
        self, account_id: int | None, progress: Progress | None = None, *, caller: Caller
    ) -> ExposureSummary:
        """Every page folded into the summary with its options' market data (``BookMarket``), then
        the balances and the unpriced underliers, then the account's instructions (what expiry
        settles depends on those in force); the summary is built in a worker thread. Instructions
        that cannot be read degrade to a note, like the market data."""
        from ..domain.exposure import ExposureBuilder  # imported on first use: not on every read's path
        from .enrichment import BOOK_PAGE_SIZE, BookMarket

        account = self.account(account_id, caller)
        now = self.deps.upstream.now()
        builder = ExposureBuilder(
            account_id=account,
            environment=self.environment,
            as_of=now,
            today=new_york(now).date(),
            expiry_window_business_days=EXPIRY_WINDOW_BUSINESS_DAYS,
        )
        async with self.deps.deadline("reading positions for the exposure summary"):
            client = await self.deps.upstream.client()
            book = BookMarket(client, account, now, progress)
            pages = self.pages(account, book.progress, page_size=BOOK_PAGE_SIZE)
            view = await book.fold(pages, builder.add, builder.unpriced_underlier_ids)
            try:
                builder.instruct((await client.instructions.get(account)).instructions)
            except ClearStreetError as exc:
                why = f"Clear Street {exc.status_code}" if isinstance(exc, APIStatusError) else type(exc).__name__
                builder.instruct((), unread=f"position instructions unavailable ({why})")
        return await anyio.to_thread.run_sync(builder.build, view)
