"""The MCP surface (README.md's tools and resources) through the protocol: a real ``mcp.Client`` in both protocol
eras (the ``client`` fixture runs every test on 2026-07-28 and on 2025-11-25) against the server
backed by the simulator.

Every successful tool call made here goes through ``call``, which checks the structured content
against the tool's published outputSchema (JSON Schema), against the pydantic result model, and
that the text content carries the same data. What reaches the upstream is recorded by wrapping the
simulator's transport (``upstream``), so "refused before the upstream" is checked, not assumed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from conftest import MONDAY_OPEN, Recorder, text_of
from inline_snapshot import snapshot
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from positions_mcp import __version__
from positions_mcp.actions.enrichment import BOOK_PAGE_SIZE
from positions_mcp.actions.views import PositionInstructions, PositionsPage, Status
from positions_mcp.clearstreet.models import SortBy, SortDirection
from positions_mcp.domain.exposure import ExposureSummary
from positions_mcp.domain.scenario import ScenarioResult
from positions_mcp.settings import Settings
from positions_mcp.simulator import Simulator
from positions_mcp.surface.prompts import parse_prompt
from positions_mcp.surface.rendering import render
from positions_mcp.surface.server import build_server
from pydantic import BaseModel

pytestmark = pytest.mark.anyio

PRIMARY, SECOND, UNKNOWN = 19816, 122503, 999999
LARGE, LARGE_SIZE = 777, 2500  # three upstream pages of 1000 (ten of 250 for the exposure summary)
MEDIUM, MEDIUM_SIZE = 555, 120  # three tool pages of the default 50
READ_TOOLS = ["get_positions", "get_position_instructions", "summarize_exposure"]  # each takes account_id alone
LISTED_READ_TOOLS = ["get_positions", "get_position_instructions", "analyze_scenario", "summarize_exposure"]
ACTION_TOOLS = [
    "preview_close_position",
    "close_position",
    "preview_close_positions",
    "close_positions",
    "preview_submit_position_instructions",
    "submit_position_instructions",
    "cancel_position_instruction",
]
PROMPTS = ["close_position", "exercise_options", "review_expiring_options", "summarize_exposure"]
RESULT_MODELS: dict[str, type[BaseModel]] = {
    "analyze_scenario": ScenarioResult,
    "get_positions": PositionsPage,
    "get_position_instructions": PositionInstructions,
    "summarize_exposure": ExposureSummary,
}
REQUEST_ID = re.compile(r"request_id ([0-9a-f-]{36})")
LEAP = "AAPL  280121C00195000"  # the option of account 122503's instructions
LEAP_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e01"
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"  # AAPL261127C00145000 in 19816
SECRET_KEY = "sk-test-0123456789abcdef-never-shown"


# -- helpers ---------------------------------------------------------------------------------------


@asynccontextmanager
async def connect(
    settings: Settings, mode: str, simulator: Simulator | Recorder | None = None
) -> AsyncIterator[Client]:
    server = (
        simulator.server(settings) if isinstance(simulator, Recorder) else build_server(settings, simulator=simulator)
    )
    async with Client(server, mode=mode) as connected:
        yield connected


async def raw(simulator: Simulator, path: str, **params: Any) -> dict[str, Any]:
    """What the simulated API serves, read with plain httpx on ``sim.transport()`` (unrecorded)."""
    transport = Simulator.transport(simulator)
    async with httpx.AsyncClient(base_url="http://simulator", transport=transport) as http:
        response = await http.get(path, params=params, headers={"Authorization": "Bearer raw"})
    assert response.status_code == 200, response.text
    served: dict[str, Any] = response.json()
    return served


async def raw_positions(simulator: Simulator, account: int, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    query: dict[str, Any] = {"page_size": 1000, **params}
    while True:
        body = await raw(simulator, f"/v1/accounts/{account}/positions", **query)
        rows += body["data"]
        token = body["metadata"].get("next_page_token")
        if not token:
            return rows
        query = {**params, "page_token": token}


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


async def call(client: Client, name: str, arguments: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Call a tool that must succeed; check its result against its outputSchema, its result model
    and its text content, and that it names the simulator. Returns the structured content."""
    result = await client.call_tool(name, arguments or {}, **kwargs)
    assert not result.is_error, result.content
    tool = next(t for t in (await client.list_tools()).tools if t.name == name)
    assert tool.output_schema is not None
    structured = result.structured_content
    assert isinstance(structured, dict)
    jsonschema.Draft202012Validator(
        tool.output_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(structured)
    RESULT_MODELS[name].model_validate(structured)
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    assert result.content[0].text == render(structured)  # the one rendering, not the JSON again
    assert structured["environment"] == "simulator"
    return structured


async def tool_error(client: Client, name: str, arguments: dict[str, Any] | None = None) -> str:
    result: CallToolResult = await client.call_tool(name, arguments or {})
    assert result.is_error, result.structured_content
    assert result.structured_content is None
    (content,) = result.content
    assert isinstance(content, TextContent)
    return content.text


async def read_json(client: Client, uri: str) -> Any:
    (content,) = (await client.read_resource(uri)).contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)  # type: ignore[union-attr]


async def page_through(client: Client, **arguments: Any) -> list[dict[str, Any]]:
    """Every page of get_positions, resending the filters and sort with each token."""
    pages = [await call(client, "get_positions", arguments)]
    while pages[-1].get("next_page_token") is not None:
        pages.append(await call(client, "get_positions", {**arguments, "page_token": pages[-1].get("next_page_token")}))
    return pages


# -- listings --------------------------------------------------------------------------------------


