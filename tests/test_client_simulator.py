"""The Clear Street client against the simulator, in-process (``httpx.ASGITransport``, no socket).

End to end: every operation is sent by ``ClearStreetClient`` to the simulated API and its typed
result is checked against the exact JSON the simulator served (recorded by a transport wrapper that
also counts the requests). Simulated time is frozen at Monday 2026-11-23 10:00 New York (market
open; the weekly expiry is Friday 2026-11-27) and only moves with ``simulator.advance``/``simulator.settle``.
Retries sleep through an injected recorder, never on the wall clock.

The fixture tests in ``test_client.py`` script the HTTP round_trips by hand; these check that the
client and the simulator agree with each other, faults included.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx
import pytest
from conftest import MONDAY_OPEN, Recorder, Waits
from positions_mcp.clearstreet import (
    GENERATED_KEY_PREFIX,
    NIL_UUID,
    APIStatusError,
    ClearStreetClient,
    ClearStreetError,
    InstructionRequest,
    InstructionStatus,
    InstructionType,
    Order,
    OrderStatus,
    OrderType,
    OutcomeUnknownError,
    PositionInstruction,
    PositionType,
    RetryPolicy,
    SecurityType,
    Side,
    SortBy,
    SortDirection,
    TimeInForce,
)
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, Simulator
from pydantic import BaseModel

API_KEY = "csk_sim_T0p-S3cret-9f8e7d6c5b4a"
BASE_URL = "http://simulator"
ACCOUNT = DEMO_PRIMARY_ACCOUNT  # 19816
HISTORY_ACCOUNT = DEMO_INSTRUCTIONS_ACCOUNT  # 122503: holds the LEAP and an instruction history
GENERATED_ACCOUNT = 700_001

# Contracts of the demo book (account 19816), expiring Friday 2026-11-27.
AAPL_CALL = "AAPL  261127C00145000"  # long 10, in the money
AAPL_CALL_COMPACT = "AAPL261127C00145000"
AAPL_CALL_SPACED = "AAPL 261127C00145000"
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
SPY_PUT = "SPY   261127P00565000"  # long 2
NVDA_PUT_COMPACT = "NVDA261127P00125000"  # short 5


# -- the harness: a recording transport around the simulator, and a client that never sleeps ------


@dataclass
class Harness:
    simulator: Simulator
    client: ClearStreetClient
    wire: Recorder
    waits: Waits


def connect(simulator: Simulator, *, api_key: str = API_KEY, max_retries: int = 2) -> Harness:
    wire = Recorder(simulator)
    policy = RetryPolicy(
        max_retries=max_retries,
        sleep=wire.waits,
        random=lambda: 0.0,  # no jitter: backoff is exactly 0.5 s, 1.0 s, …
        clock=lambda: MONDAY_OPEN.timestamp(),
    )
    client = ClearStreetClient(api_key=api_key, base_url=BASE_URL, transport=wire, retry=policy)
    return Harness(simulator, client, wire, wire.waits)


@pytest.fixture
async def h(simulator: Simulator) -> Any:
    harness = connect(simulator)
    async with harness.client:
        yield harness


# -- exactness: a typed value against the raw JSON value it was parsed from ------------------------


def decimal_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, info in model.model_fields.items() if "Decimal" in repr(info.annotation)}


def assert_exact(value: Any, raw: Any, where: str) -> None:
    """``value`` (typed) carries exactly what ``raw`` (JSON) said: decimals digit for digit."""
    if raw is None:
        assert value is None, f"{where}: {value!r} for null"
    elif isinstance(value, Decimal):
        assert isinstance(raw, str), f"{where}: a decimal must travel as a string, got {raw!r}"
        assert value.as_tuple() == Decimal(raw).as_tuple(), f"{where}: {value!r} is not exactly {raw!r}"
        assert format(value, "f") == raw, where
    elif isinstance(value, datetime):
        assert value.tzinfo is not None and value == datetime.fromisoformat(raw), f"{where}: {value} vs {raw}"
    elif isinstance(value, date):
        assert value.isoformat() == raw, where
    elif isinstance(value, StrEnum):
        assert value.value == raw, where
    elif isinstance(value, BaseModel):
        assert_model_exact(value, raw, where)
    else:
        assert value == raw and type(value) is type(raw), f"{where}: {value!r} vs {raw!r}"


def assert_model_exact(model: BaseModel, raw: dict[str, Any], where: str = "row") -> None:
    """Every key of the wire row is on the model with exactly its value; amounts are Decimals."""
    assert isinstance(raw, dict)
    for name, raw_value in raw.items():
        value = getattr(model, name)
        if raw_value is not None and name in decimal_fields(type(model)):
            assert isinstance(value, Decimal), f"{where}.{name}: {value!r} is not a Decimal"
        assert_exact(value, raw_value, f"{where}.{name}")


def assert_rows_exact(models: list[Any], raw_rows: list[dict[str, Any]]) -> None:
    assert len(models) == len(raw_rows)
    for index, (model, raw) in enumerate(zip(models, raw_rows, strict=True)):
        assert_model_exact(model, raw, f"row[{index}]")


def exercise(instrument: str, quantity: str = "1", key: str | None = None) -> InstructionRequest:
    return InstructionRequest(
        instruction_type=InstructionType.EXERCISE,
        instrument_id=instrument,
        quantity=Decimal(quantity),
        client_instruction_id=key,
    )


def do_not_exercise(instrument: str, quantity: str = "1", key: str | None = None) -> InstructionRequest:
    return InstructionRequest(
        instruction_type=InstructionType.DO_NOT_EXERCISE,
        instrument_id=instrument,
        quantity=Decimal(quantity),
        client_instruction_id=key,
    )


def is_generated_key(key: str | None) -> bool:
    if key is None or not key.startswith(GENERATED_KEY_PREFIX):
        return False
    return uuid.UUID(key.removeprefix(GENERATED_KEY_PREFIX)).version == 4


def available(simulator: Simulator, account: int, symbol: str) -> str:
    quantity: str = next(row["available_quantity"] for row in simulator.positions(account) if row["symbol"] == symbol)
    return quantity


def padded(osi_compact: str) -> str:
    """The 21-character OSI form of a compact symbol (root space-padded to six)."""
    return osi_compact[:-15].ljust(6) + osi_compact[-15:]


# -- every operation round-trips, typed and decimal-exact ------------------------------------------


@pytest.mark.anyio
async def test_get_positions_is_typed_and_exactly_what_the_simulator_served(h: Harness) -> None:
    page = await h.client.positions.page(ACCOUNT)

    served = h.wire.last.body
    assert_rows_exact(page.positions, served["data"])
    assert served["data"] == h.simulator.positions(ACCOUNT)  # the inspection view agrees with the wire
    assert page.request_id == served["metadata"]["request_id"] == h.wire.last.headers["x-request-id"]
    assert (page.metadata.page_number, page.metadata.total_items, page.metadata.total_pages) == (1, 17, 1)
    assert page.next_page_token is None and page.metadata.previous_page_token is None

    by_symbol = {p.symbol: p for p in page.positions}
    amzn, tsla, brk, call = by_symbol["AMZN"], by_symbol["TSLA"], by_symbol["BRK.B"], by_symbol[AAPL_CALL_COMPACT]
    assert amzn.quantity == Decimal("12.5") and amzn.position_type is PositionType.LONG
    assert tsla.quantity == Decimal("-50") and tsla.position_type is PositionType.SHORT
    assert tsla.available_quantity == Decimal("50")  # a magnitude, also for shorts
    assert brk.instrument_price is None and brk.unrealized_pnl is None  # no quote: no data, not zero
    assert call.instrument_type is SecurityType.OPTION and call.underlying_instrument_id == AAPL_ID
    assert call.underlying_instrument_type is SecurityType.COMMON_STOCK
    assert by_symbol["USD"].instrument_type is SecurityType.CASH
    assert by_symbol["MSFT"].available_quantity == Decimal("120")  # 80 reserved by a working sell
    assert call.closing_price_date == date(2026, 11, 20)  # the business day before Monday


@pytest.mark.anyio
async def test_get_position_instructions_is_typed_and_exact_with_filters(h: Harness) -> None:
    listing = await h.client.instructions.get(HISTORY_ACCOUNT)
    served = h.wire.last.body["data"]
    assert_rows_exact(listing.instructions, served)
    assert served == h.simulator.instructions(HISTORY_ACCOUNT)
    assert [row.status for row in listing.instructions] == [
        InstructionStatus.ACCEPTED,
        InstructionStatus.CANCELLED,
        InstructionStatus.REJECTED,
    ]
    accepted, _, rejected = listing.instructions
    assert accepted.accepted_quantity == Decimal("1") and accepted.symbol == "AAPL  280121C00195000"
    assert rejected.rejection is not None and rejected.rejection.domain == "com.clearstreet.oems.clearing"
    assert rejected.rejection_reason == rejected.rejection.description

    for contract in ("AAPL  280121C00195000", "AAPL 280121C00195000", "aapl280121c00195000"):
        filtered = await h.client.instructions.get(HISTORY_ACCOUNT, instrument_id=contract)
        assert h.wire.last.params["instrument_id"] == contract
        assert [row.id for row in filtered.instructions] == [row.id for row in listing.instructions]
    by_underlier = await h.client.instructions.get(
        HISTORY_ACCOUNT, instrument_id="AAPL280121C00195000", underlying_instrument_id="AAPL"
    )
    assert len(by_underlier.instructions) == 3
    other = await h.client.instructions.get(HISTORY_ACCOUNT, underlying_instrument_id="TSLA")
    assert other.instructions == []


@pytest.mark.anyio
async def test_close_position_is_typed_and_exact(h: Harness) -> None:
    result = await h.client.positions.close(ACCOUNT, "GOOG")
    served = h.wire.last.body["data"]
    assert_rows_exact(result.orders, served)
    assert served == h.simulator.orders(ACCOUNT)[-1:]
    (order,) = result.orders
    assert isinstance(order, Order) and order.created_at == MONDAY_OPEN
    assert result.request_id == h.wire.last.body["metadata"]["request_id"]


@pytest.mark.anyio
async def test_submit_and_cancel_are_typed_and_exact(h: Harness) -> None:
    submitted = await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "2", key="ex-aapl-1")])
    assert_rows_exact(submitted.instructions, h.wire.last.body["data"])
    (row,) = submitted.instructions
    assert isinstance(row, PositionInstruction)
    assert (row.status, row.client_instruction_id, row.quantity) == (InstructionStatus.SENT, "ex-aapl-1", Decimal("2"))
    assert row.created_at == row.updated_at == MONDAY_OPEN and row.accepted_quantity is None

    cancelled = await h.client.instructions.cancel(ACCOUNT, row.id)
    assert_model_exact(cancelled.instruction, h.wire.last.body["data"])
    assert cancelled.instruction.status is InstructionStatus.CANCEL_REQUESTED and not cancelled.already_final


# -- pagination --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_pages_of_a_2500_position_account_add_up_to_the_whole_book(h: Harness) -> None:
    h.simulator.add_generated_account(GENERATED_ACCOUNT, positions=2_500)
    pages = [page async for page in h.client.positions.pages(GENERATED_ACCOUNT, page_size=1000)]

    assert [len(page.positions) for page in pages] == [1000, 1000, 500]
    assert [page.metadata.page_number for page in pages] == [1, 2, 3]
    assert {(page.metadata.total_items, page.metadata.total_pages) for page in pages} == {(2500, 3)}
    assert pages[-1].next_page_token is None and pages[0].metadata.previous_page_token is None
    first, *rest = h.wire.round_trips
    assert dict(first.params) == {"page_size": "1000"}
    tokens = [page.next_page_token for page in pages[:-1]]
    assert [dict(e.params) for e in rest] == [{"page_token": token} for token in tokens]

    rows = [row for e in h.wire.round_trips for row in e.body["data"]]
    positions = [p for page in pages for p in page.positions]
    assert_rows_exact(positions, rows)
    assert rows == h.simulator.positions(GENERATED_ACCOUNT)  # the whole book, in symbol order
    assert positions == await h.client.positions.all(GENERATED_ACCOUNT, page_size=1000)


@pytest.mark.anyio
async def test_filters_and_sort_are_resent_with_every_token_and_pages_equal_one_big_page(h: Harness) -> None:
    h.simulator.add_generated_account(GENERATED_ACCOUNT, positions=2_500)
    book = h.simulator.positions(GENERATED_ACCOUNT)
    chosen = book[::3]  # 834 positions, named four different ways
    forms: list[str] = []
    for index, row in enumerate(chosen):
        symbol = row["symbol"]
        option = row["instrument_type"] == "OPTION"
        forms.append(
            [
                row["instrument_id"],
                padded(symbol) if option else symbol,
                symbol.lower(),
                row["instrument_id"].upper(),
            ][index % 4]
        )
    arguments: dict[str, Any] = {
        "instrument_ids": forms,
        "sort_by": SortBy.MARKET_VALUE,
        "sort_direction": SortDirection.DESC,
    }

    pages = [page async for page in h.client.positions.pages(GENERATED_ACCOUNT, page_size=300, **arguments)]
    paged = [p for page in pages for p in page.positions]
    assert [len(page.positions) for page in pages] == [300, 300, 234]
    sent = [e.params for e in h.wire.round_trips]
    assert len(sent) == 3
    for number, params in enumerate(sent):
        assert params["instrument_ids"] == ",".join(forms)
        assert (params["sort_by"], params["sort_direction"]) == ("MARKET_VALUE", "DESC")
        assert ("page_size" in params) == (number == 0) and ("page_token" in params) == (number > 0)

    one_page = await h.client.positions.page(GENERATED_ACCOUNT, page_size=1000, **arguments)
    assert one_page.next_page_token is None and one_page.metadata.total_items == 834
    assert paged == one_page.positions
    assert {p.instrument_id for p in paged} == {row["instrument_id"] for row in chosen}
    values = [p.market_value for p in paged]
    assert values == sorted(values, reverse=True)


# -- symbol forms --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_instrument_ids_accept_tickers_uuids_and_every_osi_rendering(h: Harness) -> None:
    names = ["aapl", AAPL_CALL, AAPL_CALL_COMPACT, AAPL_CALL_SPACED, AAPL_ID, "SPY261127P00565000"]
    page = await h.client.positions.page(ACCOUNT, instrument_ids=names)
    assert h.wire.last.params["instrument_ids"] == ",".join(names)
    assert [p.symbol for p in page.positions] == ["AAPL", AAPL_CALL_COMPACT, "SPY261127P00565000"]
    assert page.positions[1].instrument_id == AAPL_CALL_ID


@pytest.mark.anyio
@pytest.mark.parametrize("form", [AAPL_CALL, AAPL_CALL_COMPACT, AAPL_CALL_SPACED, AAPL_CALL_ID])
async def test_close_position_resolves_every_symbol_form(h: Harness, form: str) -> None:
    result = await h.client.positions.close(ACCOUNT, form)
    (order,) = result.orders
    assert order.instrument_id == AAPL_CALL_ID and order.symbol == AAPL_CALL_COMPACT
    assert (order.side, order.quantity) == (Side.SELL, Decimal("10"))
    path = h.wire.last.request.url.raw_path.decode()
    assert path.endswith("/positions/" + form.replace(" ", "%20"))


# -- closing ---------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("instrument", "symbol", "side", "quantity"),
    [
        ("AAPL", "AAPL", Side.SELL, "100"),  # long equity
        ("TSLA", "TSLA", Side.BUY, "50"),  # short equity
        ("MSFT", "MSFT", Side.SELL, "120"),  # 80 of 200 already reserved by a working sell
        ("AMZN", "AMZN", Side.SELL, "12.5"),  # fractional shares
        (SPY_PUT, "SPY261127P00565000", Side.SELL, "2"),  # long option, padded OSI
        (NVDA_PUT_COMPACT, NVDA_PUT_COMPACT, Side.BUY, "5"),  # short option, compact OSI
    ],
)
async def test_close_position_sends_a_market_day_order_on_the_closing_side(
    h: Harness, instrument: str, symbol: str, side: Side, quantity: str
) -> None:
    before = len(h.simulator.orders(ACCOUNT))
    result = await h.client.positions.close(ACCOUNT, instrument)

    (order,) = result.orders
    assert (order.order_type, order.time_in_force, order.status) == (
        OrderType.MARKET,
        TimeInForce.DAY,
        OrderStatus.PENDING_NEW,
    )
    assert (order.side, order.symbol) == (side, symbol)
    assert order.quantity == order.leaves_quantity == Decimal(quantity) and order.filled_quantity == 0
    assert order.client_order_id == "close-position-20261123-0001"
    assert len(h.simulator.orders(ACCOUNT)) == before + 1 and h.simulator.orders(ACCOUNT)[-1]["id"] == order.id

    (position,) = (await h.client.positions.page(ACCOUNT, instrument_ids=[instrument])).positions
    assert position.available_quantity == 0  # the working close holds all that was free
    assert position.quantity != 0  # nothing filled yet

    h.simulator.settle()
    assert h.simulator.orders(ACCOUNT)[-1]["status"] == "FILLED"
    remaining = (await h.client.positions.page(ACCOUNT, instrument_ids=[instrument])).positions
    if instrument == "MSFT":  # the resting limit order's 80 shares are still held
        assert [(p.quantity, p.available_quantity) for p in remaining] == [(Decimal("80"), Decimal("0"))]
    else:
        assert remaining == []


@pytest.mark.anyio
async def test_a_second_close_of_a_position_already_being_closed_is_refused_422(h: Harness) -> None:
    await h.client.positions.close(ACCOUNT, "GOOG")
    with pytest.raises(APIStatusError) as refused:
        await h.client.positions.close(ACCOUNT, "GOOG")
    assert refused.value.status_code == 422 and "Nothing to close in GOOG" in refused.value.message
    assert (
        len(h.wire.round_trips) == 2 and len(h.simulator.orders(ACCOUNT)) == 2
    )  # the resting MSFT order and one close


@pytest.mark.anyio
async def test_close_position_with_cancel_orders_closes_the_whole_position(h: Harness) -> None:
    result = await h.client.positions.close(ACCOUNT, "MSFT", cancel_orders=True)
    assert h.wire.last.sent == {"cancel_orders": True}
    (order,) = result.orders
    assert (order.side, order.quantity) == (Side.SELL, Decimal("200"))
    resting = h.simulator.orders(ACCOUNT)[0]
    assert resting["client_order_id"].startswith("rebalance-") and resting["status"] == "CANCELED"


@pytest.mark.anyio
async def test_close_positions_closes_every_non_cash_position(h: Harness) -> None:
    result = await h.client.positions.close_all(ACCOUNT)
    assert h.wire.last.sent == {}
    assert_rows_exact(result.orders, h.wire.last.body["data"])

    book = {row["symbol"]: row for row in h.simulator.positions(ACCOUNT)}
    expected = sorted(symbol for symbol, row in book.items() if row["instrument_type"] != "CASH")
    assert [o.symbol for o in result.orders] == expected  # symbol order, USD left alone
    for order in result.orders:
        assert order.symbol is not None
        held = Decimal(book[order.symbol]["quantity"])
        assert order.side is (Side.SELL if held > 0 else Side.BUY)
        assert (order.order_type, order.time_in_force) == (OrderType.MARKET, TimeInForce.DAY)
        assert order.client_order_id is not None and order.client_order_id.startswith("close-positions-20261123-")
    assert next(o for o in result.orders if o.symbol == "MSFT").quantity == 120
    assert [row["id"] for row in h.simulator.orders(ACCOUNT)[1:]] == [o.id for o in result.orders]
    after = await h.client.positions.all(ACCOUNT)
    assert {p.symbol: p.available_quantity for p in after if p.available_quantity != 0} == {"USD": 25000}


# -- submitting instructions -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_fully_accepted_batch_is_200_with_every_row_sent_under_generated_keys(h: Harness) -> None:
    result = await h.client.instructions.submit(
        ACCOUNT, [exercise(AAPL_CALL, "3"), exercise("SPY261127P00565000", "2"), exercise(AAPL_CALL_ID, "1", "mine")]
    )
    assert result.status_code == 200 and result.error is None and result.recovered == ()
    assert [row.status for row in result.instructions] == [InstructionStatus.SENT] * 3
    keys = [row.client_instruction_id for row in result.instructions]
    assert is_generated_key(keys[0]) and is_generated_key(keys[1]) and keys[2] == "mine"
    assert [row["client_instruction_id"] for row in h.wire.last.sent] == keys  # sent, not made up server-side
    persisted = h.simulator.instructions(ACCOUNT)
    assert [(row["id"], row["client_instruction_id"]) for row in persisted] == [
        (row.id, row.client_instruction_id) for row in result.instructions
    ]
    assert all(row.persisted for row in result.instructions)
    assert result.instructions[1].symbol == SPY_PUT  # instructions show the padded OSI form
    assert available(h.simulator, ACCOUNT, AAPL_CALL_COMPACT) == "6"  # pending exercises reserve contracts


@pytest.mark.anyio
async def test_a_partly_rejected_batch_is_a_207_result_not_an_exception(h: Harness) -> None:
    result = await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1"), do_not_exercise(AAPL_CALL, "1")])
    assert h.wire.last.status == 207 and result.status_code == 207
    assert_rows_exact(result.instructions, h.wire.last.body["data"])
    (sent,), (rejected,) = result.sent, result.rejected
    assert sent.status is InstructionStatus.SENT and sent.persisted
    assert rejected.status is InstructionStatus.REJECTED and rejected.id == NIL_UUID and not rejected.persisted
    assert rejected.rejection is not None and rejected.rejection.reason == "DNE_NOT_ON_EXPIRY"
    assert rejected.rejection.metadata == {"expiry": "2026-11-27", "business_date": "2026-11-23"}
    assert rejected.rejection_reason == rejected.rejection.description
    assert result.error is not None and result.error.code == 400
    assert all(is_generated_key(row.client_instruction_id) for row in result.instructions)
    assert [row["id"] for row in h.simulator.instructions(ACCOUNT)] == [sent.id]  # rejected rows are not kept


@pytest.mark.anyio
async def test_a_batch_rejected_as_a_whole_raises_400_with_every_row(h: Harness) -> None:
    with pytest.raises(APIStatusError) as rejected:
        await h.client.instructions.submit(ACCOUNT, [do_not_exercise(AAPL_CALL), do_not_exercise("SPY261127P00565000")])
    error = rejected.value
    assert (error.status_code, error.code) == (400, 400)
    assert error.request_id == h.wire.last.body["metadata"]["request_id"]
    assert_rows_exact(error.rows, h.wire.last.body["data"])
    assert [row.status for row in error.rows] == [InstructionStatus.REJECTED] * 2
    assert {row.rejection.reason for row in error.rows if row.rejection} == {"DNE_NOT_ON_EXPIRY"}
    assert [row.client_instruction_id for row in error.rows] == [r["client_instruction_id"] for r in h.wire.last.sent]
    assert len(h.wire.round_trips) == 1 and h.simulator.instructions(ACCOUNT) == []


@pytest.mark.anyio
async def test_resubmitting_a_callers_own_key_is_a_409_duplicate_not_recovered(h: Harness) -> None:
    first = await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1", "mine-1")])
    with pytest.raises(APIStatusError) as duplicate:
        await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1", "mine-1")])
    assert duplicate.value.status_code == 409 and len(h.wire.round_trips) == 2  # a 409 is final: not retried
    (row,) = duplicate.value.rows
    assert row.rejection is not None and row.rejection.reason == "DUPLICATE_INSTRUCTION"
    assert row.rejection.metadata == {"existing_id": first.instructions[0].id}
    assert len(h.simulator.instructions(ACCOUNT)) == 1


# -- lifecycle -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_sent_instruction_is_accepted_once_clearing_decides(h: Harness) -> None:
    result = await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "2")])
    (sent,) = result.instructions

    h.simulator.advance(2)
    (still,) = (await h.client.instructions.get(ACCOUNT)).instructions
    assert still.status is InstructionStatus.SENT

    h.simulator.advance(1)  # the decision is due 3 s after submission
    listing = await h.client.instructions.get(ACCOUNT, instrument_id=AAPL_CALL_COMPACT)
    assert_rows_exact(listing.instructions, h.wire.last.body["data"])
    (accepted,) = listing.instructions
    assert (accepted.id, accepted.client_instruction_id) == (sent.id, sent.client_instruction_id)
    assert accepted.status is InstructionStatus.ACCEPTED and accepted.accepted_quantity == Decimal("2")
    assert accepted.updated_at == datetime(2026, 11, 23, 15, 0, 3, tzinfo=UTC)
    aapl = await h.client.positions.page(ACCOUNT, instrument_ids=["AAPL", AAPL_CALL])
    assert [(p.symbol, p.quantity) for p in aapl.positions] == [
        ("AAPL", Decimal("300")),
        (AAPL_CALL_COMPACT, Decimal("8")),
    ]

    with pytest.raises(APIStatusError) as terminal:
        await h.client.instructions.cancel(ACCOUNT, sent.id)
    assert terminal.value.status_code == 409 and "ACCEPTED" in terminal.value.message
    assert len(h.wire.matching("DELETE")) == 1  # a first 409 is not retried


@pytest.mark.anyio
async def test_cancel_is_requested_then_cancelled_and_a_second_cancel_is_409(h: Harness) -> None:
    (sent,) = (await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "4")])).instructions
    assert available(h.simulator, ACCOUNT, AAPL_CALL_COMPACT) == "6"

    requested = await h.client.instructions.cancel(ACCOUNT, sent.id)
    assert requested.instruction.id == sent.id
    assert requested.instruction.status is InstructionStatus.CANCEL_REQUESTED
    assert requested.request_id == h.wire.last.body["metadata"]["request_id"]
    (listed,) = (await h.client.instructions.get(ACCOUNT)).instructions
    assert listed.status is InstructionStatus.CANCEL_REQUESTED

    again = await h.client.instructions.cancel(ACCOUNT, sent.id)  # still pending: idempotent
    assert again.instruction.status is InstructionStatus.CANCEL_REQUESTED

    h.simulator.advance(2)
    (cancelled,) = (await h.client.instructions.get(ACCOUNT)).instructions
    assert cancelled.status is InstructionStatus.CANCELLED and cancelled.accepted_quantity is None
    assert available(h.simulator, ACCOUNT, AAPL_CALL_COMPACT) == "10"  # the reservation is released

    with pytest.raises(APIStatusError) as terminal:
        await h.client.instructions.cancel(ACCOUNT, sent.id)
    assert terminal.value.status_code == 409 and "CANCELLED" in terminal.value.message
    assert terminal.value.request_id == h.wire.last.body["metadata"]["request_id"]
    assert [e.status for e in h.wire.matching("DELETE")] == [200, 200, 409]


@pytest.mark.anyio
async def test_cancelling_an_unknown_instruction_is_404(h: Harness) -> None:
    with pytest.raises(APIStatusError) as missing:
        await h.client.instructions.cancel(ACCOUNT, NIL_UUID)
    assert missing.value.status_code == 404 and len(h.wire.round_trips) == 1


# -- faults on reads: retried, with the server's hint or a backoff, without wall-clock time ---------


@pytest.mark.anyio
async def test_a_429_on_get_waits_what_retry_after_says_then_succeeds(h: Harness) -> None:
    h.simulator.faults.add(status=429, retry_after=2, method="GET", path_contains="/positions")
    page = await h.client.positions.page(ACCOUNT)

    limited, answered = h.wire.round_trips
    assert limited.status == 429 and limited.headers is not None
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("2", "2000")
    assert h.waits == [2.0]
    assert answered.status == 200 and len(page.positions) == 17


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["positions", "instructions"])
async def test_a_503_on_get_is_retried_with_backoff(h: Harness, operation: str) -> None:
    h.simulator.faults.add(status=503, times=2, method="GET")
    if operation == "positions":
        result: Any = await h.client.positions.page(ACCOUNT)
        assert len(result.positions) == 17
    else:
        result = await h.client.instructions.get(HISTORY_ACCOUNT)
        assert len(result.instructions) == 3
    assert [e.status for e in h.wire.round_trips] == [503, 503, 200]
    assert h.waits == [0.5, 1.0]


@pytest.mark.anyio
async def test_a_dropped_connection_on_get_is_retried(h: Harness) -> None:
    h.simulator.faults.add(kind="drop", method="GET", path_contains="/positions")
    page = await h.client.positions.page(ACCOUNT, sort_by="QUANTITY")
    assert isinstance(h.wire.round_trips[0].failure, httpx.RemoteProtocolError)
    assert h.wire.round_trips[1].status == 200 and len(h.wire.round_trips) == 2
    assert h.waits == [0.5]
    assert [p.quantity for p in page.positions] == sorted(p.quantity for p in page.positions)


@pytest.mark.anyio
async def test_reads_give_up_after_the_retry_budget(h: Harness) -> None:
    h.simulator.faults.add(status=503, times=None, method="GET")
    with pytest.raises(APIStatusError) as unavailable:
        await h.client.positions.page(ACCOUNT)
    assert unavailable.value.status_code == 503 and len(h.wire.round_trips) == 3
    assert unavailable.value.message == "Service unavailable"


# -- faults on closes: never retried once the request may have been processed ---------------------


@pytest.mark.anyio
@pytest.mark.parametrize("after_processing", [False, True])
async def test_a_500_on_close_is_an_unknown_outcome_after_exactly_one_request(
    h: Harness, after_processing: bool
) -> None:
    h.simulator.faults.add(status=500, method="DELETE", after_processing=after_processing)
    with pytest.raises(OutcomeUnknownError) as unknown:
        await h.client.positions.close(ACCOUNT, "AAPL")
    assert len(h.wire.round_trips) == 1 and h.waits == []
    assert unknown.value.status_code == 500
    assert unknown.value.request_id == h.wire.last.body["metadata"]["request_id"]
    assert "Re-read positions" in str(unknown.value)
    closes = [o for o in h.simulator.orders(ACCOUNT) if o["client_order_id"].startswith("close-")]
    if after_processing:  # the order went out although the client saw a failure
        assert [(o["symbol"], o["side"], o["quantity"]) for o in closes] == [("AAPL", "SELL", "100")]
        assert available(h.simulator, ACCOUNT, "AAPL") == "0"
    else:
        assert closes == []
        assert available(h.simulator, ACCOUNT, "AAPL") == "100"


@pytest.mark.anyio
@pytest.mark.parametrize("after_processing", [False, True])
@pytest.mark.parametrize("close_all", [False, True])
async def test_a_dropped_connection_on_close_is_an_unknown_outcome_and_not_retried(
    h: Harness, after_processing: bool, close_all: bool
) -> None:
    h.simulator.faults.add(kind="drop", method="DELETE", after_processing=after_processing)
    with pytest.raises(OutcomeUnknownError) as unknown:
        if close_all:
            await h.client.positions.close_all(ACCOUNT)
        else:
            await h.client.positions.close(ACCOUNT, "AAPL")
    assert isinstance(unknown.value.__cause__, httpx.RemoteProtocolError)
    assert len(h.wire.round_trips) == 1 and h.waits == []
    closes = [o for o in h.simulator.orders(ACCOUNT) if o["client_order_id"].startswith("close-")]
    assert bool(closes) is after_processing


@pytest.mark.anyio
async def test_a_429_on_close_was_not_processed_and_is_retried(h: Harness) -> None:
    h.simulator.faults.add(status=429, retry_after=1.5, method="DELETE")
    result = await h.client.positions.close(ACCOUNT, "AAPL")
    assert [e.status for e in h.wire.round_trips] == [429, 200] and h.waits == [1.5]
    assert [o.id for o in result.orders] == [h.simulator.orders(ACCOUNT)[-1]["id"]]
    assert len(h.simulator.orders(ACCOUNT)) == 2  # exactly one close went out


# -- faults on submits: same keys on every attempt, lost answers recovered, not double-submitted ---


@pytest.mark.anyio
@pytest.mark.parametrize("fault", [{"kind": "drop"}, {"status": 502}, {"status": 503}, {"status": 504}])
async def test_a_submit_processed_but_unanswered_is_retried_and_reports_the_originals(
    h: Harness, fault: dict[str, Any]
) -> None:
    h.simulator.faults.add(**fault, method="POST", after_processing=True)
    result = await h.client.instructions.submit(
        ACCOUNT, [exercise(AAPL_CALL, "2"), exercise("SPY261127P00565000", "1", key="mine-spy")]
    )

    first, retry, read_back = h.wire.round_trips
    assert first.request.content == retry.request.content  # the same keys, byte for byte
    keys = [row["client_instruction_id"] for row in first.sent]
    assert is_generated_key(keys[0]) and keys[1] == "mine-spy"
    assert retry.status == 409  # the simulator rejected both rows as duplicates of the first attempt
    assert {row["rejection"]["reason"] for row in retry.body["data"]} == {"DUPLICATE_INSTRUCTION"}
    assert read_back.request.method == "GET" and read_back.request.url.path.endswith("/instructions")
    assert len(h.waits) == 1

    assert result.status_code == 200 and result.error is None and result.rejected == []
    assert result.recovered == tuple(keys)
    persisted = h.simulator.instructions(ACCOUNT)
    assert len(persisted) == 2  # one exercise per row, not two
    assert [row.id for row in result.instructions] == [row["id"] for row in persisted]
    assert [row.status for row in result.instructions] == [InstructionStatus.SENT] * 2
    assert [row.client_instruction_id for row in result.instructions] == keys
    assert_rows_exact(result.instructions, persisted)


@pytest.mark.anyio
async def test_a_lost_207_is_recovered_into_the_original_partial_result(h: Harness) -> None:
    h.simulator.faults.add(kind="drop", method="POST", after_processing=True)
    result = await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1"), do_not_exercise(AAPL_CALL, "1")])
    # The retry: the EXERCISE is a duplicate (409 cause), the DNE still off expiry (400 cause).
    assert h.wire.round_trips[1].status == 400
    assert result.status_code == 207 and result.recovered == (result.instructions[0].client_instruction_id,)
    (sent,), (rejected,) = result.sent, result.rejected
    assert sent.status is InstructionStatus.SENT and sent.id == h.simulator.instructions(ACCOUNT)[0]["id"]
    assert rejected.rejection is not None and rejected.rejection.reason == "DNE_NOT_ON_EXPIRY"
    assert len(h.simulator.instructions(ACCOUNT)) == 1
    # The summary describes the rows still rejected, not the retry's "2 of 2 were rejected".
    assert "2 of 2" in h.wire.round_trips[1].body["error"]["message"]
    assert result.error is not None and result.error.code == 400
    assert result.error.message == rejected.rejection.description


@pytest.mark.anyio
async def test_a_recovered_original_shows_its_current_state(simulator: Simulator) -> None:
    harness = connect(simulator)
    harness.waits.during = lambda _: simulator.advance(5)  # clearing decides while the client backs off
    simulator.faults.add(status=503, method="POST", after_processing=True)
    async with harness.client as client:
        result = await client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1")])
    (row,) = result.instructions
    assert row.status is InstructionStatus.ACCEPTED and row.accepted_quantity == 1 and row.persisted
    assert result.recovered == (row.client_instruction_id,)


@pytest.mark.anyio
async def test_a_500_after_processing_on_submit_is_an_unknown_outcome_naming_the_keys(h: Harness) -> None:
    h.simulator.faults.add(status=500, method="POST", after_processing=True)
    with pytest.raises(OutcomeUnknownError) as unknown:
        await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1")])
    assert len(h.wire.round_trips) == 1  # a 500 without rows may have been processed: not retried
    keys = unknown.value.client_instruction_ids
    assert keys == tuple(row["client_instruction_id"] for row in h.wire.last.sent)
    # ... and the keys find what happened.
    listing = await h.client.instructions.get(ACCOUNT)
    assert [row.client_instruction_id for row in listing.instructions] == list(keys)


@pytest.mark.anyio
@pytest.mark.parametrize("times", [1, None])
async def test_a_503_rejecting_every_row_is_an_api_error_with_rows_and_not_retried(
    h: Harness, times: int | None
) -> None:
    h.simulator.faults.add(status=503, times=times, method="POST")
    with pytest.raises(APIStatusError) as unavailable:
        await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1"), exercise("SPY261127P00565000", "1")])
    error = unavailable.value
    assert (error.status_code, error.code, error.message) == (503, 503, "Clearing service unavailable")
    assert len(h.wire.round_trips) == 1 and h.waits == []
    assert_rows_exact(error.rows, h.wire.last.body["data"])
    assert [row.status for row in error.rows] == [InstructionStatus.REJECTED] * 2
    assert {(row.rejection.reason, row.rejection.domain) for row in error.rows if row.rejection} == {
        ("CLEARING_UNAVAILABLE", "com.clearstreet.oems.clearing")
    }
    assert [row.client_instruction_id for row in error.rows] == [r["client_instruction_id"] for r in h.wire.last.sent]
    assert h.simulator.instructions(ACCOUNT) == []


@pytest.mark.anyio
@pytest.mark.parametrize("status", [502, 504])
async def test_a_gateway_error_before_processing_a_submit_is_retried_with_the_same_keys(
    h: Harness, status: int
) -> None:
    h.simulator.faults.add(status=status, method="POST")
    result = await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1")])
    first, retry = h.wire.round_trips
    assert first.status == status and "data" not in first.body  # a gateway answers no rows
    assert retry.status == 200 and first.request.content == retry.request.content
    assert result.status_code == 200 and result.recovered == () and h.waits == [0.5]
    assert [row["id"] for row in h.simulator.instructions(ACCOUNT)] == [result.instructions[0].id]


@pytest.mark.anyio
async def test_a_429_on_submit_is_retried_with_the_same_keys(h: Harness) -> None:
    h.simulator.faults.add(status=429, retry_after=3, method="POST")
    result = await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1")])
    assert [e.status for e in h.wire.round_trips] == [429, 200] and h.waits == [3.0]
    assert h.wire.round_trips[0].request.content == h.wire.round_trips[1].request.content
    assert result.status_code == 200 and result.recovered == ()


# -- faults on cancels -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_lost_cancel_answer_is_retried_and_converges(h: Harness) -> None:
    (sent,) = (await h.client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1")])).instructions
    h.simulator.faults.add(kind="drop", method="DELETE", after_processing=True)
    result = await h.client.instructions.cancel(ACCOUNT, sent.id)
    assert result.instruction.status is InstructionStatus.CANCEL_REQUESTED and not result.already_final
    assert [e.status for e in h.wire.matching("DELETE")] == [None, 200]


@pytest.mark.anyio
async def test_a_cancel_retry_that_finds_the_instruction_final_reports_it(simulator: Simulator) -> None:
    harness = connect(simulator)
    async with harness.client as client:
        (sent,) = (await client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL, "1")])).instructions
        simulator.faults.add(status=503, method="DELETE", after_processing=True)
        harness.waits.during = lambda _: simulator.advance(5)  # the cancel completes during the backoff
        result = await client.instructions.cancel(ACCOUNT, sent.id)
    assert [e.status for e in harness.wire.matching("DELETE")] == [503, 409]
    assert result.already_final and result.instruction.status is InstructionStatus.CANCELLED


# -- the API key never leaks --------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_api_key_appears_in_no_error_or_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    simulator = Simulator(seed=0, now=MONDAY_OPEN, api_keys={API_KEY: {ACCOUNT}})
    harness = connect(simulator)
    errors: list[ClearStreetError] = []

    async def attempt(call: Awaitable[Any]) -> None:
        try:
            await call
        except ClearStreetError as exc:
            errors.append(exc)

    async with harness.client as client:
        simulator.faults.add(status=429, retry_after=1, method="GET")
        simulator.faults.add(kind="drop", method="GET", path_contains="/instructions")
        await client.positions.page(ACCOUNT)
        await client.instructions.get(ACCOUNT)
        await attempt(client.positions.page(HISTORY_ACCOUNT))  # 403: the key has no access
        simulator.faults.add(status=500, method="DELETE", path_contains="/AAPL", after_processing=True)
        await attempt(client.positions.close(ACCOUNT, "AAPL"))
        simulator.faults.add(kind="drop", method="DELETE")
        await attempt(client.positions.close_all(ACCOUNT))
        simulator.faults.add(status=503, method="POST")
        await attempt(client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL)]))
        simulator.faults.add(kind="drop", method="POST", after_processing=True)
        (sent,) = (await client.instructions.submit(ACCOUNT, [exercise(AAPL_CALL)])).instructions
        await attempt(client.instructions.submit(ACCOUNT, [do_not_exercise(AAPL_CALL)]))
        await client.instructions.cancel(ACCOUNT, sent.id)
        simulator.advance(5)
        await attempt(client.instructions.cancel(ACCOUNT, sent.id))
        simulator.faults.add(status=503, times=None, method="GET")
        await attempt(client.positions.page(ACCOUNT))
    wrong = connect(simulator, api_key=API_KEY[::-1])
    simulator.faults.clear()
    async with wrong.client:
        await attempt(wrong.client.positions.page(ACCOUNT))  # 401: an unknown key

    statuses = [getattr(e, "status_code", None) for e in errors]
    assert statuses == [403, 500, None, 503, 400, 409, 503, 401]
    assert harness.wire.round_trips[0].request.headers["authorization"] == f"Bearer {API_KEY}"  # it was sent
    texts = [caplog.text, repr(harness.client), repr(harness.client.retry_policy)]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [str(e.__cause__) for e in errors if e.__cause__ is not None]
    texts += [repr(record.args) for record in caplog.records]
    for text in texts:
        assert API_KEY not in text
        assert API_KEY[::-1] not in text
    assert any(record.name == "positions_mcp.clearstreet" for record in caplog.records)
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
