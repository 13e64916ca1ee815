"""The single-use ledger's added latency per confirmed action, Redis against SQLite.

    python bench/bench_ledger.py [--actions 300] [--closes 30]

Two figures per ledger, median and p95:

* **ledger writes** — what a confirmed action adds to the ledger in order: ``spend`` (the token),
  ``record_submission`` (before the request leaves), ``complete_submission`` (how it ended), called
  on the ledger itself (``safety.ledger.SqliteLedger`` in WAL mode, synchronous FULL, on this
  machine's disk; ``safety.redis_ledger.RedisLedger`` on a local ``redis-server`` with
  ``appendfsync always``), ``--actions`` times, each with its own token and request;
* **confirm end to end** — ``close_position`` with the token of the preview just before it, from
  an MCP client over streamable HTTP to a server process (``clearstreet-positions-mcp
  --transport streamable-http``) on that ledger, against the simulated API in a process of its own,
  ``--closes`` times, each closing another position of a generated account.

Both ledgers run alternately in each figure, so load from elsewhere falls on both alike. No
budget: the figures depend on the machine (its disk's fsync above all).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
from desk import HTTP_TOKEN, TOKEN_SECRET, http_server, redis_server
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from positions_mcp.safety.ledger import Ledger, SqliteLedger
from positions_mcp.safety.redis_ledger import RedisLedger
from positions_mcp.settings.parse import redis_url
from simulated import server_environ, simulated_api

ACCOUNT = 777
POSITIONS = 400


def summary(milliseconds: Sequence[float]) -> str:
    ordered = sorted(milliseconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms   (n={len(ordered)})"


def one_action(ledger: Ledger, n: int, prefix: str) -> float:
    """spend + record_submission + complete_submission of one action, in milliseconds."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    if not ledger.spend(f"{prefix}-nonce-{n}", tool="close_position", account=str(ACCOUNT), at=now):
        raise SystemExit("a fresh token was found spent")
    submission = ledger.record_submission(
        account=str(ACCOUNT),
        tool="close_position",
        request=f'{{"instrument_id": "{prefix}-{n}", "quantity": "1"}}',
        keys=[f"{prefix}-key-{n}"],
        confirmation="token",
        at=now,
    )
    if submission is None:
        raise SystemExit("a fresh request was found a repeat")
    ledger.complete_submission(submission, outcome="sent", ids=[f"order-{n}"])
    return (time.perf_counter() - started) * 1000


def ledger_writes(ledgers: dict[str, Ledger], actions: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in ledgers}
    for ledger in ledgers.values():
        ledger.check()
        one_action(ledger, -1, "warm-up")  # connections and statements ready
    for n in range(actions):
        for name, ledger in ledgers.items():
            timings[name].append(one_action(ledger, n, f"{time.time_ns()}"))
    return timings


def structured(result: Any) -> dict[str, Any]:
    if result.is_error or result.structured_content is None:
        raise SystemExit(f"the tool failed: {result.content}")
    content: dict[str, Any] = result.structured_content
    return content


async def confirm_timings(urls: dict[str, str], closes: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in urls}
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {HTTP_TOKEN}"}, timeout=60)
        )
        clients = {
            name: await stack.enter_async_context(Client(streamable_http_client(url, http_client=http)))
            for name, url in urls.items()
        }
        page = structured(await clients["sqlite"].call_tool("get_positions", {"page_size": 2 * closes + 2}))
        instruments = [row["instrument_id"] for row in page["positions"]]
        for n in range(closes):
            for offset, (name, client) in enumerate(clients.items()):
                close = {"instrument_id": instruments[2 * n + offset]}
                preview = structured(await client.call_tool("preview_close_position", close))
                started = time.perf_counter()
                confirm = {**close, "confirmation_token": preview["confirmation_token"]}
                structured(await client.call_tool("close_position", confirm))
                timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def server_environ_with(api: str, folder: Path, ledger: str) -> dict[str, str]:
    return {
        **server_environ(api, ACCOUNT, str(folder)),
        "POSITIONS_MCP_ALLOWED_ACCOUNTS": str(ACCOUNT),
        "POSITIONS_MCP_CONFIRMATION": "token",
        "POSITIONS_MCP_LEDGER": ledger,
        "POSITIONS_MCP_TOKEN_SECRET": TOKEN_SECRET,
        "POSITIONS_MCP_HTTP_TOKEN": HTTP_TOKEN,
    }


def report(title: str, timings: dict[str, list[float]], order: Callable[[str], int]) -> None:
    print(title)
    for name in sorted(timings, key=order):
        print(f"  {name:6}: {summary(timings[name])}")
    added = statistics.median(timings["redis"]) - statistics.median(timings["sqlite"])
    print(f"  Redis - SQLite, medians: {added:+.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=300, help="ledger write sequences per ledger (default 300)")
    parser.add_argument("--closes", type=int, default=30, help="confirmed closes per ledger (default 30)")
    args = parser.parse_args()
    if 2 * args.closes + 2 > POSITIONS:
        raise SystemExit(f"--closes is at most {(POSITIONS - 2) // 2}")
    order = ["sqlite", "redis"].index
    with tempfile.TemporaryDirectory() as name, redis_server(Path(name) / "redis") as (url, _):
        folder = Path(name)
        ledgers: dict[str, Ledger] = {
            "sqlite": SqliteLedger(folder / "direct" / "ledger.sqlite3"),
            "redis": RedisLedger(redis_url(url, "the benchmark's Redis")),
        }
        (folder / "direct").mkdir()
        report("ledger writes of one confirmed action (spend + record_submission + complete_submission):",
               ledger_writes(ledgers, args.actions), order)  # fmt: skip
        for ledger in ledgers.values():
            ledger.close()
        with (
            simulated_api({ACCOUNT: POSITIONS}) as api,
            http_server(server_environ_with(api, folder / "sqlite", str(folder / "sqlite" / "ledger.sqlite3"))) as (
                sqlite_url,
                _,
            ),
            http_server(server_environ_with(api, folder / "redis", url)) as (redis_mcp_url, _),
        ):
            timings = anyio.run(confirm_timings, {"sqlite": sqlite_url, "redis": redis_mcp_url}, args.closes)
        report("close_position with its preview's token, end to end over streamable HTTP:", timings, order)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
