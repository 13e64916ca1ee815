"""Fixture tests of the Clear Street client: hand-written HTTP exchanges through httpx.MockTransport.

Each test scripts the responses the API gives, runs one client operation, and checks the exact
requests the client sent (URL, query, headers, body bytes) and what it returned or raised. Sleeps
are recorded, never slept.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import Waits
from positions_mcp.clearstreet import (
    ENVIRONMENT_URLS,
    NIL_UUID,
    APIStatusError,
    BadRequest,
    ClearStreetClient,
    ClearStreetConnectionError,
    ClearStreetError,
    Conflict,
    InstructionRequest,
    InstructionStatus,
    InstructionType,
    NotFound,
    OrderStatus,
    OutcomeUnknownError,
    PaginationLoopError,
    PermissionDenied,
    PositionType,
    RateLimited,
    RetryPolicy,
    SecurityType,
    ServerError,
    Side,
    SortBy,
    SortDirection,
    TimeInForce,
    Unauthorized,
    Unprocessable,
    parse_retry_after,
)

API_KEY = "csk_live_S3cr3t-Key-0123456789abcdef"
BASE_URL = "https://api.test.example"
ACCOUNT = 19816
NOW = 1_800_000_000.0  # the fixed Unix time of every test clock

AAPL_ID = "70a34ea6-6465-438e-80a5-fabb1735256a"
CALL_ID = "c7f5ecb6-f52c-46b9-8b56-4417482612f3"
ORIGINAL_ID = "63987bde-0967-4f76-840b-cb9033ce2a74"


# -- fixtures: a scripted API and a client wired to it ----------------------------------------------

Reply = httpx.Response | BaseException | type[httpx.RequestError] | Callable[[httpx.Request], httpx.Response]


class ScriptedAPI:
    """A MockTransport handler answering each request with the next scripted reply, recording all."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.pop(0)
        if isinstance(reply, type):
            raise reply("scripted failure", request=request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def bodies(self) -> list[bytes]:
        return [request.content for request in self.requests]


def make_client(
    api: ScriptedAPI,
    sleeps: Waits | None = None,
    *,
    base_url: str = BASE_URL,
    jitter_draw: float = 0.0,
    **policy: Any,
) -> ClearStreetClient:
    retry = RetryPolicy(
        sleep=sleeps if sleeps is not None else Waits(),
        random=lambda: jitter_draw,
        clock=lambda: NOW,
        **policy,
    )
    return ClearStreetClient(api_key=API_KEY, base_url=base_url, transport=httpx.MockTransport(api), retry=retry)


def envelope(
    data: Any = None, *, error: dict[str, Any] | None = None, request_id: str = "req-1", **metadata: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"request_id": request_id, **metadata}}
    if data is not None:
        body["data"] = data
    if error is not None:
        body["error"] = error
    return body


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", **(headers or {})}
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def query(request: httpx.Request) -> str:
    return request.url.query.decode()


# -- wire rows: current (SDK 0.11.0) and seed-era shapes --------------------------------------------

CURRENT_POSITION = {
    "account_id": ACCOUNT,
    "available_quantity": "2",
    "avg_price": "3.10",
    "closing_price": "3.40",
    "closing_price_date": "2025-10-30",
    "cost_basis": "620.00",
    "daily_realized_pnl": "0.00",
    "daily_unrealized_pnl": "30.00",
    "daily_unrealized_pnl_pct": "4.41",
    "instrument_id": CALL_ID,
    "instrument_price": "3.55",
    "instrument_type": "OPTION",
    "market_value": "710.00",
    "position_type": "LONG",
    "quantity": "2",
    "symbol": "AAPL  251219C00150000",
    "underlying_instrument_id": AAPL_ID,
    "underlying_instrument_type": "COMMON_STOCK",
    "unrealized_pnl": "90.00",
    "unrealized_pnl_pct": "0.10",
}
SEED_POSITION = {  # seed 004: LONG_CALL, no daily_realized_pnl / underlying_instrument_type
    "account_id": ACCOUNT,
    "available_quantity": "100",
    "avg_price": "2.50",
    "closing_price": "2.70",
    "closing_price_date": "2025-10-30",
    "cost_basis": "2500.00",
    "instrument_id": "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe",
    "instrument_price": "2.72",
    "instrument_type": "OPTION",
    "market_value": "2700.00",
    "position_type": "LONG_CALL",
    "quantity": "10",
    "symbol": "AAPL250117C00190000",
    "underlying_instrument_id": AAPL_ID,
    "unrealized_pnl": "200.00",
}
SEED_PREFERRED = {
    "account_id": ACCOUNT,
    "available_quantity": "40",
    "instrument_id": "b1b2b3b4-c1c2-d1d2-e1e2-e3e4e5e6e7e8",
    "instrument_type": "PREFERRED_STOCK",
    "market_value": "1000.00",
    "position_type": "LONG",
    "quantity": "40",
    "symbol": "BAC-PL",
}
FUTURE_POSITION = {  # values and fields this code has never heard of
    "account_id": ACCOUNT,
    "available_quantity": "5",
    "instrument_id": "f1f2f3f4-a1a2-b1b2-c1c2-c3c4c5c6c7c8",
    "instrument_type": "WARRANT",
    "market_value": "12.50",
    "position_type": "LONG_WARRANT",
    "quantity": "5",
    "symbol": "XYZ.WS",
    "margin_requirement": "1.25",
    "tags": {"desk": "equities", "book": ["a", "b"]},
}


def order_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "id": "019c0b56-2119-7482-a80f-5a2a316524d9",
        "client_order_id": "close-position-20251031-0001",
        "account_id": ACCOUNT,
        "instrument_id": AAPL_ID,
        "instrument_type": "COMMON_STOCK",
        "symbol": "AAPL",
        "side": "SELL",
        "quantity": "100",
        "filled_quantity": "0",
        "leaves_quantity": "100",
        "order_type": "MARKET",
        "time_in_force": "DAY",
        "status": "PENDING_NEW",
        "venue": "XNMS",
        "average_fill_price": None,
        "limit_price": None,
        "stop_price": None,
        "created_at": "2025-10-31T14:01:15.000000000Z",
        "updated_at": "2025-10-31T14:01:15.000000000Z",
    }
    row.update(overrides)
    return row


def instruction_row(
    key: str | None, *, id: str = ORIGINAL_ID, status: str = "SENT", **overrides: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id,
        "account_id": ACCOUNT,
        "instruction_type": "EXERCISE",
        "instrument_id": CALL_ID,
        "quantity": "1",
        "status": status,
        "symbol": "AAPL  251219C00150000",
        "accepted_quantity": None,
        "created_at": "2025-12-18T15:02:11Z",
        "updated_at": "2025-12-18T15:02:11Z",
        "rejection": None,
        "rejection_reason": None,
        "underlying_instrument_id": AAPL_ID,
    }
    if key is not None:
        row["client_instruction_id"] = key
    row.update(overrides)
    return row


