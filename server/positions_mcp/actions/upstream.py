"""The one upstream connection: the embedded simulator or a real Clear Street API.

Opened on first use (so that the first MCP reply imports nothing it does not need) and closed with
the server. ``transport`` is the seam tests use to record or script what reaches the upstream
(an ``httpx`` transport, as encode/httpx's own tests do), ``retry`` the one for the waits between
attempts (a ``RetryPolicy`` whose ``sleep`` records them instead of taking them). Knows nothing of MCP.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio

from ..domain.calendar import Clock, system_clock
from ..settings import Settings

if TYPE_CHECKING:
    import httpx

    from ..clearstreet.client import ClearStreetClient
    from ..clearstreet.retry import RetryPolicy
    from ..simulator import Simulator

logger = logging.getLogger(__name__)

SIMULATOR_API_KEY = "simulator-demo-key"  # the embedded simulator accepts any non-empty key
CLOCK_REFRESH_SECONDS = 300.0
"""How often the live API's clock is read again (``GET /v1/clock``; Clear Street's market-data API documentation)."""
CLOCK_READ_SECONDS = 2.0
"""At most this long is spent reading the clock; past it, the local clock stands."""
CLOCK_SKEW_WARNING = timedelta(seconds=2)


class Upstream:
    """Owns the ``ClearStreetClient`` (one shared ``httpx.AsyncClient``) and the clock."""

    def __init__(
        self,
        settings: Settings,
        simulator: Simulator | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._simulator = simulator
        self._transport = transport
        self._retry = retry
        self._client: ClearStreetClient | None = None
        self._lock = anyio.Lock()
        self._offset = timedelta(0)  # Clear Street's clock minus the local one (live API only)
        self._clock_read_at: float | None = None  # time.monotonic() of the last attempt

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
        """Simulated time against the simulator (so previews agree with it); against a live API,
        Clear Street's time (the local clock corrected by the offset last read from ``/v1/clock``),
        so a cutoff is judged by the API's clock, not a skewed local one."""
        if not self._settings.is_simulator:
            return self._api_time
        simulator = self.simulator
        assert simulator is not None
        return simulator.now

    def now(self) -> datetime:
        """The time market rules are judged by (cutoffs, expiry days, the market's hours)."""
        return self.clock()()

    def local_now(self) -> datetime:
        """The time of this machine's records (tokens' lifetime, the ledger, the audit log): the
        simulator's against the simulator, else the local clock, never corrected, so a token or a
        ledger row written by one process reads the same in the next, whatever the API's clock."""
        if self._settings.is_simulator:
            return self.clock()()
        return system_clock()

    def _api_time(self) -> datetime:
        return system_clock() + self._offset

    async def read_clock(self) -> None:
        """Read the API's clock now if it is due (a live API only): before a prompt states the time."""
        if not self._settings.is_simulator:
            await self.client()

    async def client(self) -> ClearStreetClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = self._open()
        if not self._settings.is_simulator:
            await self._read_clock(self._client)
        return self._client

    async def _read_clock(self, client: ClearStreetClient) -> None:
        """Read the API's clock when the last reading is older than ``CLOCK_REFRESH_SECONDS``; an
        error or a slow answer leaves the last offset (the local clock at first) and is logged."""
        started = time.monotonic()
        if self._clock_read_at is not None and started - self._clock_read_at < CLOCK_REFRESH_SECONDS:
            return
        self._clock_read_at = started  # one attempt per period, whatever it gives
        from ..clearstreet.errors import ClearStreetError

        sent = system_clock()
        try:
            with anyio.fail_after(CLOCK_READ_SECONDS):
                server = (await client.clock.now()).clock
            if server.tzinfo is None or server.utcoffset() is None:  # the API documents the clock in UTC
                server = server.replace(tzinfo=UTC)
            received = system_clock()
            offset = server - (sent + (received - sent) / 2)
        except (ClearStreetError, TimeoutError, ValueError, TypeError, OverflowError) as exc:
            logger.info("Clear Street's clock was not read (%s): the local clock stands", type(exc).__name__)
            return
        self._offset = offset
        if abs(self._offset) > CLOCK_SKEW_WARNING:
            logger.warning(
                "the local clock is %+.1f s off Clear Street's: times are judged by Clear Street's clock",
                -self._offset.total_seconds(),
            )

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
                retry=self._retry,
            )
        assert settings.api_key is not None  # settings refuse a live environment without a key
        logger.info("using the %s API at %s", settings.environment_label, settings.base_url)
        return ClearStreetClient(
            api_key=settings.api_key.reveal(), base_url=settings.base_url, transport=self._transport, retry=self._retry
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