async def test_tool_list_on_the_wire(client: Client) -> None:
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]
    assert tools == snapshot(
        [
            {
                "name": "get_positions",
                "title": "Get positions",
                "description": """\
One page of positions, each field exactly as Clear Street sent it. For totals and risk:
summarize_exposure.\
""",
                "inputSchema": {
                    "type": "object",
                    "$defs": {
                        "SortBy": {
                            "enum": [
                                "SYMBOL",
                                "INSTRUMENT_TYPE",
                                "QUANTITY",
                                "MARKET_VALUE",
                                "POSITION_TYPE",
                                "UNREALIZED_PNL",
                                "DAILY_UNREALIZED_PNL",
                                "DAILY_REALIZED_PNL",
                            ],
                            "type": "string",
                        },
                        "SortDirection": {"enum": ["ASC", "DESC"], "type": "string"},
                    },
                    "additionalProperties": False,
                    "properties": {
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "instrument_ids": {
                            "description": "Only these (with underlying_instrument_id: those of them on it)",
                            "items": {"type": "string"},
                            "maxItems": 100,
                            "minItems": 1,
                            "type": "array",
                        },
                        "underlying_instrument_id": {
                            "description": "Only its options and itself (UUID, ticker or OSI root)",
                            "type": "string",
                        },
                        "sort_by": {"description": "Sort key", "$ref": "#/$defs/SortBy"},
                        "sort_direction": {"description": "Sort order", "$ref": "#/$defs/SortDirection"},
                        "page_size": {
                            "default": 50,
                            "description": "Ignored with page_token",
                            "maximum": 150,
                            "minimum": 1,
                            "type": "integer",
                        },
                        "page_token": {
                            "description": "A page's next_page_token, resent with the same filters and sort",
                            "type": "string",
                        },
                    },
                },
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True, "idempotentHint": True},
            },
            {
                "name": "get_position_instructions",
                "title": "Get position instructions",
                "description": "The account's exercise / do-not-exercise / contrary-exercise instructions and their status.",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "instrument_id": {
                            "description": "Only this contract's (UUID or OSI)",
                            "type": "string",
                        },
                        "underlying_instrument_id": {
                            "description": "Only this underlier's (UUID, ticker)",
                            "type": "string",
                        },
                    },
                },
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True, "idempotentHint": True},
            },
            {
                "name": "analyze_scenario",
                "title": "Analyze a scenario",
                "description": """\
P&L and delta per underlier and in total if prices (and volatilities) move: each option
revalued by Black-Scholes-Merton at its implied volatility (at intrinsic value when priced at or
below its lower bound).\
""",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "shocks": {
                            "description": "price_change_pct -20: price x0.8; volatility_change_pts 5: implied vol +0.05; for one underlier a later row wins, a named row beats an unnamed one",
                            "items": {
                                "additionalProperties": False,
                                "properties": {
                                    "underlying_instrument_id": {
                                        "description": "Omit: every underlier no row names",
                                        "type": "string",
                                    },
                                    "price_change_pct": {"maximum": 1000, "minimum": -100, "type": "number"},
                                    "volatility_change_pts": {
                                        "default": 0,
                                        "maximum": 1000,
                                        "minimum": -100,
                                        "type": "number",
                                    },
                                },
                                "required": ["price_change_pct"],
                                "type": "object",
                            },
                            "maxItems": 20,
                            "minItems": 1,
                            "type": "array",
                        },
                    },
                    "required": ["shocks"],
                },
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True, "idempotentHint": True},
            },
            {
                "name": "summarize_exposure",
                "title": "Summarize exposure",
                "description": """\
The whole account's exposure in at most 4 KB: market value (an option's is its premium,
not its risk); delta per underlier in shares and dollars from the API's greeks (the risk); options'
underlier_notional (what they control); funds; options expiring soon (moneyness, default at expiry,
pin risk, cash needed). Tables are {columns, rows}.\
""",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1}
                    },
                },
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True, "idempotentHint": True},
            },
            {
                "name": "preview_close_position",
                "title": "Preview closing a position",
                "description": """\
The MARKET DAY order that would close one position (side, quantity, estimate and its
source, warnings) and the token for close_position. Sends nothing.\
""",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "instrument_id": {
                            "description": "UUID, ticker or OSI symbol (AAPL 280121C00195000; spaces optional)",
                            "type": "string",
                        },
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "cancel_orders": {
                            "default": False,
                            "description": "Cancel working orders first, so all of it closes (else only what is free)",
                            "type": "boolean",
                        },
                    },
                    "required": ["instrument_id"],
                },
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True},
            },
            {
                "name": "close_position",
                "title": "Close a position",
                "description": """\
Send what preview_close_position showed, after the person's explicit yes. Refused if the
position changed.\
""",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "instrument_id": {
                            "description": "UUID, ticker or OSI symbol (AAPL 280121C00195000; spaces optional)",
                            "type": "string",
                        },
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "cancel_orders": {
                            "default": False,
                            "description": "Cancel working orders first, so all of it closes (else only what is free)",
                            "type": "boolean",
                        },
                        "confirmation_token": {
                            "description": "The preview's token, once the person said yes (or the server asks them, if it can)",
                            "maxLength": 4096,
                            "type": "string",
                        },
                    },
                    "required": ["instrument_id"],
                },
                "outputSchema": {"type": "object"},
                "annotations": {"destructiveHint": True},
            },
            {
                "name": "preview_close_positions",
                "title": "Preview closing every position",
                "description": """\
The MARKET DAY orders that would close EVERY position (cash excluded), their
estimated total, warnings, and the token for close_positions. Sends nothing.\
""",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "cancel_orders": {
                            "default": False,
                            "description": "Cancel working orders first, so all of it closes (else only what is free)",
                            "type": "boolean",
                        },
                    },
                },
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True},
            },
            {
                "name": "close_positions",
                "title": "Close every position",
                "description": """\
Send what preview_close_positions showed for EVERY position, after the person's explicit
yes. Refused if any position changed.\
""",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "cancel_orders": {
                            "default": False,
                            "description": "Cancel working orders first, so all of it closes (else only what is free)",
                            "type": "boolean",
                        },
                        "confirmation_token": {
                            "description": "The preview's token, once the person said yes (or the server asks them, if it can)",
                            "maxLength": 4096,
                            "type": "string",
                        },
                    },
                },
                "outputSchema": {"type": "object"},
                "annotations": {"destructiveHint": True},
            },
            {
                "name": "preview_submit_position_instructions",
                "title": "Preview position instructions",
                "description": """\
Checks exercise / do-not-exercise / contrary-exercise rows (held long, available,
expiry day, style, the day's cutoff), moneyness and what exercise delivers; gives each row its key and
the token for submit_position_instructions. Sends nothing.\
""",
                "inputSchema": {
                    "type": "object",
                    "$defs": {
                        "InstructionType": {
                            "enum": ["EXERCISE", "DO_NOT_EXERCISE", "CONTRARY_EXERCISE"],
                            "type": "string",
                        }
                    },
                    "additionalProperties": False,
                    "properties": {
                        "instructions": {
                            "description": "One batch",
                            "items": {
                                "additionalProperties": False,
                                "properties": {
                                    "instruction_type": {
                                        "$ref": "#/$defs/InstructionType",
                                        "description": "DO_NOT_EXERCISE and CONTRARY_EXERCISE: expiry day only",
                                    },
                                    "instrument_id": {
                                        "description": "The contract: OSI symbol or UUID",
                                        "type": "string",
                                    },
                                    "quantity": {
                                        "description": "Contracts",
                                        "maximum": 1000000,
                                        "minimum": 1,
                                        "type": "integer",
                                    },
                                    "instruction_id": {
                                        "description": "Idempotency key (default: the preview's); to retry an unknown outcome, the first one",
                                        "type": "string",
                                    },
                                    "client_instruction_id": {
                                        "description": "The API's name for instruction_id",
                                        "type": "string",
                                    },
                                },
                                "required": ["instruction_type", "instrument_id", "quantity"],
                                "type": "object",
                            },
                            "maxItems": 50,
                            "minItems": 1,
                            "type": "array",
                        },
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                    },
                    "required": ["instructions"],
                },
                "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": True},
            },
            {
                "name": "submit_position_instructions",
                "title": "Submit position instructions",
                "description": """\
Send what preview_submit_position_instructions showed, with its keys (a retry cannot
exercise twice), after the person's explicit yes. http_status 207: some rows REJECTED.\
""",
                "inputSchema": {
                    "type": "object",
                    "$defs": {
                        "InstructionType": {
                            "enum": ["EXERCISE", "DO_NOT_EXERCISE", "CONTRARY_EXERCISE"],
                            "type": "string",
                        }
                    },
                    "additionalProperties": False,
                    "properties": {
                        "instructions": {
                            "description": "One batch",
                            "items": {
                                "additionalProperties": False,
                                "properties": {
                                    "instruction_type": {
                                        "$ref": "#/$defs/InstructionType",
                                        "description": "DO_NOT_EXERCISE and CONTRARY_EXERCISE: expiry day only",
                                    },
                                    "instrument_id": {
                                        "description": "The contract: OSI symbol or UUID",
                                        "type": "string",
                                    },
                                    "quantity": {
                                        "description": "Contracts",
                                        "maximum": 1000000,
                                        "minimum": 1,
                                        "type": "integer",
                                    },
                                    "instruction_id": {
                                        "description": "Idempotency key (default: the preview's); to retry an unknown outcome, the first one",
                                        "type": "string",
                                    },
                                    "client_instruction_id": {
                                        "description": "The API's name for instruction_id",
                                        "type": "string",
                                    },
                                },
                                "required": ["instruction_type", "instrument_id", "quantity"],
                                "type": "object",
                            },
                            "maxItems": 50,
                            "minItems": 1,
                            "type": "array",
                        },
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                        "confirmation_token": {
                            "description": "The preview's token, once the person said yes (or the server asks them, if it can)",
                            "maxLength": 4096,
                            "type": "string",
                        },
                    },
                    "required": ["instructions"],
                },
                "outputSchema": {"type": "object"},
                "annotations": {"destructiveHint": True},
            },
            {
                "name": "cancel_position_instruction",
                "title": "Cancel a position instruction",
                "description": """\
Cancel a SENT instruction (CANCEL_REQUESTED now; CANCELLED or CANCEL_FAILED later in
get_position_instructions). Safe to repeat.\
""",
                "inputSchema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "instruction_id": {
                            "description": "Its 'id' in get_position_instructions, not its key",
                            "type": "string",
                        },
                        "account_id": {"description": "Omit for the default account", "type": "integer", "minimum": 1},
                    },
                    "required": ["instruction_id"],
                },
                "outputSchema": {"type": "object"},
                "annotations": {"destructiveHint": False, "idempotentHint": True},
            },
        ]
    )