def duplicate_row(key: str, existing_id: str = ORIGINAL_ID, **overrides: Any) -> dict[str, Any]:
    return instruction_row(
        key,
        id=NIL_UUID,
        status="REJECTED",
        created_at=None,
        updated_at=None,
        rejection_reason="Duplicate exercise instruction",
        rejection={
            "reason": "DUPLICATE_INSTRUCTION",
            "domain": "com.clearstreet.oems.exercise",
            "description": "Duplicate exercise instruction",
            "metadata": {"existing_id": existing_id},
        },
        **overrides,
    )


def dne_rejected_row(key: str) -> dict[str, Any]:
    return instruction_row(
        key,
        id=NIL_UUID,
        status="REJECTED",
        instruction_type="DO_NOT_EXERCISE",
        created_at=None,
        updated_at=None,
        rejection_reason="DO_NOT_EXERCISE must be submitted on the contract's expiration date",
        rejection={
            "reason": "DNE_NOT_ON_EXPIRY",
            "domain": "com.clearstreet.oems.exercise",
            "description": "DO_NOT_EXERCISE must be submitted on the contract's expiration date",
            "metadata": {"expiry": "2025-12-19", "business_date": "2025-12-18"},
        },
    )


def clearing_rejected_row(key: str) -> dict[str, Any]:
    return instruction_row(
        key,
        id=NIL_UUID,
        status="REJECTED",
        created_at=None,
        updated_at=None,
        rejection_reason="Clearing service unavailable",
        rejection={
            "reason": "CLEARING_UNAVAILABLE",
            "domain": "com.clearstreet.oems.clearing",
            "description": "Clearing service unavailable",
            "metadata": {},
        },
    )


def exercise(
    quantity: str = "1", key: str | None = None, kind: InstructionType = InstructionType.EXERCISE
) -> InstructionRequest:
    return InstructionRequest(
        instruction_type=kind, instrument_id=CALL_ID, quantity=Decimal(quantity), client_instruction_id=key
    )


def sent_keys(request: httpx.Request) -> list[str]:
    return [row["client_instruction_id"] for row in json.loads(request.content)]


# -- what each operation sends -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_positions_sends_filters_sort_and_paging_as_the_api_names_them() -> None:
    api = ScriptedAPI(reply(200, envelope([CURRENT_POSITION])))
    async with make_client(api) as client:
        await client.positions.page(
            ACCOUNT,
            instrument_ids=["AAPL", "AAPL  251219C00150000", AAPL_ID],
            sort_by=SortBy.MARKET_VALUE,
            sort_direction="DESC",
            page_size=50,
            page_token="AAAAAAAAAGQAAAAAAAAAZA==",
        )
    (request,) = api.requests
    assert request.method == "GET"
    assert request.url.path == f"/v1/accounts/{ACCOUNT}/positions"
    assert query(request) == (
        f"instrument_ids=AAPL%2CAAPL++251219C00150000%2C{AAPL_ID}"
        "&page_size=50&page_token=AAAAAAAAAGQAAAAAAAAAZA%3D%3D&sort_by=MARKET_VALUE&sort_direction=DESC"
    )
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("clearstreet-positions-mcp/")
    assert "content-type" not in request.headers
    assert request.content == b""


@pytest.mark.anyio
async def test_get_positions_without_arguments_sends_no_query() -> None:
    api = ScriptedAPI(reply(200, envelope([])))
    async with make_client(api) as client:
        page = await client.positions.page(str(ACCOUNT))
    assert str(api.requests[0].url) == f"{BASE_URL}/v1/accounts/{ACCOUNT}/positions"
    assert page.positions == []
    assert page.next_page_token is None


@pytest.mark.anyio
async def test_a_base_url_with_a_path_prefix_is_kept() -> None:
    api = ScriptedAPI(reply(200, envelope([])), reply(200, envelope([])))
    async with make_client(api, base_url="http://127.0.0.1:8080/cs") as client:
        await client.positions.page(ACCOUNT)
    async with make_client(api, base_url="http://127.0.0.1:8080/cs/") as client:
        await client.positions.page(ACCOUNT)
    expected = f"http://127.0.0.1:8080/cs/v1/accounts/{ACCOUNT}/positions"
    assert [str(r.url) for r in api.requests] == [expected, expected]


@pytest.mark.anyio
async def test_close_position_percent_encodes_the_instrument_as_one_path_segment() -> None:
    api = ScriptedAPI(*[reply(200, envelope([order_row()])) for _ in range(3)])
    async with make_client(api) as client:
        await client.positions.close(ACCOUNT, "AAPL  250117C00190000")
        await client.positions.close(ACCOUNT, "BRK/B")
        await client.positions.close(ACCOUNT, "a:b@c~d")
    assert [r.url.raw_path for r in api.requests] == [
        f"/v1/accounts/{ACCOUNT}/positions/AAPL%20%20250117C00190000".encode(),
        f"/v1/accounts/{ACCOUNT}/positions/BRK%2FB".encode(),
        f"/v1/accounts/{ACCOUNT}/positions/a:b@c~d".encode(),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("bad_id", ["", ".", ".."])
async def test_empty_and_dot_segment_ids_are_refused_before_sending(bad_id: str) -> None:
    api = ScriptedAPI()
    async with make_client(api) as client:
        with pytest.raises(ValueError):
            await client.positions.close(ACCOUNT, bad_id)
        with pytest.raises(ValueError):
            await client.instructions.cancel(ACCOUNT, bad_id)
    assert api.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("bad_account", ["", "abc", "-1", "12 3", "1/2"])
async def test_account_ids_must_be_numeric(bad_account: str) -> None:
    api = ScriptedAPI()
    async with make_client(api) as client:
        with pytest.raises(ValueError):
            await client.positions.page(bad_account)
        with pytest.raises(TypeError):
            await client.positions.page(True)
    assert api.requests == []


@pytest.mark.anyio
async def test_query_arguments_are_checked_before_sending() -> None:
    api = ScriptedAPI()
    async with make_client(api) as client:
        with pytest.raises(TypeError):
            await client.positions.page(ACCOUNT, instrument_ids="AAPL")
        with pytest.raises(ValueError):
            await client.positions.page(ACCOUNT, instrument_ids=[])
        with pytest.raises(ValueError):
            await client.positions.page(ACCOUNT, instrument_ids=["AAPL,TSLA"])
        for bad_size in (0, 1001):
            with pytest.raises(ValueError):
                await client.positions.page(ACCOUNT, page_size=bad_size)
        with pytest.raises(ValueError):
            client.positions.pages(ACCOUNT, page_size=0)
    assert api.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cancel_orders", "body"),
    [(None, b"{}"), (True, b'{"cancel_orders":true}'), (False, b'{"cancel_orders":false}')],
)
async def test_close_endpoints_send_a_json_object_body(cancel_orders: bool | None, body: bytes) -> None:
    api = ScriptedAPI(reply(200, envelope([order_row()])), reply(200, envelope([order_row()])))
    async with make_client(api) as client:
        await client.positions.close(ACCOUNT, "AAPL", cancel_orders=cancel_orders)
        await client.positions.close_all(ACCOUNT, cancel_orders=cancel_orders)
    one, every = api.requests
    assert (one.method, one.url.path) == ("DELETE", f"/v1/accounts/{ACCOUNT}/positions/AAPL")
    assert (every.method, every.url.path) == ("DELETE", f"/v1/accounts/{ACCOUNT}/positions")
    for request in api.requests:
        assert request.content == body
        assert request.headers["content-type"] == "application/json"
        assert request.url.query == b""


