"""Stdio cold start of the console script against a bare one-tool MCPServer, its first tool call,
and the size of tools/list (what every host puts in the model's context before the first question).

    python bench/bench_startup.py [--runs 9] [--size-only]

Two figures per process, each its CPU time (user + system, from the kernel's accounting of the
child) and wall time, the process spawned fresh for each run:

* **initialize**: from spawning the process to its first reply, then stdin is closed so the
  process exits;
* **first call**: initialize, then one tool call, then exit: ours calls ``get_positions`` against
  the simulated API served over HTTP in a process of its own (bench/simulated.py), the bare server
  its one trivial tool. What the first call costs beyond initialize (imports, the HTTP client)
  shows here.

The commands run interleaved (A B A B …) so load on the machine hits both alike; the medians and
their ratios are printed beside the goals: initialize ≤ 1.08× bare, initialize + first
``get_positions`` ≤ 1.15× bare's initialize + one call. Budget: tools/list ≤ 12,288 bytes of compact
JSON with every tool; above it (deterministic) the script says so and exits 1. ``--size-only``
checks only the size (the tests run it so); the times depend on the machine and are printed beside
their goals.
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
from collections.abc import Callable, Mapping
from pathlib import Path

from simulated import server_environ, simulated_api

TOOLS_LIST_BUDGET = 12_288
INITIALIZE_RATIO_GOAL = 1.08
FIRST_CALL_RATIO_GOAL = 1.15
ACCOUNT = 777

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


def tool_call(name: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": {}}}


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


def first_call_once(command: list[str], env: dict[str, str], tool: str) -> tuple[float, float]:
    """(wall seconds to the reply of the first ``tool`` call, CPU seconds of the whole process)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line(INITIALIZE))
    process.stdin.flush()
    assert '"result"' in process.stdout.readline()
    process.stdin.write(line(INITIALIZED) + line(tool_call(tool)))
    process.stdin.flush()
    while True:
        message = json.loads(process.stdout.readline())
        if message.get("id") == 2:
            break
    wall = time.perf_counter() - start
    result = message["result"]
    assert not result.get("isError"), result
    process.stdin.close()
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

    with simulated_api({ACCOUNT: 2_000}) as url:
        upstream = {**base_env, **server_environ(url, ACCOUNT, state)}
        runners: dict[str, Callable[[], tuple[float, float]]] = {
            "bare initialize": lambda: start_once(bare, base_env),
            "ours initialize": lambda: start_once(ours, upstream),
            "bare + call": lambda: first_call_once(bare, base_env, "ping"),
            "ours + get_positions": lambda: first_call_once(ours, upstream, "get_positions"),
        }
        for run in runners.values():  # warm the file cache for each
            run()
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
        for _ in range(args.runs):
            for name, run in runners.items():
                samples[name].append(run())
    wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s[1] for s in runs) for name, runs in samples.items()}
    print(f"\nstdio cold start (median of {args.runs}, interleaved)   wall        CPU")
    for name in runners:
        print(f"  {name:32} {wall[name] * 1000:7.0f} ms {cpu[name] * 1000:7.0f} ms")
    for what, ours_name, bare_name, goal in (
        ("initialize", "ours initialize", "bare initialize", INITIALIZE_RATIO_GOAL),
        ("initialize + first call", "ours + get_positions", "bare + call", FIRST_CALL_RATIO_GOAL),
    ):
        ratio = cpu[ours_name] / cpu[bare_name]
        verdict = "ok" if ratio <= goal else "over on this machine"
        print(f"  {what:32} CPU ratio {ratio:5.2f}x (goal ≤ {goal:.2f}: {verdict})")
    extra = cpu["ours + get_positions"] - cpu["ours initialize"]
    print(f"  the first get_positions costs {extra * 1000:.0f} ms of CPU beyond initialize")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