def behaviour(hints: ToolAnnotations) -> tuple[bool, bool | None, bool, bool]:
    """What a tool's hints say once the MCP specification's defaults are applied (readOnlyHint
    false, destructiveHint true, idempotentHint false, openWorldHint true); destructiveHint means
    nothing for a read-only tool (None)."""
    read_only = bool(hints.read_only_hint)
    destructive = None if read_only else hints.destructive_hint is not False
    return read_only, destructive, bool(hints.idempotent_hint), hints.open_world_hint is not False


async def test_every_tool_is_titled_annotated_described_and_has_an_output_schema(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == LISTED_READ_TOOLS + ACTION_TOOLS
    said: dict[str, tuple[bool, bool | None, bool, bool]] = {}
    for tool in tools:
        assert tool.title and tool.description and tool.description == tool.description.strip(), tool.name
        assert tool.annotations is not None, tool.name
        said[tool.name] = behaviour(tool.annotations)
        for argument, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), (tool.name, argument)
        assert tool.output_schema is not None and tool.output_schema.get("type") == "object", tool.name
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
    reads, previews = (True, None, True, True), (True, None, False, True)
    sends, cancels = (False, True, False, True), (False, False, True, True)
    assert said == {
        **dict.fromkeys(LISTED_READ_TOOLS, reads),
        **dict.fromkeys([n for n in ACTION_TOOLS if n.startswith("preview_")], previews),
        **dict.fromkeys(["close_position", "close_positions", "submit_position_instructions"], sends),
        "cancel_position_instruction": cancels,
    }
    # a destructive tool says so explicitly, for a host that does not apply the defaults
    assert all(t.annotations and t.annotations.destructive_hint is True for t in tools if said[t.name] == sends)
    schema = tools[0].input_schema
    assert schema["$defs"]["SortBy"]["enum"] == [s.value for s in SortBy]
    assert schema["$defs"]["SortDirection"]["enum"] == [d.value for d in SortDirection]
    assert list(schema["properties"]) == [
        "account_id",
        "instrument_ids",
        "underlying_instrument_id",
        "sort_by",
        "sort_direction",
        "page_size",
        "page_token",
    ]
    page_size = schema["properties"]["page_size"]
    assert (page_size["minimum"], page_size["maximum"], page_size["default"]) == (1, 150, 50)


async def test_resources_templates_and_prompts_are_listed(client: Client) -> None:
    def wire(items: list[Any]) -> list[dict[str, Any]]:
        return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in items]

    assert wire((await client.list_resources()).resources) == snapshot(
        [
            {
                "name": "status",
                "title": "Server status",
                "uri": "clearstreet://status",
                "description": "Environment (simulator or live), base URL, read-only flag, allowed accounts, confirmation mode and version. Read it to tell the simulator from a live account.",
                "mimeType": "application/json",
            },
            {
                "name": "positions (19816)",
                "title": "All positions, account 19816",
                "uri": "clearstreet://accounts/19816/positions",
                "description": "Every position of the account, all pages, decimal-exact, as one table (the first 500 of a larger book, with its count). The default account.",
                "mimeType": "text/plain",
            },
            {
                "name": "exposure (19816)",
                "title": "Exposure summary, account 19816",
                "uri": "clearstreet://accounts/19816/exposure",
                "description": "The exposure summary of the account (same as the summarize_exposure tool). The default account.",
                "mimeType": "application/json",
            },
            {
                "name": "instructions (19816)",
                "title": "Position instructions, account 19816",
                "uri": "clearstreet://accounts/19816/instructions",
                "description": "The account's exercise / do-not-exercise / contrary-exercise instructions with status. The default account.",
                "mimeType": "application/json",
            },
        ]
    )
    assert wire((await client.list_resource_templates()).resource_templates) == snapshot(
        [
            {
                "name": "positions",
                "title": "All positions",
                "uriTemplate": "clearstreet://accounts/{account_id}/positions",
                "description": "Every position of the account, all pages, decimal-exact, as one table (the first 500 of a larger book, with its count).",
                "mimeType": "text/plain",
            },
            {
                "name": "exposure",
                "title": "Exposure summary",
                "uriTemplate": "clearstreet://accounts/{account_id}/exposure",
                "description": "The exposure summary of the account (same as the summarize_exposure tool).",
                "mimeType": "application/json",
            },
            {
                "name": "instructions",
                "title": "Position instructions",
                "uriTemplate": "clearstreet://accounts/{account_id}/instructions",
                "description": "The account's exercise / do-not-exercise / contrary-exercise instructions with status.",
                "mimeType": "application/json",
            },
        ]
    )
    prompts = (await client.list_prompts()).prompts
    assert wire(prompts) == snapshot(
        [
            {
                "name": "close_position",
                "title": "Close a position",
                "description": "Close one position (or, if asked, every position) with market orders — preview first, the exact orders and their estimated value, then your explicit yes.",
                "arguments": [
                    {
                        "name": "instrument_id",
                        "description": "what to close: ticker (TSLA), OSI option symbol or instrument UUID",
                        "required": True,
                    },
                    {
                        "name": "account_id",
                        "description": "Clear Street account id. Default: the default account",
                        "required": False,
                    },
                ],
            },
            {
                "name": "exercise_options",
                "title": "Exercise options",
                "description": "Exercise (or do-not-exercise / contrary-exercise) option contracts — checks, moneyness and what exercise delivers in a preview, then your explicit yes.",
                "arguments": [
                    {
                        "name": "instrument_id",
                        "description": "the option: OSI symbol (AAPL  280121C00195000), or an underlier ticker to choose among its options",
                        "required": True,
                    },
                    {
                        "name": "quantity",
                        "description": "contracts to act on. Default: not given (ask the person)",
                        "required": False,
                    },
                    {
                        "name": "instruction_type",
                        "description": "EXERCISE, DO_NOT_EXERCISE or CONTRARY_EXERCISE. Default: EXERCISE",
                        "required": False,
                    },
                    {
                        "name": "account_id",
                        "description": "Clear Street account id. Default: the default account",
                        "required": False,
                    },
                ],
            },
            {
                "name": "review_expiring_options",
                "title": "Review expiring options",
                "description": "Which options expire in the next few business days, in or out of the money, what happens by default at expiry, the cash an exercise would take, and whether to act — with a preview and your yes before anything is sent.",
                "arguments": [
                    {
                        "name": "account_id",
                        "description": "Clear Street account id. Default: the default account",
                        "required": False,
                    },
                ],
            },
            {
                "name": "summarize_exposure",
                "title": "Summarize my exposure",
                "description": "Exposure of a Clear Street account as a trader means it — delta by underlier from the API's greeks, premium and notional named apart, cash against what expiry needs, concentration and what expires soon — as exact figures in tables.",
                "arguments": [
                    {
                        "name": "account_id",
                        "description": "Clear Street account id. Default: the default account",
                        "required": False,
                    },
                ],
            },
        ]
    )
    assert [p.name for p in prompts] == PROMPTS
    for prompt in prompts:
        assert prompt.title and prompt.description and prompt.arguments
        assert all(argument.description for argument in prompt.arguments)


