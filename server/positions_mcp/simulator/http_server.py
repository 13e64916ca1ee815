"""``serve``: the simulated API over real HTTP (the ``clearstreet-positions-mcp simulator`` command)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from .book import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT
from .core import Simulator
from .faults import ConnectionDropped
from .response_watch import WatchedSend

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger(__name__)


class DropConnections:
    """Turns ``ConnectionDropped`` into a real dropped connection.

    With uvicorn, whose ``send`` is bound to the connection's request cycle, the socket is closed
    before anything is written: the client sees the server hang up without a response. With any
    other server the response is started and left without a body, which makes the server close the
    connection mid-response. Either way an httpx client gets ``httpx.RemoteProtocolError``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except ConnectionDropped:
            if watched.started:
                raise
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if isinstance(transport, asyncio.Transport):
                transport.close()
                await asyncio.sleep(0)  # let the server see the connection lost before we return
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
                }
            )


def _log_to_stderr() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def make_server(simulator: Simulator, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for ``simulator`` (h11, no lifespan, uvicorn logging through the root
    logger); ``serve`` runs one, tests run one in a thread to drive a simulator they hold."""
    import uvicorn

    config = uvicorn.Config(
        DropConnections(simulator.app),
        host=host,
        port=port,
        http="h11",
        lifespan="off",
        log_config=None,  # uvicorn's loggers propagate to the root handler, on stderr
    )
    return uvicorn.Server(config)


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    seed: int = 0,
    latency: float = 0.0,
    generated: Mapping[int, int] | None = None,
) -> None:
    """Serve a fresh simulator on real time until interrupted (blocking). Logs go to stderr.

    ``generated`` maps extra account ids to a number of generated positions (benchmarks)."""
    _log_to_stderr()
    simulator = Simulator(seed=seed, latency=latency)
    for account_id, positions in (generated or {}).items():
        simulator.add_generated_account(account_id, positions=positions, seed=seed + 1)
    logger.info(
        "simulated Clear Street API on http://%s:%d (demo accounts %d and %d; any non-empty bearer key)",
        host,
        port,
        DEMO_PRIMARY_ACCOUNT,
        DEMO_INSTRUCTIONS_ACCOUNT,
    )
    make_server(simulator, host, port).run()
