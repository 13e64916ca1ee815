"""The MCP server, built in one place from the settings: it only wires (the use-cases live in
``actions``, the rules in ``domain`` and ``safety``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.request_state import RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, GetPromptResult, InputRequiredResult

from .. import __version__
from ..settings import Settings
from .app import App
from .prompts import register_prompts, todays_facts
from .read_tools import read_tools
from .resources import register_resources

if TYPE_CHECKING:
    import httpx

    from ..clearstreet.retry import RetryPolicy
    from ..simulator import Simulator
    from .oauth import JwtVerifier

SERVER_NAME = "clearstreet-positions"

INSTRUCTIONS = """\
Positions of Clear Street trading accounts. Every result names its environment: 'simulator' is \
demo data, never a live account; read clearstreet://status when unsure.
Numbers are exact decimal strings: quote them, never round or invent figures.
State changes (close, exercise, do-not-exercise, contrary exercise) always go preview → the \
person's explicit yes → execute with the preview's confirmation_token. Show the preview's summary \
and warnings before asking. Never execute without that yes, and never reuse a token for other \
arguments. If a close reports OUTCOME UNKNOWN, re-read positions before anything else."""


class PositionsServer(MCPServer[Any]):
    """The SDK's server, but an unknown prompt name is an invalid-params error that lists the
    prompts (the SDK's own is an internal error with a traceback in the log)."""

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        names = [prompt.name for prompt in await self.list_prompts()]
        if name not in names:
            raise MCPError(INVALID_PARAMS, f"no prompt named {name[:60]!r}; the prompts are: {', '.join(names)}")
        return await super().get_prompt(name, arguments, context)


REQUEST_STATE_LABEL = b"clearstreet-positions-mcp/request-state/v1"


def request_state_security(settings: Settings) -> RequestStateSecurity | None:
    """How the SDK seals the state a 2026-07-28 client echoes when it answers the server's question
    (the token the person is asked about): with a key derived from ``POSITIONS_MCP_TOKEN_SECRET``
    when one is set, so that replicas signing alike also unseal each other's state and an answer may
    reach any of them; else (None) the SDK's key of this process. The derivation (HMAC-SHA256 of a
    fixed label, RFC 2104) keeps the two uses of the secret apart. Sealed state is not single use:
    the token it names is, in the ledger."""
    if settings.token_secret is None:
        return None
    key = hmac.new(settings.token_secret.reveal().encode(), REQUEST_STATE_LABEL, hashlib.sha256).digest()
    return RequestStateSecurity(keys=[key])


def _oauth(settings: Settings, verifier: JwtVerifier | None) -> dict[str, Any]:
    """The SDK's resource-server arguments in OAuth mode (``surface.oauth``); none otherwise."""
    if not settings.oauth:
        return {}
    from .oauth import JwtVerifier, auth_settings

    return {"token_verifier": verifier or JwtVerifier(settings), "auth": auth_settings(settings)}


def build_server(
    settings: Settings,
    *,
    simulator: Simulator | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    verifier: JwtVerifier | None = None,
) -> MCPServer[Any]:
    """The server with its tools, resources and prompts.

    ``simulator`` lets tests and the demo share one simulated API (and its clock) with the server;
    by default the simulator is created on first use when the environment is the simulator.
    ``transport`` replaces the upstream connection (tests record or script what reaches it).
    ``retry`` replaces the client's retry policy: its ``sleep`` is the wait between attempts (tests
    record the waits asked for instead of taking them) and its ``clock`` the time ``Retry-After``
    dates are read against; by default ``anyio.sleep`` and ``time.time``.
    ``verifier``: the access-token verifier already checked at start-up (OAuth mode; else one is
    made from the settings).
    """
    app = App(settings, simulator, transport, retry)
    tools: list[Tool] = [*read_tools(app.environment)]
    if settings.state_changing_enabled:
        from .confirmed import action_tools

        tools += action_tools(app.environment)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[App]) -> AsyncIterator[App]:
        try:
            yield app
        finally:
            await app.aclose()

    server: MCPServer[Any] = PositionsServer(
        SERVER_NAME,
        title="Clear Street positions",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,  # type: ignore[arg-type]
        tools=tools,
        request_state_security=request_state_security(settings),
        **_oauth(settings, verifier),
    )
    register_resources(server, app)
    register_prompts(
        server,
        todays_facts(lambda: app.deps.upstream.now(), lambda: app.deps.upstream.read_clock()),
        acting=settings.state_changing_enabled,
    )
    return server