# -- get_positions ---------------------------------------------------------------------------------


async def test_default_page_is_every_field_exactly_as_the_upstream_sent_it(
    client: Client, simulator: Simulator
) -> None:
    page = await call(client, "get_positions")
    expected = await raw_positions(simulator, PRIMARY)
    assert page["account_id"] == PRIMARY and all(p["account_id"] == PRIMARY for p in page["positions"])
    assert (page["total_items"], page["total_pages"], page["page_number"]) == (17, 1, 1)
    assert page.get("next_page_token") is None
    assert page["positions"] == expected  # every field, decimal strings digit for digit
    aapl = page["positions"][0]
    assert (aapl["symbol"], aapl["quantity"], aapl["market_value"], aapl["avg_price"]) == (
        "AAPL",
        "100",
        "15100.00",
        "145.00",
    )
    amzn = next(p for p in page["positions"] if p["symbol"] == "AMZN")
    assert (amzn["quantity"], amzn["market_value"]) == ("12.5", "2324.38")


async def test_default_page_size_and_paging_to_the_end(client: Client, simulator: Simulator) -> None:
    simulator.add_generated_account(MEDIUM, positions=MEDIUM_SIZE)
    pages = await page_through(client, account_id=MEDIUM)
    assert [len(p["positions"]) for p in pages] == [50, 50, 20]
    assert [p["page_number"] for p in pages] == [1, 2, 3]
    assert {(p["total_items"], p["total_pages"]) for p in pages} == {(MEDIUM_SIZE, 3)}
    assert pages[0].get("previous_page_token") is None and pages[1].get("previous_page_token") is not None
    rows = [row for p in pages for row in p["positions"]]
    assert rows == await raw_positions(simulator, MEDIUM)


async def test_paging_resends_filters_and_sort(client: Client, simulator: Simulator) -> None:
    tickers = ["TSLA", "AAPL", "MSFT", "NVDA", "GOOG"]
    arguments = {"instrument_ids": tickers, "sort_by": "MARKET_VALUE", "sort_direction": "DESC", "page_size": 2}
    pages = await page_through(client, **arguments)
    assert [len(p["positions"]) for p in pages] == [2, 2, 1]
    assert {p["total_items"] for p in pages} == {5}
    rows = [row for p in pages for row in p["positions"]]
    expected = await raw_positions(
        simulator, PRIMARY, instrument_ids=",".join(tickers), sort_by="MARKET_VALUE", sort_direction="DESC"
    )
    assert rows == expected
    assert [r["symbol"] for r in rows] == ["MSFT", "AAPL", "GOOG", "NVDA", "TSLA"]


async def test_every_sort_key_and_direction(client: Client, simulator: Simulator) -> None:
    orders = set()
    for sort_by in SortBy:
        for direction in SortDirection:
            page = await call(client, "get_positions", {"sort_by": sort_by.value, "sort_direction": direction.value})
            expected = await raw_positions(simulator, PRIMARY, sort_by=sort_by.value, sort_direction=direction.value)
            order = tuple(p["instrument_id"] for p in page["positions"])
            assert order == tuple(p["instrument_id"] for p in expected), (sort_by, direction)
            orders.add(order)
    assert len(orders) > 8  # the sort is really applied


INSTRUMENT_FORMS = [
    ("AAPL", "AAPL"),
    ("aapl", "AAPL"),
    ("BRK.B", "BRK.B"),
    ("AAPL  261127C00145000", "AAPL261127C00145000"),  # OSI, padded
    ("AAPL 261127C00145000", "AAPL261127C00145000"),  # OSI, one space
    ("AAPL261127C00145000", "AAPL261127C00145000"),  # OSI, compact
    (AAPL_CALL_ID, "AAPL261127C00145000"),  # UUID
]


async def test_instrument_ids_filter(client: Client) -> None:
    for instrument_id, symbol in INSTRUMENT_FORMS:
        page = await call(client, "get_positions", {"instrument_ids": [instrument_id]})
        assert [p["symbol"] for p in page["positions"]] == [symbol], instrument_id
        assert page["total_items"] == 1
    page = await call(client, "get_positions", {"instrument_ids": [form for form, _ in INSTRUMENT_FORMS]})
    assert [p["symbol"] for p in page["positions"]] == ["AAPL", "AAPL261127C00145000", "BRK.B"]


async def test_second_account(client: Client, simulator: Simulator) -> None:
    page = await call(client, "get_positions", {"account_id": SECOND})
    assert page["account_id"] == SECOND
    assert page["positions"] == await raw_positions(simulator, SECOND)
    assert [p["symbol"] for p in page["positions"]] == ["AAPL", "AAPL280121C00195000", "TSLA261127C00185000", "USD"]


# -- get_position_instructions ---------------------------------------------------------------------


INSTRUCTION_FILTERS = [
    ({}, 3),
    ({"instrument_id": LEAP}, 3),
    ({"instrument_id": "AAPL 280121C00195000"}, 3),
    ({"instrument_id": "AAPL280121C00195000"}, 3),
    ({"instrument_id": LEAP_ID}, 3),
    ({"underlying_instrument_id": "AAPL"}, 3),
    ({"underlying_instrument_id": "aapl"}, 3),
    ({"underlying_instrument_id": "TSLA"}, 0),
    ({"instrument_id": LEAP, "underlying_instrument_id": "AAPL"}, 3),
    ({"instrument_id": LEAP, "underlying_instrument_id": "TSLA"}, 0),
    ({"instrument_id": "TSLA261127C00185000"}, 0),
]


async def test_position_instructions_and_their_filters(client: Client, simulator: Simulator) -> None:
    raw_rows = (await raw(simulator, f"/v1/accounts/{SECOND}/positions/instructions"))["data"]
    assert len(raw_rows) == 3
    for filters, count in INSTRUCTION_FILTERS:
        result = await call(client, "get_position_instructions", {"account_id": SECOND, **filters})
        assert result["account_id"] == SECOND
        assert result["instructions"] == (raw_rows if count else []), filters
    assert [i["status"] for i in raw_rows] == ["ACCEPTED", "CANCELLED", "REJECTED"]
    assert {i["symbol"] for i in raw_rows} == {LEAP}


async def test_position_instructions_of_the_default_account(client: Client) -> None:
    result = await call(client, "get_position_instructions")
    assert (result["account_id"], result["instructions"]) == (PRIMARY, [])


# -- summarize_exposure ----------------------------------------------------------------------------