@pytest.mark.anyio
async def test_close_refuses_a_non_boolean_cancel_orders() -> None:
    api = ScriptedAPI()
    async with make_client(api) as client:
        with pytest.raises(TypeError):
            await client.positions.close_all(ACCOUNT, cancel_orders="yes")  # type: ignore[arg-type]
    assert api.requests == []


@pytest.mark.anyio
async def test_submit_sends_a_bare_array_with_a_key_on_every_row() -> None:
    api = ScriptedAPI(lambda request: reply(200, envelope([instruction_row(k) for k in sent_keys(request)])))
    async with make_client(api) as client:
        result = await client.instructions.submit(
            ACCOUNT,
            [
                exercise("1", key="ex-20251219-aapl-1"),
                exercise("2.0", kind=InstructionType.DO_NOT_EXERCISE),
            ],
        )
    (request,) = api.requests
    assert (request.method, request.url.path) == ("POST", f"/v1/accounts/{ACCOUNT}/positions/instructions")
    assert request.headers["content-type"] == "application/json"
    generated = sent_keys(request)[1]
    assert re.fullmatch(r"cs-mcp-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", generated)
    assert request.content == (
        b'[{"instruction_type":"EXERCISE","instrument_id":"' + CALL_ID.encode() + b'","quantity":"1",'
        b'"client_instruction_id":"ex-20251219-aapl-1"},'
        b'{"instruction_type":"DO_NOT_EXERCISE","instrument_id":"' + CALL_ID.encode() + b'","quantity":"2.0",'
        b'"client_instruction_id":"' + generated.encode() + b'"}]'
    )
    assert result.status_code == 200
    assert [row.client_instruction_id for row in result.instructions] == ["ex-20251219-aapl-1", generated]


@pytest.mark.anyio
async def test_submit_checks_the_batch_before_sending() -> None:
    api = ScriptedAPI()
    async with make_client(api) as client:
        with pytest.raises(ValueError, match="at least one"):
            await client.instructions.submit(ACCOUNT, [])
        with pytest.raises(ValueError, match="twice"):
            await client.instructions.submit(ACCOUNT, [exercise(key="k"), exercise(key="k")])
        with pytest.raises(ValueError, match="positive"):
            await client.instructions.submit(ACCOUNT, [exercise("0")])
        with pytest.raises(ValueError, match="empty"):
            await client.instructions.submit(ACCOUNT, [exercise(key="")])
        with pytest.raises(TypeError):
            not_a_request: Any = {"instruction_type": "EXERCISE"}
            await client.instructions.submit(ACCOUNT, [not_a_request])
    assert api.requests == []


@pytest.mark.anyio
async def test_get_instructions_sends_both_filters_form_encoded() -> None:
    api = ScriptedAPI(reply(200, envelope([instruction_row("k1")])))
    async with make_client(api) as client:
        result = await client.instructions.get(
            ACCOUNT, instrument_id="AAPL  250117C00190000", underlying_instrument_id="AAPL"
        )
    (request,) = api.requests
    assert request.url.path == f"/v1/accounts/{ACCOUNT}/positions/instructions"
    assert query(request) == "instrument_id=AAPL++250117C00190000&underlying_instrument_id=AAPL"
    assert result.request_id == "req-1"
    assert result.instructions[0].client_instruction_id == "k1"


@pytest.mark.anyio
async def test_cancel_sends_no_body_and_returns_the_single_instruction() -> None:
    row = instruction_row("k1", status="CANCEL_REQUESTED")
    api = ScriptedAPI(reply(200, envelope(row, request_id="req-c")))
    async with make_client(api) as client:
        result = await client.instructions.cancel(ACCOUNT, ORIGINAL_ID)
    (request,) = api.requests
    assert (request.method, request.url.path) == (
        "DELETE",
        f"/v1/accounts/{ACCOUNT}/positions/instructions/{ORIGINAL_ID}",
    )
    assert request.content == b""
    assert "content-type" not in request.headers
    assert result.instruction.status is InstructionStatus.CANCEL_REQUESTED
    assert result.request_id == "req-c"
    assert result.already_final is False


# -- reading both shapes ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_positions_of_both_eras_and_unknown_values_are_read_and_kept() -> None:
    rows = [CURRENT_POSITION, SEED_POSITION, SEED_PREFERRED, FUTURE_POSITION]
    api = ScriptedAPI(reply(200, envelope(rows, page_number=1, total_items=4, total_pages=1)))
    async with make_client(api) as client:
        page = await client.positions.page(ACCOUNT)
    current, seed, preferred, future = page.positions
    assert current.position_type is PositionType.LONG
    assert current.underlying_instrument_type is SecurityType.COMMON_STOCK
    assert current.unrealized_pnl_pct == Decimal("0.10")
    assert str(current.unrealized_pnl_pct) == "0.10"
    assert seed.position_type is PositionType.LONG_CALL
    assert seed.daily_realized_pnl is None
    assert preferred.instrument_type is SecurityType.PREFERRED_STOCK
    assert future.instrument_type == "WARRANT"
    assert future.position_type == "LONG_WARRANT"
    assert future.model_extra == {
        "margin_requirement": "1.25",
        "tags": {"desk": "equities", "book": ["a", "b"]},
    }
    # nothing the upstream sent is lost: every row serialises back to exactly what came in
    for model, raw in zip(page.positions, rows, strict=True):
        assert model.model_dump(mode="json", exclude_unset=True) == raw
    assert page.metadata.total_items == 4
    assert page.request_id == "req-1"


@pytest.mark.anyio
async def test_orders_of_both_eras_are_read() -> None:
    seed_order = order_row(side="SELL_SHORT", time_in_force="AT_THE_OPENING", instrument_type="PREFERRED_STOCK")
    del seed_order["client_order_id"]  # the seed examples omit it
    current_order = order_row(
        status="QUEUED",
        time_in_force="AT_OPEN",
        instrument_id=None,
        instrument_type=None,
        symbol=None,
        strategy={"type": "DMA", "destination": "XNAS", "new_key": 1},
        legs=[{"symbol": "AAPL", "ratio": 1}],
        average_fill_price="151.10",
    )
    future_order = order_row(side="SELL_SHORT_EXEMPT", status="PARKED", time_in_force="AT_CROSSING")
    api = ScriptedAPI(reply(200, envelope([seed_order, current_order, future_order], request_id="req-close")))
    async with make_client(api) as client:
        result = await client.positions.close_all(ACCOUNT)
    seed, current, future = result.orders
    assert result.request_id == "req-close"
    assert seed.side is Side.SELL_SHORT
    assert seed.time_in_force is TimeInForce.AT_THE_OPENING
    assert seed.instrument_type is SecurityType.PREFERRED_STOCK
    assert seed.client_order_id is None
    assert current.status is OrderStatus.QUEUED
    assert current.time_in_force is TimeInForce.AT_OPEN
    assert current.symbol is None
    assert current.average_fill_price == Decimal("151.10")
    assert current.model_extra == {"legs": [{"symbol": "AAPL", "ratio": 1}]}
    assert future.side == "SELL_SHORT_EXEMPT"
    assert future.status == "PARKED"
    dumped = current.model_dump(mode="json")
    assert dumped["average_fill_price"] == "151.10"
    assert dumped["strategy"] == {"type": "DMA", "destination": "XNAS", "new_key": 1}
    assert dumped["legs"] == [{"symbol": "AAPL", "ratio": 1}]
    assert future.model_dump(mode="json")["side"] == "SELL_SHORT_EXEMPT"


