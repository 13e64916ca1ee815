"""The MCP resources of README.md's tools and resources: documents an assistant or a host can read
(JSON; the positions, text with one table of every field of every row, as the tools' text reads).

The per-account documents are templates (``clearstreet://accounts/{account_id}/…``); the default
account's three are also listed as concrete resources, for hosts that do not expand templates.
An account id that is malformed, not allowed or unknown upstream is an invalid-params error that
says so, never an internal error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import BaseModel

from .app import App, progress_reporter
from .rendering import render

JSON = "application/json"
_MIME = {"positions": "text/plain", "exposure": JSON, "instructions": JSON}

_DOCUMENTS = {
    "positions": (
        "All positions",
        "Every position of the account, all pages, decimal-exact, as one table (the first 500 of a larger "
        "book, with its count).",
    ),
    "exposure": ("Exposure summary", "The exposure summary of the account (same as the summarize_exposure tool)."),
    "instructions": (
        "Position instructions",
        "The account's exercise / do-not-exercise / contrary-exercise instructions with status.",
    ),
}


def _account(app: App, text: str) -> int:
    if not text.isdecimal() or int(text) <= 0 or int(text) >= 2**63:
        raise ResourceNotFoundError(
            f"[{app.environment}] {text!r} is not an account id: use a positive whole number, e.g. "
            "clearstreet://accounts/19816/positions"
        )
    from ..actions.action_errors import ActionError

    try:
        return app.reads.account(int(text), app.caller())
    except ActionError as exc:
        raise ResourceNotFoundError(f"[{app.environment}] {exc}") from None


async def _document(app: App, read: Callable[[], Awaitable[BaseModel]], *, table: bool = False) -> str:
    """The document as JSON; ``table``: as text, its rows one table (``surface.rendering``, every
    field: 500 positions as JSON would be about 280 KB, as a table about 85 KB)."""
    from ..actions.action_errors import ActionError, NotVisible

    try:
        result = await read()
    except NotVisible as exc:
        raise ResourceNotFoundError(f"[{app.environment}] {exc}") from None
    except ActionError as exc:
        raise ResourceError(f"[{app.environment}] {exc}") from None
    if table:
        return render(result.model_dump(mode="json", exclude_none=True), every_column=True)
    return result.model_dump_json(exclude_none=True)


def _reader(app: App, kind: str, account: int, ctx: Context[Any, Any] | None) -> Callable[[], Awaitable[BaseModel]]:
    reads, caller = app.reads, app.caller()
    progress = progress_reporter(ctx) if ctx is not None else None
    if kind == "positions":
        return lambda: reads.all_positions(account, progress, caller=caller)
    if kind == "exposure":
        return lambda: reads.exposure(account, progress, caller=caller)
    return lambda: reads.instructions(account, caller=caller)


def register_resources(server: MCPServer[Any], app: App) -> None:
    @server.resource(
        "clearstreet://status",
        name="status",
        title="Server status",
        description="Environment (simulator or live), base URL, read-only flag, allowed accounts, "
        "confirmation mode and version. Read it to tell the simulator from a live account.",
        mime_type=JSON,
    )
    def status() -> str:
        return app.reads.status(app.caller()).model_dump_json()

    for kind, (title, description) in _DOCUMENTS.items():

        def template(kind: str = kind) -> Callable[..., Awaitable[str]]:
            async def read(account_id: str, ctx: Context[Any, Any]) -> str:
                return await _document(
                    app, _reader(app, kind, _account(app, account_id), ctx), table=kind == "positions"
                )

            return read

        server.resource(
            f"clearstreet://accounts/{{account_id}}/{kind}",
            name=kind,
            title=title,
            description=description,
            mime_type=_MIME[kind],
        )(template())

    default = app.settings.effective_default_account
    if default is None or app.settings.account_grants is not None:
        return  # with grants the default is each person's own, and the list is the same for all
    for kind, (title, description) in _DOCUMENTS.items():

        def concrete(kind: str = kind) -> Callable[[], Awaitable[str]]:
            async def read() -> str:
                return await _document(app, _reader(app, kind, default, None), table=kind == "positions")

            return read

        server.resource(
            f"clearstreet://accounts/{default}/{kind}",
            name=f"{kind} ({default})",
            title=f"{title}, account {default}",
            description=f"{description} The default account.",
            mime_type=_MIME[kind],
        )(concrete())
