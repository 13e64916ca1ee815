"""The read tools: typed, described, bounded arguments and presentation. No business logic here."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from ..clearstreet.models import SortBy, SortDirection
from .app import app_of, progress_reporter, respond
from .tool import Arguments, SurfaceTool, make_tool

__all__ = ["READ", "AccountId", "InstrumentRef", "read_tools"]

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


class GetPositionsArgs(Arguments):
    account_id: AccountId = None
    instrument_ids: Annotated[
        list[InstrumentRef] | None,
        Field(
            min_length=1,
            max_length=100,
            description="Only these instruments (UUIDs, tickers or OSI symbols); omit for all",
        ),
    ] = None
    underlying_instrument_id: Annotated[
        InstrumentRef | None,
        Field(description="Only positions on this underlier (UUID, ticker or OSI root): its options and itself"),
    ] = None
    sort_by: Annotated[SortBy | None, Field(description="Field to sort by")] = None
    sort_direction: Annotated[SortDirection | None, Field(description="ASC or DESC")] = None
    page_size: Annotated[int, Field(ge=1, le=1000, description="Positions per page (ignored with page_token)")] = (
        DEFAULT_PAGE_SIZE
    )
    page_token: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=512,
            pattern=r"^[A-Za-z0-9+/=_.-]+$",
            description="next_page_token from the previous page; send the same filters and sort with it",
        ),
    ] = None


async def get_positions(ctx: Context[Any, Any], args: GetPositionsArgs) -> CallToolResult:
    from ..actions.reads import PositionsQuery

    app = app_of(ctx)
    query = PositionsQuery(
        instrument_ids=args.instrument_ids,
        underlying_instrument_id=args.underlying_instrument_id,
        sort_by=args.sort_by,
        sort_direction=args.sort_direction,
        page_size=args.page_size,
        page_token=args.page_token,
    )
    return await respond(app, app.reads.positions_page(args.account_id, query))


class GetInstructionsArgs(Arguments):
    account_id: AccountId = None
    instrument_id: Annotated[InstrumentRef | None, Field(description="Only instructions on this option contract")] = (
        None
    )
    underlying_instrument_id: Annotated[
        InstrumentRef | None, Field(description="Only instructions on options of this underlier")
    ] = None


async def get_position_instructions(ctx: Context[Any, Any], args: GetInstructionsArgs) -> CallToolResult:
    app = app_of(ctx)
    return await respond(
        app,
        app.reads.instructions(
            args.account_id, instrument_id=args.instrument_id, underlying_instrument_id=args.underlying_instrument_id
        ),
    )


class AccountArgs(Arguments):
    account_id: AccountId = None


async def summarize_exposure(ctx: Context[Any, Any], args: AccountArgs) -> CallToolResult:
    app = app_of(ctx)
    return await respond(app, app.reads.exposure(args.account_id, progress_reporter(ctx)))


def _positions_page() -> type[BaseModel]:
    from ..actions.views import PositionsPage

    return PositionsPage


def _instructions() -> type[BaseModel]:
    from ..actions.views import PositionInstructions

    return PositionInstructions


def _exposure() -> type[BaseModel]:
    from ..domain.exposure import ExposureSummary

    return ExposureSummary


def read_tools(environment: str) -> list[SurfaceTool]:
    return [
        make_tool(
            name="get_positions",
            title="Get positions",
            description="""One page of the account's positions, every field decimal-exact as Clear Street sent it,
            with the total and the token of the next page. For totals and risk use summarize_exposure.""",
            annotations=READ,
            arguments=GetPositionsArgs,
            result=_positions_page,
            handler=get_positions,
            environment=environment,
        ),
        make_tool(
            name="get_position_instructions",
            title="Get position instructions",
            description="""The account's exercise, do-not-exercise and contrary-exercise instructions with their
            status (SENT, ACCEPTED, REJECTED, CANCEL_REQUESTED, CANCELLED, CANCEL_FAILED).""",
            annotations=READ,
            arguments=GetInstructionsArgs,
            result=_instructions,
            handler=get_position_instructions,
            environment=environment,
        ),
        make_tool(
            name="summarize_exposure",
            title="Summarize exposure",
            description="""Exposure of the whole account over every page of positions: long/short market value,
            gross/net, P&L, breakdowns, largest positions, options by underlier and options expiring
            soon with moneyness and what expiry will do by default. Bounded size whatever the book.""",
            annotations=READ,
            arguments=AccountArgs,
            result=_exposure,
            handler=summarize_exposure,
            environment=environment,
        ),
    ]
