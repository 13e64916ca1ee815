"""get_positions at the largest page size, through the MCP protocol: the bytes of one result (what
lands in the model's context: text and structured content together; at the largest size also a
page of option rows only, the longest rows) and the time of one call,
the client validating the result against the published output schema included.

    python bench/bench_positions_page.py [--runs 15]

The simulated API runs in its own process. Budgets (bench/bench_startup.py measures it too): the
first page at the largest size ≤ 100 KB (185 KB when the text repeated the structured content as
JSON), any page of that size ≤ 250 KB, ≤ 60 ms. Above the size budget (deterministic) the script says so and exits 1; the time
depends on the machine and is printed beside its budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import anyio
from mcp import Client
from positions_mcp.settings import load_settings
from positions_mcp.surface.read_tools import MAX_PAGE_SIZE
from positions_mcp.surface.server import build_server
from simulated import server_environ, simulated_api

ACCOUNT = 777
POSITIONS = 2_000
SIZE_BUDGET = 250_000
FIRST_PAGE_BUDGET = 100_000
TIME_BUDGET = 0.060


async def options_only_page(client: Client) -> int:
    """Bytes of the worst page, MAX_PAGE_SIZE option rows (the longest rows): measured on a page of
    100 option rows (instrument_ids takes at most 100) and one of 50, and extended by their per-row
    difference, which is exact for rows of one kind."""
    ids: list[str] = []
    token = None
    while len(ids) < 100:
        page = (
            await client.call_tool("get_positions", {"page_size": MAX_PAGE_SIZE, "page_token": token})
        ).structured_content
        assert page is not None
        ids += [row["instrument_id"] for row in page["positions"] if row["instrument_type"] == "OPTION"]
        token = page.get("next_page_token")
        assert token is not None or len(ids) >= 100, "the generated book has too few options"
    sizes = []
    for count in (50, 100):
        result = await client.call_tool("get_positions", {"page_size": count, "instrument_ids": ids[:count]})
        assert not result.is_error, result.content
        sizes.append(len(result.model_dump_json(by_alias=True, exclude_none=True).encode()))
    per_row = (sizes[1] - sizes[0]) / 50
    return round(sizes[1] + per_row * (MAX_PAGE_SIZE - 100))


async def bench(url: str, runs: int) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        async with Client(build_server(load_settings(server_environ(url, ACCOUNT, folder)))) as client:
            within = True
            print(f"get_positions, account of {POSITIONS} positions, median of {runs} calls")
            print(f"  {'page_size':>9}  {'bytes':>9}  {'text':>9}  {'structured':>10}  {'ms':>6}")
            for page_size in (50, 100, MAX_PAGE_SIZE):
                arguments = {"page_size": page_size}
                await client.call_tool("get_positions", arguments)  # warm up
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    result = await client.call_tool("get_positions", arguments)
                    times.append(time.perf_counter() - start)
                assert not result.is_error, result.content
                whole = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
                text = sum(len(c.text.encode()) for c in result.content if c.type == "text")
                structured = whole - text
                median = statistics.median(times)
                print(f"  {page_size:>9}  {whole:>9,}  {text:>9,}  {structured:>10,}  {median * 1000:>6.1f}")
                if page_size == MAX_PAGE_SIZE:
                    first_ok = whole <= FIRST_PAGE_BUDGET
                    print(
                        f"first page of {MAX_PAGE_SIZE}: {whole:,} B (goal ≤ {FIRST_PAGE_BUDGET:,}: "
                        f"{'ok' if first_ok else 'OVER'})"
                    )
                    whole = max(whole, await options_only_page(client))
                    size_ok = whole <= SIZE_BUDGET
                    within = size_ok and first_ok
                    print(
                        f"largest page (the larger of the first page and {MAX_PAGE_SIZE} option rows, from 50 and 100): {whole:,} B (budget {SIZE_BUDGET:,}: {'ok' if size_ok else 'OVER'}), "
                        f"{median * 1000:.1f} ms (budget {TIME_BUDGET * 1000:.0f} ms: "
                        f"{'ok' if median <= TIME_BUDGET else 'over on this machine'})"
                    )
            return within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with simulated_api({ACCOUNT: POSITIONS}) as url:
        within = anyio.run(bench, url, args.runs)
    sys.exit(0 if within else 1)


if __name__ == "__main__":
    main()
