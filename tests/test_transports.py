"""The real console script: MCP over stdio (and stdout carries nothing else) and over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

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
        assert names[:3] == ["get_positions", "get_position_instructions", "summarize_exposure"]
        assert len(names) == 10  # the simulator: state-changing tools too
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


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [SCRIPT, "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
        env=clean_env(tmp_path, POSITIONS_MCP_HTTP_TOKEN="s3cret-http-token"),
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
        yield url
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=10)
        assert stdout == b""


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_http_requires_the_bearer_token(http_server: str) -> None:
    missing = httpx.post(http_server, json=INITIALIZE, headers=HEADERS)
    assert missing.status_code == 401
    wrong = httpx.post(http_server, json=INITIALIZE, headers={**HEADERS, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "s3cret-http-token" not in wrong.text


def test_http_rejects_a_foreign_host_or_origin(http_server: str) -> None:
    auth = {**HEADERS, "Authorization": "Bearer s3cret-http-token"}
    rebound = httpx.post(http_server, json=INITIALIZE, headers={**auth, "Host": "evil.example:80"})
    assert rebound.status_code == 421
    foreign = httpx.post(http_server, json=INITIALIZE, headers={**auth, "Origin": "http://evil.example"})
    assert foreign.status_code == 403


@pytest.mark.anyio
async def test_http_serves_mcp_with_the_token(http_server: str) -> None:
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret-http-token"}) as http:
        async with Client(streamable_http_client(http_server, http_client=http)) as client:
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