@pytest.mark.anyio
async def test_instructions_of_both_eras_are_read() -> None:
    seed_row = instruction_row(
        None, status="ENGINE_REJECTED", rejection_reason="Engine refused", instruction_id="ui-20260424-001"
    )
    del seed_row["rejection"]
    del seed_row["underlying_instrument_id"]
    current_row = dne_rejected_row("ex-2")
    future_row = instruction_row("ex-3", status="PENDING_CLEARING", venue_ref="OCC-1")
    api = ScriptedAPI(reply(200, envelope([seed_row, current_row, future_row])))
    async with make_client(api) as client:
        result = await client.instructions.get(ACCOUNT)
    seed, current, future = result.instructions
    assert seed.client_instruction_id == "ui-20260424-001"
    assert seed.status is InstructionStatus.ENGINE_REJECTED
    assert seed.rejection is None
    assert seed.rejection_reason == "Engine refused"
    assert current.client_instruction_id == "ex-2"
    assert current.rejection is not None
    assert current.rejection.reason == "DNE_NOT_ON_EXPIRY"
    assert current.rejection.metadata == {"expiry": "2025-12-19", "business_date": "2025-12-18"}
    assert not current.persisted
    assert future.status == "PENDING_CLEARING"
    assert future.model_extra == {"venue_ref": "OCC-1"}
    assert future.model_dump(mode="json")["status"] == "PENDING_CLEARING"


# -- pagination ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_pages_are_followed_resending_filters_and_sort_with_each_token() -> None:
    api = ScriptedAPI(
        reply(200, envelope([CURRENT_POSITION], next_page_token="T2", page_number=1, total_pages=3)),
        reply(200, envelope([SEED_POSITION], next_page_token="T3", previous_page_token="T1", page_number=2)),
        reply(200, envelope([SEED_PREFERRED], next_page_token=None, previous_page_token="T2", page_number=3)),
    )
    async with make_client(api) as client:
        positions = await client.positions.all(
            ACCOUNT,
            instrument_ids=["AAPL", "BAC-PL"],
            sort_by="SYMBOL",
            sort_direction=SortDirection.ASC,
            page_size=1,
        )
    assert [p.symbol for p in positions] == ["AAPL  251219C00150000", "AAPL250117C00190000", "BAC-PL"]
    assert [query(r) for r in api.requests] == [
        "instrument_ids=AAPL%2CBAC-PL&page_size=1&sort_by=SYMBOL&sort_direction=ASC",
        "instrument_ids=AAPL%2CBAC-PL&page_token=T2&sort_by=SYMBOL&sort_direction=ASC",
        "instrument_ids=AAPL%2CBAC-PL&page_token=T3&sort_by=SYMBOL&sort_direction=ASC",
    ]


@pytest.mark.anyio
async def test_pages_stop_on_a_missing_or_empty_token() -> None:
    api = ScriptedAPI(
        reply(200, envelope([CURRENT_POSITION], next_page_token="T2")),
        reply(200, envelope([SEED_POSITION], next_page_token="")),
        reply(200, envelope([CURRENT_POSITION])),
    )
    async with make_client(api) as client:
        pages = [page async for page in client.positions.pages(ACCOUNT)]
        assert len(pages) == 2
        assert len(await client.positions.all(ACCOUNT)) == 1
    assert len(api.requests) == 3


@pytest.mark.anyio
async def test_a_token_loop_is_detected_instead_of_followed_forever() -> None:
    api = ScriptedAPI(
        reply(200, envelope([CURRENT_POSITION], next_page_token="A")),
        reply(200, envelope([CURRENT_POSITION], next_page_token="B")),
        reply(200, envelope([CURRENT_POSITION], next_page_token="A", request_id="req-loop")),
    )
    async with make_client(api) as client:
        with pytest.raises(PaginationLoopError, match="req-loop"):
            await client.positions.all(ACCOUNT)
    assert len(api.requests) == 3


# -- submit batches: 207 and rejected as a whole ------------------------------------------------------


@pytest.mark.anyio
async def test_a_207_is_a_result_with_sent_and_rejected_rows() -> None:
    body = envelope(
        [instruction_row("ex-1"), dne_rejected_row("dne-1")],
        error={"code": 400, "message": "DO_NOT_EXERCISE must be submitted on the contract's expiration date"},
        request_id="req-207",
    )
    api = ScriptedAPI(reply(207, body))
    async with make_client(api) as client:
        result = await client.instructions.submit(
            ACCOUNT, [exercise(key="ex-1"), exercise(key="dne-1", kind=InstructionType.DO_NOT_EXERCISE)]
        )
    assert result.status_code == 207
    assert result.request_id == "req-207"
    assert result.error is not None and result.error.code == 400
    assert [row.client_instruction_id for row in result.sent] == ["ex-1"]
    assert [row.client_instruction_id for row in result.rejected] == ["dne-1"]
    assert result.rejected[0].rejection is not None
    assert result.rejected[0].rejection.reason == "DNE_NOT_ON_EXPIRY"
    assert result.recovered == ()
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_a_seed_era_207_with_engine_rejected_rows() -> None:
    engine_rejected = instruction_row(
        None, id=NIL_UUID, status="ENGINE_REJECTED", instruction_id="ui-2", rejection_reason="no"
    )
    del engine_rejected["rejection"]
    sent = instruction_row(None, instruction_id="ui-1")
    body = envelope([sent, engine_rejected], error={"code": 400, "message": "no"})
    api = ScriptedAPI(reply(207, body))
    async with make_client(api) as client:
        result = await client.instructions.submit(ACCOUNT, [exercise(key="ui-1"), exercise(key="ui-2")])
    assert [row.client_instruction_id for row in result.sent] == ["ui-1"]
    assert [row.client_instruction_id for row in result.rejected] == ["ui-2"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "row", "message"),
    [
        (400, dne_rejected_row, "DO_NOT_EXERCISE must be submitted on the contract's expiration date"),
        (409, duplicate_row, "Duplicate exercise instruction"),
        (503, clearing_rejected_row, "Clearing service unavailable"),
    ],
)
async def test_a_batch_rejected_as_a_whole_raises_with_every_row(
    status: int, row: Callable[[str], dict[str, Any]], message: str
) -> None:
    error_body = {"code": status, "message": message}
    body = envelope([row("k-1"), row("k-2")], error=error_body, request_id="req-all")
    api = ScriptedAPI(reply(status, body))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise(key="k-1"), exercise(key="k-2")])
    error = caught.value
    assert (error.status_code, error.code, error.message) == (status, status, message)
    assert error.request_id == "req-all"
    assert [r.client_instruction_id for r in error.rows] == ["k-1", "k-2"]
    assert all(r.status is InstructionStatus.REJECTED for r in error.rows)
    assert len(api.requests) == 1  # a per-row answer is final: never retried, never re-read


