"""What the tools and resources do, without MCP: policy → client → domain → result models.

The MCP layer calls these methods and only translates ``ServiceError`` into a tool error. Every
upstream failure becomes a ``ServiceError`` whose text keeps the status, message and request_id
and says what to do next.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from .. import __version__
from ..clearstreet.errors import (
    APIStatusError,
    ClearStreetConnectionError,
    ClearStreetError,
    OutcomeUnknownError,
)
from ..clearstreet.models import Position, SortBy, SortDirection
from ..domain.calendar import new_york
from ..domain.exposure import ExposureBuilder, ExposureSummary
from ..domain.numbers import plain
from ..safety.policy import PolicyError, resolve_account
from ..settings import Settings
from .upstream import Backend
from .views import PositionInstructions, PositionsPage, Status

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None, str], Awaitable[None]]
"""Reports (done, total, message) to a client that asked for progress."""

EXPIRY_WINDOW_BUSINESS_DAYS = 5
"""Options expiring within a trading week are listed (from a weekend, the whole next week)."""

_STATUS_HINTS = {
    400: "check the arguments against the tool's schema and try again",
    401: "the API key was refused: check CLEAR_STREET_API_KEY",
    403: "this API key may not act on that account: check the account id or the key's permissions",
    404: "check the account id (one this API key can access: see clearstreet://status) and, if one was given, the instrument (UUID, ticker or OSI symbol) — get_positions lists what the account holds",
    409: "the request conflicts with the current state: re-read and try again only if still needed",
    422: "the upstream refused the request as it stands; nothing was done",
    429: "the API is rate limiting: wait a little before retrying",
}


class ServiceError(Exception):
    """A failure to show the assistant as it is: what happened and what to do."""


def describe_upstream(exc: ClearStreetError) -> str:
    if isinstance(exc, OutcomeUnknownError):
        where = f" (HTTP {exc.status_code})" if exc.status_code else ""
        rid = f", request_id {exc.request_id}" if exc.request_id else ""
        return (
            f"OUTCOME UNKNOWN{where}{rid}: {exc}. The request may or may not have been carried "
            "out. Check positions (get_positions) before retrying; it was not retried automatically."
        )
    if isinstance(exc, APIStatusError):
        hint = _STATUS_HINTS.get(exc.status_code)
        if hint is None and exc.status_code >= 500:
            hint = "the Clear Street API failed: try again later; quote the request_id to support"
        rid = exc.request_id or "none"
        text = f"Clear Street API error {exc.status_code}: {exc.message} (request_id {rid})."
        return f"{text} {hint[0].upper()}{hint[1:]}." if hint else text
    if isinstance(exc, ClearStreetConnectionError):
        kind = "timed out" if exc.timed_out else "could not be reached"
        return f"The Clear Street API {kind}: {exc}. Try again in a moment."
    return f"Clear Street client error: {exc}"


@asynccontextmanager
async def upstream_errors() -> AsyncIterator[None]:
    """Turn client and policy errors into ServiceError with the text the assistant should see."""
    try:
        yield
    except PolicyError as exc:
        raise ServiceError(str(exc)) from None
    except ClearStreetError as exc:
        raise ServiceError(describe_upstream(exc)) from exc
    except ValueError as exc:  # the client's own argument checks: nothing was sent
        raise ServiceError(f"Invalid request, nothing was sent: {exc}") from None


class PositionsService:
    def __init__(self, settings: Settings, backend: Backend) -> None:
        self.settings = settings
        self.backend = backend

    @property
    def environment(self) -> str:
        return self.settings.environment_label

    def account(self, account_id: int | None) -> int:
        try:
            return resolve_account(self.settings, account_id, default=self.backend.default_account)
        except PolicyError as exc:
            raise ServiceError(str(exc)) from None

    def status(self) -> Status:
        s = self.settings
        return Status(
            environment=self.environment,
            is_simulator=s.is_simulator,
            base_url="in-process simulator" if s.is_simulator else s.base_url,
            read_only=s.read_only,
            state_changing_tools=s.state_changing_enabled,
            allowed_accounts=sorted(s.allowed_accounts) if s.allowed_accounts else None,
            default_account=s.default_account if s.default_account is not None else self.backend.default_account,
            confirmation=s.confirmation.value,
            confirm_ttl_seconds=s.confirm_ttl,
            max_close_notional=plain(s.max_close_notional) if s.max_close_notional else None,
            server_version=__version__,
        )

    async def positions_page(
        self,
        account_id: int | None,
        *,
        instrument_ids: Sequence[str] | None = None,
        sort_by: SortBy | None = None,
        sort_direction: SortDirection | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> PositionsPage:
        account = self.account(account_id)
        async with upstream_errors():
            client = await self.backend.client()
            page = await client.get_positions(
                account,
                instrument_ids=instrument_ids,
                sort_by=sort_by,
                sort_direction=sort_direction,
                page_size=page_size,
                page_token=page_token,
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
        """Every page of the account's positions, reporting progress page by page."""
        async with upstream_errors():
            client = await self.backend.client()
            done = 0
            async for page in client.iter_position_pages(account):
                done += 1
                if progress is not None:
                    total = page.metadata.total_pages
                    await progress(done, total, f"read page {done} of {total or '?'}")
                yield page.positions

    async def all_positions(
        self, account_id: int | None, progress: Progress | None = None
    ) -> tuple[int, list[Position]]:
        account = self.account(account_id)
        positions: list[Position] = []
        async for rows in self.pages(account, progress):
            positions.extend(rows)
        return account, positions

    async def instructions(
        self,
        account_id: int | None,
        *,
        instrument_id: str | None = None,
        underlying_instrument_id: str | None = None,
    ) -> PositionInstructions:
        account = self.account(account_id)
        async with upstream_errors():
            client = await self.backend.client()
            result = await client.get_position_instructions(
                account,
                instrument_id=instrument_id,
                underlying_instrument_id=underlying_instrument_id,
            )
        return PositionInstructions(
            environment=self.environment,
            account_id=account,
            instructions=result.instructions,
            request_id=result.request_id,
        )

    async def exposure(self, account_id: int | None, progress: Progress | None = None) -> ExposureSummary:
        account = self.account(account_id)
        now = self.backend.clock()
        builder = ExposureBuilder(
            account_id=account,
            environment=self.environment,
            as_of=now,
            today=new_york(now).date(),
            expiry_window_business_days=EXPIRY_WINDOW_BUSINESS_DAYS,
        )
        async for rows in self.pages(account, progress):
            builder.add(rows)
        return builder.build()