def expected_exposure(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    """The totals, computed here with Decimal from the raw rows (README.md: side from the quantity's
    sign; CASH rows are cash, not exposure; P&L over every row that reports it)."""
    risk = [r for r in rows if r["instrument_type"] != "CASH"]

    def side(r: dict[str, Any]) -> Decimal:
        quantity = Decimal(r["quantity"])
        return quantity if quantity else Decimal(r["market_value"])

    values = [Decimal(r["market_value"]) for r in risk]
    return {
        "long_market_value": sum((Decimal(r["market_value"]) for r in risk if side(r) > 0), Decimal(0)),
        "short_market_value": sum((Decimal(r["market_value"]) for r in risk if side(r) < 0), Decimal(0)),
        "gross_market_value": sum((abs(v) for v in values), Decimal(0)),
        "net_market_value": sum(values, Decimal(0)),
        "cash": sum((Decimal(r["market_value"]) for r in rows if r["instrument_type"] == "CASH"), Decimal(0)),
        "unrealized_pnl": sum(
            (Decimal(r["unrealized_pnl"]) for r in rows if r["unrealized_pnl"] is not None), Decimal(0)
        ),
    }


async def test_exposure_figures_are_the_exact_sums_of_the_raw_positions(client: Client, simulator: Simulator) -> None:
    summary = await call(client, "summarize_exposure")
    rows = await raw_positions(simulator, PRIMARY)
    assert (summary["account_id"], summary["positions"]) == (PRIMARY, len(rows))
    for field, value in expected_exposure(rows).items():
        assert Decimal(summary[field]) == value, field
        assert "E" not in summary[field], field
    assert (summary["long_market_value"], summary["short_market_value"], summary["gross_market_value"]) == (
        "136339.43",
        "-15689.50",
        "152028.93",
    )
    assert summary["as_of"] == "2026-11-23T15:00:00Z"
    expiring = {row[0] for row in summary["expiring"]["options"]["rows"]}
    assert {"AAPL261127C00145000", "AAPL261127C00160000"} <= expiring


async def test_exposure_of_a_large_book_reports_progress_page_by_page(
    client: Client, simulator: Simulator, upstream: Recorder
) -> None:
    simulator.add_generated_account(LARGE, positions=LARGE_SIZE)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    summary = await call(client, "summarize_exposure", {"account_id": LARGE}, progress_callback=on_progress)
    pages = -(-LARGE_SIZE // BOOK_PAGE_SIZE)
    assert seen == [(n, pages, f"read page {n} of {pages}") for n in range(1, pages + 1)]
    paths = [request.url.path for request in upstream.requests]
    assert paths.count(f"/v1/accounts/{LARGE}/positions") == pages
    snapshots = [r for r in upstream.requests if r.url.path == "/v1/market-data/snapshot"]
    assert snapshots and all(len(r.url.params["instrument_ids"].split(",")) <= 100 for r in snapshots)
    rows = await raw_positions(simulator, LARGE)
    assert summary["positions"] == LARGE_SIZE == len(rows)
    for field, value in expected_exposure(rows).items():
        assert Decimal(summary.get(field, "0")) == value, field
    assert len(json.dumps(summary)) < 16_000  # bounded, whatever the size of the book


# -- resources -------------------------------------------------------------------------------------


async def test_status_resource(client: Client) -> None:
    status = await read_json(client, "clearstreet://status")
    Status.model_validate(status)
    assert status.pop("server_version") == __version__
    assert status == snapshot(
        {
            "environment": "simulator",
            "is_simulator": True,
            "base_url": "in-process simulator",
            "read_only": False,
            "state_changing_tools": True,
            "allowed_accounts": None,
            "default_account": 19816,
            "confirmation": "auto",
            "confirm_ttl_seconds": 120,
            "call_timeout_seconds": 45,
            "max_close_notional": None,
        }
    )


async def test_positions_resource_reads_every_page(client: Client, simulator: Simulator, upstream: Recorder) -> None:
    """A small book whole; a large one (2,500) lists its first 500, says how many there are and
    where the rest is, and reads only the one upstream page it needs (no result of
    megabytes in the model's context)."""
    simulator.add_generated_account(LARGE, positions=LARGE_SIZE)
    document = await read_text(client, f"clearstreet://accounts/{LARGE}/positions")
    assert len(document.encode()) <= 100_000  # 500 rows as JSON were about 280 KB
    assert document.startswith(f"environment: simulator\naccount_id: {LARGE}\npositions (500 rows):\n")
    assert f"total_items: {LARGE_SIZE}" in document
    assert table_rows(document) == as_text(await raw_positions(simulator, LARGE))[:500]
    assert "note: the account holds 2500 positions: this document lists the first 500" in document
    assert [r.url.path for r in upstream.requests].count(f"/v1/accounts/{LARGE}/positions") == 1
    primary = await read_text(client, f"clearstreet://accounts/{PRIMARY}/positions")
    assert table_rows(primary) == as_text(await raw_positions(simulator, PRIMARY))


async def read_text(client: Client, uri: str) -> str:
    (content,) = (await client.read_resource(uri)).contents
    assert content.mime_type == "text/plain"
    return content.text  # type: ignore[union-attr]


def table_rows(document: str) -> list[dict[str, str]]:
    """The rows of the document's one table, each field as written (a field said once above the
    table in every row; an empty cell left out), to compare with the API's rows."""
    lines = document.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(" rows):")) + 1
    same: dict[str, str] = {}
    if lines[start].startswith("  same in every row: "):
        same = dict(item.split(" ", 1) for item in lines[start].removeprefix("  same in every row: ").split(", "))
        start += 1
    header = lines[start].strip().split("|")
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        cells = dict(zip(header, line.strip().split("|"), strict=True))
        rows.append({**same, **{k: v for k, v in cells.items() if v}})
    return rows


def as_text(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in row.items() if v is not None} for row in rows]


async def test_exposure_resource_is_the_tool_result(client: Client) -> None:
    for account in (PRIMARY, SECOND):
        document = await read_json(client, f"clearstreet://accounts/{account}/exposure")
        assert document == await call(client, "summarize_exposure", {"account_id": account})


async def test_instructions_resource_is_the_tool_result(client: Client) -> None:
    document = await read_json(client, f"clearstreet://accounts/{SECOND}/instructions")
    tool = await call(client, "get_position_instructions", {"account_id": SECOND})
    assert document["request_id"] != tool["request_id"]  # one upstream request each
    document.pop("request_id")
    tool.pop("request_id")
    assert document == without_none(tool)
    assert len(document["instructions"]) == 3


async def test_a_bad_account_in_a_resource_uri_is_a_clear_error(client: Client, upstream: Recorder) -> None:
    for account in ["abc", "0", "-5", "19816x", "99999999999999999999"]:
        for document in ["positions", "exposure", "instructions"]:
            with pytest.raises(MCPError) as caught:
                await client.read_resource(f"clearstreet://accounts/{account}/{document}")
            assert f"{account!r} is not an account id" in caught.value.message
            assert "positive whole number" in caught.value.message
            assert caught.value.code == -32602
    assert upstream.requests == []


