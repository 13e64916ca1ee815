"""Two replicas behind a load balancer that sends each request elsewhere: two real uvicorn servers
(the served configuration, ``surface.http.uvicorn_config``) on free loopback ports, one shared
Redis ledger, and one MCP client whose every HTTP request goes to the other replica than the last.
With ``POSITIONS_MCP_HTTP_STATELESS=true`` both protocol eras work, the person's yes included; a
2025-era client needs it (its session lives on one replica)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from conftest import TOKEN_SECRET, Person, Recorder, RedisServer, ok, refused
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from positions_mcp.settings import Settings
from positions_mcp.surface.http import MCP_PATH, http_app, uvicorn_config

pytestmark = pytest.mark.anyio

HTTP_TOKEN = "an-http-token-for-the-replicas-0123456789"
CLOSE = {"instrument_id": "TSLA"}


class Alternating(httpx2.AsyncBaseTransport):
    """A load balancer at its least helpful: each request to the replica the previous one did not
    reach. ``served`` records which port answered what."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.served: list[int] = []
        self.calls: list[tuple[int, str]] = []
        """(port, JSON-RPC method) of every tools/call."""
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[len(self.served) % len(self.ports)]
        self.served.append(port)
        if request.method == "POST" and b'"tools/call"' in request.content:
            self.calls.append((port, json.loads(request.content)["params"]["name"]))
        request.url = request.url.copy_with(port=port)
        request.headers["Host"] = f"127.0.0.1:{port}"
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def replicas(upstream: Recorder, settings: list[Settings]) -> AsyncIterator[list[int]]:
    """One uvicorn server per settings, in this event loop, each on a socket bound here."""
    servers: list[uvicorn.Server] = []
    sockets: list[socket.socket] = []
    async with anyio.create_task_group() as group:
        for each in settings:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            app = http_app(upstream.server(each), each, "127.0.0.1", port)
            server = uvicorn.Server(uvicorn_config(app, each, "127.0.0.1", port))
            server.config.lifespan = "on"
            servers.append(server)
            sockets.append(sock)
            group.start_soon(server.serve, [sock])
        with anyio.fail_after(30):
            while not all(server.started for server in servers):  # noqa: ASYNC110 - uvicorn has only this flag
                await anyio.sleep(0.01)
        try:
            yield [int(sock.getsockname()[1]) for sock in sockets]
        finally:
            for server in servers:
                server.should_exit = True
    for sock in sockets:
        sock.close()


def replica_settings(
    make_settings: Callable[..., Settings], tmp_path: Path, redis: RedisServer, name: str, **env: str
) -> Settings:
    return make_settings(
        POSITIONS_MCP_AUDIT_LOG=str(tmp_path / name / "audit.jsonl"),
        POSITIONS_MCP_LEDGER=redis.url,
        POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET,
        POSITIONS_MCP_HTTP_TOKEN=HTTP_TOKEN,
        **env,
    )


@asynccontextmanager
async def balanced_client(
    ports: list[int], mode: str, person: Person | None = None
) -> AsyncIterator[tuple[Client, Alternating]]:
    balancer = Alternating(ports)
    async with (
        httpx2.AsyncClient(transport=balancer, headers={"Authorization": f"Bearer {HTTP_TOKEN}"}) as http,
        Client(
            streamable_http_client(f"http://127.0.0.1:{ports[0]}{MCP_PATH}", http_client=http),
            mode=mode,
            elicitation_callback=person,
        ) as client,
    ):
        yield client, balancer


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stateless_replicas_answer_any_request_in_both_eras(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, redis_server: RedisServer, mode: str
) -> None:
    """Reads, a preview and its confirmation, each request on the other replica than the last; the
    token is then used up on both."""
    settings = [
        replica_settings(
            make_settings, tmp_path, redis_server, name, POSITIONS_MCP_HTTP_STATELESS="true",
            POSITIONS_MCP_CONFIRMATION="token",
        )
        for name in ("a", "b")
    ]  # fmt: skip
    async with replicas(upstream, settings) as ports, balanced_client(ports, mode) as (client, balancer):
        assert ok(await client.call_tool("get_positions", {"page_size": 2}))["total_items"] == 17
        token = ok(await client.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        ok(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
        refused(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "ALREADY_USED")
        refused(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "ALREADY_USED")
    assert set(balancer.served) == set(ports) and len(balancer.served) >= 5
    assert len(upstream.writes) == 1


async def test_the_persons_yes_reaches_any_replica_in_the_2026_era(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, redis_server: RedisServer
) -> None:
    """The server asks the person (``input_required``, sealed request state); the answer goes to
    the other replica, which unseals the state (its key comes from the shared token secret) and
    sends the plan the person was shown, once."""
    person = Person()
    settings = [
        replica_settings(make_settings, tmp_path, redis_server, name, POSITIONS_MCP_HTTP_STATELESS="true")
        for name in ("a", "b")
    ]
    async with replicas(upstream, settings) as ports, balanced_client(ports, "auto", person) as (client, balancer):
        closed = ok(await client.call_tool("close_position", CLOSE))
    assert closed["confirmed_by"] == "elicitation"
    assert len(person.questions) == 1 and "TSLA" in person.questions[0]
    [(asked, _), (answered, _)] = balancer.calls  # the call, then the call again with the answer
    assert {asked, answered} == set(ports)
    assert len(upstream.writes) == 1


async def test_a_2025_era_client_loses_its_session_on_replicas_with_sessions(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, redis_server: RedisServer
) -> None:
    """Without POSITIONS_MCP_HTTP_STATELESS the session opened on one replica is unknown to the
    other: what the setting is for."""
    settings = [replica_settings(make_settings, tmp_path, redis_server, name) for name in ("a", "b")]
    async with replicas(upstream, settings) as ports:
        with pytest.raises(BaseException) as failure:
            async with balanced_client(ports, "legacy") as (client, _):
                await client.call_tool("get_positions", {"page_size": 1})
    assert "Session not found" in repr(failure.value), repr(failure.value)
