"""The simulated Clear Street API in a process of its own, so a benchmark measures the MCP server
alone: ``clearstreet-positions-mcp simulator --generate ACCOUNT=POSITIONS``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def simulated_api(accounts: dict[int, int]) -> Iterator[str]:
    """The simulator serving generated ``accounts`` (id → positions); yields its base URL."""
    port = free_port()
    script = str(Path(sys.executable).with_name("clearstreet-positions-mcp"))
    generate = [arg for account, count in accounts.items() for arg in ("--generate", f"{account}={count}")]
    process = subprocess.Popen(
        [script, "simulator", "--port", str(port), "--log-level", "WARNING", *generate],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/v1/version", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the simulator did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_environ(url: str, account: int, folder: str) -> dict[str, str]:
    """Settings for a server reading ``account`` at ``url``, its audit log in ``folder``."""
    return {
        "CLEAR_STREET_API_KEY": KEY,
        "CLEAR_STREET_BASE_URL": url,
        "POSITIONS_MCP_DEFAULT_ACCOUNT": str(account),
        "POSITIONS_MCP_AUDIT_LOG": str(Path(folder) / "audit.jsonl"),
    }
