"""The one upstream connection: the embedded simulator or a real Clear Street API.

Opened on first use (so that the first MCP reply imports nothing it does not need) and closed with
the server. Knows nothing of MCP.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from ..domain.calendar import Clock, system_clock
from ..settings import Settings

if TYPE_CHECKING:
    from ..clearstreet.client import ClearStreetClient
    from ..simulator import Simulator

logger = logging.getLogger(__name__)

SIMULATOR_API_KEY = "simulator-demo-key"  # the embedded simulator accepts any non-empty key


class Backend:
    """Owns the ``ClearStreetClient`` (one shared ``httpx.AsyncClient``) and the clock."""

    def __init__(self, settings: Settings, simulator: Simulator | None = None) -> None:
        self._settings = settings
        self._simulator = simulator
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
        """The simulator's primary demo account; None against a real API."""
        if not self._settings.is_simulator:
            return None
        from ..simulator import DEMO_PRIMARY_ACCOUNT

        return DEMO_PRIMARY_ACCOUNT

    @property
    def clock(self) -> Clock:
        """Simulated time against the simulator (so previews agree with it), real time otherwise."""
        simulator = self.simulator
        return simulator.now if simulator is not None else system_clock

    async def client(self) -> ClearStreetClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = self._open()
        return self._client

    def _open(self) -> ClearStreetClient:
        from ..clearstreet.client import ClearStreetClient

        settings = self._settings
        simulator = self.simulator
        if simulator is not None:
            logger.info("using the embedded simulator (no network)")
            return ClearStreetClient(
                api_key=SIMULATOR_API_KEY,
                base_url=settings.base_url,
                transport=simulator.transport(),
            )
        assert settings.api_key is not None  # settings refuse a live environment without a key
        logger.info("using the %s API at %s", settings.environment_label, settings.base_url)
        return ClearStreetClient(api_key=settings.api_key.reveal(), base_url=settings.base_url)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
