"""No tool error shows a secret the server holds: an upstream (or a proxy before it) that echoes one
into its error message gets it cut out, whichever secret it is — the HTTP token, the token secret
(configured, or the key kept in its file), the Redis ledger's URL and password."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import TOKEN_SECRET, Recorder, ok, text_of
from mcp import Client
from positions_mcp.secret import REDACTED, known_secrets, redact
from positions_mcp.settings import Settings

pytestmark = pytest.mark.anyio

HTTP_TOKEN = "http-token-echoed-by-a-proxy-0123456789"
REDIS_URL = "rediss://desk:redis-password-42@cache.example:6380/0"


class Echoing(Recorder):
    """An API (or a proxy) that answers a positions read with 400 and ``echo`` in its message."""

    echo = ""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.echo and request.method == "GET" and request.url.path.endswith("/positions"):
            body = {"error": {"code": 400, "message": f"bad request; we saw {self.echo}"}}
            return httpx.Response(400, json=body, headers={"x-request-id": "req-echo"}, request=request)
        return await super().handle_async_request(request)


async def test_a_tool_error_cuts_out_every_secret_the_server_holds(
    upstream: Recorder, make_settings: Callable[..., Settings]
) -> None:
    echoing = Echoing(upstream.simulator)
    settings = make_settings(
        POSITIONS_MCP_HTTP_TOKEN=HTTP_TOKEN, POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET, POSITIONS_MCP_LEDGER=REDIS_URL
    )
    secrets = [HTTP_TOKEN, TOKEN_SECRET, "redis-password-42", REDIS_URL]
    echoing.echo = f"Authorization: Bearer {HTTP_TOKEN}, key={TOKEN_SECRET}, password redis-password-42, {REDIS_URL}"
    async with Client(echoing.server(settings)) as client:
        failed = await client.call_tool("get_positions", {})
    text = text_of(failed)
    assert failed.is_error and "bad request; we saw" in text and "req-echo" in text
    for secret in secrets:
        assert secret not in text, secret
    assert text.count(REDACTED) == 4  # the URL goes whole (longest first), not around its password
    assert f"Bearer {REDACTED}, key={REDACTED}, password {REDACTED}, {REDACTED} (request_id" in text


async def test_the_token_key_read_from_its_file_is_cut_out_too(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """No configured secret: the key is created beside the ledger at the first preview; from then on
    it is a secret the server holds."""
    echoing = Echoing(upstream.simulator)
    async with Client(echoing.server(make_settings(POSITIONS_MCP_CONFIRMATION="token"))) as client:
        ok(await client.call_tool("preview_close_position", {"instrument_id": "TSLA"}))
        key = (tmp_path / "token-secret").read_text().strip()
        echoing.echo = f"signing key {key}"
        failed = await client.call_tool("get_positions", {})
    assert failed.is_error and key not in text_of(failed) and f"signing key {REDACTED}" in text_of(failed)


def test_redaction_takes_the_longest_secret_first_and_leaves_short_values() -> None:
    known = known_secrets(["abcd", "abcdefgh", b"bytes-key", None, "", "abc"])
    assert known == ("bytes-key", "abcdefgh", "abcd")
    assert redact("abcdefgh abcd abc bytes-key", known) == f"{REDACTED} {REDACTED} abc {REDACTED}"
