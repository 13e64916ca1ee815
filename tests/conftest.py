"""Shared fixtures: a simulator at a fixed instant and MCP clients connected to the server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client
from positions_mcp.settings import Settings, load_settings
from positions_mcp.simulator import Simulator
from positions_mcp.surface.server import build_server

# Monday 2026-11-23, 10:00 in New York: a business day with the market open, before the
# 2026-11-27 weekly expiry (the day after Thanksgiving, an early close).
MONDAY_OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def simulator() -> Simulator:
    return Simulator(seed=0, now=MONDAY_OPEN)


@pytest.fixture
def make_settings(tmp_path: Any) -> Callable[..., Settings]:
    """Settings from environment-variable names, with the audit log in a temporary folder."""

    def make(**env: str) -> Settings:
        environ = {"POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **env}
        return load_settings(environ)

    return make


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: 2026-07-28 (auto, discover) and 2025-11-25 (legacy, initialize)."""
    return request.param


@pytest.fixture
async def client(simulator: Simulator, make_settings: Callable[..., Settings], mode: str) -> AsyncIterator[Client]:
    server = build_server(make_settings(), simulator=simulator)
    async with Client(server, mode=mode) as connected:
        yield connected
