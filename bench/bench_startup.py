"""Stdio cold start of the console script against a bare one-tool MCPServer, and the size of
tools/list (what every host puts in the model's context before the first question).

    python bench/bench_startup.py [--runs 9] [--size-only]

Start-up is measured from spawning the process to its first reply (``initialize``), then stdin is
closed so the process exits; its CPU time (user + system, from the kernel's accounting of the
child) and wall time are taken per run. The two commands run interleaved (A B A B …) so load on the
machine hits both alike; the medians and their ratios are printed.

Budgets: tools/list ≤ 12,288 bytes of compact JSON with every tool; CPU ratio ≤ 1.10.
Above a budget the script says so and exits 1. ``--size-only`` checks only the size, which is
deterministic (the tests run it so); the times depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

TOOLS_LIST_BUDGET = 12_288
CPU_RATIO_BUDGET = 1.10

BARE_SERVER = """
from mcp.server import MCPServer
server = MCPServer("bare")
@server.tool()
def ping() -> str:
    return "pong"
server.run("stdio")
"""

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def line(message: Mapping[str, object]) -> str:
    return json.dumps(message) + "\n"


def start_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds to the first reply, CPU seconds of the whole short life of the process)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line(INITIALIZE))
    process.stdin.flush()
    reply = process.stdout.readline()
    wall = time.perf_counter() - start
    assert '"result"' in reply, reply
    process.stdin.close()  # end of input: a stdio server exits
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return wall, usage.ru_utime + usage.ru_stime


def tools_list(command: list[str], env: dict[str, str]) -> list[dict[str, object]]:
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line(INITIALIZE) + line(INITIALIZED) + line(LIST_TOOLS))
    process.stdin.flush()
    try:
        while True:
            message = json.loads(process.stdout.readline())
            if message.get("id") == 2:
                return list(message["result"]["tools"])
    finally:
        process.kill()
        process.wait()


def compact(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--size-only", action="store_true", help="check the tools/list budget only")
    args = parser.parse_args()

    state = tempfile.mkdtemp(prefix="bench-startup-")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEAR_STREET_", "POSITIONS_MCP_"))}
    env = {**base_env, "POSITIONS_MCP_AUDIT_LOG": str(Path(state) / "audit.jsonl")}
    ours = [str(Path(sys.executable).with_name("clearstreet-positions-mcp"))]
    bare = [sys.executable, "-c", BARE_SERVER]
    failed = False

    tools = tools_list(ours, env)
    whole = compact({"tools": tools})
    print("tools/list, compact JSON (bytes)      whole   without outputSchema")
    print(
        f"  all {len(tools)} tools {'':18} {whole:8} {compact({'tools': [{k: v for k, v in t.items() if k != 'outputSchema'} for t in tools]}):10}"
    )
    read_only = tools_list(ours, {**env, "POSITIONS_MCP_READ_ONLY": "true"})
    print(f"  read-only ({len(read_only)} tools) {'':12} {compact({'tools': read_only}):8}")
    for tool in tools:
        print(f"    {tool['name']:38} {compact(tool):6}")
    if whole > TOOLS_LIST_BUDGET:
        print(f"ABOVE BUDGET: tools/list is {whole} bytes, the budget is {TOOLS_LIST_BUDGET}")
        failed = True
    if args.size_only:
        return 1 if failed else 0

    start_once(bare, base_env)  # warm the file cache for both
    start_once(ours, env)
    samples: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": []}
    for _ in range(args.runs):
        samples["bare"].append(start_once(bare, base_env))
        samples["ours"].append(start_once(ours, env))
    wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s[1] for s in runs) for name, runs in samples.items()}
    print(f"\nstdio cold start (median of {args.runs}, interleaved)   wall        CPU")
    print(f"  bare one-tool MCPServer           {wall['bare'] * 1000:7.0f} ms {cpu['bare'] * 1000:7.0f} ms")
    print(f"  clearstreet-positions-mcp         {wall['ours'] * 1000:7.0f} ms {cpu['ours'] * 1000:7.0f} ms")
    cpu_ratio = cpu["ours"] / cpu["bare"]
    print(f"  ratio                             {wall['ours'] / wall['bare']:7.2f}x   {cpu_ratio:7.2f}x")
    if cpu_ratio > CPU_RATIO_BUDGET:
        print(f"ABOVE BUDGET: CPU ratio {cpu_ratio:.2f}x, the budget is {CPU_RATIO_BUDGET:.2f}x")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
