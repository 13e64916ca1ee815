"""Streamable HTTP transport: bearer-token auth and DNS-rebinding protection.

Served at ``http://HOST:PORT/mcp``. A non-loopback address needs ``POSITIONS_MCP_HTTP_TOKEN``
(checked at start-up); a loopback one keeps the SDK's Host/Origin checks, with or without a token.
"""

from __future__ import annotations

import hmac
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from ..secret import Secret
from ..settings import Settings, is_loopback

MCP_PATH = "/mcp"
_WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]"}


class StaticTokenVerifier:
    """Accepts exactly the configured bearer token (constant-time comparison)."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token.reveal().encode()):
            return AccessToken(token="***", client_id="positions-mcp-http", scopes=["mcp"])
        return None


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def server_auth_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """MCPServer keyword arguments that require the bearer token, when one is configured."""
    if settings.http_token is None:
        return {}
    url = f"http://{_authority(host, port)}{MCP_PATH}"
    return {
        "token_verifier": StaticTokenVerifier(settings.http_token),
        "auth": AuthSettings(
            issuer_url=f"http://{_authority(host, port)}",
            resource_server_url=url,
            validate_token_resource=False,
            required_scopes=["mcp"],
        ),
    }


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


def run_http(server: MCPServer[Any], host: str, port: int) -> None:
    server.run(
        "streamable-http",
        host=host,
        port=port,
        streamable_http_path=MCP_PATH,
        transport_security=transport_security(host, port),
    )
