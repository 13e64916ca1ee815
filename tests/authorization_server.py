"""A small authorization server for the tests: RFC 8414 metadata and a JWKS over real HTTP on a
free loopback port (uvicorn in a thread of its own, so the server under test fetches from it as
from any issuer), with RSA and EC keys generated per test session and access tokens minted per
test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

AUDIENCE = "https://mcp.desk.example/mcp"
READ = "positions:read"
ACT = "positions:act"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @property
    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = jwt.algorithms.RSAAlgorithm if self.alg.startswith(("RS", "PS")) else jwt.algorithms.ECAlgorithm
        data: dict[str, Any] = json.loads(algorithm.to_jwk(public))
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def new_keys() -> dict[str, SigningKey]:
    """An RSA and an EC key, plus a second RSA key the issuer has not published yet (rotation)."""
    return {
        "rsa": SigningKey("rsa-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "ec": SigningKey("ec-1", "ES256", ec.generate_private_key(ec.SECP256R1())),
        "next": SigningKey("rsa-2", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }


@dataclass
class AuthorizationServer:
    keys: dict[str, SigningKey]
    port: int = 0
    published: list[str] = field(default_factory=lambda: ["rsa", "ec"])
    jwks_fetches: int = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        async def metadata(request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "jwks_uri": f"{self.issuer}/jwks",
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "response_types_supported": ["code"],
                    "scopes_supported": [READ, ACT],
                }
            )

        async def jwks(request: Request) -> JSONResponse:
            self.jwks_fetches += 1
            return JSONResponse({"keys": [self.keys[name].jwk for name in self.published]})

        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", metadata),
                Route("/jwks", jwks),
            ]
        )

    def token(
        self,
        sub: str | None = "alice",
        *,
        scope: str | None = f"{READ} {ACT}",
        key: str = "rsa",
        lifetime: int = 300,
        **claims: Any,
    ) -> str:
        """An access token as the issuer would mint it; ``claims`` add to or replace the usual
        ones (``aud``, ``iss``, ``exp`` …; a value of None leaves the claim out)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": sub,
            "client_id": "desk-agent",
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        signing = self.keys[key]
        return jwt.encode(body, signing.private, algorithm=signing.alg, headers={"kid": signing.kid})

    def unsigned(self, **claims: Any) -> str:
        """The same token with ``alg: none`` and no signature."""
        _, payload, _ = self.token(**claims).split(".")
        none = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "rsa-1"}).encode())
        return f"{none}.{payload}."

    def hmac_with_public_key(self, **claims: Any) -> str:
        """The classic forgery: ``HS256`` keyed with the issuer's public key, which anyone has."""
        _, payload, _ = self.token(**claims).split(".")
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
        signature = hmac.new(self.keys["rsa"].public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@contextmanager
def serving(keys: dict[str, SigningKey]) -> Iterator[AuthorizationServer]:
    """The authorization server, listening until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    issuer = AuthorizationServer(keys=keys, port=int(sock.getsockname()[1]))
    server = uvicorn.Server(uvicorn.Config(issuer.app(), log_config=None, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test authorization server did not start")
        time.sleep(0.01)
    try:
        yield issuer
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
