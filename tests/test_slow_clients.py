"""HTTP under slow and idle clients: a request's headers and its body have deadlines, connections
are capped (POSITIONS_MCP_HTTP_MAX_CONNECTIONS), and a client with the right token is served while
hundreds of sockets sit half-open. The server is the served configuration
(``surface.http.uvicorn_config``) in a thread, with deadlines of one and two seconds instead of
five and ten so that the tests wait less; the file-descriptor limit is checked in a child process."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from conftest import ok
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from positions_mcp.settings import Settings
from positions_mcp.surface.http import MCP_PATH, http_app, uvicorn_config
from positions_mcp.surface.server import build_server
from positions_mcp.surface.slow_clients import BODY_SECONDS, HEADERS_SECONDS, SlowClients

TOKEN = "a-bearer-token-for-slow-clients-0123456789"
HEADERS, BODY = 1.0, 2.0
INCOMPLETE = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@dataclass
class Served:
    url: str
    port: int
    server: uvicorn.Server

    @property
    def open_connections(self) -> int:
        return len(self.server.server_state.connections)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock


@contextmanager
def serving(settings: Settings, max_connections: int, headers: float = HEADERS) -> Iterator[Served]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    app = http_app(build_server(settings), settings, "127.0.0.1", port)
    config = uvicorn_config(app, settings, "127.0.0.1", port, SlowClients(max_connections, headers, BODY))
    config.lifespan = "on"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.01)
        yield Served(f"http://127.0.0.1:{port}{MCP_PATH}", port, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(POSITIONS_MCP_HTTP_TOKEN=TOKEN)


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length (the connection stays open)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_the_deadlines_are_a_few_seconds() -> None:
    assert (HEADERS_SECONDS, BODY_SECONDS) == (5.0, 10.0)


@pytest.mark.parametrize("sent", [b"", INCOMPLETE], ids=["nothing", "half the headers"])
def test_headers_that_do_not_arrive_are_dropped(settings: Settings, sent: bytes) -> None:
    with serving(settings, 10) as served, served.connect() as sock:
        started = time.monotonic()
        sock.sendall(sent)
        answer = read_until_closed(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"Connection: close" in answer
    assert HEADERS - 0.1 <= waited < HEADERS + 1.5


def test_a_trickling_body_is_dropped(settings: Settings) -> None:
    """A byte every 0.2 s of a 100-byte body: dropped two seconds after its headers."""
    head = INCOMPLETE + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
    with serving(settings, 10) as served, served.connect() as sock:
        sock.sendall(head)
        started = time.monotonic()
        sock.settimeout(0.2)
        answer = b""
        while time.monotonic() - started < BODY + 3:
            try:
                sock.sendall(b"{")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert BODY - 0.1 <= waited < BODY + 1.5


def test_a_kept_alive_connection_trickling_its_next_request_is_dropped(settings: Settings) -> None:
    """A first request answered, then a second one's headers a byte at a time: the deadline starts
    again at its first byte."""
    with serving(settings, 10) as served, served.connect() as sock:
        sock.sendall(b"GET /.well-known/oauth-protected-resource HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = read_response(sock)
        assert first.startswith(b"HTTP/1.1 404"), first
        started = time.monotonic()
        sock.settimeout(0.25)
        answer = b""
        for byte in INCOMPLETE:
            try:
                sock.sendall(bytes([byte]))
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                break
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert waited < HEADERS + 1.5


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except ConnectionError:
        return False


@pytest.mark.anyio
async def test_a_client_with_the_token_is_served_while_300_sockets_sit_half_open(settings: Settings) -> None:
    """The default cap (200): 300 sockets that never finish their headers (and a deadline long
    enough that none times out during the test) hold at most 200 places; each new connection takes
    the place of the one waiting longest, so an MCP client's calls are answered, and the server
    never holds more than the cap."""
    assert settings.http_max_connections == 200
    with serving(settings, settings.http_max_connections, headers=60) as served:
        stalled = [served.connect() for _ in range(300)]
        try:
            for sock in stalled:
                sock.sendall(INCOMPLETE)
            await anyio.sleep(0.3)  # the server has seen them all
            assert served.open_connections <= 200
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                Client(streamable_http_client(served.url, http_client=http)) as client,
            ):
                page = ok(await client.call_tool("get_positions", {"page_size": 1}))
                ok(await client.call_tool("summarize_exposure", {}))
            assert page["total_items"] == 17
            assert served.open_connections <= 200
            await anyio.sleep(0.1)
            held = sum(still_open(sock) for sock in stalled)
            assert 150 <= held <= 200  # the rest were closed to make room (the client's, and 100 more)
        finally:
            for sock in stalled:
                sock.close()


def test_beyond_the_cap_with_every_connection_busy_a_new_one_is_refused_cleanly(settings: Settings) -> None:
    """Two connections each in the middle of a request (a body still coming): a third gets a whole
    503 with Retry-After and is closed at once; a connection waiting for its headers would have
    been replaced instead."""
    busy_head = INCOMPLETE + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 50\r\n\r\n{{".encode()
    with serving(settings, 2) as served:
        busy = [served.connect() for _ in range(2)]
        try:
            for sock in busy:
                sock.sendall(busy_head)
            time.sleep(0.2)
            with served.connect() as third:
                third.sendall(INCOMPLETE)
                answer = read_until_closed(third)
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert b"Retry-After: 1\r\n" in answer and b"Connection: close\r\n" in answer
            assert answer.endswith(b"POSITIONS_MCP_HTTP_MAX_CONNECTIONS); try again in a moment.")
            deadline = time.monotonic() + 2  # the refused one reads on for at most a second
            while served.open_connections > 2:
                assert time.monotonic() < deadline, served.open_connections
                time.sleep(0.02)
        finally:
            for sock in busy:
                sock.close()


# -- file descriptors -----------------------------------------------------------------------------


def backlog_under_limit(soft: int, hard: int, connections: int) -> subprocess.CompletedProcess[str]:
    """``settings.http_backlog`` in a child whose descriptor limit is (soft, hard)."""
    code = (
        "import resource, sys\n"
        "from positions_mcp.settings import ConfigError, http_backlog\n"
        "try:\n"
        f"    backlog = http_backlog({connections})\n"
        "except ConfigError as exc:\n"
        "    sys.exit(str(exc))\n"
        "print(backlog, *resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, preexec_fn=limit, env=os.environ
    )


def test_the_descriptor_limit_is_raised_to_hold_every_connection_and_a_burst() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.fail(f"this machine's hard descriptor limit ({hard}) is under what the test sets (4096)")
    raised = backlog_under_limit(256, 4096, 200)
    assert raised.returncode == 0, raised.stderr
    assert raised.stdout.split() == ["2048", str(200 + 2048 + 64), "4096"]  # soft raised, as far as needed
    tight = backlog_under_limit(1024, 1024, 200)
    assert tight.stdout.split() == [str(1024 - 200 - 64), "1024", "1024"]  # a smaller backlog fits
    refused = backlog_under_limit(256, 256, 200)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "POSITIONS_MCP_HTTP_MAX_CONNECTIONS is 200 but this process may open only 256 files "
        "(ulimit -n; hard limit 256): lower it to 176 or raise the limit"
    )


def test_start_up_refuses_more_connections_than_the_process_may_hold(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("clearstreet-positions-mcp")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEAR_STREET_", "POSITIONS_MCP_"))}

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    result = subprocess.run(
        [str(script), "--transport", "streamable-http", "--port", "1"],
        env={
            **env,
            "POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
            "POSITIONS_MCP_HTTP_MAX_CONNECTIONS": "500",
        },
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=limit,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "POSITIONS_MCP_HTTP_MAX_CONNECTIONS is 500 but this process may open only 512 files" in line
