"""OAuth 2.1 resource-server mode: JWT access tokens verified against the issuer's keys.

With ``POSITIONS_MCP_OAUTH_ISSUER`` set, every HTTP request needs an access token the issuer
signed for this server. The SDK does the HTTP part (``MCPServer(token_verifier=…, auth=…)``): a
request without a valid token gets ``401`` with ``WWW-Authenticate: Bearer …
resource_metadata="…"``, one whose token lacks ``positions:read`` gets ``403 insufficient_scope``,
and the protected resource metadata (RFC 9728) is served at
``/.well-known/oauth-protected-resource/mcp``. This module is the verifier it calls:

* the keys: the issuer's JWKS, its address from the issuer's metadata (RFC 8414 section 3, or
  OpenID Connect Discovery 1.0 section 4) or ``POSITIONS_MCP_OAUTH_JWKS_URL``; fetched and cached by
  PyJWT's ``PyJWKClient``, refreshed once when a token names an unknown ``kid`` (rotation), at most
  every ``REFRESH_COOLDOWN`` seconds, so that made-up ``kid`` values cannot make it fetch per request;
* the checks (PyJWT): the signature, with an asymmetric algorithm only (``ALGORITHMS``: never
  ``none``, never an HMAC one, which a public key would make forgeable), the algorithm the key is for;
  ``iss`` exactly the issuer (RFC 8414 section 3.3 compares issuers as strings); ``aud`` naming
  ``POSITIONS_MCP_OAUTH_AUDIENCE`` (RFC 8707; RFC 9068 section 4); ``exp`` and ``nbf`` with
  ``LEEWAY`` seconds for clocks that differ; ``sub`` present (the person a confirmation binds).

What the verified person may do (scopes, accounts) is decided in ``safety`` (``identity``,
``policy``); the surface only passes the ``Caller`` down (``App.caller``).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpx
import jwt
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from ..safety.identity import READ_SCOPE, SCOPES
from ..settings import ConfigError, Settings, is_loopback

__all__ = ["ALGORITHMS", "LEEWAY", "JwtVerifier", "auth_settings", "metadata_urls", "publish_every_scope"]

logger = logging.getLogger("positions_mcp.surface.oauth")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Asymmetric JWS algorithms (RFC 7518 section 3.1; EdDSA, RFC 8037): the issuer signs with a private
key, this server verifies with the public one it published. ``none`` and ``HS*`` are refused."""
LEEWAY = 30
"""Seconds of clock difference tolerated on ``exp`` and ``nbf`` (RFC 7519 section 4.1.4 allows
"some small leeway")."""
REFRESH_COOLDOWN = 30.0
"""Seconds between two refreshes of the JWKS forced by an unknown ``kid``."""
HTTP_TIMEOUT = 5.0
_SETTING = "POSITIONS_MCP_OAUTH_ISSUER"


def metadata_urls(issuer: str) -> list[str]:
    """Where the issuer's metadata may be, in the order tried: RFC 8414 section 3.1 (the well-known
    path inserted before the issuer's path), then OpenID Connect Discovery (appended), then the
    OpenID path inserted (RFC 8414 section 5 notes both are in use)."""
    parts = urlsplit(issuer)
    root, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    urls = [f"{root}/.well-known/oauth-authorization-server{path}", f"{root}{path}/.well-known/openid-configuration"]
    if path:
        urls.append(f"{root}/.well-known/openid-configuration{path}")
    return urls


def discover_jwks_url(issuer: str, client: httpx.Client) -> str:
    """The ``jwks_uri`` of the issuer's metadata (whose ``issuer`` must be the issuer, RFC 8414
    section 3.3); ``ConfigError`` in one line when none answers."""
    tried: list[str] = []
    for url in metadata_urls(issuer):
        try:
            response = client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            tried.append(f"{url}: {type(exc).__name__}")
            continue
        if response.status_code != 200:
            tried.append(f"{url}: HTTP {response.status_code}")
            continue
        try:
            metadata = response.json()
        except ValueError:
            tried.append(f"{url}: not JSON")
            continue
        if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
            named = metadata.get("issuer") if isinstance(metadata, dict) else None
            raise ConfigError(f"{_SETTING}: the metadata at {url} names the issuer {named!r}, not {issuer!r}")
        jwks = metadata.get("jwks_uri")
        if not isinstance(jwks, str) or not _fetchable(jwks):
            raise ConfigError(f"{_SETTING}: the metadata at {url} gives no https jwks_uri")
        return jwks
    raise ConfigError(
        f"{_SETTING}: no authorization server metadata at {'; '.join(tried)}: check the issuer URL, "
        "or set POSITIONS_MCP_OAUTH_JWKS_URL"
    )


