"""The real console script: MCP over stdio (and stdout carries nothing else) and over HTTP."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from positions_mcp.settings import Settings
from positions_mcp.surface.http import MCP_PATH, http_app, uvicorn_config
from positions_mcp.surface.server import build_server

SCRIPT = str(Path(sys.executable).with_name("clearstreet-positions-mcp"))


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEAR_STREET_", "POSITIONS_MCP_"))}
    return {**env, "POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **extra}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_console_script_serves_stdio(tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(command=SCRIPT, env={"POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")})
    async with Client(params, mode=mode) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names[:4] == ["get_positions", "get_position_instructions", "analyze_scenario", "summarize_exposure"]
        assert len(names) == 11  # the simulator: state-changing tools too
        page = await client.call_tool("get_positions", {"page_size": 2})
        assert not page.is_error
        assert page.structured_content is not None
        assert page.structured_content["environment"] == "simulator"
        assert page.structured_content["account_id"] == 19816
        assert len(page.structured_content["positions"]) == 2
        summary = await client.call_tool("summarize_exposure", {})
        assert not summary.is_error
        status = await client.read_resource("clearstreet://status")
        assert json.loads(status.contents[0].text)["is_simulator"] is True  # type: ignore[union-attr]


def rpc(process: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_stdout_carries_only_the_protocol_at_every_log_level(tmp_path: Path, level: str) -> None:
    process = subprocess.Popen(
        [SCRIPT],
        env=clean_env(tmp_path, POSITIONS_MCP_LOG_LEVEL=level),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, process.kill)  # a silent server must not hang the suite
    watchdog.start()
    try:
        rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "0"},
                },
            },
        )
        rpc(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "get_positions", "arguments": {"page_size": 1}},
            },
        )
        rpc(
            process,
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "get_positions", "arguments": {"page_size": 0}},
            },
        )
        assert process.stdout is not None
        lines: list[str] = []
        while {1, 2, 3} - {json.loads(line).get("id") for line in lines}:
            line = process.stdout.readline()
            assert line, "the server closed stdout before answering"
            lines.append(line)
        rest, stderr = process.communicate(timeout=30)  # closes stdin: the server exits
    finally:
        watchdog.cancel()
        process.kill()
    messages = [json.loads(line) for line in [*lines, *rest.splitlines()]]  # every line is JSON
    assert all(message.get("jsonrpc") == "2.0" for message in messages)
    by_id = {message.get("id"): message for message in messages}
    assert by_id[2]["result"]["structuredContent"]["positions"][0]["account_id"] == 19816
    assert by_id[3]["result"]["isError"] is True
    if level == "DEBUG":
        assert "positions_mcp" in stderr or "mcp" in stderr  # the logs went to stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_http(tmp_path: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The console script serving streamable HTTP on a free loopback port (stderr kept)."""
    port = free_port()
    process = subprocess.Popen(
        [SCRIPT, "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
        env=clean_env(tmp_path, POSITIONS_MCP_HTTP_TOKEN="s3cret-http-token", **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=10)
        assert stdout == b""


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    with serving_http(tmp_path) as (url, _):
        yield url


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_http_requires_the_bearer_token_and_says_which_problem(http_server: str) -> None:
    """401 with a plain ``WWW-Authenticate: Bearer`` and a body that says what is wrong; no OAuth
    protected-resource metadata, so no client starts an OAuth flow this server cannot finish."""
    missing = httpx.post(http_server, json=INITIALIZE, headers=HEADERS)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"] == "missing_token"
    assert "Authorization: Bearer <token>" in missing.json()["error_description"]
    wrong = httpx.post(http_server, json=INITIALIZE, headers={**HEADERS, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["error"] == "invalid_token" and "token is wrong" in wrong.json()["error_description"]
    assert "s3cret-http-token" not in wrong.text and "resource_metadata" not in str(wrong.headers)
    base = http_server.removesuffix("/mcp")
    paths = (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    )
    for path in paths:  # 404 with the token or without: no OAuth flow to start (a 401 would start one)
        for headers in ({"Authorization": "Bearer s3cret-http-token"}, {}):
            metadata = httpx.get(base + path, headers=headers)
            assert metadata.status_code == 404, (path, headers)
            assert "www-authenticate" not in metadata.headers and "not OAuth" in metadata.json()["error_description"]


def test_the_bearer_scheme_is_case_insensitive(http_server: str) -> None:
    """RFC 9110 section 11.1: the scheme's name is case-insensitive; the token itself is not."""
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        answer = httpx.post(
            http_server, json=INITIALIZE, headers={**HEADERS, "Authorization": f"{scheme} s3cret-http-token"}
        )
        assert answer.status_code == 200, scheme
    for wrong in (
        "Bearer S3CRET-HTTP-TOKEN",
        "Basic s3cret-http-token",
        "Bearers3cret-http-token",
        "s3cret-http-token",
    ):
        assert httpx.post(http_server, json=INITIALIZE, headers={**HEADERS, "Authorization": wrong}).status_code == 401


@pytest.mark.anyio
async def test_http_logs_at_debug_carry_no_token_and_no_position(tmp_path: Path) -> None:
    """The HTTP stack logs every response chunk at DEBUG: none of it reaches stderr."""
    with serving_http(tmp_path, POSITIONS_MCP_LOG_LEVEL="DEBUG", POSITIONS_MCP_CONFIRMATION="token") as (url, process):
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret-http-token"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            page = await client.call_tool("get_positions", {"page_size": 50})
            preview = await client.call_tool("preview_close_position", {"instrument_id": "TSLA"})
            token = (preview.structured_content or {})["confirmation_token"]
            close = await client.call_tool("close_position", {"instrument_id": "TSLA", "confirmation_token": token})
        assert not page.is_error and not close.is_error
        process.terminate()
        _, stderr_bytes = process.communicate(timeout=10)
    stderr = stderr_bytes.decode()
    assert "positions_mcp" in stderr  # DEBUG logging is on
    assert "cst1." not in stderr and token.split(".")[2] not in stderr
    for position_data in ("TSLA", "AAPL", "15100.00", "market_value", "instrument_price", '"positions"'):
        assert position_data not in stderr, position_data


def test_http_rejects_a_foreign_host_or_origin(http_server: str) -> None:
    auth = {**HEADERS, "Authorization": "Bearer s3cret-http-token"}
    rebound = httpx.post(http_server, json=INITIALIZE, headers={**auth, "Host": "evil.example:80"})
    assert rebound.status_code == 421
    foreign = httpx.post(http_server, json=INITIALIZE, headers={**auth, "Origin": "http://evil.example"})
    assert foreign.status_code == 403


@pytest.mark.anyio
async def test_http_serves_mcp_with_the_token(http_server: str) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret-http-token"}) as http,
        Client(streamable_http_client(http_server, http_client=http)) as client,
    ):
        result = await client.call_tool("get_positions", {"page_size": 1})
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["environment"] == "simulator"


def test_any_loopback_address_accepts_its_own_host_header() -> None:
    from positions_mcp.surface.http import transport_security

    security = transport_security("127.0.0.2", 8123)
    assert security.enable_dns_rebinding_protection
    assert "127.0.0.2:8123" in security.allowed_hosts and "localhost:8123" in security.allowed_hosts
    assert "http://127.0.0.2:8123" in security.allowed_origins


def test_sessions_are_bounded(tmp_path: Path) -> None:
    """POSITIONS_MCP_HTTP_MAX_SESSIONS refuses a session beyond the limit (503) until one closes."""
    auth = {**HEADERS, "Authorization": "Bearer s3cret-http-token"}
    with serving_http(tmp_path, POSITIONS_MCP_HTTP_MAX_SESSIONS="2") as (url, _):
        opened = [httpx.post(url, json=INITIALIZE, headers=auth) for _ in range(2)]
        assert [r.status_code for r in opened] == [200, 200]
        assert all(r.headers.get("mcp-session-id") for r in opened)
        third = httpx.post(url, json=INITIALIZE, headers=auth)
        assert third.status_code == 503 and "Too many open sessions" in third.text
        closed = httpx.delete(url, headers={**auth, "mcp-session-id": opened[0].headers["mcp-session-id"]})
        assert closed.status_code == 200
        assert httpx.post(url, json=INITIALIZE, headers=auth).status_code == 200  # a place is free again


IDLE = 1
"""Seconds an HTTP session may stay idle in the test below: under the 10 s a configuration may set
(``Settings`` replaced, not parsed), so the test waits one second, not ten."""


@contextmanager
def serving_in_process(settings: Settings) -> Iterator[str]:
    """``http_app`` for ``settings`` served by uvicorn in a thread, on a socket bound here (so no
    other test can take its port); yields the MCP URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    app = http_app(build_server(settings), settings, "127.0.0.1", port)
    config = uvicorn_config(app, settings, "127.0.0.1", port)
    config.lifespan = "on"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}{MCP_PATH}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_idle_sessions_are_closed_and_free_their_places(make_settings: Callable[..., Settings]) -> None:
    """POSITIONS_MCP_HTTP_SESSION_IDLE closes an idle session, which frees its place: both places
    taken, two new sessions open once the sessions have been idle that long (a session still open
    would keep its place: 503)."""
    auth = {**HEADERS, "Authorization": "Bearer s3cret-http-token"}
    configured = make_settings(POSITIONS_MCP_HTTP_MAX_SESSIONS="2", POSITIONS_MCP_HTTP_TOKEN="s3cret-http-token")
    with serving_in_process(dataclasses.replace(configured, http_session_idle=IDLE)) as url:
        opened = [httpx.post(url, json=INITIALIZE, headers=auth) for _ in range(2)]
        assert [r.status_code for r in opened] == [200, 200]
        assert all(r.headers.get("mcp-session-id") for r in opened)
        time.sleep(IDLE)  # both sessions idle past POSITIONS_MCP_HTTP_SESSION_IDLE
        again: list[httpx.Response] = []
        deadline = time.monotonic() + 10  # closing an expired session takes the server a moment
        while len(again) < 2:
            response = httpx.post(url, json=INITIALIZE, headers=auth)
            if response.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            again.append(response)
        assert [r.status_code for r in again] == [200, 200]
