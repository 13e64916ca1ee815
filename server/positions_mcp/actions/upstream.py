"""The one upstream connection: the embedded simulator or a real Clear Street API.

Opened on first use (so that the first MCP reply imports nothing it does not need) and closed with
the server. ``transport`` is the seam tests use to record or script what reaches the upstream
(an ``httpx`` transport, as encode/httpx's own tests do). Knows nothing of MCP.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from ..domain.calendar import Clock, system_clock
from ..settings import Settings

if TYPE_CHECKING:
    import httpx

    from ..clearstreet.client import ClearStreetClient
    from ..simulator import Simulator

logger = logging.getLogger(__name__)

SIMULATOR_API_KEY = "simulator-demo-key"  # the embedded simulator accepts any non-empty key


class Upstream:
    """Owns the ``ClearStreetClient`` (one shared ``httpx.AsyncClient``) and the clock."""

    def __init__(
        self,
        settings: Settings,
        simulator: Simulator | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._simulator = simulator
        self._transport = transport
        self._client: ClearStreetClient | None = None
        self._lock = anyio.Lock()

    @property
    def simulator(self) -> Simulator | None:
        """The embedded simulator, created on first use when the environment is the simulator."""
        if self._simulator is None and self._settings.is_simulator:
            from ..simulator import Simulator

            self._simulator = Simulator()
        return self._simulator

    @property
    def default_account(self) -> int | None:
        """The configured default account, else the simulator's primary demo account."""
        return self._settings.effective_default_account

    def clock(self) -> Clock:
        """Simulated time against the simulator (so previews agree with it), real time otherwise."""
        if not self._settings.is_simulator:
            return system_clock
        simulator = self.simulator
        assert simulator is not None
        return simulator.now

    def now(self) -> datetime:
        return self.clock()()

    async def client(self) -> ClearStreetClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = self._open()
        return self._client

    def _open(self) -> ClearStreetClient:
        from ..clearstreet.client import ClearStreetClient

        settings = self._settings
        if settings.is_simulator:
            simulator = self.simulator
            assert simulator is not None
            logger.info("using the embedded simulator (no network)")
            return ClearStreetClient(
                api_key=SIMULATOR_API_KEY,
                base_url=settings.base_url,
                transport=self._transport or simulator.transport(),
            )
        assert settings.api_key is not None  # settings refuse a live environment without a key
        logger.info("using the %s API at %s", settings.environment_label, settings.base_url)
        return ClearStreetClient(
            api_key=settings.api_key.reveal(), base_url=settings.base_url, transport=self._transport
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
