"""The MCP server, built in one place from the settings."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer

from .. import __version__
from ..actions.confirmed import Actions
from ..actions.reads import PositionsService
from ..actions.upstream import Backend
from ..safety.audit import AuditLog, default_audit_log_path
from ..safety.tokens import ConfirmationTokens
from ..settings import Settings
from .confirmed import register_action_tools
from .prompts import register_prompts
from .resources import register_resources
from .tools import register_read_tools

if TYPE_CHECKING:
    from ..simulator import Simulator

SERVER_NAME = "clearstreet-positions"

INSTRUCTIONS = """\
Positions of Clear Street trading accounts. Every result names its environment: 'simulator' is \
demo data, never a live account; read clearstreet://status when unsure.
Numbers are exact decimal strings: quote them, never round or invent figures.
State changes (close, exercise, do-not-exercise, contrary exercise) always go preview → the \
person's explicit yes → execute with the preview's confirmation_token. Show the preview's summary \
and warnings before asking. Never execute without that yes, and never reuse a token for other \
arguments. If a close reports OUTCOME UNKNOWN, re-read positions before anything else."""


def _actions(settings: Settings, service: PositionsService, backend: Backend) -> Actions:
    clock = lambda: backend.clock()  # noqa: E731 - the simulator (and its clock) exists on first use
    tokens = ConfirmationTokens(settings.token_secret.reveal().encode(), settings.confirm_ttl, clock)
    return Actions(service, tokens, audit_log(settings))


def audit_log(settings: Settings) -> AuditLog:
    """The audit log of the configured path (or the per-user default), knowing every secret."""
    return AuditLog(settings.audit_log or default_audit_log_path(), secrets=settings.secrets)


def build_server(
    settings: Settings,
    *,
    simulator: Simulator | None = None,
    http_address: tuple[str, int] | None = None,
) -> MCPServer[Any]:
    """The server with its tools, resources and prompts.

    ``simulator`` lets tests and the demo share one simulated API (and its clock) with the server;
    by default the simulator is created on first use when the environment is the simulator.
    ``http_address`` (host, port) is given when serving streamable HTTP, to require the bearer token.
    """
    auth: dict[str, Any] = {}
    if http_address is not None:
        from .http import server_auth_options

        auth = server_auth_options(settings, *http_address)
    backend = Backend(settings, simulator)
    service = PositionsService(settings, backend)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[PositionsService]:
        try:
            yield service
        finally:
            await backend.aclose()

    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        title="Clear Street positions",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,  # type: ignore[arg-type]
        **auth,
    )
    register_read_tools(server, service)
    if settings.state_changing_enabled:
        register_action_tools(server, _actions(settings, service, backend), settings)
    register_resources(server, service)
    register_prompts(server)
    compact_tool_schemas(server)
    return server


def _compact_schema(schema: Any, *, output: bool) -> Any:
    """The same JSON schema, shorter: without pydantic's generated ``title`` annotations, with
    ``anyOf [X, null]`` written as a type list, and (in output schemas) without ``default``."""
    if isinstance(schema, list):
        return [_compact_schema(item, output=output) for item in schema]
    if not isinstance(schema, dict):
        return schema
    compact = {
        key: _compact_schema(value, output=output)
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str)) and not (output and key == "default")
    }
    options = compact.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (other,) = [o for o in options if o != {"type": "null"}]
        if isinstance(other.get("type"), str) and "$ref" not in other:
            del compact["anyOf"]
            compact.update(other, type=[other["type"], "null"])
    return compact


def compact_tool_schemas(server: MCPServer[Any]) -> None:
    """Shorten every tool's published schemas (a third of tools/list) without losing anything a
    model or a validator uses: descriptions, enums, bounds and required fields all stay. Tool
    descriptions lose their docstring indentation."""
    for tool in server._tool_manager.list_tools():  # the SDK has no public hook for this (mcp 2.3)
        if tool.description:  # the SDK publishes raw docstrings, continuation-line indent included
            tool.description = inspect.cleandoc(tool.description)
        tool.parameters = _compact_schema(tool.parameters, output=False)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = _compact_schema(tool.fn_metadata.output_schema, output=True)