@pytest.mark.anyio
async def test_a_seed_era_rejection_without_rows_raises() -> None:
    error = {"code": 400, "message": "Order quantity must be greater than zero"}
    api = ScriptedAPI(reply(400, envelope(error=error)))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise(key="k-1")])
    assert caught.value.rows == []
    assert caught.value.message == "Order quantity must be greater than zero"


# -- retry timing ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_429_with_retry_after_then_success_waits_what_the_server_asked() -> None:
    sleeps = Waits()
    api = ScriptedAPI(
        reply(429, envelope(error={"code": 429, "message": "Too many requests"}), {"Retry-After": "7"}),
        reply(200, envelope([CURRENT_POSITION], request_id="req-ok")),
    )
    async with make_client(api, sleeps) as client:
        page = await client.positions.page(ACCOUNT)
    assert sleeps == [7.0]
    assert page.request_id == "req-ok"
    assert len(api.requests) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": email.utils.formatdate(NOW + 12, usegmt=True)}, 12.0),
        ({"Retry-After": "600"}, 60.0),  # capped at max_retry_after
        ({"Retry-After": "0"}, 0.5),  # no usable hint: backoff
        ({"Retry-After": "soon"}, 0.5),
        ({"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.5),
    ],
)
async def test_retry_hints(headers: dict[str, str], expected: float) -> None:
    sleeps = Waits()
    api = ScriptedAPI(reply(503, envelope(error={"code": 503, "message": "busy"}), headers), reply(200, envelope([])))
    async with make_client(api, sleeps) as client:
        await client.instructions.get(ACCOUNT)
    assert sleeps == pytest.approx([expected])


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after": "3"}), now=NOW) == 3.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "20"}), now=NOW) == 0.02
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "nan", "retry-after": "4"}), now=NOW) == 4.0
    dated = httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert parse_retry_after(dated, now=1445412480.0 - 5) == 5.0
    assert parse_retry_after(httpx.Headers({}), now=NOW) is None
    assert parse_retry_after(httpx.Headers({"retry-after": "later"}), now=NOW) is None


def test_backoff_is_exponential_capped_and_jittered_down_by_at_most_a_quarter() -> None:
    highest = RetryPolicy(random=lambda: 0.0)
    lowest = RetryPolicy(random=lambda: 0.999999)
    assert [highest.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert [round(lowest.backoff(n), 4) for n in range(6)] == [0.375, 0.75, 1.5, 3.0, 6.0, 6.0]
    assert highest.backoff(10_000) == 8.0
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


@pytest.mark.anyio
async def test_reads_retry_502_503_504_with_backoff_then_give_up() -> None:
    sleeps = Waits()
    api = ScriptedAPI(
        reply(502, envelope(error={"code": 502, "message": "bad gateway"})),
        reply(504, envelope(error={"code": 504, "message": "gateway timeout"})),
        reply(503, envelope(error={"code": 503, "message": "Service unavailable"}, request_id="req-last")),
    )
    async with make_client(api, sleeps, jitter_draw=0.5) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.page(ACCOUNT)
    assert len(api.requests) == 3
    assert sleeps == [0.5 * 0.875, 1.0 * 0.875]
    assert (caught.value.status_code, caught.value.request_id) == (503, "req-last")


@pytest.mark.anyio
async def test_a_read_retries_through_one_500() -> None:
    """A GET is safe to repeat, so an internal error is retried like any other 5xx (README.md, the confirmation model)."""
    sleeps = Waits()
    api = ScriptedAPI(
        reply(500, envelope(error={"code": 500, "message": "Internal error"})), reply(200, envelope(data=[]))
    )
    async with make_client(api, sleeps, jitter_draw=0.5) as client:
        page = await client.positions.page(ACCOUNT)
    assert page.positions == []
    assert len(api.requests) == 2 and len(sleeps) == 1


@pytest.mark.anyio
async def test_reads_retry_timeouts_and_dropped_connections() -> None:
    sleeps = Waits()
    api = ScriptedAPI(httpx.ReadTimeout, httpx.RemoteProtocolError, reply(200, envelope([])))
    async with make_client(api, sleeps) as client:
        page = await client.positions.page(ACCOUNT)
    assert page.positions == []
    assert len(api.requests) == 3
    assert sleeps == [0.5, 1.0]


@pytest.mark.anyio
async def test_reads_give_up_with_a_connection_error_saying_whether_it_timed_out() -> None:
    api = ScriptedAPI(httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout)
    async with make_client(api) as client:
        with pytest.raises(ClearStreetConnectionError) as caught:
            await client.instructions.get(ACCOUNT)
    assert caught.value.timed_out is True
    assert caught.value.request_sent is True
    assert "3 attempt(s)" in str(caught.value)
    api = ScriptedAPI(httpx.ConnectError, httpx.ConnectError, httpx.ConnectError)
    async with make_client(api) as client:
        with pytest.raises(ClearStreetConnectionError) as caught:
            await client.positions.page(ACCOUNT)
    assert (caught.value.timed_out, caught.value.request_sent) == (False, False)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_reads_do_not_retry_other_statuses(status: int) -> None:
    api = ScriptedAPI(reply(status, envelope(error={"code": status, "message": f"status {status}"})))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.page(ACCOUNT)
    assert caught.value.status_code == status
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_the_server_can_veto_a_retry() -> None:
    down = envelope(error={"code": 503, "message": "down"})
    api = ScriptedAPI(reply(503, down, {"x-should-retry": "false"}))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError):
            await client.positions.page(ACCOUNT)
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_max_retries_zero_means_one_attempt() -> None:
    api = ScriptedAPI(reply(429, envelope(error={"code": 429, "message": "slow down"}), {"Retry-After": "3"}))
    async with make_client(api, max_retries=0) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.page(ACCOUNT)
    assert caught.value.retry_after == 3.0
    assert len(api.requests) == 1


# -- closes are never repeated after an ambiguous failure ---------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_on_a_close_is_not_retried_and_the_outcome_is_unknown(status: int) -> None:
    sleeps = Waits()
    body = envelope(error={"code": status, "message": "Internal error"}, request_id="req-5xx")
    api = ScriptedAPI(reply(status, body))
    async with make_client(api, sleeps) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.positions.close(ACCOUNT, "AAPL")
    assert len(api.requests) == 1
    assert sleeps == []
    assert (caught.value.status_code, caught.value.request_id) == (status, "req-5xx")
    assert "req-5xx" in str(caught.value) and str(status) in str(caught.value)
    assert isinstance(caught.value.__cause__, APIStatusError)


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError])
async def test_a_close_lost_after_sending_is_not_retried(failure: type[httpx.RequestError]) -> None:
    api = ScriptedAPI(failure)
    async with make_client(api) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.positions.close_all(ACCOUNT, cancel_orders=True)
    assert len(api.requests) == 1
    assert caught.value.status_code is None
    assert "Re-read positions" in str(caught.value)


