"""The MCP tools: typed, described, bounded arguments and presentation. No business logic here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from ..actions.reads import PositionsService, Progress, ServiceError
from ..actions.views import PositionInstructions, PositionsPage
from ..clearstreet.models import SortBy, SortDirection
from ..domain.exposure import ExposureSummary

DEFAULT_PAGE_SIZE = 50

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

AccountId = Annotated[
    int | None,
    Field(
        gt=0,
        le=2**63 - 1,
        description="Clear Street account id. Omit to use the default account (see clearstreet://status).",
    ),
]
InstrumentRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./-]*$",
        description="Instrument UUID, ticker (AAPL) or OSI option symbol, with or without padding "
        "spaces (AAPL  280121C00195000, AAPL 280121C00195000, AAPL280121C00195000)",
    ),
]


def present(result: BaseModel) -> CallToolResult:
    """Structured content for programs; the same data as compact JSON text for the model."""
    return CallToolResult(
        content=[TextContent(type="text", text=result.model_dump_json(exclude_none=True))],
        structured_content=result.model_dump(mode="json"),
    )


def progress_reporter(ctx: Context) -> Progress:
    async def report(done: int, total: int | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report


def failure(environment: str, message: str) -> ToolError:
    """A tool error that, like every result, says which environment it comes from."""
    return ToolError(f"[{environment}] {message}")


async def run(call: Callable[[], Awaitable[BaseModel]], environment: str) -> CallToolResult:
    try:
        return present(await call())
    except ServiceError as exc:
        raise failure(environment, str(exc)) from None


def register_read_tools(server: MCPServer[Any], service: PositionsService) -> None:
    @server.tool(title="Get positions", annotations=READ)
    async def get_positions(
        account_id: AccountId = None,
        instrument_ids: Annotated[
            list[InstrumentRef] | None,
            Field(
                min_length=1,
                max_length=100,
                description="Only these instruments (UUIDs, tickers or OSI symbols); omit for all",
            ),
        ] = None,
        sort_by: Annotated[SortBy | None, Field(description="Field to sort by")] = None,
        sort_direction: Annotated[SortDirection | None, Field(description="ASC or DESC")] = None,
        page_size: Annotated[
            int, Field(ge=1, le=1000, description="Positions per page (ignored with page_token)")
        ] = DEFAULT_PAGE_SIZE,
        page_token: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=512,
                pattern=r"^[A-Za-z0-9+/=_-]+$",
                description="next_page_token from the previous page; send the same filters and sort with it",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, PositionsPage]:
        """One page of the account's positions, every field decimal-exact as Clear Street sent it,
        with the total and the token of the next page. For totals and risk use summarize_exposure."""
        return await run(
            lambda: service.positions_page(
                account_id,
                instrument_ids=instrument_ids,
                sort_by=sort_by,
                sort_direction=sort_direction,
                page_size=page_size,
                page_token=page_token,
            ),
            service.environment,
        )

    @server.tool(title="Get position instructions", annotations=READ)
    async def get_position_instructions(
        account_id: AccountId = None,
        instrument_id: Annotated[
            InstrumentRef | None, Field(description="Only instructions on this option contract")
        ] = None,
        underlying_instrument_id: Annotated[
            InstrumentRef | None, Field(description="Only instructions on options of this underlier")
        ] = None,
    ) -> Annotated[CallToolResult, PositionInstructions]:
        """The account's exercise, do-not-exercise and contrary-exercise instructions with their
        status (SENT, ACCEPTED, REJECTED, CANCEL_REQUESTED, CANCELLED, CANCEL_FAILED)."""
        return await run(
            lambda: service.instructions(
                account_id,
                instrument_id=instrument_id,
                underlying_instrument_id=underlying_instrument_id,
            ),
            service.environment,
        )

    @server.tool(title="Summarize exposure", annotations=READ)
    async def summarize_exposure(
        ctx: Context, account_id: AccountId = None
    ) -> Annotated[CallToolResult, ExposureSummary]:
        """Exposure of the whole account over every page of positions: long/short market value,
        gross/net, P&L, breakdowns, largest positions, options by underlier and options expiring
        soon with moneyness and what expiry will do by default. Bounded size whatever the book."""
        return await run(lambda: service.exposure(account_id, progress_reporter(ctx)), service.environment)
