"""The tests' one set of fixtures and helpers: a simulator at a fixed instant, a raw HTTP client
of it, the one recorder of what reaches it (a client's waits recorded, never taken), MCP clients
connected to the server, and the person who answers its questions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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