@pytest.mark.anyio
async def test_a_close_is_retried_after_429_and_after_a_connection_that_never_opened() -> None:
    sleeps = Waits()
    api = ScriptedAPI(
        reply(429, envelope(error={"code": 429, "message": "Too many requests"}), {"Retry-After": "2"}),
        httpx.ConnectError,
        reply(200, envelope([order_row()], request_id="req-closed")),
    )
    async with make_client(api, sleeps) as client:
        result = await client.positions.close(ACCOUNT, "AAPL", cancel_orders=False)
    assert [r.content for r in api.requests] == [b'{"cancel_orders":false}'] * 3
    assert sleeps == [2.0, 1.0]
    assert result.request_id == "req-closed"
    assert result.orders[0].side is Side.SELL
    assert result.orders[0].quantity == Decimal("100")


@pytest.mark.anyio
async def test_a_close_that_never_connected_is_a_connection_error_not_an_unknown_outcome() -> None:
    api = ScriptedAPI(httpx.ConnectError, httpx.ConnectTimeout, httpx.ConnectError)
    async with make_client(api) as client:
        with pytest.raises(ClearStreetConnectionError) as caught:
            await client.positions.close_all(ACCOUNT)
    assert caught.value.request_sent is False
    assert len(api.requests) == 3


@pytest.mark.anyio
async def test_a_close_refused_with_4xx_is_an_api_error() -> None:
    body = envelope(error={"code": 404, "message": "Position not found"}, request_id="req-404")
    api = ScriptedAPI(reply(404, body))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.close(ACCOUNT, "ZZZZ")
    error = caught.value
    assert (error.status_code, error.message, error.request_id) == (404, "Position not found", "req-404")
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_a_close_answered_200_with_an_unreadable_body_is_an_unknown_outcome() -> None:
    api = ScriptedAPI(httpx.Response(200, text="<html>OK</html>", headers={"Content-Type": "text/html"}))
    async with make_client(api) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.positions.close_all(ACCOUNT)
    assert caught.value.status_code == 200
    assert "not JSON" in str(caught.value)
    assert len(api.requests) == 1


# -- submit retries: same keys, duplicates of our own earlier attempt are the originals --------------


@pytest.mark.anyio
async def test_submit_retried_after_a_timeout_reuses_its_keys_and_reports_the_original() -> None:
    sleeps = Waits()
    posts: list[list[str]] = []

    def all_duplicates(request: httpx.Request) -> httpx.Response:
        keys = sent_keys(request)
        posts.append(keys)
        return reply(
            409,
            envelope(
                [duplicate_row(keys[0], ORIGINAL_ID)],
                error={"code": 409, "message": "Duplicate exercise instruction"},
                request_id="req-409",
            ),
        )

    def listing(request: httpx.Request) -> httpx.Response:
        original = instruction_row(posts[0][0], status="ACCEPTED", accepted_quantity="1")
        other = instruction_row("someone-else", id="019c0000-0000-7000-8000-000000000001")
        return reply(200, envelope([other, original], request_id="req-list"))

    api = ScriptedAPI(httpx.ReadTimeout, all_duplicates, listing)
    async with make_client(api, sleeps) as client:
        result = await client.instructions.submit(ACCOUNT, [exercise("1")])

    first, second, read_back = api.requests
    assert first.content == second.content  # the very same body, the very same key
    assert (read_back.method, read_back.url.path, query(read_back)) == (
        "GET",
        f"/v1/accounts/{ACCOUNT}/positions/instructions",
        "",
    )
    key = posts[0][0]
    assert result.status_code == 200
    assert result.error is None
    assert result.recovered == (key,)
    assert result.request_id == "req-409"
    (row,) = result.instructions
    assert (row.id, row.client_instruction_id, row.status) == (ORIGINAL_ID, key, InstructionStatus.ACCEPTED)
    assert result.rejected == []
    assert sleeps == [0.5]


@pytest.mark.anyio
async def test_a_retry_rejecting_every_row_mixes_recovered_originals_and_real_rejections() -> None:
    def partly_duplicates(request: httpx.Request) -> httpx.Response:
        ex_key, dne_key = sent_keys(request)
        return reply(
            400,
            envelope(
                [duplicate_row(ex_key), dne_rejected_row(dne_key)],
                error={"code": 400, "message": "DO_NOT_EXERCISE must be submitted on expiration day"},
            ),
        )

    def listing(request: httpx.Request) -> httpx.Response:
        return reply(200, envelope([instruction_row("caller-ex-1")]))

    api = ScriptedAPI(
        reply(502, {"message": "Bad Gateway"}),
        partly_duplicates,
        listing,
    )
    async with make_client(api) as client:
        result = await client.instructions.submit(
            ACCOUNT,
            [exercise(key="caller-ex-1"), exercise(key="caller-dne-1", kind=InstructionType.DO_NOT_EXERCISE)],
        )
    assert [r.method for r in api.requests] == ["POST", "POST", "GET"]
    assert result.status_code == 207
    assert result.recovered == ("caller-ex-1",)
    assert [row.client_instruction_id for row in result.sent] == ["caller-ex-1"]
    assert result.sent[0].id == ORIGINAL_ID
    assert [row.client_instruction_id for row in result.rejected] == ["caller-dne-1"]
    assert result.error is not None and result.error.code == 400


@pytest.mark.anyio
async def test_a_duplicate_of_a_caller_key_on_the_first_attempt_stays_a_rejection() -> None:
    body = envelope(
        [instruction_row("fresh"), duplicate_row("used-yesterday")],
        error={"code": 409, "message": "Duplicate exercise instruction"},
    )
    api = ScriptedAPI(reply(207, body))
    async with make_client(api) as client:
        result = await client.instructions.submit(ACCOUNT, [exercise(key="fresh"), exercise(key="used-yesterday")])
    assert len(api.requests) == 1  # no read-back
    assert result.status_code == 207
    assert result.recovered == ()
    assert [row.client_instruction_id for row in result.rejected] == ["used-yesterday"]


@pytest.mark.anyio
async def test_a_409_on_the_first_attempt_is_not_retried_and_not_recovered() -> None:
    body = envelope([duplicate_row("used-yesterday")], error={"code": 409, "message": "Duplicate"})
    api = ScriptedAPI(reply(409, body))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise(key="used-yesterday")])
    assert caught.value.status_code == 409
    assert caught.value.rows[0].rejection is not None
    assert caught.value.rows[0].rejection.metadata == {"existing_id": ORIGINAL_ID}
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_a_caller_key_duplicate_after_only_a_429_stays_a_rejection() -> None:
    api = ScriptedAPI(
        reply(429, envelope(error={"code": 429, "message": "slow down"}), {"Retry-After": "1"}),
        reply(409, envelope([duplicate_row("used-yesterday")], error={"code": 409, "message": "Duplicate"})),
    )
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise(key="used-yesterday")])
    assert caught.value.status_code == 409
    assert [r.method for r in api.requests] == ["POST", "POST"]


