"""summarize_exposure through the MCP protocol on generated accounts of 1,000, 10,000 and 100,000
positions, against fetching the same data alone.

    python bench/bench_exposure.py [--sizes 1000,10000,100000] [--runs 5]

The simulated API runs in a process of its own (``clearstreet-positions-mcp simulator --generate``),
so the figures are the MCP server's. Two baselines, each with one client reused across runs (no
connection set-up in the figures, as in the server):

* **pages** — every page of positions, parsed into wire models, nothing else;
* **pages + market data** — the pages, and the market data the summary reads: each page's
  options' snapshots (greeks) and contract terms, in the same batches of 100 and with the same
  concurrency, sent while the pages are read; then the balances.

Per size: the median time of each (runs interleaved, so load on the machine hits all alike), the
ratio of summarize_exposure to each baseline, the summary's bytes, the peak memory traced during
one call and the process's peak RSS. Budgets (issues 10 and 11): ratio to pages + market data
≤ 1.35 at 10k; summary ≤ 3,000 bytes at every size; peak traced memory ≤ 10 MiB at 10k and
≤ 40 MiB at 100k. The summary's size and memory are printed beside their budgets and the script
exits 1 above one of them; the times depend on the machine.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from mcp import Client
from mcp.types import TextContent
from positions_mcp.actions.enrichment import BATCH, CONCURRENCY, contract_ids
from positions_mcp.clearstreet import ClearStreetClient
from positions_mcp.domain.exposure import MAX_JSON_BYTES
from positions_mcp.settings import load_settings
from positions_mcp.surface.server import build_server
from simulated import KEY, server_environ, simulated_api

SUMMARY_BUDGET = MAX_JSON_BYTES
TRACED_BUDGET_MIB = {10_000: 10.0, 100_000: 40.0}
RATIO_BUDGET = {10_000: 1.35}


async def fetch_pages(client: ClearStreetClient, account: int) -> int:
    return sum([len(page.positions) async for page in client.positions.pages(account, page_size=1000)])


async def fetch_pages_and_market(client: ClearStreetClient, account: int) -> int:
    """The pages and the market data the summary reads (``actions.enrichment.BookMarket``): each
    page's options' snapshots and contracts, in batches of 100, sent as the pages come in; then the
    balances. (The generated book holds every underlier, so no underlier snapshot is needed.)"""
    limiter = anyio.CapacityLimiter(CONCURRENCY)

    async def guarded(call: Callable[..., Awaitable[object]], *args: object) -> None:
        async with limiter:
            await call(*args)

    async def contracts(batch: list[str]) -> None:
        await client.instruments.all_option_contracts(contract_ids=batch)

    count = 0
    async with anyio.create_task_group() as group:
        async for page in client.positions.pages(account, page_size=1000):
            count += len(page.positions)
            options = contract_ids(page.positions)
            for start in range(0, len(options), BATCH):
                group.start_soon(guarded, client.market_data.snapshots, options[start : start + BATCH])
                group.start_soon(guarded, contracts, options[start : start + BATCH])
        group.start_soon(guarded, client.balances.get, account)
    return count


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Figures:
    positions: int
    pages: float
    pages_and_market: float
    summary: float
    summary_bytes: int
    traced_mib: float
    rss_mib: float


async def measure(url: str, account: int, positions: int, runs: int) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        server = build_server(load_settings(server_environ(url, account, folder)))
        async with (
            Client(server) as mcp,
            ClearStreetClient(api_key=KEY, base_url=url) as client,
        ):
            assert await fetch_pages(client, account) == positions
            await fetch_pages_and_market(client, account)
            first = await mcp.call_tool("summarize_exposure", {})  # warm up
            assert not first.is_error, first.content
            pages: list[float] = []
            market: list[float] = []
            summary: list[float] = []
            for _ in range(runs):
                for sample, run in (
                    (pages, lambda: fetch_pages(client, account)),
                    (market, lambda: fetch_pages_and_market(client, account)),
                    (summary, lambda: mcp.call_tool("summarize_exposure", {})),
                ):
                    gc.collect()
                    start = time.perf_counter()
                    await run()
                    sample.append(time.perf_counter() - start)
            block = first.content[0]
            assert isinstance(block, TextContent)
            text = block.text
            gc.collect()
            tracemalloc.start()
            await mcp.call_tool("summarize_exposure", {})
            _, traced = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return Figures(
        positions=positions,
        pages=statistics.median(pages),
        pages_and_market=statistics.median(market),
        summary=statistics.median(summary),
        summary_bytes=len(text.encode()),
        traced_mib=traced / 2**20,
        rss_mib=rss_mib(),
    )


def report(figures: list[Figures], runs: int) -> bool:
    within = True
    print(f"summarize_exposure through MCP, median of {runs} interleaved runs (the simulator in its own process)")
    head = ("positions", "pages ms", "+market ms", "summary ms", "÷pages", "÷+market", "bytes", "traced MiB", "RSS MiB")
    print("  " + "  ".join(f"{h:>10}" for h in head))
    for f in figures:
        ratio = f.summary / f.pages_and_market
        cells = (
            f"{f.positions:,}",
            f"{f.pages * 1000:.0f}",
            f"{f.pages_and_market * 1000:.0f}",
            f"{f.summary * 1000:.0f}",
            f"{f.summary / f.pages:.2f}x",
            f"{ratio:.2f}x",
            f"{f.summary_bytes:,}",
            f"{f.traced_mib:.1f}",
            f"{f.rss_mib:.0f}",
        )
        print("  " + "  ".join(f"{c:>10}" for c in cells))
        if f.summary_bytes > SUMMARY_BUDGET:
            within = False
            print(f"    ABOVE BUDGET: summary {f.summary_bytes:,} B > {SUMMARY_BUDGET:,} B")
        if (budget := TRACED_BUDGET_MIB.get(f.positions)) is not None and f.traced_mib > budget:
            within = False
            print(f"    ABOVE BUDGET: peak traced memory {f.traced_mib:.1f} MiB > {budget} MiB")
        if (aim := RATIO_BUDGET.get(f.positions)) is not None:
            verdict = "ok" if ratio <= aim else "over on this machine"
            print(f"    ratio to pages + market data {ratio:.2f}x (aim ≤ {aim}: {verdict})")
    print("  RSS is the process's peak so far (it only grows): read it for the largest size run.")
    return within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated book sizes")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    accounts = {700 + index: size for index, size in enumerate(sizes)}
    with simulated_api(accounts) as url:
        figures = [anyio.run(measure, url, account, size, args.runs) for account, size in accounts.items()]
    sys.exit(0 if report(figures, args.runs) else 1)


if __name__ == "__main__":
    main()
