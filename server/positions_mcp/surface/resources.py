"""The MCP resources of DESIGN section 4: JSON documents an assistant or a host can read."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import BaseModel

from ..actions.reads import PositionsService, ServiceError
from ..actions.views import PositionsPage
from .tools import progress_reporter

JSON = "application/json"


def _account(text: str) -> int:
    if not text.isdecimal() or int(text) <= 0 or int(text) >= 2**63:
        raise ResourceNotFoundError(
            f"{text!r} is not an account id: use a positive whole number, e.g. clearstreet://accounts/19816/positions"
        )
    return int(text)


async def _document(call: Any, environment: str) -> str:
    try:
        result: BaseModel = await call
    except ServiceError as exc:
        raise ResourceError(f"[{environment}] {exc}") from None
    return result.model_dump_json(exclude_none=True)


def register_resources(server: MCPServer[Any], service: PositionsService) -> None:
    @server.resource(
        "clearstreet://status",
        name="status",
        title="Server status",
        description="Environment (simulator or live), base URL, read-only flag, allowed accounts, "
        "confirmation mode and version. Read it to tell the simulator from a live account.",
        mime_type=JSON,
    )
    def status() -> str:
        return service.status().model_dump_json()

    @server.resource(
        "clearstreet://accounts/{account_id}/positions",
        name="positions",
        title="All positions",
        description="Every position of the account, all pages, decimal-exact.",
        mime_type=JSON,
    )
    async def positions(account_id: str, ctx: Context) -> str:
        async def every_page() -> PositionsPage:
            account, rows = await service.all_positions(_account(account_id), progress_reporter(ctx))
            return PositionsPage(
                environment=service.environment,
                account_id=account,
                positions=rows,
                total_items=len(rows),
            )

        return await _document(every_page(), service.environment)

    @server.resource(
        "clearstreet://accounts/{account_id}/exposure",
        name="exposure",
        title="Exposure summary",
        description="The exposure summary of the account (same as the summarize_exposure tool).",
        mime_type=JSON,
    )
    async def exposure(account_id: str, ctx: Context) -> str:
        return await _document(service.exposure(_account(account_id), progress_reporter(ctx)), service.environment)

    @server.resource(
        "clearstreet://accounts/{account_id}/instructions",
        name="instructions",
        title="Position instructions",
        description="The account's exercise / do-not-exercise / contrary-exercise instructions with status.",
        mime_type=JSON,
    )
    async def instructions(account_id: str) -> str:
        return await _document(service.instructions(_account(account_id)), service.environment)
