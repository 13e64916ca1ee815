"""summarize_exposure on a generated account of 10,000 positions, through the MCP protocol.

The simulated API runs in its own process (``clearstreet-positions-mcp simulator --generate``),
so the figures are the MCP server's own: the time of the tool call as a ratio to fetching the
same pages alone (the same client, the same HTTP API), the summary's size in bytes, and the
server's memory.

    python bench/bench_exposure.py [--positions 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import anyio
import httpx
from mcp import Client
from positions_mcp.clearstreet import ClearStreetClient
from positions_mcp.settings import load_settings
from positions_mcp.surface.server import build_server

ACCOUNT = 777
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(positions: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    script = str(Path(sys.executable).with_name("clearstreet-positions-mcp"))
    process = subprocess.Popen(
        [script, "simulator", "--port", str(port), "--log-level", "WARNING", "--generate", f"{ACCOUNT}={positions}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/v1/version", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the simulator did not start")


async def fetch_pages(url: str) -> int:
    async with ClearStreetClient(api_key=KEY, base_url=url) as client:
        return sum([len(page.positions) async for page in client.iter_position_pages(ACCOUNT)])


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def bench(url: str, positions: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        environ = {
            "CLEAR_STREET_API_KEY": KEY,
            "CLEAR_STREET_BASE_URL": url,
            "POSITIONS_MCP_DEFAULT_ACCOUNT": str(ACCOUNT),
            "POSITIONS_MCP_AUDIT_LOG": str(Path(folder) / "audit.jsonl"),
        }
        async with Client(build_server(load_settings(environ))) as client:
            assert await fetch_pages(url) == positions
            await client.call_tool("summarize_exposure", {})  # warm up
            rss_before = rss_mib()
            fetch_times, summary_times = [], []
            for _ in range(runs):  # interleaved, so both see the same machine load
                start = time.perf_counter()
                await fetch_pages(url)
                fetch_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                result = await client.call_tool("summarize_exposure", {})
                summary_times.append(time.perf_counter() - start)
                assert not result.is_error, result.content
            text = result.content[0].text  # type: ignore[union-attr]
            tracemalloc.start()
            await client.call_tool("summarize_exposure", {})
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    fetch, summary = statistics.median(fetch_times), statistics.median(summary_times)
    print(f"summarize_exposure, {positions} positions ({-(-positions // 1000)} pages of 1000), median of {runs}")
    print(f"  fetching the pages alone      {fetch * 1000:8.0f} ms")
    print(f"  summarize_exposure (MCP)      {summary * 1000:8.0f} ms")
    print(f"  ratio                         {summary / fetch:8.2f}x   (aim ≤ 1.25)")
    print(f"  summary size (text content)   {len(text.encode()):8d} bytes (aim ≤ 3000)")
    print(f"  peak traced memory, one call  {traced_peak / 2**20:8.1f} MiB")
    print(f"  peak RSS of the server        {rss_mib():8.1f} MiB (aim ≤ 150 MB; the simulator runs apart)")
    print(f"    after the first summary     {rss_before:8.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.pop("CLEAR_STREET_API_KEY", None)
    process, url = start_simulator(args.positions)
    try:
        anyio.run(bench, url, args.positions, args.runs)
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
