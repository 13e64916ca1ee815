"""``deploy/run-desk.sh`` run as an operator would: started with nothing but free ports and a state
folder, it prints where to connect and where the bearer token is; a real MCP client over
streamable HTTP through the balancer (haproxy) lists the tools, previews a close and confirms it
with the token, the requests spread over both replicas; one order reaches the simulated API. Then
Ctrl-C (SIGINT to the script's process group, as a terminal sends it) stops every process it
started."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import pytest
from conftest import free_port, ok, refused
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "run-desk.sh"
CLOSE = {"instrument_id": "TSLA"}
READY_SECONDS = 120  # five processes start on a small, shared machine


@dataclass
class Desk:
    """The script's process and everything it printed (read as it comes, on a thread)."""

    process: subprocess.Popen[str]
    ports: dict[str, int]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while "desk: ready" not in self.lines:
            if self.process.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)  # the rest of its output
                pytest.fail(f"run-desk.sh did not get ready:\n{self.output}", pytrace=False)
            time.sleep(0.05)
        while "Ctrl-C stops everything." not in self.lines:  # the connection notes follow "ready"
            time.sleep(0.05)

    def printed(self, pattern: str) -> str:
        found = re.search(pattern, self.output, re.MULTILINE)
        assert found, f"{pattern!r} not in:\n{self.output}"
        return found.group(1)

    @property
    def pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"^desk: \S+ +pid (\d+)", self.output, re.MULTILINE)]

    def ctrl_c(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    if shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin") is None:
        pytest.skip("haproxy is not installed: apt-get install haproxy (.ci/run installs it when it is missing)")
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server (.ci/run installs it)", pytrace=False)
    names = ("DESK_PORT", "DESK_REPLICA_A_PORT", "DESK_REPLICA_B_PORT", "DESK_REDIS_PORT", "DESK_SIMULATOR_PORT")
    ports = {name: free_port() for name in names}
    operator = {k: v for k, v in os.environ.items() if not k.startswith(("POSITIONS_MCP_", "CLEAR_STREET_", "DESK_"))}
    env = {
        **operator,
        **{name: str(port) for name, port in ports.items()},
        "DESK_DIR": str(tmp_path / "desk"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # where pip put the command
    }
    process = subprocess.Popen(
        [str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    running = Desk(process, ports)
    try:
        yield running
    finally:
        if process.poll() is None:
            running.ctrl_c()


async def tsla_orders(simulator_port: int) -> int:
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer any-key"}) as http:
        answer = await http.get(
            f"http://127.0.0.1:{simulator_port}/v1/accounts/19816/orders", params={"instrument_ids": "TSLA"}
        )
    answer.raise_for_status()
    return len(answer.json()["data"])


def served_by(log: Path) -> list[str]:
    """The replica (haproxy's server name) of every request the balancer passed on."""
    return re.findall(r" mcp replicas/(\w+) ", log.read_text())


def audited(desk_dir: Path) -> dict[str, list[str]]:
    """Each replica's audit events, in order."""
    return {
        name: [
            json.loads(line)["event"]
            for line in (desk_dir / f"replica-{name}" / "audit.jsonl").read_text().splitlines()
        ]
        for name in ("a", "b")
    }


def still_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def close_through(url: str, token: str, simulator_port: int) -> int:
    """initialize, tools/list, a preview and its confirmation (then the same token again, refused)
    through the balancer; how many orders reached the simulated API meanwhile."""
    orders_before = await tsla_orders(simulator_port)
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"get_positions", "preview_close_position", "close_position"} <= tools
        preview = ok(await client.call_tool("preview_close_position", CLOSE))
        confirm = {**CLOSE, "confirmation_token": preview["confirmation_token"]}
        ok(await client.call_tool("close_position", confirm))
        refused(await client.call_tool("close_position", confirm), "ALREADY_USED")
    async with httpx2.AsyncClient() as http:
        assert (await http.post(url, json={})).status_code == 401  # no token, no service
    return await tsla_orders(simulator_port) - orders_before


def test_a_desk_starts_serves_through_the_balancer_and_stops(desk: Desk, tmp_path: Path) -> None:
    desk.wait_ready()
    url = desk.printed(r"^Connect an MCP client.*\n\s+(http://\S+/mcp)$")
    assert url == f"http://127.0.0.1:{desk.ports['DESK_PORT']}/mcp"
    secrets = Path(desk.printed(r"Bearer <POSITIONS_MCP_HTTP_TOKEN in (\S+)>"))
    token = re.findall(r"^POSITIONS_MCP_HTTP_TOKEN=(\w+)$", secrets.read_text(), re.MULTILINE)[0]
    assert len(token) == 64 and secrets.stat().st_mode & 0o077 == 0

    assert anyio.run(close_through, url, token, desk.ports["DESK_SIMULATOR_PORT"]) == 1

    served = served_by(tmp_path / "desk" / "logs" / "haproxy.log")
    assert set(served) == {"a", "b"} and len(served) >= 4, served
    # round robin with one client: each call on the other replica than the one before
    events = audited(tmp_path / "desk")
    previewed = next(name for name, seen in events.items() if "preview" in seen)
    [confirmed] = [name for name, seen in events.items() if "intent" in seen]
    assert confirmed != previewed and events[confirmed] == ["intent", "outcome"], events
    assert events[previewed] == ["preview", "refusal"], events

    pids = desk.pids
    assert len(pids) == 5, desk.output  # redis-server, simulator, two replicas, haproxy
    assert desk.ctrl_c() == 0, desk.output
    assert [pid for pid in pids if still_running(pid)] == []
    for port in (desk.ports["DESK_REPLICA_A_PORT"], desk.ports["DESK_REPLICA_B_PORT"]):
        found = subprocess.run(["pgrep", "-f", f"clearstreet-positions-mcp .*--port {port}$"], capture_output=True)
        assert found.returncode == 1, found.stdout
    assert desk.output.count("desk: stopped ") == 5, desk.output
