"""Streamable HTTP transport: a static bearer token, DNS-rebinding protection and session limits.

Served at ``http://HOST:PORT/mcp``. A non-loopback address needs ``POSITIONS_MCP_HTTP_TOKEN``
(checked at start-up); a loopback one keeps the SDK's Host/Origin checks, with or without a token.

The bearer token is checked by :class:`BearerToken` before the MCP app sees the request: a missing
or wrong token gets ``401`` with a plain ``WWW-Authenticate: Bearer`` and a body saying which. No
OAuth protected-resource metadata is published: this server is not an authorization server and
names none, so clients must not start an OAuth flow (MCP Inspector would, and fail). Sessions are
bounded: at most ``POSITIONS_MCP_HTTP_MAX_SESSIONS`` open at once, each closed after
``POSITIONS_MCP_HTTP_SESSION_IDLE`` seconds without a request.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from ..secret import Secret
from ..settings import Settings, is_loopback

MCP_PATH = "/mcp"
_WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]"}


class BearerToken:
    """ASGI middleware accepting only ``Authorization: Bearer <token>`` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: Secret) -> None:
        self.app = app
        self._expected = f"Bearer {token.reveal()}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or ()).get(b"authorization")
        if header is None:
            await _unauthorized(
                send, "missing_token", "This server needs 'Authorization: Bearer <token>' (POSITIONS_MCP_HTTP_TOKEN)."
            )
            return
        if not hmac.compare_digest(header.strip(), self._expected):
            await _unauthorized(
                send,
                "invalid_token",
                "The bearer token is wrong: send the token the server was started with (POSITIONS_MCP_HTTP_TOKEN).",
            )
            return
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, error: str, description: str) -> None:
    body = json.dumps({"error": error, "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
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
    """The ASGI app serving ``server`` at ``/mcp``: token, DNS-rebinding and session limits applied."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=transport_security(host, port),
        host=host,
        session_idle_timeout=settings.http_session_idle,
        max_sessions=settings.http_max_sessions,
    )
    if settings.http_token is not None:
        app = BearerToken(app, settings.http_token)
    return app


def run_http(server: MCPServer[Any], settings: Settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        http_app(server, settings, host, port),
        host=host,
        port=port,
        log_config=None,  # uvicorn's loggers propagate to our stderr handler (and its filters)
        log_level=settings.log_level.lower(),
    )
