"""Throughput of one replica against two, on the same Redis ledger: calls per second of a read
tool over streamable HTTP from N concurrent MCP clients, and the ratio two/one.

    python bench/bench_replicas.py [--clients 8] [--processes 2] [--seconds 10] [--runs 1]

Two replicas (``clearstreet-positions-mcp --transport streamable-http``, stateless, the same token
secret, one ``redis-server``) and the simulated API each run in a process of their own; the
clients run in ``--processes`` processes of their own, so that one Python process's client code
does not bound what is measured. "One replica" sends every client to replica a; "two" sends
client i to replica a or b by its parity (a balancer's round robin, without a balancer's cost).
Each client connects and makes one call before the timed window opens (the same wall-clock
instant for all), then calls the tool until it closes. Runs alternate one/two so that load from
elsewhere on the machine falls on both alike; the medians are printed, with the CPU seconds each
part used during the last window (where the time went: on a machine with fewer cores than
processes, the ratio is bounded by the cores, not by the server). No budget: the figures depend
on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
from desk import HTTP_TOKEN, TOKEN_SECRET, cpu_seconds, http_server, redis_server
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from simulated import server_environ, simulated_api

ACCOUNT = 19816
TOOL, ARGUMENTS = "get_positions", {"page_size": 5}
CONNECT_SECONDS = 8.0
"""Time given to every client to connect and warm up before the window opens."""


async def _clients(urls: Sequence[str], indices: Sequence[int], opens: float, seconds: float) -> int:
    calls = [0] * len(indices)

    async def client(slot: int, index: int) -> None:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {HTTP_TOKEN}"}, timeout=60) as http,
            Client(streamable_http_client(urls[index % len(urls)], http_client=http)) as mcp,
        ):
            await mcp.call_tool(TOOL, ARGUMENTS)
            await anyio.sleep(max(0.0, opens - time.time()))
            while time.time() < opens + seconds:
                result = await mcp.call_tool(TOOL, ARGUMENTS)
                if result.is_error:
                    raise SystemExit(f"{TOOL} failed: {result.content}")
                calls[slot] += 1

    async with anyio.create_task_group() as group:
        for slot, index in enumerate(indices):
            group.start_soon(client, slot, index)
    return sum(calls)


def client_process(urls: Sequence[str], indices: Sequence[int], opens: float, seconds: float) -> tuple[int, float]:
    """Calls made by these clients in the window, and this process's CPU seconds meanwhile."""
    cpu = time.process_time()
    calls = anyio.run(_clients, urls, indices, opens, seconds)
    return calls, time.process_time() - cpu


@dataclass
class Window:
    calls_per_second: float
    cpu: dict[str, float]


def measure(pool: ProcessPoolExecutor, urls: Sequence[str], pids: dict[str, int], args: argparse.Namespace) -> Window:
    opens = time.time() + CONNECT_SECONDS
    shares = [list(range(p, args.clients, args.processes)) for p in range(args.processes)]
    futures = [pool.submit(client_process, urls, share, opens, args.seconds) for share in shares]
    time.sleep(max(0.0, opens - time.time()))
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(args.seconds)
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    results = [future.result() for future in futures]
    cpu["clients"] = sum(used for _, used in results)
    return Window(sum(calls for calls, _ in results) / args.seconds, cpu)


def replica_environ(api: str, folder: Path, ledger: str) -> dict[str, str]:
    return {
        **server_environ(api, ACCOUNT, str(folder)),
        "POSITIONS_MCP_ALLOWED_ACCOUNTS": str(ACCOUNT),
        "POSITIONS_MCP_LEDGER": ledger,
        "POSITIONS_MCP_TOKEN_SECRET": TOKEN_SECRET,
        "POSITIONS_MCP_HTTP_TOKEN": HTTP_TOKEN,
        "POSITIONS_MCP_HTTP_STATELESS": "true",
    }


def cpu_line(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent MCP clients (default 8)")
    parser.add_argument("--processes", type=int, default=2, help="processes the clients run in (default 2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed window (default 10)")
    parser.add_argument("--runs", type=int, default=1, help="windows per configuration, alternating (default 1)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        simulated_api({}) as api,
        redis_server(Path(folder) / "redis") as (ledger, redis_pid),
        http_server(replica_environ(api, Path(folder) / "a", ledger)) as (url_a, pid_a),
        http_server(replica_environ(api, Path(folder) / "b", ledger)) as (url_b, pid_b),
        ProcessPoolExecutor(args.processes) as pool,
    ):
        one: list[Window] = []
        two: list[Window] = []
        for _ in range(args.runs):
            one.append(measure(pool, [url_a], {"replica a": pid_a, "redis": redis_pid}, args))
            pids = {"replica a": pid_a, "replica b": pid_b, "redis": redis_pid}
            two.append(measure(pool, [url_a, url_b], pids, args))
    rate_one = statistics.median(w.calls_per_second for w in one)
    rate_two = statistics.median(w.calls_per_second for w in two)
    print(
        f"{TOOL} {ARGUMENTS} over streamable HTTP (stateless, shared-token mode): {args.clients} concurrent "
        f"clients in {args.processes} processes, {args.seconds:g} s windows, {args.runs} run(s) each; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"  one replica : {rate_one:8.1f} calls/s   (CPU s in the last window: {cpu_line(one[-1].cpu)})")
    print(f"  two replicas: {rate_two:8.1f} calls/s   (CPU s in the last window: {cpu_line(two[-1].cpu)})")
    print(f"  ratio two/one: {rate_two / rate_one:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
