"""Injected faults (429 with Retry-After, 500, 503, dropped connections) and latency, in-process and
over real HTTP (uvicorn in a thread, serving a simulator the test controls)."""

from __future__ import annotations

import socket
import threading
import time as wall_time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from conftest import AUTH, api
from positions_mcp.clearstreet.models import NIL_UUID
from positions_mcp.simulator import DEMO_PRIMARY_ACCOUNT, Simulator, make_server
from positions_mcp.simulator.http_server import DropConnections
from starlette.types import Message, Scope

POSITIONS = f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions"
INSTRUCTIONS = f"{POSITIONS}/instructions"
AAPL_CALL = "AAPL  261127C00145000"


@pytest.mark.anyio
async def test_rate_limit_with_retry_after_fires_the_planned_number_of_times(simulator: Simulator) -> None:
    rule = simulator.faults.add(status=429, retry_after=1.5, times=1, method="GET", path_contains="/positions")
    async with api(simulator) as http:
        other_method = await http.delete(f"{POSITIONS}/GOOG")
        limited = await http.get(POSITIONS)
        after = await http.get(POSITIONS)
    assert other_method.status_code == 200
    assert limited.status_code == 429
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("2", "1500")
    body = limited.json()
    assert body["error"]["code"] == 429 and body["metadata"]["request_id"] and "data" not in body
    assert after.status_code == 200
    assert rule.fired == 1 and len(simulator.faults) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_use_the_envelope(simulator: Simulator, status: int) -> None:
    simulator.faults.add(status=status, message="Clearing service unavailable" if status == 503 else None)
    async with api(simulator) as http:
        response = await http.get(POSITIONS)
    assert response.status_code == status
    assert response.json()["error"]["code"] == status
    assert "retry-after" not in response.headers


@pytest.mark.anyio
async def test_persistent_faults_last_until_cleared(simulator: Simulator) -> None:
    simulator.faults.add(status=503, times=None, path_contains="/instructions")
    async with api(simulator) as http:
        statuses = [(await http.get(INSTRUCTIONS)).status_code for _ in range(3)]
        untouched = await http.get(POSITIONS)
        simulator.faults.clear()
        healed = await http.get(INSTRUCTIONS)
    assert statuses == [503, 503, 503]
    assert untouched.status_code == 200 and healed.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "reason", "domain"), [
    (503, "CLEARING_UNAVAILABLE", "com.clearstreet.oems.clearing"),
    (500, "INTERNAL_ERROR", "com.clearstreet.oems.exercise"),
])  # fmt: skip
async def test_submit_fault_rejects_every_row_and_persists_nothing(
    simulator: Simulator, status: int, reason: str, domain: str
) -> None:
    simulator.faults.add(status=status, method="POST", path_contains="/instructions")
    rows = [
        {"instruction_type": "EXERCISE", "instrument_id": AAPL_CALL, "quantity": "1", "client_instruction_id": "a"},
        {"instruction_type": "EXERCISE", "instrument_id": AAPL_CALL, "quantity": "1"},
    ]
    async with api(simulator) as http:
        failed = await http.post(INSTRUCTIONS, json=rows)
        retried = await http.post(INSTRUCTIONS, json=rows[:1])
    assert failed.status_code == status
    body = failed.json()
    assert body["error"]["code"] == status
    assert body["data"][0]["client_instruction_id"] == "a"
    for rejected in body["data"]:
        assert (rejected["id"], rejected["status"]) == (NIL_UUID, "REJECTED")
        assert (rejected["rejection"]["reason"], rejected["rejection"]["domain"]) == (reason, domain)
        assert rejected["symbol"] == AAPL_CALL
    assert retried.status_code == 200  # nothing was persisted: the key is still free


@pytest.mark.anyio
async def test_dropped_connection_in_process(simulator: Simulator) -> None:
    simulator.faults.add(kind="drop", method="DELETE")
    async with api(simulator) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.delete(f"{POSITIONS}/GOOG")
        assert (await http.get(POSITIONS)).status_code == 200
    assert [o for o in simulator.orders() if o["symbol"] == "GOOG"] == []  # dropped before processing


@pytest.mark.anyio
async def test_faults_after_processing_lose_only_the_answer(simulator: Simulator) -> None:
    simulator.faults.add(kind="drop", method="DELETE", path_contains="/GOOG", after_processing=True)
    simulator.faults.add(status=500, method="DELETE", path_contains="/TSLA", after_processing=True)
    async with api(simulator) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.delete(f"{POSITIONS}/GOOG")
        lost = await http.delete(f"{POSITIONS}/TSLA")
    assert lost.status_code == 500
    assert {o["symbol"] for o in simulator.orders() if o["order_type"] == "MARKET"} == {"GOOG", "TSLA"}


def test_fault_plans_are_validated(simulator: Simulator) -> None:
    with pytest.raises(ValueError):
        simulator.faults.add(status=200)
    with pytest.raises(ValueError):
        simulator.faults.add()
    with pytest.raises(ValueError):
        simulator.faults.add(status=500, kind="drop")
    with pytest.raises(ValueError):
        simulator.faults.add(status=429, times=0)
    with pytest.raises(ValueError):
        simulator.faults.add(status=429, retry_after=0)
    default = simulator.faults.add(status=429)
    assert default.headers() == {"Retry-After": "1", "retry-after-ms": "1000"}
    simulator.faults.remove(default)
    assert simulator.faults.pending == []


@pytest.mark.anyio
async def test_latency_is_added_to_every_response(simulator: Simulator) -> None:
    simulator.latency = 0.2
    async with api(simulator) as http:
        started = anyio.current_time()
        response = await http.get("/v1/accounts/0/positions")
        elapsed = anyio.current_time() - started
    assert response.status_code == 404 and elapsed >= 0.2
    simulator.latency = 0.0
    with pytest.raises(ValueError):
        simulator.latency = -1


# ------------------------------------------------------------------------------ real HTTP


@pytest.fixture
def served(simulator: Simulator) -> Iterator[str]:
    """``simulator`` served by uvicorn in a thread, on a local socket bound here (so no other test
    can take its port); yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = make_server(simulator, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = wall_time.monotonic() + 10
    while not server.started:
        assert wall_time.monotonic() < deadline, "the simulator did not start"
        wall_time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_faults_over_real_http(simulator: Simulator, served: str) -> None:
    simulator.faults.add(kind="drop", method="GET", times=1)
    simulator.faults.add(status=429, retry_after=0.25, times=1)
    with httpx.Client(base_url=served, headers=AUTH) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            http.get(POSITIONS)
        limited = http.get(POSITIONS)
        healthy = http.get(POSITIONS)
        routed = http.delete(f"{POSITIONS}/AAPL%20%20261127C00145000")
    assert limited.status_code == 429
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("1", "250")
    assert limited.json()["error"]["code"] == 429
    assert healthy.status_code == 200 and len(healthy.json()["data"]) == 17
    assert routed.status_code == 200 and routed.json()["data"][0]["quantity"] == "10"


@pytest.mark.anyio
async def test_drop_on_servers_without_a_reachable_transport_hangs_up_mid_response(simulator: Simulator) -> None:
    """The generic path of ``DropConnections``: start the response, never finish it."""
    simulator.faults.add(kind="drop")
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": POSITIONS, "raw_path": POSITIONS.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"authorization", b"Bearer k")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
    }  # fmt: skip
    await DropConnections(simulator.app)(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start"]