@pytest.mark.anyio
async def test_a_seed_era_409_without_rows_after_a_lost_attempt_recovers_every_row() -> None:
    seed_original = instruction_row(None, instruction_id="ui-20260424-001")
    del seed_original["rejection"]
    api = ScriptedAPI(
        httpx.ReadError,
        reply(409, envelope(error={"code": 409, "message": "Duplicate exercise instruction"})),
        reply(200, envelope([seed_original])),
    )
    async with make_client(api) as client:
        result = await client.instructions.submit(ACCOUNT, [exercise(key="ui-20260424-001")])
    assert result.status_code == 200
    assert result.recovered == ("ui-20260424-001",)
    assert result.instructions[0].id == ORIGINAL_ID


@pytest.mark.anyio
async def test_a_duplicate_whose_original_cannot_be_found_is_an_unknown_outcome() -> None:
    def duplicate(request: httpx.Request) -> httpx.Response:
        rows = [duplicate_row(sent_keys(request)[0])]
        return reply(409, envelope(rows, error={"code": 409, "message": "dup"}))

    api = ScriptedAPI(httpx.ReadTimeout, duplicate, reply(200, envelope([])))
    async with make_client(api) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise()])
    assert caught.value.client_instruction_ids == tuple(sent_keys(api.requests[0]))


@pytest.mark.anyio
async def test_a_duplicate_of_a_different_instruction_stays_a_rejection() -> None:
    def duplicate(request: httpx.Request) -> httpx.Response:
        return reply(409, envelope([duplicate_row("k-1")], error={"code": 409, "message": "dup"}))

    other_quantity = instruction_row("k-1", quantity="5")
    api = ScriptedAPI(httpx.ReadTimeout, duplicate, reply(200, envelope([other_quantity])))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise("1", key="k-1")])
    assert caught.value.status_code == 409


@pytest.mark.anyio
async def test_a_submit_503_without_rows_is_retried_with_the_same_keys() -> None:
    sleeps = Waits()
    api = ScriptedAPI(
        reply(503, envelope(error={"code": 503, "message": "unavailable"}), {"retry-after-ms": "100"}),
        lambda request: reply(200, envelope([instruction_row(k) for k in sent_keys(request)])),
    )
    async with make_client(api, sleeps) as client:
        result = await client.instructions.submit(ACCOUNT, [exercise(), exercise("3")])
    assert api.requests[0].content == api.requests[1].content
    assert sleeps == [0.1]
    assert result.status_code == 200
    assert len(result.sent) == 2


@pytest.mark.anyio
async def test_a_submit_that_never_gets_an_answer_is_an_unknown_outcome_listing_its_keys() -> None:
    api = ScriptedAPI(httpx.ReadTimeout, httpx.ReadTimeout, httpx.ReadTimeout)
    async with make_client(api) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise(key="mine-1"), exercise()])
    assert len(api.requests) == 3
    assert len({r.content for r in api.requests}) == 1
    keys = caught.value.client_instruction_ids
    assert keys[0] == "mine-1" and keys[1].startswith("cs-mcp-")
    assert "mine-1" in str(caught.value)


@pytest.mark.anyio
async def test_a_submit_that_never_connected_is_a_connection_error() -> None:
    api = ScriptedAPI(httpx.ConnectError, httpx.ConnectError, httpx.ConnectError)
    async with make_client(api) as client:
        with pytest.raises(ClearStreetConnectionError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise()])
    assert caught.value.request_sent is False


@pytest.mark.anyio
async def test_a_submit_500_without_rows_is_not_retried_and_unknown() -> None:
    body = envelope(error={"code": 500, "message": "Internal error"}, request_id="req-500")
    api = ScriptedAPI(reply(500, body))
    async with make_client(api) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise(key="k")])
    assert len(api.requests) == 1
    error = caught.value
    assert (error.status_code, error.request_id, error.client_instruction_ids) == (500, "req-500", ("k",))


@pytest.mark.anyio
async def test_a_submit_429_after_a_lost_attempt_is_unknown_but_alone_is_an_api_error() -> None:
    too_many = reply(429, envelope(error={"code": 429, "message": "slow down"}))
    api = ScriptedAPI(httpx.ReadTimeout, too_many, too_many)
    async with make_client(api) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.instructions.submit(ACCOUNT, [exercise()])
    api = ScriptedAPI(too_many, too_many, too_many)
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.instructions.submit(ACCOUNT, [exercise()])
    assert caught.value.status_code == 429


# -- cancel ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_409_on_a_cancel_retry_means_already_final() -> None:
    api = ScriptedAPI(
        reply(503, envelope(error={"code": 503, "message": "Service unavailable"})),
        reply(409, envelope(error={"code": 409, "message": "terminal state"}, request_id="req-409")),
        reply(200, envelope([instruction_row("k", status="CANCELLED")])),
    )
    async with make_client(api) as client:
        result = await client.instructions.cancel(ACCOUNT, ORIGINAL_ID)
    assert [r.method for r in api.requests] == ["DELETE", "DELETE", "GET"]
    assert result.already_final is True
    assert result.instruction.status is InstructionStatus.CANCELLED
    assert result.request_id == "req-409"


@pytest.mark.anyio
async def test_a_409_on_a_first_cancel_is_an_api_error() -> None:
    api = ScriptedAPI(reply(409, envelope(error={"code": 409, "message": "terminal state"})))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.instructions.cancel(ACCOUNT, ORIGINAL_ID)
    assert caught.value.status_code == 409
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_a_409_after_only_a_429_is_an_api_error() -> None:
    api = ScriptedAPI(
        reply(429, envelope(error={"code": 429, "message": "slow down"})),
        reply(409, envelope(error={"code": 409, "message": "Instruction is in a terminal state"})),
    )
    async with make_client(api) as client:
        with pytest.raises(APIStatusError):
            await client.instructions.cancel(ACCOUNT, ORIGINAL_ID)
    assert len(api.requests) == 2


@pytest.mark.anyio
async def test_a_cancel_is_retried_after_a_timeout() -> None:
    requested = instruction_row("k", status="CANCEL_REQUESTED")
    api = ScriptedAPI(httpx.ReadTimeout, reply(200, envelope(requested)))
    async with make_client(api) as client:
        result = await client.instructions.cancel(ACCOUNT, ORIGINAL_ID)
    assert result.instruction.status is InstructionStatus.CANCEL_REQUESTED
    assert len(api.requests) == 2


