"""Shared fixtures: a simulator at a fixed instant, the one recorder of what reaches it, and MCP
clients connected to the server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.server import MCPServer
from positions_mcp.clearstreet.retry import RetryPolicy
from positions_mcp.settings import Settings, load_settings
from positions_mcp.simulator import Simulator
from positions_mcp.surface.server import build_server

# Monday 2026-11-23, 10:00 in New York: a business day with the market open, before the
# 2026-11-27 weekly expiry (the day after Thanksgiving, an early close).
MONDAY_OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
AUTH = {"Authorization": "Bearer out-of-band"}


class Waits(list[float]):
    """The waits between retry attempts a client asked for, recorded instead of taken (through the
    retry policy's ``sleep`` seam); a checkpoint keeps each one a point where cancellation lands."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)
        await anyio.lowlevel.checkpoint()


class Recorder(httpx.AsyncBaseTransport):
    """The simulator's in-process transport, recording every request the server sends it.

    Servers get it through ``build_server``'s public ``transport=`` seam (``Recorder.server``), so
    "refused before the upstream" is checked, not assumed; and its ``retry=`` seam, so a retry's
    back-off is recorded in ``waits`` rather than waited for."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._inner = simulator.transport()
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []
        self.waits = Waits()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self._inner.handle_async_request(request)
        self.responses.append(response)
        return response

    async def aclose(self) -> None:
        """Shared by every server of a test: closing one server's client leaves it open."""

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
        transport = self.simulator.transport()
        async with httpx.AsyncClient(base_url="http://simulator", transport=transport, headers=AUTH) as http:
            response = await http.request(method, path, json=body)
        assert response.is_success, response.text
        return response.json()


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
    return request.param


@pytest.fixture
async def client(upstream: Recorder, make_settings: Callable[..., Settings], mode: str) -> AsyncIterator[Client]:
    async with Client(upstream.server(make_settings()), mode=mode) as connected:
        yield connected
