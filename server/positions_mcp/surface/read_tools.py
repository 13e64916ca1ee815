"""The read tools: typed, described, bounded arguments and presentation. No business logic here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic_core import CoreSchema, core_schema

from ..clearstreet.enums import SortBy, SortDirection
from ..domain.numbers import read_decimal
from .app import app_of, progress_reporter, respond
from .tool_base import Arguments, SurfaceTool, make_tool

__all__ = ["READ", "AccountId", "DecimalBounds", "InstrumentRef", "InstrumentText", "read_tools", "written_as"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 150
"""A page of 150 full rows is about 100 KB of result (150 option rows, the longest, about 102 KB:
the rows travel in full as structured content and as a compact table in the text); for more,
follow next_page_token, or use summarize_exposure for totals."""

READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True)
"""Hints only where they differ from the MCP specification's defaults (``openWorldHint`` true,
``idempotentHint`` false; ``destructiveHint`` means nothing for a read-only tool): every byte of
``tools/list`` sits in the model's context before the first question."""


def _not_a_boolean(value: Any) -> Any:
    """A number argument is never true/false (Python counts a bool as an int). A number written as
    a JSON string ("10") is read, as some clients send every argument as text."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


NotABoolean = BeforeValidator(_not_a_boolean)


def written_as(characters: str, what: str, *, longest: int) -> AfterValidator:
    """Checks a text argument: not empty, at most ``longest`` characters, and wholly matching
    ``characters`` (a regular expression); when it is not, says in words what the argument takes.
    None of it is published in the schema: a model forms a call from the description, not from a
    regular expression or a length limit, and every byte of ``tools/list`` sits in its context
    before the first question. The check is what keeps a ``?``, ``&``, ``/..`` or newline out of an
    upstream URL."""
    whole = re.compile(characters)

    def check(value: str | None) -> str | None:
        if value is None:  # an optional argument sent as null reads as left out
            return None
        if not value:
            raise ValueError(f"must not be empty: give {what}")
        if len(value) > longest:
            raise ValueError(f"must be at most {longest} characters")
        if whole.fullmatch(value) is None:
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


@dataclass(frozen=True, slots=True)
class DecimalBounds:
    """How every decimal argument is read (``Annotated[Decimal, DecimalBounds(...)]``): by
    ``domain.numbers.read_decimal``, from ``low`` to ``high`` with at most ``places`` decimal places
    and a bounded number of digits and exponent, checked on the written form before anything else
    runs (``1e-999999999`` is refused, not expanded). Published as a JSON number with its bounds."""

    low: int
    high: int
    places: int

    def _read(self, value: Any) -> Decimal:
        return read_decimal(value, low=self.low, high=self.high, places=self.places)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self._read)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "number", "minimum": self.low, "maximum": self.high}


# domain.scenario.Shock's bounds (a test checks that they agree), without importing it at start-up
ShockPercent = Annotated[Decimal, DecimalBounds(-100, 1000, places=4)]
MAX_ACCOUNT_ID = 2**63 - 1
"""Clear Street types account_id as an int64 (its OpenAPI document): a larger one is refused here."""


def _int64(value: int | None) -> int | None:
    """Checked, not published (it would cost every tool's schema 30 bytes): an id is an int64."""
    if value is not None and value > MAX_ACCOUNT_ID:
        raise ValueError(f"must be at most {MAX_ACCOUNT_ID} (an int64)")
    return value


# the Field first: constraints placed after a validator are not published as JSON Schema bounds
AccountId = Annotated[
    int | None, Field(gt=0, description="Omit for the default account"), NotABoolean, AfterValidator(_int64)
]
InstrumentText = Annotated[
    str,
    written_as(
        r"[A-Za-z0-9][A-Za-z0-9 ./-]*",
        "a UUID, ticker or OSI symbol: letters, digits, spaces, '.', '/', '-'",
        longest=40,
    ),
]
"""An instrument as a person names it: UUID, ticker or OSI symbol (padding spaces optional)."""
InstrumentRef = Annotated[
    InstrumentText, Field(description="UUID, ticker or OSI symbol (AAPL 280121C00195000; spaces optional)")
]


class GetPositionsArgs(Arguments):
    account_id: AccountId = None
    instrument_ids: Annotated[
        list[InstrumentText] | None,
        Field(
            min_length=1,
            max_length=100,
            description="Only these (with underlying_instrument_id: those of them on it)",
        ),
    ] = None
    underlying_instrument_id: Annotated[
        InstrumentText | None,
        Field(description="Only its options and itself (UUID, ticker or OSI root)"),
    ] = None
    sort_by: Annotated[SortBy | None, Field(description="Sort key")] = None
    sort_direction: Annotated[SortDirection | None, Field(description="Sort order")] = None
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Ignored with page_token"), NotABoolean] = (
        DEFAULT_PAGE_SIZE
    )
    page_token: Annotated[
        str | None,
        Field(
            description="A page's next_page_token, resent with the same filters and sort",
        ),
        written_as(r"[A-Za-z0-9+/=_.-]+", "a next_page_token exactly as a page gave it", longest=512),
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
    return await respond(app, app.reads.positions_page(args.account_id, query, caller=app.caller()))


class GetInstructionsArgs(Arguments):
    account_id: AccountId = None
    instrument_id: Annotated[InstrumentText | None, Field(description="Only this contract's (UUID or OSI)")] = None
    underlying_instrument_id: Annotated[
        InstrumentText | None, Field(description="Only this underlier's (UUID, ticker)")
    ] = None


async def get_position_instructions(ctx: Context[Any, Any], args: GetInstructionsArgs) -> CallToolResult:
    app = app_of(ctx)
    return await respond(
        app,
        app.reads.instructions(
            args.account_id,
            caller=app.caller(),
            instrument_id=args.instrument_id,
            underlying_instrument_id=args.underlying_instrument_id,
        ),
    )


class AccountArgs(Arguments):
    account_id: AccountId = None


async def summarize_exposure(ctx: Context[Any, Any], args: AccountArgs) -> CallToolResult:
    app = app_of(ctx)
    return await respond(app, app.reads.exposure(args.account_id, progress_reporter(ctx), caller=app.caller()))


class ShockRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    underlying_instrument_id: InstrumentText | None = Field(None, description="Omit: every underlier no row names")
    price_change_pct: ShockPercent
    volatility_change_pts: ShockPercent = Field(
        Decimal(0), json_schema_extra={"default": 0}
    )  # published as the number 0, not "0"


class ScenarioArgs(Arguments):
    account_id: AccountId = None
    shocks: Annotated[
        list[ShockRow],
        Field(
            min_length=1,
            max_length=20,
            description="price_change_pct -20: price x0.8; volatility_change_pts 5: implied vol +0.05; for one underlier a later row wins, a named row beats an unnamed one",
        ),
    ]


async def analyze_scenario(ctx: Context[Any, Any], args: ScenarioArgs) -> CallToolResult:
    from ..domain.scenario import Shock

    app = app_of(ctx)
    shocks = [
        Shock(row.underlying_instrument_id, row.price_change_pct, row.volatility_change_pts) for row in args.shocks
    ]
    return await respond(app, app.reads.scenario(args.account_id, shocks, caller=app.caller()))


def read_tools(environment: str) -> list[SurfaceTool]:
    return [
        make_tool(
            name="get_positions",
            title="Get positions",
            description="""One page of positions, each field exactly as Clear Street sent it. For totals and risk:
            summarize_exposure.""",
            annotations=READ,
            arguments=GetPositionsArgs,
            handler=get_positions,
            environment=environment,
        ),
        make_tool(
            name="get_position_instructions",
            title="Get position instructions",
            description="""The account's exercise / do-not-exercise / contrary-exercise instructions and their status.""",
            annotations=READ,
            arguments=GetInstructionsArgs,
            handler=get_position_instructions,
            environment=environment,
        ),
        make_tool(
            name="analyze_scenario",
            title="Analyze a scenario",
            description="""P&L and delta per underlier and in total if prices (and volatilities) move: each option
            revalued by Black-Scholes-Merton at its implied volatility (at intrinsic value when priced at or
            below its lower bound).""",
            annotations=READ,
            arguments=ScenarioArgs,
            handler=analyze_scenario,
            environment=environment,
        ),
        make_tool(
            name="summarize_exposure",
            title="Summarize exposure",
            description="""The whole account's exposure in at most 4 KB: market value (an option's is its premium,
            not its risk); delta per underlier in shares and dollars from the API's greeks (the risk); options'
            underlier_notional (what they control); funds; options expiring soon (moneyness, default at expiry,
            pin risk, cash needed). Tables are {columns, rows}.""",
            annotations=READ,
            arguments=AccountArgs,
            handler=summarize_exposure,
            environment=environment,
        ),
    ]