async def test_an_unknown_account_in_a_resource_uri_is_the_upstream_404(client: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await client.read_resource(f"clearstreet://accounts/{UNKNOWN}/positions")
    assert f"Clear Street API error 404: Account {UNKNOWN} not found" in caught.value.message
    assert REQUEST_ID.search(caught.value.message)
    assert caught.value.code == -32602  # resource not found


@pytest.mark.parametrize(("status", "code"), [(403, -32602), (404, -32602), (429, -32603), (500, -32603)])
async def test_a_resource_this_key_cannot_see_is_not_found_and_any_other_failure_an_error(
    client: Client, simulator: Simulator, upstream: Recorder, status: int, code: int
) -> None:
    """403 and 404 mean "no such resource for this key" (-32602); a rate limit or an API failure
    is a resource error (-32603), after the retries a read is allowed."""
    simulator.faults.add(status, times=None, retry_after=0.01, path_contains="/positions/instructions")
    with pytest.raises(MCPError) as caught:
        await client.read_resource("clearstreet://accounts/19816/instructions")
    assert f"Clear Street API error {status}" in caught.value.message
    assert caught.value.code == code
    assert len(upstream.waits) == (2 if status >= 429 else 0)


# -- prompts ---------------------------------------------------------------------------------------


PROMPT_ARGUMENTS = {
    "close_position": ({"instrument_id": "TSLA"}, {"account_id": "122503"}),
    "exercise_options": (
        {"instrument_id": LEAP},
        {"quantity": "2", "instruction_type": "DO_NOT_EXERCISE", "account_id": "122503"},
    ),
    "review_expiring_options": ({}, {"account_id": "122503"}),
    "summarize_exposure": ({}, {"account_id": "122503"}),
}


@pytest.mark.parametrize("name", PROMPTS)
async def test_each_prompt_with_and_without_its_optional_arguments(client: Client, name: str) -> None:
    required, optional = PROMPT_ARGUMENTS[name]
    listed = next(p for p in (await client.list_prompts()).prompts if p.name == name)
    assert {a.name for a in listed.arguments or [] if a.required} == set(required)
    assert {a.name for a in listed.arguments or [] if not a.required} == set(optional)
    for arguments, absent in ((required, True), ({**required, **optional}, False)):
        result = await client.get_prompt(name, arguments)
        assert result.description == listed.description
        (message,) = result.messages
        assert message.role == "user" and isinstance(message.content, TextContent)
        text = message.content.text
        assert not re.search(r"\{\w+\}", text), text  # every placeholder filled
        assert "preview" in text or name == "summarize_exposure"
        for value in arguments.values():
            assert value in text
        assert ("(account: the default account)" in text) is absent
    if name == "exercise_options":
        text = (await client.get_prompt(name, required)).messages[0].content.text  # type: ignore[union-attr]
        assert "instruction EXERCISE, quantity not given (ask the person)" in text


@pytest.mark.parametrize(
    ("instant", "stated"),
    [
        (MONDAY_OPEN, "17:30 ET on Mon 2026-11-23 (FINRA Rule 2360(b)(23)(A))"),
        (
            datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
            "14:30 ET on Fri 2026-11-27 (the market closes early at 13:00 ET; FINRA Rule 2360(b)(23)(A))",
        ),
        (
            datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
            "none on Thu 2026-11-26 (the market is closed); next: 14:30 ET on Fri 2026-11-27 "
            "(the market closes early at 13:00 ET; FINRA Rule 2360(b)(23)(A))",
        ),
    ],
)
@pytest.mark.parametrize("name", ["exercise_options", "review_expiring_options"])
async def test_the_exercise_prompts_state_the_days_real_cutoff(
    upstream: Recorder, make_settings: Callable[..., Settings], name: str, instant: datetime, stated: str
) -> None:
    """Read from the server's clock when the prompt is fetched (here the simulator's), not when
    the server started: a day after Thanksgiving has the early-close cutoff."""
    async with Client(upstream.server(make_settings())) as client:
        upstream.simulator.set_now(instant)
        arguments = PROMPT_ARGUMENTS[name][0]
        text = (await client.get_prompt(name, arguments)).messages[0].content.text  # type: ignore[union-attr]
    assert f"Today's exercise cutoff: {stated}." in text.replace("\n", " ")


def test_a_prompt_placeholder_naming_nothing_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "typo.md").write_text(
        "---\ntitle: T\ndescription: D\narguments:\n  account_id: optional — id\n---\n"
        "Account {account_id}, cutoff {exercise_cutoff_tomorrow}, {today}.\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="exercise_cutoff_tomorrow name no argument and no fact"):
        parse_prompt(tmp_path / "typo.md")


async def test_the_prompts_say_when_the_cutoff_has_passed(
    upstream: Recorder, make_settings: Callable[..., Settings]
) -> None:
    async with Client(upstream.server(make_settings())) as client:
        upstream.simulator.set_now(datetime(2026, 11, 24, 0, 9, tzinfo=UTC))  # Mon 19:09 ET
        arguments = PROMPT_ARGUMENTS["exercise_options"][0]
        text = (await client.get_prompt("exercise_options", arguments)).messages[0].content.text  # type: ignore[union-attr]
    assert "Today is Mon 2026-11-23, 19:09 ET now." in text.replace("\n", " ")
    assert (
        "17:30 ET on Mon 2026-11-23 (FINRA Rule 2360(b)(23)(A)); it has PASSED (it is 19:09 ET now): instructions "
        "for options expiring today can no longer be sent; next: 17:30 ET on Tue 2026-11-24"
    ) in text.replace("\n", " ")


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"instrument_id": "AAPL", "quantity": "-3"}, "quantity '-3' is not a whole number of contracts, 1 or more"),
        ({"instrument_id": "AAPL", "instruction_type": "BOGUS"}, "instruction_type 'BOGUS' is not EXERCISE, "),
        ({"instrument_id": "AAPL", "account_id": "abc"}, "account_id 'abc' is not a Clear Street account id"),
        ({"instrument_id": "{today} ignore that"}, "instrument_id '{today} ignore that' is not a ticker"),
    ],
)
async def test_a_prompt_argument_that_is_not_what_it_says_is_refused(
    client: Client, arguments: dict[str, str], said: str
) -> None:
    with pytest.raises(MCPError) as caught:
        await client.get_prompt("exercise_options", arguments)
    assert caught.value.code == -32602
    assert caught.value.message.startswith("prompt 'exercise_options': " + said), caught.value.message


async def test_an_unknown_prompt_is_a_clear_error(client: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await client.get_prompt("nope")
    assert caught.value.code == -32602
    assert caught.value.message == (
        "no prompt named 'nope'; the prompts are: close_position, exercise_options, review_expiring_options, "
        "summarize_exposure"
    )


async def test_a_missing_required_prompt_argument_is_an_error(client: Client) -> None:
    for name in ["close_position", "exercise_options"]:
        for arguments in [None, {}, {"account_id": "19816"}, {"instrument_id": ""}, {"instrument_id": "  "}]:
            with pytest.raises(MCPError) as caught:
                await client.get_prompt(name, arguments)
            assert caught.value.code == -32602
            assert caught.value.message == (
                f"prompt {name!r} needs the argument(s) instrument_id; see prompts/list for what each one means"
            )


# -- errors ----------------------------------------------------------------------------------------


BAD_ARGUMENTS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("get_positions", {"page_size": 0}, ["page_size", "greater than or equal to 1"]),
    ("get_positions", {"page_size": 151}, ["page_size", "less than or equal to 150"]),
    # what the schema calls an integer, a boolean or a number is exactly that (bench/bench_startup.py measures it too)
    ("get_positions", {"page_size": True}, ["page_size", "not true or false"]),
    ("get_positions", {"page_size": 2.5}, ["page_size", "valid integer"]),
    ("preview_close_position", {"instrument_id": "TSLA", "cancel_orders": 1}, ["cancel_orders", "true or false"]),
    ("analyze_scenario", {"shocks": [{"price_change_pct": True}]}, ["price_change_pct", "not true or false"]),
    ("get_positions", {"sort_by": "PRICE"}, ["sort_by", "'SYMBOL'", "'DAILY_REALIZED_PNL'"]),
    ("get_positions", {"sort_direction": "UP"}, ["sort_direction", "'ASC' or 'DESC'"]),
    ("get_positions", {"account_id": -19816}, ["account_id", "greater than 0"]),
    ("get_positions", {"account_id": 0}, ["account_id", "greater than 0"]),
    ("get_positions", {"account_id": "19816; DROP"}, ["account_id", "valid integer"]),
    ("get_positions", {"instrument_ids": ["AAPL;rm"]}, ["instrument_ids.0", "must be a UUID, ticker or OSI symbol"]),
    ("get_positions", {"instrument_ids": ["../v1"]}, ["instrument_ids.0", "must be a UUID, ticker or OSI symbol"]),
    ("get_positions", {"instrument_ids": ["AAPL\n"]}, ["instrument_ids.0", "must be a UUID, ticker or OSI symbol"]),
    ("get_positions", {"instrument_ids": []}, ["instrument_ids", "at least 1 item"]),
    ("get_positions", {"instrument_ids": "AAPL"}, ["instrument_ids", "valid list"]),
    (
        "get_positions",
        {"page_token": "a&page_size=5"},
        ["page_token", "must be a next_page_token exactly as a page gave it"],
    ),
    (
        "get_position_instructions",
        {"instrument_id": "AAPL?x=1"},
        ["instrument_id", "must be a UUID, ticker or OSI symbol"],
    ),
    ("get_position_instructions", {"underlying_instrument_id": ""}, ["underlying_instrument_id", "must not be empty"]),
    ("get_positions", {"instrument_ids": ["A" * 41]}, ["instrument_ids.0", "at most 40 characters"]),
    ("get_position_instructions", {"account_id": -1}, ["account_id", "greater than 0"]),
    ("summarize_exposure", {"account_id": -1}, ["account_id", "greater than 0"]),
    ("get_positions", {"page": 2}, ["page: is not an argument of this tool"]),
    ("summarize_exposure", {"acount_id": 19816}, ["acount_id: is not an argument of this tool"]),
]


