"""The objects every tool, resource and prompt reaches through the lifespan context."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel

from .tool import present, tool_error

if TYPE_CHECKING:
    from ..actions.dependencies import Dependencies
    from ..actions.pipeline import Pipeline
    from ..actions.reads import Progress, Reads


@dataclass(frozen=True, slots=True)
class App:
    deps: Dependencies
    reads: Reads
    pipeline: Pipeline | None
    """None when no state-changing tool is offered (read-only, or live without an allowlist)."""

    @property
    def environment(self) -> str:
        return self.deps.environment


def app_of(ctx: Context[Any, Any]) -> App:
    """The server's shared objects, from the lifespan context (as the SDK's examples do)."""
    app = ctx.request_context.lifespan_context
    assert isinstance(app, App)
    return app


async def respond(app: App, result: Awaitable[BaseModel]) -> CallToolResult:
    """Await a use-case and present its result; its ``ActionError`` becomes a tool error."""
    from ..actions.errors import ActionError

    try:
        return present(await result)
    except ActionError as exc:
        raise tool_error(app.environment, str(exc)) from None


def progress_reporter(ctx: Context[Any, Any]) -> Progress:
    async def report(done: int, total: int | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report