def _fetchable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or ""))


class JwtVerifier:
    """The SDK's ``TokenVerifier``: a JWT access token in, the ``AccessToken`` it proves (or None)."""

    def __init__(self, settings: Settings, *, cooldown: float = REFRESH_COOLDOWN) -> None:
        assert settings.oauth_issuer is not None and settings.oauth_audience is not None
        self.issuer = settings.oauth_issuer
        self.audience = settings.oauth_audience
        self._jwks_url = settings.oauth_jwks_url
        self._cooldown = cooldown
        self._keys: jwt.PyJWKClient | None = None

    def keys(self) -> jwt.PyJWKClient:
        """The JWKS client, its URL discovered on first use (``check`` does it at start-up)."""
        if self._keys is None:
            if self._jwks_url is None:
                with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
                    self._jwks_url = discover_jwks_url(self.issuer, client)
            self._keys = jwt.PyJWKClient(self._jwks_url, timeout=HTTP_TIMEOUT, cooldown_duration=self._cooldown)
        return self._keys

    def check(self) -> None:
        """At start-up: the metadata and the keys can be read; ``ConfigError`` in one line if not."""
        keys = self.keys()
        try:
            keys.get_signing_keys()
        except jwt.PyJWKClientError as exc:
            raise ConfigError(f"{_SETTING}: the issuer's keys at {self._jwks_url} cannot be read ({exc})") from None

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await anyio.to_thread.run_sync(self.verify, token)
        except (jwt.PyJWTError, ConfigError) as exc:
            logger.info("access token refused: %s", exc)
            return None

    def verify(self, token: str) -> AccessToken:
        """Every check of the module's docstring; a ``jwt.PyJWTError`` says which failed."""
        key = self.keys().get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise jwt.MissingRequiredClaimError("sub")
        client_id = claims.get("client_id") or claims.get("azp")  # RFC 9068 section 2.2; OpenID's azp
        return AccessToken(
            token=token,
            client_id=client_id if isinstance(client_id, str) else "",
            scopes=sorted(set(_scopes(claims))),
            expires_at=int(claims["exp"]),
            resource=self.audience,  # jwt.decode checked that aud names it
            subject=claims["sub"],
            claims=claims,
        )


def _scopes(claims: dict[str, Any]) -> list[str]:
    """The token's scopes: ``scope``, a space-separated string (RFC 9068 section 2.2.3), or ``scp``
    (Entra ID and Okta write it, as a string or a list)."""
    found: list[str] = []
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found += value.split()
        elif isinstance(value, list):
            found += [item for item in value if isinstance(item, str)]
    return found


def auth_settings(settings: Settings) -> AuthSettings:
    """The SDK's resource-server settings: every request needs ``positions:read`` (a token without
    it gets ``403 insufficient_scope``); ``positions:act`` is checked per tool (``safety.policy``);
    the token's resource (its ``aud``) is this server's URL. The URLs stay as written (an issuer is
    compared as a string)."""
    return AuthSettings.model_validate(
        {
            "issuer_url": settings.oauth_issuer,
            "resource_server_url": settings.oauth_audience,
            "required_scopes": [READ_SCOPE],
            "validate_token_resource": True,
        }
    )


def publish_every_scope(app: Starlette, auth: AuthSettings) -> None:
    """The SDK publishes only the scopes every request needs in the protected resource metadata;
    a client asks for the scopes it finds there (MCP authorization, scope selection), so the
    metadata names both: ``positions:act`` too, or no client could ever preview."""
    assert auth.resource_server_url is not None
    (route,) = create_protected_resource_routes(
        resource_url=auth.resource_server_url,
        authorization_servers=[auth.issuer_url],
        scopes_supported=list(SCOPES),
        resource_name="Clear Street positions",
    )
    assert isinstance(route, Route)
    routes: list[BaseRoute] = app.router.routes
    for index, existing in enumerate(routes):
        if isinstance(existing, Route) and existing.path == route.path:
            routes[index] = route
            return
    routes.append(route)
