"""The objects every tool, resource and prompt reaches through the lifespan context.

Built on first use, not at start-up: the first reply (``initialize``) imports nothing of the
use-cases, the client or the simulator (start-up is benchmarked)."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel

from ..safety.identity import LOCAL, Caller, caller_from_claims
from ..secret import known_secrets
from ..settings import Settings
from .tool_base import present, tool_error

if TYPE_CHECKING:
    import httpx

    from ..actions.dependencies import Dependencies
    from ..actions.pipeline import Pipeline
    from ..actions.reads import Progress, Reads
    from ..clearstreet.retry import RetryPolicy
    from ..simulator import Simulator


class App:
    def __init__(
        self,
        settings: Settings,
        simulator: Simulator | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._simulator = simulator
        self._transport = transport
        self._retry = retry

    @property
    def environment(self) -> str:
        return self.settings.environment_label

    @cached_property
    def deps(self) -> Dependencies:
        from ..actions.dependencies import Dependencies

        return Dependencies(self.settings, simulator=self._simulator, transport=self._transport, retry=self._retry)

    @cached_property
    def reads(self) -> Reads:
        from ..actions.reads import Reads

        return Reads(self.deps)

    @cached_property
    def pipeline(self) -> Pipeline:
        """Only state-changing tools use it; they exist only when the settings allow them."""
        from ..actions.pipeline import Pipeline

        return Pipeline(self.deps, self.reads)

    def caller(self) -> Caller:
        """Who this call comes from: with OAuth, the person the verified access token names (the
        SDK's bearer middleware verified it, ``surface.oauth``); else the local person. Passed
        down as is: what the caller may do is decided in ``safety``."""
        if not self.settings.oauth:
            return LOCAL
        token = get_access_token()
        if token is None or not token.subject:
            return LOCAL  # refused by the policy: OAuth mode needs an identified caller
        return caller_from_claims(
            token.subject, token.client_id, token.scopes, token.claims or {}, self.settings.oauth_groups_claim
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value this server holds (``Settings.secrets``), and the token key once it
        was read from its file: what no tool error may show."""
        held: list[str | bytes] = list(self.settings.secrets)
        if "deps" in self.__dict__:
            held.extend(self.deps.loaded_secrets)
        return known_secrets(held)

    async def aclose(self) -> None:
        if "deps" in self.__dict__:
            await self.deps.aclose()


def app_of(ctx: Context[Any, Any]) -> App:
    """The server's shared objects, from the lifespan context (as the SDK's examples do)."""
    app = ctx.request_context.lifespan_context
    assert isinstance(app, App)
    return app


async def respond(app: App, result: Awaitable[BaseModel]) -> CallToolResult:
    """Await a use-case and present its result; its ``ActionError`` becomes a tool error."""
    from ..actions.action_errors import ActionError

    try:
        return present(await result)
    except ActionError as exc:
        raise tool_error(app.environment, str(exc)) from None


def progress_reporter(ctx: Context[Any, Any]) -> Progress:
    async def report(done: int, total: int | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report
