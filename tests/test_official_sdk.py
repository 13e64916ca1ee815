"""The official ``clearstreet`` SDK (0.11.0) drives all six positions operations against
``clearstreet-positions-mcp simulator`` running as a separate process, as any user of the SDK would
(``base_url`` pointing at it). The subprocess is always terminated."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from clearstreet import ClearStreet, ConflictError, NotFoundError
from clearstreet.types.v1.position_submit_position_instructions_params import Instruction

PRIMARY, SECOND = 19816, 122503
LEAP = "AAPL  280121C00195000"
LEAP_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e01"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _console_script() -> str:
    found = shutil.which("clearstreet-positions-mcp", path=str(Path(sys.executable).parent)) or shutil.which(
        "clearstreet-positions-mcp"
    )
    assert found, "the clearstreet-positions-mcp console script is not installed"
    return found


@pytest.fixture(scope="module")
def simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("simulator") / "stderr.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [_console_script(), "simulator", "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the simulator exited with {process.returncode}:\n{log_path.read_text()}")
                try:
                    if httpx.get(f"{url}/v1/version", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the simulator did not answer within 30 s:\n{log_path.read_text()}")
                time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def client(simulator_url: str) -> Iterator[ClearStreet]:
    with ClearStreet(api_key="sdk-test-key", base_url=simulator_url, max_retries=0) as sdk:
        yield sdk


def test_get_positions_pages_sorts_and_filters(client: ClearStreet) -> None:
    first = client.v1.positions.get_positions(PRIMARY, page_size=4, sort_by="MARKET_VALUE", sort_direction="DESC")
    rows = list(first.data)
    token = first.metadata.next_page_token
    while token:
        page = client.v1.positions.get_positions(
            PRIMARY, page_token=token, sort_by="MARKET_VALUE", sort_direction="DESC"
        )
        rows.extend(page.data)
        token = page.metadata.next_page_token
    assert len(rows) == first.metadata.total_items == 17
    values = [Decimal(row.market_value) for row in rows]
    assert values == sorted(values, reverse=True)
    filtered = client.v1.positions.get_positions(PRIMARY, instrument_ids=["aapl", "TSLA", "GOOG"])
    by_symbol = {row.symbol: row for row in filtered.data}
    assert set(by_symbol) == {"AAPL", "TSLA", "GOOG"}
    assert (by_symbol["AAPL"].quantity, by_symbol["AAPL"].avg_price, by_symbol["AAPL"].instrument_price) == (
        "100", "145.00", "151.00",
    )  # fmt: skip
    assert (by_symbol["TSLA"].position_type, by_symbol["TSLA"].quantity) == ("SHORT", "-50")


def test_close_position_and_close_positions(client: ClearStreet) -> None:
    goog = client.v1.positions.close_position("GOOG", account_id=PRIMARY)
    [order] = goog.data
    assert (order.symbol, order.side, order.quantity, order.status) == ("GOOG", "SELL", "25", "PENDING_NEW")
    assert (order.order_type, order.time_in_force, order.filled_quantity) == ("MARKET", "DAY", "0")
    assert order.client_order_id.startswith("close-position-")
    option = next(r for r in client.v1.positions.get_positions(PRIMARY).data if r.instrument_type == "OPTION")
    padded_symbol = f"{option.symbol[:-15]:<6}{option.symbol[-15:]}"  # compact OSI -> padded, with spaces
    by_padded = client.v1.positions.close_position(padded_symbol, account_id=PRIMARY, cancel_orders=False)
    assert by_padded.data[0].instrument_id == option.instrument_id and by_padded.data[0].instrument_type == "OPTION"
    everything = client.v1.positions.close_positions(PRIMARY, cancel_orders=True)
    quantities = {o.symbol: o.quantity for o in everything.data}
    assert {"AAPL", "TSLA", "MSFT", "GOOG"} <= set(quantities) and "USD" not in quantities
    assert quantities["MSFT"] == "200"  # cancel_orders freed the 80 a resting sell order held
    assert quantities["GOOG"] == "25"  # ... and replaced the earlier closing order


def test_instructions_submit_list_and_cancel(client: ClearStreet) -> None:
    history = client.v1.positions.get_position_instructions(SECOND, instrument_id=LEAP)
    assert [row.status for row in history.data][:3] == ["ACCEPTED", "CANCELLED", "REJECTED"]
    exercise: Instruction = {
        "instruction_type": "EXERCISE",
        "instrument_id": LEAP,
        "quantity": "1",
        "client_instruction_id": "sdk-1",
    }
    submitted = client.v1.positions.submit_position_instructions(SECOND, instructions=[exercise, exercise])
    sent, duplicate = submitted.data  # a 207 is an ordinary response for the SDK
    assert submitted.error is not None and submitted.error.code == 409
    assert (sent.status, sent.client_instruction_id, sent.symbol) == ("SENT", "sdk-1", LEAP)
    assert duplicate.status == "REJECTED" and duplicate.rejection is not None
    assert duplicate.rejection.reason == "DUPLICATE_INSTRUCTION"
    assert duplicate.rejection.metadata == {"existing_id": sent.id}
    cancelled = client.v1.positions.cancel_position_instruction(sent.id, account_id=SECOND)
    assert (cancelled.data.id, cancelled.data.status) == (sent.id, "CANCEL_REQUESTED")
    listed = client.v1.positions.get_position_instructions(SECOND, underlying_instrument_id="AAPL")
    assert sent.id in {row.id for row in listed.data}
    with pytest.raises(ConflictError) as all_duplicates:  # the same key again: every row a duplicate
        client.v1.positions.submit_position_instructions(SECOND, instructions=[exercise])
    assert all_duplicates.value.body["data"][0]["rejection"]["reason"] == "DUPLICATE_INSTRUCTION"  # type: ignore[index]


def test_errors_reach_the_sdk_as_its_exceptions(client: ClearStreet) -> None:
    with pytest.raises(NotFoundError) as unknown_account:
        client.v1.positions.get_positions(424242)
    body = unknown_account.value.body
    assert isinstance(body, dict) and body["error"]["code"] == 404 and body["metadata"]["request_id"]
    with pytest.raises(NotFoundError):
        client.v1.positions.cancel_position_instruction("00000000-0000-0000-0000-000000000000", account_id=SECOND)
    with pytest.raises(NotFoundError):
        client.v1.positions.close_position("NOT-A-SYMBOL", account_id=PRIMARY)