async def test_an_optional_argument_sent_as_null_reads_as_left_out(client: Client) -> None:
    nulls = {"instrument_ids": None, "underlying_instrument_id": None, "page_token": None, "account_id": None}
    sent, left_out = await call(client, "get_positions", nulls), await call(client, "get_positions", {})
    assert sent.pop("request_id") != left_out.pop("request_id") and sent == left_out
    row = {"instruction_type": "EXERCISE", "instrument_id": "AAPL 280121C00195000", "quantity": 1}
    for key in ("instruction_id", "client_instruction_id"):
        rows = [{**row, key: None}]
        result = await client.call_tool("preview_submit_position_instructions", {"instructions": rows})
        assert isinstance(result.content[0], TextContent) and "Invalid arguments" not in result.content[0].text


async def test_a_bad_argument_is_refused_before_the_upstream(client: Client, upstream: Recorder) -> None:
    for tool, arguments, expected in BAD_ARGUMENTS:
        text = await tool_error(client, tool, arguments)
        assert text.startswith(f"Error executing tool {tool}: [simulator] Invalid arguments, nothing was sent: "), text
        for part in expected:
            assert part in text, text
        assert "Arguments" not in text and "pydantic" not in text and "http" not in text, text
    too_big = await tool_error(client, "get_positions", {"account_id": 2**63})  # past the API's int64
    assert "Invalid arguments, nothing was sent: account_id: must be at most 9223372036854775807 (an int64)" in too_big
    assert upstream.requests == []


async def test_an_account_outside_the_allowlist_is_refused_before_the_upstream(
    simulator: Simulator, make_settings: Callable[..., Settings], mode: str, upstream: Recorder
) -> None:
    settings = make_settings(POSITIONS_MCP_ALLOWED_ACCOUNTS=str(SECOND))
    async with connect(settings, mode, upstream) as client:
        for tool in READ_TOOLS:
            text = await tool_error(client, tool, {"account_id": PRIMARY})
            assert f"account {PRIMARY} is not in POSITIONS_MCP_ALLOWED_ACCOUNTS ({SECOND})" in text
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"clearstreet://accounts/{PRIMARY}/exposure")
        assert "POSITIONS_MCP_ALLOWED_ACCOUNTS" in caught.value.message
        assert caught.value.code == INVALID_PARAMS and caught.value.message.startswith("[simulator] ")
        assert upstream.requests == []
        page = await call(client, "get_positions")  # the only allowed account is the default
        assert page["account_id"] == SECOND
        assert len(upstream.requests) == 1
        status = await read_json(client, "clearstreet://status")
        assert (status["allowed_accounts"], status["default_account"]) == ([SECOND], SECOND)


async def test_a_resource_of_an_unknown_account_is_invalid_params_saying_so(client: Client) -> None:
    for kind in ("positions", "exposure", "instructions"):
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"clearstreet://accounts/{UNKNOWN}/{kind}")
        assert caught.value.code == INVALID_PARAMS
        assert f"[simulator] Clear Street API error 404: Account {UNKNOWN} not found" in caught.value.message
    with pytest.raises(MCPError) as caught:
        await client.read_resource("clearstreet://accounts/abc/positions")
    assert caught.value.code == INVALID_PARAMS and "'abc' is not an account id" in caught.value.message


async def test_an_unknown_account_is_the_upstream_404_with_what_to_do(client: Client, upstream: Recorder) -> None:
    for attempt, tool in enumerate(READ_TOOLS, start=1):
        text = await tool_error(client, tool, {"account_id": UNKNOWN})
        assert f"Clear Street API error 404: Account {UNKNOWN} not found" in text
        match = REQUEST_ID.search(text)
        assert match and match.group(1) == upstream.responses[-1].headers["x-request-id"]
        assert "Check the account id" in text
        assert len(upstream.requests) == attempt  # a 404 is not retried


@pytest.mark.parametrize(("status", "attempts"), [(500, 3), (502, 3), (503, 3)])
async def test_an_upstream_failure_is_an_error_with_status_and_request_id(
    client: Client, simulator: Simulator, upstream: Recorder, status: int, attempts: int
) -> None:
    """A read is retried on a 5xx (twice: three attempts) before giving up: a GET is safe to
    repeat (clearstreet._requester)."""
    simulator.faults.add(status, times=None, retry_after=0.01, path_contains="/positions")
    text = await tool_error(client, "get_positions")
    assert f"Clear Street API error {status}:" in text
    match = REQUEST_ID.search(text)
    assert match and match.group(1) == upstream.responses[-1].headers["x-request-id"]
    assert "try again later" in text
    assert len(upstream.requests) == attempts
    assert upstream.waits == [0.01] * (attempts - 1)  # each retry waited what retry-after-ms asked
    simulator.faults.clear()
    assert (await call(client, "get_positions"))["total_items"] == 17


async def test_a_429_with_retry_after_is_retried_transparently(
    client: Client, simulator: Simulator, upstream: Recorder
) -> None:
    """The simulator sends ``Retry-After: 1`` and ``retry-after-ms: 10``; the client honours the
    more precise one."""
    simulator.faults.add(429, retry_after=0.01, times=2, path_contains="/positions")
    started = time.monotonic()
    page = await call(client, "get_positions")
    assert time.monotonic() - started < 0.9
    assert upstream.waits == [0.01, 0.01]  # retry-after-ms: 10, not Retry-After: 1
    assert page["total_items"] == 17
    assert [r.status_code for r in upstream.responses] == [429, 429, 200]
    assert page["request_id"] == upstream.responses[-1].headers["x-request-id"]


async def test_a_persistent_429_says_to_wait(client: Client, simulator: Simulator, upstream: Recorder) -> None:
    simulator.faults.add(429, retry_after=0.01, times=None)
    text = await tool_error(client, "summarize_exposure")
    assert "Clear Street API error 429" in text and "rate limiting" in text
    assert REQUEST_ID.search(text)
    assert len(upstream.requests) == 3
    assert upstream.waits == [0.01, 0.01]


async def test_an_unknown_instrument_is_the_upstream_404(client: Client) -> None:
    text = await tool_error(client, "get_positions", {"instrument_ids": ["NOPE"]})
    assert "Clear Street API error 404: Instrument not found: NOPE" in text and REQUEST_ID.search(text)


async def test_a_stale_page_token_is_the_upstream_400(client: Client) -> None:
    text = await tool_error(client, "get_positions", {"page_token": "zzzz"})
    assert "Clear Street API error 400" in text and "page_token" in text and REQUEST_ID.search(text)


# -- environment naming ----------------------------------------------------------------------------


async def test_a_custom_base_url_is_named_and_has_no_state_changing_tools(
    make_settings: Callable[..., Settings], mode: str
) -> None:
    """Nothing is called upstream here: 127.0.0.1:1 would refuse the connection."""
    secrets = [SECRET_KEY, "token-secret-" + "x" * 20, "http-token-" + "y" * 20]
    settings = make_settings(
        CLEAR_STREET_API_KEY=secrets[0],
        CLEAR_STREET_BASE_URL="http://127.0.0.1:1",
        POSITIONS_MCP_TOKEN_SECRET=secrets[1],
        POSITIONS_MCP_HTTP_TOKEN=secrets[2],
    )
    async with connect(settings, mode) as client:
        status_text = (await client.read_resource("clearstreet://status")).contents[0].text  # type: ignore[union-attr]
        status = json.loads(status_text)
        assert status["environment"] == "custom (http://127.0.0.1:1)"
        assert (status["is_simulator"], status["base_url"], status["state_changing_tools"]) == (
            False,
            "http://127.0.0.1:1",
            False,
        )
        assert (status["allowed_accounts"], status["default_account"]) == (None, None)
        tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == LISTED_READ_TOOLS
        listing = json.dumps([t.model_dump(mode="json") for t in tools])
        for secret in secrets:
            assert secret not in status_text and secret not in listing
        assert [p.name for p in (await client.list_prompts()).prompts] == [
            "review_expiring_options",
            "summarize_exposure",
        ]


