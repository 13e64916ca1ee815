"""The tests' one set of fixtures and helpers: a simulator at a fixed instant, a raw HTTP client
of it, the one recorder of what reaches it (a client's waits recorded, never taken), MCP clients
connected to the server, the person who answers its questions, and a real ``redis-server``."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.server import MCPServer
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult
from positions_mcp.clearstreet.retry import RetryPolicy
from positions_mcp.settings import Settings, load_settings
from positions_mcp.simulator import Simulator
from positions_mcp.surface.server import build_server

# Monday 2026-11-23, 10:00 in New York: a business day with the market open, before the
# 2026-11-27 weekly expiry (the day after Thanksgiving, an early close).
MONDAY_OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
AUTH = {"Authorization": "Bearer out-of-band"}
"""Any non-empty bearer key reaches a simulator built without ``api_keys``."""


def api(simulator: Simulator, headers: dict[str, str] | None = AUTH) -> httpx.AsyncClient:
    """A raw HTTP client of ``simulator`` in process (no socket), authorised unless told otherwise."""
    return httpx.AsyncClient(base_url="http://simulator", transport=simulator.transport(), headers=headers)


class Waits(list[float]):
    """The waits between retry attempts a client asked for, recorded instead of taken (through the
    retry policy's ``sleep`` seam); ``during``, when set, runs at each wait (the simulator's clock
    can move while a client backs off); a checkpoint keeps each one a point where cancellation lands."""

    during: Callable[[float], object] | None = None

    async def __call__(self, delay: float) -> None:
        self.append(delay)
        if self.during is not None:
            self.during(delay)
        await anyio.lowlevel.checkpoint()


@dataclass
class RoundTrip:
    """One request sent to the simulator and what came back: a response, or a transport failure."""

    request: httpx.Request
    response: httpx.Response | None = None
    failure: BaseException | None = None

    @property
    def answered(self) -> httpx.Response:
        assert self.response is not None, f"no response: {self.failure!r}"
        return self.response

    @property
    def status(self) -> int | None:
        """The response's status; None when the transport failed."""
        return None if self.response is None else self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.answered.headers

    @property
    def body(self) -> Any:
        return json.loads(self.answered.content)

    @property
    def sent(self) -> Any:
        return json.loads(self.request.content)

    @property
    def params(self) -> httpx.QueryParams:
        return self.request.url.params


