"""Stdio cold start of the console script (spawn → first reply) as a ratio to a bare one-tool
MCPServer measured in the same run, and the size of tools/list in bytes.

    python bench/bench_startup.py [--runs 7]
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
from pathlib import Path

BARE_SERVER = """
from mcp.server import MCPServer
server = MCPServer("bare")
@server.tool()
def ping() -> str:
    return "pong"
server.run("stdio")
"""

INITIALIZE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        }
    )
    + "\n"
)
INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"
LIST_TOOLS = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n"


def first_reply_seconds(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``command`` to its first line on stdout (the initialize result)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(INITIALIZE)
    process.stdin.flush()
    line = process.stdout.readline()
    elapsed = time.perf_counter() - start
    assert '"result"' in line, line
    process.kill()
    process.wait()
    return elapsed


def tools_list_bytes(command: list[str], env: dict[str, str]) -> tuple[int, int]:
    """Bytes of the tools/list result, whole and without output schemas (what a host typically
    puts in the model's context: names, titles, descriptions, input schemas, annotations)."""
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(INITIALIZE)
    process.stdin.flush()
    process.stdout.readline()
    process.stdin.write(INITIALIZED + LIST_TOOLS)
    process.stdin.flush()
    reply = json.loads(process.stdout.readline())
    process.kill()
    process.wait()
    tools = reply["result"]["tools"]
    model_facing = [{k: v for k, v in tool.items() if k != "outputSchema"} for tool in tools]
    return (
        len(json.dumps(tools, separators=(",", ":")).encode()),
        len(json.dumps(model_facing, separators=(",", ":")).encode()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    script = str(Path(sys.executable).with_name("clearstreet-positions-mcp"))
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEAR_STREET_", "POSITIONS_MCP_"))}
        env["POSITIONS_MCP_AUDIT_LOG"] = str(Path(folder) / "audit.jsonl")
        bare = Path(folder) / "bare_server.py"
        bare.write_text(BARE_SERVER)
        ours_cmd, bare_cmd = [script], [sys.executable, str(bare)]
        first_reply_seconds(ours_cmd, env)  # warm the file cache and .pyc files
        first_reply_seconds(bare_cmd, env)
        ours, base = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            base.append(first_reply_seconds(bare_cmd, env))
            ours.append(first_reply_seconds(ours_cmd, env))
        size = tools_list_bytes(ours_cmd, env)
        read_only = tools_list_bytes(ours_cmd, {**env, "POSITIONS_MCP_READ_ONLY": "true"})
    ours_median, base_median = statistics.median(ours), statistics.median(base)
    print(f"stdio cold start, spawn → initialize reply (median of {args.runs})")
    print(f"  bare one-tool MCPServer   {base_median * 1000:7.0f} ms")
    print(f"  clearstreet-positions-mcp {ours_median * 1000:7.0f} ms")
    print(f"  ratio                     {ours_median / base_median:7.2f}x")
    print("tools/list (compact JSON)          whole   without outputSchema")
    print(f"  all 10 tools              {size[0]:7d} bytes  {size[1]:7d} bytes")
    print(f"  read-only (3 tools)       {read_only[0]:7d} bytes  {read_only[1]:7d} bytes")


if __name__ == "__main__":
    main()
