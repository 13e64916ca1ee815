"""Streamable HTTP transport: a static bearer token or OAuth access tokens (``oauth``),
DNS-rebinding protection, session limits, stateless replicas, and connections that slow or idle
clients cannot hold.

Served at ``http://HOST:PORT/mcp``. A non-loopback address needs ``POSITIONS_MCP_HTTP_TOKEN``
(checked at start-up); a loopback one keeps the SDK's Host/Origin checks, with or without a token.

The bearer token is checked by :class:`BearerToken` before the MCP app sees the request: a missing
or wrong token gets ``401`` with a plain ``WWW-Authenticate: Bearer`` and a body saying which. No
OAuth metadata exists in this mode: every ``/.well-known/`` path answers ``404``, token or not, so
no client starts an OAuth flow (MCP Inspector would start one on a ``401`` there, and fail).
Sessions are bounded: at most ``POSITIONS_MCP_HTTP_MAX_SESSIONS`` open at once, each closed after
``POSITIONS_MCP_HTTP_SESSION_IDLE`` seconds without a request. With ``POSITIONS_MCP_HTTP_STATELESS``
there are no sessions at all, so any of several replicas answers any request (``slow_clients``
keeps the connections themselves in bounds).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from ..secret import Secret
from ..settings import Settings, http_backlog, is_loopback
from .slow_clients import SlowClients, guarded_protocol

if TYPE_CHECKING:
    import uvicorn

__all__ = ["MCP_PATH", "BearerToken", "http_app", "run_http", "transport_security", "uvicorn_config"]

MCP_PATH = "/mcp"
WELL_KNOWN = "/.well-known/"
_WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]"}


class BearerToken:
    """ASGI middleware accepting only ``Authorization: Bearer <token>`` (constant-time compare).
    The scheme's name is case-insensitive (RFC 9110 section 11.1): ``bearer`` works too."""

    def __init__(self, app: ASGIApp, token: Secret) -> None:
        self.app = app
        self._expected = token.reveal().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).startswith(WELL_KNOWN):
            await _answer(send, 404, {"error": "not_found", "error_description": _NO_OAUTH})
            return
        header = dict(scope.get("headers") or ()).get(b"authorization")
        if header is None:
            await _unauthorized(
                send, "missing_token", "This server needs 'Authorization: Bearer <token>' (POSITIONS_MCP_HTTP_TOKEN)."
            )
            return
        scheme, _, credentials = header.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(), self._expected):
            await _unauthorized(
                send,
                "invalid_token",
                "The bearer token is wrong: send the token the server was started with (POSITIONS_MCP_HTTP_TOKEN).",
            )
            return
        await self.app(scope, receive, send)


_NO_OAUTH = (
    "This server takes a shared bearer token (POSITIONS_MCP_HTTP_TOKEN), not OAuth: "
    "send 'Authorization: Bearer <token>'."
)


async def _unauthorized(send: Send, error: str, description: str) -> None:
    await _answer(send, 401, {"error": error, "error_description": description}, [(b"www-authenticate", b"Bearer")])


async def _answer(
    send: Send, status: int, content: dict[str, str], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def transport_security(host: str, port: int) -> TransportSecuritySettings:
    """Host and Origin checks against DNS rebinding, for the address actually served."""
    if is_loopback(host):
        served = f"[{host.strip('[]')}]" if ":" in host else host
        names = list(dict.fromkeys([served, "127.0.0.1", "localhost", "[::1]"]))
    elif host in _WILDCARD_HOSTS:
        # Any interface: the Host a client uses is unknowable here; the bearer token guards it.
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    else:
        names = [host if ":" not in host else f"[{host.strip('[]')}]"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:{port}" for n in names] + names,
        allowed_origins=[f"http://{n}:{port}" for n in names],
    )


def http_app(server: MCPServer[Any], settings: Settings, host: str, port: int) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp``: token, DNS-rebinding and session limits
    applied; no sessions at all when ``POSITIONS_MCP_HTTP_STATELESS`` says so."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=settings.http_stateless,
        transport_security=transport_security(host, port),
        host=host,
        session_idle_timeout=settings.http_session_idle,
        max_sessions=settings.http_max_sessions,
    )
    auth = server.settings.auth
    if auth is not None:  # OAuth mode: the SDK checks each access token (surface.oauth)
        from .oauth import publish_every_scope

        assert isinstance(app, Starlette)
        publish_every_scope(app, auth)
    if settings.http_token is not None:
        app = BearerToken(app, settings.http_token)
    return app


def uvicorn_config(
    app: ASGIApp, settings: Settings, host: str, port: int, slow: SlowClients | None = None
) -> uvicorn.Config:
    """How uvicorn serves ``app``: connections capped at ``POSITIONS_MCP_HTTP_MAX_CONNECTIONS`` and
    slow clients dropped (``slow_clients``), the listening backlog sized to the process's
    file-descriptor limit (``settings.http_backlog``)."""
    import uvicorn

    limits = slow or SlowClients(max_connections=settings.http_max_connections)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        backlog=http_backlog(limits.max_connections),
        log_config=None,  # uvicorn's loggers propagate to our stderr handler (and its filters)
        log_level=settings.log_level.lower(),
    )


def run_http(server: MCPServer[Any], settings: Settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.Server(uvicorn_config(http_app(server, settings, host, port), settings, host, port)).run()
