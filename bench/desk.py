"""What the desk benchmarks start: a real ``redis-server`` (append-only, fsync always, a password,
as the ledger requires) and server processes over streamable HTTP, each in a process of its own
so that the figures are theirs; and the CPU time a process used, from ``/proc``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from simulated import free_port

REDIS_PASSWORD = "bench-redis-password-0123456789"
TOKEN_SECRET = "bench-token-secret-0123456789abcdef0123"
HTTP_TOKEN = "bench-http-token-0123456789abcdef012345"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.05)


@contextmanager
def redis_server(folder: Path) -> Iterator[tuple[str, int]]:
    """``redis-server`` on a free loopback port keeping its data in ``folder``; yields the ledger's
    URL and the server's pid."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
         "--appendonly", "yes", "--appendfsync", "always", "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port, process, "redis-server")
        time.sleep(0.2)  # listening comes just before loading the (empty) append-only file
        yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def http_server(environ: Mapping[str, str]) -> Iterator[tuple[str, int]]:
    """``clearstreet-positions-mcp --transport streamable-http`` on a free loopback port with the
    settings ``environ`` (over this process's environment); yields its MCP URL and its pid."""
    port = free_port()
    script = str(Path(sys.executable).with_name("clearstreet-positions-mcp"))
    process = subprocess.Popen(
        [script, "--transport", "streamable-http", "--port", str(port)],
        env={**os.environ, **environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "the MCP server")
        yield f"http://127.0.0.1:{port}/mcp", process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
