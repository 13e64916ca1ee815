"""The reads: positions (a page, or every page), instructions, the exposure summary, the status.

Without MCP: policy → client → domain → result models. Each read runs under the call's deadline
(POSITIONS_MCP_CALL_TIMEOUT); every failure is an ``ActionError`` that keeps the upstream's status,
message and request_id and says what to do next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from .. import __version__
from ..clearstreet.models import Position, PositionInstruction, SortBy, SortDirection
from ..domain.calendar import new_york
from ..domain.exposure import ExposureBuilder, ExposureSummary
from ..domain.market import MarketView
from ..domain.numbers import plain
from ..safety.policy import PolicyError
from .dependencies import Dependencies
from .errors import ActionError, upstream_errors
from .views import PositionInstructions, PositionsPage, Status

Progress = Callable[[int, int | None, str], Awaitable[None]]
"""Reports (done, total, message) to a client that asked for progress."""

EXPIRY_WINDOW_BUSINESS_DAYS = 5
"""Options expiring within a trading week are listed (from a weekend, the whole next week)."""


@dataclass(frozen=True, slots=True)
class PositionsQuery:
    """One page request of ``get_positions``: filters, sort and paging travel together."""

    instrument_ids: Sequence[str] | None = None
    sort_by: SortBy | None = None
    sort_direction: SortDirection | None = None
    page_size: int | None = None
    page_token: str | None = None


class Reads:
    def __init__(self, deps: Dependencies) -> None:
        self.deps = deps

    @property
    def environment(self) -> str:
        return self.deps.environment

    def account(self, account_id: int | None) -> int:
        try:
            return self.deps.account(account_id)
        except PolicyError as exc:
            raise ActionError(str(exc)) from None

    def status(self) -> Status:
        s = self.deps.settings
        return Status(
            environment=self.environment,
            is_simulator=s.is_simulator,
            base_url="in-process simulator" if s.is_simulator else s.base_url,
            read_only=s.read_only,
            state_changing_tools=s.state_changing_enabled,
            allowed_accounts=sorted(s.allowed_accounts) if s.allowed_accounts else None,
            default_account=self.deps.upstream.default_account,
            confirmation=s.confirmation.value,
            confirm_ttl_seconds=s.confirm_ttl,
            call_timeout_seconds=s.call_timeout,
            max_close_notional=plain(s.max_close_notional) if s.max_close_notional else None,
            server_version=__version__,
        )

    async def positions_page(self, account_id: int | None, query: PositionsQuery) -> PositionsPage:
        account = self.account(account_id)
        async with self.deps.deadline("reading positions"), upstream_errors():
            client = await self.deps.upstream.client()
            page = await client.get_positions(
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

    async def pages(self, account: int, progress: Progress | None = None) -> AsyncIterator[list[Position]]:
        """Every page of the account's positions, reporting progress page by page. The caller
        holds the deadline."""
        async with upstream_errors():
            client = await self.deps.upstream.client()
            done = 0
            async for page in client.iter_position_pages(account):
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

    async def all_positions(self, account_id: int | None, progress: Progress | None = None) -> PositionsPage:
        account = self.account(account_id)
        async with self.deps.deadline("reading every page of positions"):
            rows = await self.positions(account, progress)
        return PositionsPage(environment=self.environment, account_id=account, positions=rows, total_items=len(rows))

    async def market(self, account: int, positions: list[Position], **parts: bool) -> MarketView:
        """What the market says about ``positions`` (quotes, contracts, balances, session), every
        part degrading to a note. The caller holds the deadline."""
        from .market import read_market

        client = await self.deps.upstream.client()
        return await read_market(client, account, positions, self.deps.upstream.now(), **parts)

    async def instruction_rows(
        self, account: int, *, instrument_id: str | None = None, underlying_instrument_id: str | None = None
    ) -> tuple[list[PositionInstruction], str | None]:
        """The account's instructions and the request_id. The caller holds the deadline."""
        async with upstream_errors():
            client = await self.deps.upstream.client()
            result = await client.get_position_instructions(
                account, instrument_id=instrument_id, underlying_instrument_id=underlying_instrument_id
            )
        return result.instructions, result.request_id

    async def instructions(
        self,
        account_id: int | None,
        *,
        instrument_id: str | None = None,
        underlying_instrument_id: str | None = None,
    ) -> PositionInstructions:
        account = self.account(account_id)
        async with self.deps.deadline("reading position instructions"):
            rows, request_id = await self.instruction_rows(
                account, instrument_id=instrument_id, underlying_instrument_id=underlying_instrument_id
            )
        return PositionInstructions(
            environment=self.environment, account_id=account, instructions=rows, request_id=request_id
        )

    async def exposure(self, account_id: int | None, progress: Progress | None = None) -> ExposureSummary:
        account = self.account(account_id)
        now = self.deps.upstream.now()
        builder = ExposureBuilder(
            account_id=account,
            environment=self.environment,
            as_of=now,
            today=new_york(now).date(),
            expiry_window_business_days=EXPIRY_WINDOW_BUSINESS_DAYS,
        )
        async with self.deps.deadline("reading positions for the exposure summary"):
            async for rows in self.pages(account, progress):
                builder.add(rows)
        return builder.build()
