"""The official ``clearstreet`` SDK (0.11.0) drives all six positions operations, and the balances,
market-data, instrument, calendar and orders reads, against ``clearstreet-positions-mcp simulator``
running as a separate process, as any user of the SDK would (``base_url`` pointing at it); the SDK's
own pydantic models read every response. The subprocess is always terminated."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from clearstreet import ClearStreet, ConflictError, NotFoundError
from clearstreet.types.v1.position_submit_position_instructions_params import Instruction

PRIMARY, SECOND = 19816, 122503
LEAP = "AAPL  280121C00195000"
LEAP_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e01"
AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
AAPL1_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e11"  # adjusted: multiplier 150
SPX_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e21"  # European, AM-settled, cash-settled


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


def test_balances_through_the_sdk(client: ClearStreet) -> None:
    balances = client.v1.accounts.get_account_balances(SECOND, top_margin_contributors_limit=2).data
    assert (balances.account_id, balances.margin_type, balances.currency) == (SECOND, "REG_T", "USD")
    equity = Decimal(balances.trade_cash) + Decimal(balances.long_market_value)
    assert Decimal(balances.equity) == equity + Decimal(balances.short_market_value or "0")
    assert balances.sod.asof is not None and balances.multiplier in ("2", "4")
    margin = balances.margin_details
    assert margin is not None and margin.top_contributors is not None and len(margin.top_contributors) == 2
    assert margin.top_contributors[0].underlying_instrument_id == AAPL_ID
    assert (margin.intraday_details.multiplier, margin.overnight_details.multiplier) == ("4", "2")


def test_snapshots_through_the_sdk(client: ClearStreet) -> None:
    market_data = client.v1.instrument_data.market_data
    aapl, adjusted, index = market_data.get_snapshots(instrument_ids=["AAPL", AAPL1_CALL_ID, "SPX"]).data
    assert aapl.last_trade is not None and aapl.last_trade.price == "151.00"
    assert aapl.last_quote is not None and aapl.last_quote.midpoint == "151.00"
    assert isinstance(aapl.last_quote.bid_size, int) and aapl.greeks is None
    assert aapl.session.previous_close == "150.50" and aapl.session.ohlv_applicable is True
    assert adjusted.greeks is not None and adjusted.greeks.iv == "0" and adjusted.open_interest
    assert Decimal("0") < Decimal(adjusted.greeks.delta) <= Decimal("1")
    assert index.last_quote is None and index.last_trade is not None and index.last_trade.size == 0
    assert index.session.ohlv_applicable is False
    expiry = client.v1.instruments.get_option_contracts(contract_ids=[AAPL1_CALL_ID]).data[0].expiry
    chain = market_data.get_snapshots(underlying_instrument_id="AAPL", expiry=expiry).data
    assert AAPL1_CALL_ID in {row.instrument_id for row in chain}


def test_option_contracts_and_instruments_through_the_sdk(client: ClearStreet) -> None:
    instruments = client.v1.instruments
    adjusted, index_call = instruments.get_option_contracts(contract_ids=[AAPL1_CALL_ID, SPX_CALL_ID]).data
    assert (adjusted.multiplier, adjusted.exercise_style, adjusted.symbol[:5]) == ("150", "AMERICAN", "AAPL1")
    assert (index_call.exercise_style, index_call.is_settle_on_open, index_call.listing_type) == (
        "EUROPEAN", True, "STANDARD",
    )  # fmt: skip
    assert isinstance(index_call.expiry, date) and isinstance(index_call.last_trade_cutoff, datetime)
    assert index_call.tick_rules is not None and index_call.tick_rules[-1].end_price is None
    first = instruments.get_option_contracts(underlying_instrument_id="AAPL", page_size=2)
    rows, token = list(first.data), first.metadata.next_page_token
    while token:
        page = instruments.get_option_contracts(underlying_instrument_id="AAPL", page_token=token)
        rows.extend(page.data)
        token = page.metadata.next_page_token
    assert len(rows) == first.metadata.total_items and AAPL1_CALL_ID in {row.id for row in rows}
    aapl = instruments.get_instrument_by_id("AAPL", include_options_expiry_dates=True).data
    assert (aapl.id, aapl.instrument_type, aapl.previous_close) == (AAPL_ID, "COMMON_STOCK", "150.50")
    assert aapl.options_contract_expiry_dates and aapl.options_expiry_dates
    assert all(isinstance(day, date) for day in aapl.options_expiry_dates)
    by_osi = instruments.get_instrument_by_id(adjusted.symbol).data  # spaces percent-encoded by the SDK
    assert (by_osi.id, by_osi.instrument_type) == (AAPL1_CALL_ID, "OPTION")
    with pytest.raises(NotFoundError):
        instruments.get_instrument_by_id("AAP")


def test_clock_and_market_hours_through_the_sdk(client: ClearStreet) -> None:
    clock = client.v1.calendar.get_clock().data.clock
    assert clock.tzinfo is not None
    both = client.v1.calendar.get_market_hours_calendar().data
    assert [row.market for row in both] == ["us_equities", "us_options"]
    [thanksgiving] = client.v1.calendar.get_market_hours_calendar(date="2026-11-26", market="us_options").data
    assert (thanksgiving.status.day_type, thanksgiving.today_sessions.regular) == ("HOLIDAY", None)
    assert thanksgiving.next_sessions.regular is not None
    assert thanksgiving.next_sessions.regular.close.isoformat() == "2026-11-27T13:00:00-05:00"  # an early close


def test_orders_through_the_sdk(client: ClearStreet) -> None:
    orders = client.v1.orders.get_orders(PRIMARY, page_size=1)
    assert orders.metadata.total_items and orders.metadata.total_items >= 1
    [order] = orders.data
    assert order.account_id == PRIMARY and Decimal(order.quantity) > 0
    again = client.v1.orders.get_order_by_id(order.id, account_id=PRIMARY).data
    assert again.id == order.id
    by_status = client.v1.orders.get_orders(PRIMARY, status=[order.status], instrument_ids=[order.instrument_id or ""])
    assert order.id in {row.id for row in by_status.data}