class Recorder(httpx.AsyncBaseTransport):
    """The simulator's in-process transport, recording every round trip through it.

    Servers get it through ``build_server``'s public ``transport=`` seam (``Recorder.server``), so
    "refused before the upstream" is checked, not assumed; and its ``retry=`` seam, so a retry's
    back-off is recorded in ``waits`` rather than waited for. A client built on it directly gets
    the same record (``round_trips``, ``last``, ``matching``)."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._inner = simulator.transport()
        self.round_trips: list[RoundTrip] = []
        self.waits = Waits()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trip = RoundTrip(request)
        self.round_trips.append(trip)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            trip.failure = exc
            raise
        content = await response.aread()
        await response.aclose()
        trip.response = httpx.Response(response.status_code, headers=response.headers, content=content, request=request)
        return trip.response

    async def aclose(self) -> None:
        """Shared by every server of a test: closing one server's client leaves it open."""

    @property
    def requests(self) -> list[httpx.Request]:
        return [trip.request for trip in self.round_trips]

    @property
    def responses(self) -> list[httpx.Response]:
        return [trip.response for trip in self.round_trips if trip.response is not None]

    @property
    def last(self) -> RoundTrip:
        return self.round_trips[-1]

    def matching(self, method: str, path_part: str = "") -> list[RoundTrip]:
        return [t for t in self.round_trips if t.request.method == method and path_part in t.request.url.path]

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]

    @property
    def writes(self) -> list[tuple[str, str]]:
        """Requests that can change something: every method but GET."""
        return [call for call in self.calls if call[0] != "GET"]

    def server(self, settings: Settings, **kwargs: Any) -> MCPServer[Any]:
        kwargs.setdefault("retry", RetryPolicy(sleep=self.waits))
        return build_server(settings, simulator=self.simulator, transport=self, **kwargs)

    async def behind_our_back(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """Change the book directly (as another trader would), unrecorded."""
        async with api(self.simulator) as http:
            response = await http.request(method, path, json=body)
        assert response.is_success, response.text
        answer: dict[str, Any] = response.json()
        return answer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def simulator() -> Simulator:
    return Simulator(seed=0, now=MONDAY_OPEN)


@pytest.fixture
def upstream(simulator: Simulator) -> Recorder:
    return Recorder(simulator)


@pytest.fixture
def recorder(upstream: Recorder) -> Recorder:
    return upstream


@pytest.fixture
def make_settings(tmp_path: Any) -> Callable[..., Settings]:
    """Settings from environment-variable names, with the audit log (and so the ledger and the
    token key) in a temporary folder."""

    def make(**env: str) -> Settings:
        environ = {"POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **env}
        return load_settings(environ)

    return make


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: 2026-07-28 (auto, discover) and 2025-11-25 (legacy, initialize)."""
    mode: str = request.param
    return mode


@pytest.fixture
async def client(upstream: Recorder, make_settings: Callable[..., Settings], mode: str) -> AsyncIterator[Client]:
    async with Client(upstream.server(make_settings()), mode=mode) as connected:
        yield connected


Answer = Literal["accept", "decline", "cancel"]
"""What a person can answer a question with (MCP elicitation)."""


class Person:
    """An elicitation callback: answers every question the same way and remembers what it was
    asked. An acceptance says yes (``{"confirm": True}``) unless ``content`` says otherwise; the
    answer is sent unvalidated, as a loose client would send it."""

    def __init__(self, action: Answer = "accept", content: Any = None) -> None:
        self.action = action
        self.content: dict[str, Any] | None = {"confirm": True} if content is None and action == "accept" else content
        self.questions: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        return ElicitResult.model_construct(action=self.action, content=self.content)


def text_of(result: CallToolResult) -> str:
    """What a tool result says in words (its one text block)."""
    block = result.content[0]
    assert block.type == "text", block
    return block.text


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful tool result."""
    assert not result.is_error, text_of(result)
    structured = result.structured_content
    assert isinstance(structured, dict), structured
    return structured


def refused(result: CallToolResult, reason: str) -> str:
    """The text of a refusal for ``reason``, which says once that nothing was sent."""
    assert result.is_error, result.structured_content
    text = text_of(result)
    assert f"Refused ({reason})" in text, text
    assert text.count("Nothing was sent") == 1, text
    return text


# -- a real Redis ----------------------------------------------------------------------------------

REDIS_PASSWORD = "redis-pass-0123456789"
TOKEN_SECRET = "a-replicas-shared-secret-0123456789abcdef"
"""A token secret long enough for a Redis ledger (at least 32 bytes)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` on a free loopback port, with a password, keeping its data in ``directory``
    in an append-only file synced at every write (what the ledger requires of a Redis). ``stop``
    kills it (SIGKILL: a crash, not a clean shutdown); ``start`` again serves the same data on the
    same port. ``tls`` (a certificate and its key) serves TLS only, on that port; ``extra`` are more
    ``redis-server`` options."""

    def __init__(
        self,
        directory: Path,
        *,
        password: str | None = REDIS_PASSWORD,
        tls: tuple[Path, Path] | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed; the Redis ledger's tests need one: .ci/run installs it "
                "(apt-get install redis-server)",
                pytrace=False,
            )
        self.binary = binary
        self.directory = directory
        self.password = password
        self.tls = tls
        self.extra = extra
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ledger's URL: with the password; for TLS, ``rediss://`` trusting the certificate."""
        auth = f":{self.password}@" if self.password else ""
        if self.tls is None:
            return f"redis://{auth}127.0.0.1:{self.port}/0"
        return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls[0]}"

    def command(self) -> list[str]:
        if self.tls is None:
            port = ["--port", str(self.port)]
        else:
            certificate, key = self.tls
            port = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(certificate),
                    "--tls-key-file", str(key), "--tls-auth-clients", "no"]  # fmt: skip
        password = ["--requirepass", self.password] if self.password else []
        return [
            self.binary, *port, "--bind", "127.0.0.1", "--dir", str(self.directory), "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", *password, *self.extra,
        ]  # fmt: skip

    def _ready_lines(self) -> int:
        log = self.directory / "redis.log"
        return log.read_text(errors="replace").count("Ready to accept connections") if log.exists() else 0

    def start(self) -> None:
        """Start it and wait until it serves (each start logs one more "Ready" line)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        before = self._ready_lines()
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + 20
        while self._ready_lines() == before:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start: {(self.directory / 'redis.log').read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real ``redis-server`` for one test (its own port, folder and password)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()
