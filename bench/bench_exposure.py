"""summarize_exposure on a generated account of 10,000 positions, through the MCP protocol.

Prints the time of the tool call as a ratio to fetching the same pages alone (the same client,
the same in-process simulator), the summary's size in bytes, and peak memory.

    python bench/bench_exposure.py [--positions 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import anyio
from mcp import Client

from positions_mcp.app import build_server
from positions_mcp.clearstreet import ClearStreetClient
from positions_mcp.settings import load_settings
from positions_mcp.simulator import Simulator

ACCOUNT = 777


async def fetch_pages(sim: Simulator) -> int:
    async with ClearStreetClient(api_key="bench", base_url="http://simulator.invalid", transport=sim.transport()) as client:
        return sum([len(page.positions) async for page in client.iter_position_pages(ACCOUNT)])


async def bench(positions: int, runs: int) -> None:
    sim = Simulator(seed=0)
    sim.add_generated_account(ACCOUNT, positions=positions, seed=1)
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings({"POSITIONS_MCP_AUDIT_LOG": str(Path(folder) / "audit.jsonl")})
        async with Client(build_server(settings, simulator=sim)) as client:
            assert await fetch_pages(sim) == positions
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
            await client.call_tool("summarize_exposure", {"account_id": ACCOUNT})  # warm up
            fetch_times, summary_times = [], []
            for _ in range(runs):  # interleaved, so both see the same machine load
                start = time.perf_counter()
                await fetch_pages(sim)
                fetch_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                result = await client.call_tool("summarize_exposure", {"account_id": ACCOUNT})
                summary_times.append(time.perf_counter() - start)
                assert not result.is_error, result.content
            text = result.content[0].text  # type: ignore[union-attr]
            tracemalloc.start()
            await client.call_tool("summarize_exposure", {"account_id": ACCOUNT})
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    fetch, summary = statistics.median(fetch_times), statistics.median(summary_times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"summarize_exposure, {positions} positions ({positions // 1000} pages of 1000), median of {runs}")
    print(f"  fetching the pages alone      {fetch * 1000:8.0f} ms")
    print(f"  summarize_exposure (MCP)      {summary * 1000:8.0f} ms")
    print(f"  ratio                         {summary / fetch:8.2f}x   (aim ≤ 1.25)")
    print(f"  summary size (text content)   {len(text.encode()):8d} bytes (aim ≤ 3 KB)")
    print(f"  peak traced memory, one call  {traced_peak / 2**20:8.1f} MiB")
    print(f"  peak RSS of the process       {rss:8.1f} MiB (aim ≤ 150 MB), of which")
    print(f"    before any summary          {rss_before:8.1f} MiB (Python, MCP SDK, the simulator's book)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    anyio.run(bench, args.positions, args.runs)


if __name__ == "__main__":
    main()