async def test_a_custom_base_url_with_an_allowlist_has_state_changing_tools(
    make_settings: Callable[..., Settings], mode: str
) -> None:
    settings = make_settings(
        CLEAR_STREET_API_KEY=SECRET_KEY,
        CLEAR_STREET_BASE_URL="http://127.0.0.1:1",
        POSITIONS_MCP_ALLOWED_ACCOUNTS="19816,122503",
    )
    async with connect(settings, mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == LISTED_READ_TOOLS + ACTION_TOOLS
        status = await read_json(client, "clearstreet://status")
        assert (status["state_changing_tools"], status["allowed_accounts"]) == (True, [PRIMARY, SECOND])


async def test_read_only_simulator_has_only_read_tools(
    simulator: Simulator, make_settings: Callable[..., Settings], mode: str
) -> None:
    async with connect(make_settings(POSITIONS_MCP_READ_ONLY="true"), mode, simulator) as client:
        assert [t.name for t in (await client.list_tools()).tools] == LISTED_READ_TOOLS
        status = await read_json(client, "clearstreet://status")
        assert (status["environment"], status["read_only"], status["state_changing_tools"]) == (
            "simulator",
            True,
            False,
        )
        assert (await call(client, "get_positions"))["environment"] == "simulator"
        # the prompts that lead to a close or an exercise are not offered either
        assert sorted(p.name for p in (await client.list_prompts()).prompts) == [
            "review_expiring_options",
            "summarize_exposure",
        ]


async def test_positions_on_one_underlier_across_every_page(client: Client) -> None:
    """A new user asking "exercise 5 of my AAPL calls" can list the contracts on AAPL: its options
    (the adjusted AAPL1 contract too) and the shares, sorted and paged like every listing."""
    first = await call(
        client, "get_positions", {"underlying_instrument_id": "aapl", "page_size": 3, "sort_by": "SYMBOL"}
    )
    assert first["total_items"] == 4 and first["total_pages"] == 2 and first["page_number"] == 1
    rest = await call(
        client,
        "get_positions",
        {
            "underlying_instrument_id": "aapl",
            "page_size": 3,
            "sort_by": "SYMBOL",
            "page_token": first.get("next_page_token"),
        },
    )
    symbols = [p["symbol"] for p in first["positions"] + rest["positions"]]
    assert symbols == sorted(symbols) and symbols[0] == "AAPL" and len(symbols) == 4
    assert all(s.startswith("AAPL") for s in symbols)
    assert rest.get("next_page_token") is None and rest.get("previous_page_token") is not None
    # an underlier held only through options (SPY), an index option's root (SPX), nothing held (IBM)
    for underlier, count in (("SPY", 1), ("SPX", 1), ("IBM", 0)):
        page = await call(client, "get_positions", {"underlying_instrument_id": underlier})
        assert page["total_items"] == count, underlier
    stale = await tool_error(
        client, "get_positions", {"underlying_instrument_id": "TSLA", "page_token": first.get("next_page_token")}
    )
    assert "page_token is not a next_page_token of get_positions for this underlying_instrument_id" in stale
    # the token binds the sort too: the next page of another order would skip or repeat rows
    resorted = await tool_error(
        client,
        "get_positions",
        {"underlying_instrument_id": "aapl", "page_size": 3, "page_token": first.get("next_page_token")},
    )
    assert "page_token is not a next_page_token" in resorted
    # a contract's own symbol names its underlier; nothing held says what is
    contract = await call(client, "get_positions", {"underlying_instrument_id": "AAPL  261127C00145000"})
    assert contract["total_items"] == 4
    ibm = await call(client, "get_positions", {"underlying_instrument_id": "IBM"})
    assert ibm["note"].startswith("no position of this account has the underlier 'IBM'")
    assert ibm["note"].endswith("underliers held: AAPL, AMZN, BRK.B, GOOG, MSFT, NVDA, SPX, SPY, TSLA")  # no USD


TOOLS_LIST_BUDGET = 12_288  # bytes of compact JSON: what every host puts in the model's context
NEXT_ACTION = 1_700  # a next confirmed action's preview and execute tools, as large as close_position's pair


async def test_tools_list_fits_its_budget_with_room_for_a_next_action(client: Client) -> None:
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]
    size = len(json.dumps({"tools": tools}, separators=(",", ":")).encode())
    pair = len(json.dumps([t for t in tools if t["name"].endswith("close_position")], separators=(",", ":")))
    assert len(tools) == 11 and pair <= NEXT_ACTION, f"close_position's pair is {pair} bytes"
    assert size + NEXT_ACTION <= TOOLS_LIST_BUDGET, f"tools/list is {size} bytes"


async def test_a_scenario_revalues_every_underlier_and_states_its_method(client: Client) -> None:
    shocks = [{"price_change_pct": -10}, {"underlying_instrument_id": "AAPL", "price_change_pct": -20}]
    result = await call(client, "analyze_scenario", {"shocks": shocks})
    method = result["method"]
    assert method["model"].startswith("Black-Scholes-Merton") and method["rate"] == "0.04"
    assert [row.get("underlier") for row in method["shocks"]] == [None, "AAPL"]
    aapl = next(u for u in result["by_underlier"] if u["underlier"] == "AAPL")
    assert (aapl["spot"], aapl["shocked_spot"], aapl["shock_row"]) == ("151.00", "120.80", 2)
    stock_pnl = Decimal(aapl["pnl"]) - Decimal(aapl["options_pnl"])
    assert stock_pnl == Decimal("100") * Decimal("151.00") * Decimal("-0.20")  # the 100 shares
    assert result["total"]["underliers"] == 9  # every underlier of the demo book, listed or not
    assert len(result["by_underlier"]) <= 9 and len(json.dumps(result, separators=(",", ":"))) < 4000


async def test_a_scenario_on_an_underlier_not_held_is_refused_saying_what_is(client: Client) -> None:
    text = await tool_error(
        client, "analyze_scenario", {"shocks": [{"underlying_instrument_id": "IBM", "price_change_pct": 5}]}
    )
    assert "Invalid scenario (UNKNOWN_UNDERLIER)" in text and "Underliers held: AAPL" in text


async def test_a_result_carries_its_payload_once(client: Client) -> None:
    """The text a model reads is a compact rendering of the structured content (a table of the
    rows, the columns a person reads), not the same JSON again; the structured content keeps every
    field."""
    result = await client.call_tool("get_positions", {"account_id": PRIMARY, "page_size": 3})
    structured = result.structured_content
    assert structured is not None and set(structured["positions"][0]) >= {"instrument_id", "cost_basis"}
    text, request_id = text_of(result).rsplit("\nrequest_id: ", 1)
    assert request_id == structured["request_id"]
    assert text == snapshot("""\
environment: simulator
account_id: 19816
positions (3 rows; the text shows instrument_type, symbol, position_type, quantity, market_value, instrument_price, unrealized_pnl, structured content every field):
  same in every row: position_type LONG
  instrument_type|symbol|quantity|market_value|instrument_price|unrealized_pnl
  COMMON_STOCK|AAPL|100|15100.00|151.00|600.00
  OPTION|AAPL1270115C00140000|2|3960.00|13.20|1020.00
  OPTION|AAPL261127C00145000|10|6200.00|6.20|3700.00
page_number: 1
total_items: 17
total_pages: 6
next_page_token: AAAAAAAAAAMAAAAAAAAAAw\
""")
