"""Close one / close all: request bodies, the orders created, availability, and how closing orders
fill over simulated time (only while the regular session is open)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import MONDAY_OPEN, api
from positions_mcp.domain.calendar import NEW_YORK
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, Simulator, Timings
from positions_mcp.simulator.order_lifecycle import close_position
from positions_mcp.simulator.simulated_time import SimulatedClock
from positions_mcp.simulator.state import SimulatorState

SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
POSITIONS = f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions"
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
NANOS_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z")


def position(simulator: Simulator, symbol: str, account: int = DEMO_PRIMARY_ACCOUNT) -> dict[str, Any] | None:
    return next((row for row in simulator.positions(account) if row["symbol"] == symbol), None)


def order(simulator: Simulator, order_id: str) -> dict[str, Any]:
    return next(row for row in simulator.orders() if row["id"] == order_id)


@pytest.mark.anyio
async def test_close_one_position_creates_a_market_day_order(simulator: Simulator) -> None:
    async with api(simulator) as http:
        response = await http.delete(f"{POSITIONS}/GOOG")
        second = await http.delete(f"{POSITIONS}/TSLA")
    assert response.status_code == 200
    body = response.json()
    assert body.get("error") is None and set(body["metadata"]) == {"request_id"}
    [goog] = body["data"]
    assert {k: goog[k] for k in ("account_id", "instrument_id", "instrument_type", "symbol", "side", "quantity")} == {
        "account_id": 19816,
        "instrument_id": "c3c4c5c6-d3d4-e3e4-f3f4-f5f6f7f8f9fa",
        "instrument_type": "COMMON_STOCK",
        "symbol": "GOOG",
        "side": "SELL",
        "quantity": "25",
    }
    assert (goog["filled_quantity"], goog["leaves_quantity"], goog["status"]) == ("0", "25", "PENDING_NEW")
    assert (goog["order_type"], goog["time_in_force"], goog["venue"]) == ("MARKET", "DAY", "XNMS")
    assert goog["average_fill_price"] is None and goog["limit_price"] is None and goog["stop_price"] is None
    assert NANOS_Z.fullmatch(goog["created_at"]) and goog["created_at"] == goog["updated_at"]
    assert goog["created_at"] == "2026-11-23T15:00:00.000000000Z"
    assert goog["client_order_id"] == "close-position-20261123-0001"
    [tsla] = second.json()["data"]
    assert (tsla["side"], tsla["quantity"], tsla["client_order_id"]) == ("BUY", "50", "close-position-20261123-0002")


@pytest.mark.anyio
async def test_close_by_every_identifier_form_including_percent_encoded_osi(simulator: Simulator) -> None:
    call = next(r for r in simulator.positions(DEMO_PRIMARY_ACCOUNT) if r["instrument_id"] == AAPL_CALL_ID)
    padded = call["symbol"][:4] + "  " + call["symbol"][4:]
    async with api(simulator) as http:
        response = await http.delete(f"{POSITIONS}/{padded.replace(' ', '%20')}")
        by_uuid = await http.delete(f"{POSITIONS}/{'a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8'.upper()}")
        by_lower_ticker = await http.delete(f"{POSITIONS}/nvda")
    [option] = response.json()["data"]
    assert option["instrument_id"] == call["instrument_id"]
    assert (option["instrument_type"], option["side"], option["quantity"]) == ("OPTION", "SELL", "10")
    assert option["venue"] == "XCBO"
    assert option["underlying_instrument_id"] == "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
    assert by_uuid.json()["data"][0]["symbol"] == "AAPL"
    assert by_lower_ticker.json()["data"][0]["side"] == "BUY"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content",
    [None, b"", b"   ", b"null", b"{}", b'{"cancel_orders": null}', b'{"cancel_orders": false}', b'{"why": "x"}'],
)
async def test_close_accepts_every_body_shape(simulator: Simulator, content: bytes | None) -> None:
    async with api(simulator) as http:
        response = await http.request(
            "DELETE", f"{POSITIONS}/MSFT", content=content, headers={"Content-Type": "application/json"}
        )
        everything = await http.request("DELETE", POSITIONS, content=content)
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["quantity"] == "120"  # no cancel: the working order keeps 80
    assert everything.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"cancel_orders": true', "Failed to parse the request body as JSON: "),
        (b'{\n  "cancel_orders" true}', "Failed to parse the request body as JSON: Expecting ':' delimiter at line 2"),
        (b"\xff\xfe", "Failed to parse the request body as JSON: invalid UTF-8"),
        (b"NaN", "Failed to parse the request body as JSON"),
        (b"[]", "must be a JSON object"),
        (b"true", "must be a JSON object"),
        (b'{"cancel_orders": "yes"}', "cancel_orders must be true, false or null"),
        (b'{"cancel_orders": 1}', "cancel_orders must be true, false or null"),
    ],
)
async def test_close_rejects_bad_bodies(simulator: Simulator, content: bytes, message: str) -> None:
    async with api(simulator) as http:
        one = await http.request("DELETE", f"{POSITIONS}/GOOG", content=content)
        every = await http.request("DELETE", POSITIONS, content=content)
    for response in (one, every):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == 400
        assert message in response.json()["error"]["message"]
    assert [o for o in simulator.orders() if o["order_type"] == "MARKET"] == []  # nothing was sent


@pytest.mark.anyio
async def test_cancel_orders_frees_the_reserved_quantity(simulator: Simulator) -> None:
    msft = position(simulator, "MSFT")
    assert msft is not None and (msft["quantity"], msft["available_quantity"]) == ("200", "120")
    [resting] = simulator.orders(DEMO_PRIMARY_ACCOUNT)
    assert (resting["order_type"], resting["status"], resting["leaves_quantity"]) == ("LIMIT", "NEW", "80")
    async with api(simulator) as http:
        response = await http.request("DELETE", f"{POSITIONS}/MSFT", json={"cancel_orders": True})
    [closing] = response.json()["data"]
    assert (closing["side"], closing["quantity"]) == ("SELL", "200")
    assert order(simulator, resting["id"])["status"] == "CANCELED"
    assert position(simulator, "MSFT")["available_quantity"] == "0"  # type: ignore[index]


@pytest.mark.anyio
async def test_nothing_available_and_no_position(simulator: Simulator) -> None:
    async with api(simulator) as http:
        first = await http.delete(f"{POSITIONS}/GOOG")
        again = await http.delete(f"{POSITIONS}/GOOG")  # the first closing order holds all 25
        not_held = await http.delete(f"{POSITIONS}/SPY")
        cash = await http.delete(f"{POSITIONS}/USD")
        unknown = await http.delete(f"{POSITIONS}/ZZZZ")
    assert first.status_code == 200
    assert again.status_code == 422 and "Nothing to close in GOOG" in again.json()["error"]["message"]
    assert not_held.status_code == 404 and "No open position in SPY" in not_held.json()["error"]["message"]
    assert cash.status_code == 422 and "cash" in cash.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "Instrument not found: ZZZZ"


@pytest.mark.anyio
async def test_close_all_covers_equities_and_options_not_cash(simulator: Simulator) -> None:
    before = {row["symbol"]: row for row in simulator.positions(DEMO_PRIMARY_ACCOUNT)}
    async with api(simulator) as http:
        response = await http.delete(POSITIONS)
    orders = response.json()["data"]
    assert response.status_code == 200
    assert [o["symbol"] for o in orders] == sorted(s for s, r in before.items() if r["instrument_type"] != "CASH")
    for closing in orders:
        held = before[closing["symbol"]]
        assert closing["side"] == ("SELL" if held["position_type"] == "LONG" else "BUY")
        assert closing["quantity"] == held["available_quantity"]
        assert (closing["order_type"], closing["time_in_force"], closing["status"]) == ("MARKET", "DAY", "PENDING_NEW")
    expected_ids = [f"close-positions-20261123-{n:04d}" for n in range(1, len(orders) + 1)]
    assert [o["client_order_id"] for o in orders] == expected_ids
    assert next(o for o in orders if o["symbol"] == "MSFT")["quantity"] == "120"
    async with api(simulator) as http:
        again = await http.delete(POSITIONS)
    assert again.status_code == 200 and again.json()["data"] == []  # everything is already being closed


@pytest.mark.anyio
async def test_close_all_with_cancel_orders_closes_whole_positions(simulator: Simulator) -> None:
    async with api(simulator) as http:
        response = await http.request("DELETE", POSITIONS, json={"cancel_orders": True})
    msft = next(o for o in response.json()["data"] if o["symbol"] == "MSFT")
    assert msft["quantity"] == "200"


@pytest.mark.anyio
async def test_closing_order_fills_over_simulated_time(simulator: Simulator) -> None:
    async with api(simulator) as http:
        [sent] = (await http.delete(f"{POSITIONS}/GOOG")).json()["data"]
    assert position(simulator, "GOOG")["available_quantity"] == "0"  # type: ignore[index]
    simulator.advance(1)
    assert order(simulator, sent["id"])["status"] == "NEW"
    simulator.advance(1)
    partial = order(simulator, sent["id"])
    assert (partial["status"], partial["filled_quantity"], partial["leaves_quantity"]) == (
        "PARTIALLY_FILLED", "12", "13",
    )  # fmt: skip
    assert partial["average_fill_price"] == "139.05"
    goog = position(simulator, "GOOG")
    assert goog is not None
    assert (goog["quantity"], goog["available_quantity"]) == ("13", "0")
    assert goog["daily_realized_pnl"] == "79.80"  # 12 × (139.05 − 132.40)
    simulator.advance(1)
    filled = order(simulator, sent["id"])
    assert (filled["status"], filled["filled_quantity"], filled["leaves_quantity"]) == ("FILLED", "25", "0")
    assert filled["updated_at"] == "2026-11-23T15:00:03.000000000Z"
    assert position(simulator, "GOOG") is None  # a position at zero disappears
    async with api(simulator) as http:
        listed = (await http.get(POSITIONS, params={"instrument_ids": "GOOG"})).json()["data"]
    assert listed == []


@pytest.mark.anyio
async def test_short_cover_books_realized_pnl_and_fractional_quantities_fill(simulator: Simulator) -> None:
    async with api(simulator) as http:
        await http.delete(f"{POSITIONS}/NVDA")
        await http.delete(f"{POSITIONS}/AMZN")
    simulator.advance(2)
    nvda, amzn = position(simulator, "NVDA"), position(simulator, "AMZN")
    assert nvda is not None and amzn is not None
    assert (nvda["quantity"], nvda["daily_realized_pnl"]) == ("-15", "119.25")  # 15 × (131.10 − 123.15)
    assert amzn["quantity"] == "6.5"  # 12.5 fills 6, then 6.5
    simulator.settle()
    assert position(simulator, "NVDA") is None and position(simulator, "AMZN") is None


@pytest.mark.anyio
async def test_orders_fill_only_while_the_market_is_open() -> None:
    simulator = Simulator(now=SATURDAY)
    async with api(simulator) as http:
        [sent] = (await http.delete(f"{POSITIONS}/GOOG")).json()["data"]
    simulator.advance(36 * 3600)  # Sunday night: still closed
    assert order(simulator, sent["id"])["status"] == "NEW"
    assert position(simulator, "GOOG")["quantity"] == "25"  # type: ignore[index]
    settled = simulator.settle()
    filled = order(simulator, sent["id"])
    assert filled["status"] == "FILLED"
    monday_open = datetime(2026, 11, 23, 9, 30, tzinfo=NEW_YORK)
    assert filled["updated_at"] == "2026-11-23T14:30:01.000000000Z"  # second fill, 1 s after the open
    assert settled == monday_open.astimezone(UTC) + timedelta(seconds=1)
    assert simulator.pending_transitions == 0


@pytest.mark.anyio
async def test_a_fill_due_after_the_close_waits_for_the_next_session() -> None:
    simulator = Simulator(now=datetime(2026, 11, 23, 15, 59, 59, tzinfo=NEW_YORK))
    async with api(simulator) as http:
        [sent] = (await http.delete(f"{POSITIONS}/GOOG")).json()["data"]
    simulator.advance(3600)
    assert order(simulator, sent["id"])["status"] == "NEW"
    simulator.set_now(datetime(2026, 11, 24, 9, 30, tzinfo=NEW_YORK))
    assert order(simulator, sent["id"])["status"] == "PARTIALLY_FILLED"


@pytest.mark.anyio
async def test_missing_price_fills_at_the_close_and_values_without_unrealized(simulator: Simulator) -> None:
    brk = position(simulator, "BRK.B")
    assert brk is not None
    assert brk["instrument_price"] is None and brk["closing_price"] == "452.35"
    assert brk["market_value"] == "3618.80"  # valued at the last close
    assert brk["unrealized_pnl"] is None and brk["daily_unrealized_pnl"] is None
    assert brk["cost_basis"] == "3280.00"
    async with api(simulator) as http:
        [sent] = (await http.delete(f"{POSITIONS}/brk.b")).json()["data"]
    simulator.settle()
    assert order(simulator, sent["id"])["average_fill_price"] == "452.35"


@pytest.mark.anyio
async def test_second_account_is_independent(simulator: Simulator) -> None:
    async with api(simulator) as http:
        response = await http.delete(f"/v1/accounts/{DEMO_INSTRUCTIONS_ACCOUNT}/positions/AAPL")
    [sent] = response.json()["data"]
    assert (sent["account_id"], sent["quantity"]) == (DEMO_INSTRUCTIONS_ACCOUNT, "300")
    assert position(simulator, "AAPL")["available_quantity"] == "100"  # type: ignore[index]
    assert Decimal(position(simulator, "AAPL", DEMO_INSTRUCTIONS_ACCOUNT)["available_quantity"]) == 0  # type: ignore[index]


@pytest.mark.parametrize(("held", "fills"), [("1.5", ["1.5"]), ("2.5", ["1", "1.5"]), ("0.5", ["0.5"]), ("1", ["1"])])
def test_fill_sizes_for_small_and_fractional_quantities(held: str, fills: list[str]) -> None:
    state = SimulatorState(seed=0, clock=SimulatedClock(MONDAY_OPEN), exercise_cutoff=time(17, 30), timings=Timings())
    instrument = state.instruments.equity("XYZ", Decimal("10.00"), Decimal("9.50"))
    account = state.open_account(1)
    state.hold(account, instrument, Decimal(held), Decimal("8.00"))
    [sent] = close_position(state, account, instrument, cancel_orders=False)
    seen = []
    while state.scheduler.next_due() is not None:
        state.clock.set(state.scheduler.next_due())  # type: ignore[arg-type]
        before = sent.filled_quantity
        state.catch_up()
        if sent.filled_quantity != before:
            seen.append(str(sent.filled_quantity - before))
    assert seen == fills
    assert sent.status.value == "FILLED"
    # the position is gone; the proceeds (held × 10.00) are the account's cash
    [cash] = account.holdings.values()
    assert (cash.instrument.symbol, cash.quantity) == ("USD", Decimal(held) * 10)


@pytest.mark.anyio
async def test_close_everything_in_a_generated_account_and_settle(simulator: Simulator) -> None:
    simulator.add_generated_account(55, positions=400, seed=4)
    async with api(simulator) as http:
        response = await http.delete("/v1/accounts/55/positions")
    assert response.status_code == 200 and len(response.json()["data"]) == 400
    simulator.settle()
    [cash] = simulator.positions(55)  # every position is closed; what is left is the net proceeds in cash
    assert cash["symbol"] == "USD" and cash["instrument_type"] == "CASH"
    assert {o["status"] for o in simulator.orders(55)} == {"FILLED"}
    proceeds = sum(
        (
            Decimal(o["filled_quantity"])
            * Decimal(o["average_fill_price"])
            * (100 if o["instrument_type"] == "OPTION" else 1)
        )
        * (1 if o["side"] == "SELL" else -1)
        for o in simulator.orders(55)
    )
    assert Decimal(cash["quantity"]) == proceeds
