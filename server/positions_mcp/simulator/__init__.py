"""A simulated Clear Street positions API: same paths, envelope, errors, pagination and 207 batches
as the real one, served in-process (``Simulator.transport()``) or over HTTP (``serve``).

    from positions_mcp.simulator import Simulator
    sim = Simulator(seed=0, now=datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    async with httpx.AsyncClient(base_url="http://simulator", transport=sim.transport()) as http:
        await http.get("/v1/accounts/19816/positions", headers={"Authorization": "Bearer any"})
"""

from .book import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, DemoDates
from .core import Simulator
from .faults import ConnectionDropped, FaultKind, FaultRule, Faults
from .http_server import make_server, serve
from .state import Timings

__all__ = [
    "DEMO_INSTRUCTIONS_ACCOUNT",
    "DEMO_PRIMARY_ACCOUNT",
    "ConnectionDropped",
    "DemoDates",
    "FaultKind",
    "FaultRule",
    "Faults",
    "Simulator",
    "Timings",
    "make_server",
    "serve",
]