# -- errors typed by status -----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (422, Unprocessable),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
        (408, APIStatusError),
    ],
)
async def test_a_refusal_is_raised_as_the_class_that_names_its_status(status: int, kind: type[APIStatusError]) -> None:
    """Callers branch on the class, never on ``status_code``; status, message and request_id stay."""
    body = envelope(error={"code": status, "message": "refused"}, request_id="req-9")
    api = ScriptedAPI(reply(status, body, {"x-should-retry": "false", "Retry-After": "3"}))
    async with make_client(api) as client:
        with pytest.raises(kind) as caught:
            await client.positions.page(ACCOUNT)
    error = caught.value
    assert type(error) is kind and isinstance(error, ClearStreetError)
    assert (error.status_code, error.message, error.request_id, error.retry_after) == (status, "refused", "req-9", 3.0)
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_an_unknown_filter_is_refused_before_anything_is_sent() -> None:
    api = ScriptedAPI()
    async with make_client(api) as client:
        with pytest.raises(TypeError, match="'sort_order'; the filters are: instrument_ids, sort_by, sort_direction"):
            await client.positions.page(ACCOUNT, sort_order="ASC")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="'colour'"):
            client.orders.pages(ACCOUNT, colour="red")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="'root'"):
            await client.instruments.option_contracts_batched(["x"], root="AAPL")  # type: ignore[call-arg]
    assert api.requests == []


# -- bodies that are not the envelope -------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_non_json_error_body_becomes_an_api_error_with_an_excerpt() -> None:
    html = "<html><head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>"
    headers = {"Content-Type": "text/html", "X-Request-Id": "edge-7"}
    api = ScriptedAPI(httpx.Response(404, text=html, headers=headers))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.page(ACCOUNT)
    error = caught.value
    assert error.status_code == 404
    assert error.request_id == "edge-7"
    assert "not JSON (text/html)" in error.message
    assert "<title>502 Bad Gateway</title>" in error.message
    assert "X-Request-Id" not in error.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"not json at all", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"hello": "world"}', "not the API envelope"),
        (b'{"metadata": {"request_id": "r"}}', "no data"),
        (b'{"data": [{"symbol": "AAPL"}], "metadata": {"request_id": "r"}}', "expected shape"),
    ],
)
async def test_a_2xx_read_that_is_not_the_envelope_is_an_api_error(content: bytes, expected: str) -> None:
    api = ScriptedAPI(httpx.Response(200, content=content))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.page(ACCOUNT)
    assert caught.value.status_code == 200
    assert expected in caught.value.message


@pytest.mark.anyio
async def test_a_loose_error_envelope_keeps_its_message_and_request_id() -> None:
    body = {"error": {"message": "no access to account"}, "metadata": {"request_id": "req-403"}}
    api = ScriptedAPI(reply(403, body))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.page(ACCOUNT)
    assert (caught.value.status_code, caught.value.code, caught.value.message, caught.value.request_id) == (
        403,
        403,
        "no access to account",
        "req-403",
    )


@pytest.mark.anyio
async def test_an_error_envelope_keeps_code_and_details() -> None:
    error = {"code": 400, "message": "bad page_size", "details": [{"field": "page_size"}]}
    body = envelope(error=error, request_id="req-400")
    api = ScriptedAPI(reply(400, body))
    async with make_client(api) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.positions.page(ACCOUNT, page_size=5)
    assert caught.value.details == [{"field": "page_size"}]
    assert str(caught.value) == "Clear Street API returned 400: bad page_size (request_id req-400)"


# -- the key stays secret -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_api_key_appears_in_no_repr_error_or_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = httpx.Response(401, text=f"unauthorized: Bearer {API_KEY}")  # a proxy echoing the header back
    api = ScriptedAPI(
        echo,
        reply(500, envelope(error={"code": 500, "message": f"boom {API_KEY}"})),
        httpx.ReadTimeout,
        httpx.ConnectError,
        httpx.ConnectError,
        httpx.ConnectError,
        httpx.ReadTimeout,
        httpx.ReadTimeout,
        httpx.ReadTimeout,
        httpx.Response(200, text="garbage"),
    )
    client = make_client(api)
    errors: list[ClearStreetError] = []
    async with client:
        calls = [
            client.positions.page(ACCOUNT),
            client.positions.close(ACCOUNT, "AAPL"),
            client.positions.close_all(ACCOUNT),
            client.instructions.cancel(ACCOUNT, ORIGINAL_ID),
            client.instructions.submit(ACCOUNT, [exercise()]),
            client.instructions.get(ACCOUNT),
        ]
        for call in calls:
            try:
                await call
            except ClearStreetError as exc:
                errors.append(exc)
    assert len(errors) == 6
    with pytest.raises(ValueError) as bad_key:
        ClearStreetClient(api_key=f"{API_KEY} x", base_url=BASE_URL)
    texts = [repr(client), str(client), repr(client.retry_policy), caplog.text, str(bad_key.value)]
    texts += [str(error) for error in errors] + [repr(error) for error in errors]
    texts += [str(error.__cause__) for error in errors if error.__cause__ is not None]
    for text in texts:
        assert API_KEY not in text
    assert "[REDACTED]" in str(errors[0])
    assert caplog.records  # the failing calls were logged
    ours = {record.name for record in caplog.records if "clearstreet" in record.name}
    assert ours == {"positions_mcp.clearstreet"}


def test_construction_checks() -> None:
    with pytest.raises(ValueError):
        ClearStreetClient(api_key="", base_url=BASE_URL)
    with pytest.raises(ValueError) as with_credentials:
        ClearStreetClient(api_key=API_KEY, base_url="https://user:hunter2@api.test.example")
    assert "hunter2" not in str(with_credentials.value)
    with pytest.raises(ValueError):
        ClearStreetClient(api_key=API_KEY, base_url="api.clearstreet.com")
    with pytest.raises(ValueError):
        ClearStreetClient(api_key=API_KEY, base_url="ftp://api.clearstreet.com")
    assert ENVIRONMENT_URLS == {
        "production": "https://api.clearstreet.com",
        "dev": "https://api-dev.clearstreet.com",
    }


@pytest.mark.anyio
async def test_a_closed_client_refuses_to_send() -> None:
    api = ScriptedAPI()
    client = make_client(api)
    await client.aclose()
    await client.aclose()
    assert client.closed
    with pytest.raises(RuntimeError):
        await client.positions.page(ACCOUNT)
    assert api.requests == []


@pytest.mark.anyio
async def test_a_retry_wait_that_overruns_the_deadline_never_reports_nothing_sent() -> None:
    """A submit answered 503 with retry-after-ms 50, the wait overshooting (as real timers may) so
    the deadline no longer allows another attempt: the first attempt may have landed, so the
    outcome is unknown — never "nothing was sent", which would invite a resubmission."""
    import anyio
    from positions_mcp.clearstreet._requester import _MARGIN, STATE_CHANGE_TIMEOUT

    async def overshooting(delay: float) -> None:
        await anyio.sleep(delay + 0.05)

    api = ScriptedAPI(reply(503, envelope(error={"code": 503, "message": "busy"}), {"retry-after-ms": "50"}))
    retry = RetryPolicy(sleep=overshooting, random=lambda: 0.0, clock=lambda: NOW)
    client = ClearStreetClient(api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(api), retry=retry)
    async with client:
        with anyio.fail_after(0.05 + STATE_CHANGE_TIMEOUT + _MARGIN + 0.02):
            with pytest.raises(ClearStreetError) as caught:
                await client.instructions.submit(ACCOUNT, [exercise(key="k-1")])
    assert len(api.requests) == 1
    assert isinstance(caught.value, OutcomeUnknownError), caught.value
