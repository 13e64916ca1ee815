"""Fixture tests of the client's balances, market-data, instrument, calendar and orders reads:
hand-written HTTP exchanges through httpx.MockTransport. Query strings are compared with what the
official SDK sends (Clear Street's market-data API documentation); decimals must come back exact, unknown enum values
and fields must be kept, errors must keep status, message and request_id."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from positions_mcp.clearstreet import (
    MAX_IDS_PER_REQUEST,
    APIStatusError,
    ClearStreetClient,
    ContractType,
    DayType,
    DeadlineExceededError,
    ExerciseStyle,
    ListingType,
    MarginType,
    MarketSessionType,
    MarketType,
    OrderStatus,
    PaginationLoopError,
    RetryPolicy,
    SecurityType,
    ShortableAttribute,
)

API_KEY = "csk_test_0123456789abcdef"
BASE_URL = "https://api.test.example"
ACCOUNT = 19816
AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
TSLA_ID = "d4d5d6d7-e4e5-f4f5-a4a5-a6a7a8a9aaab"
CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
PUT_ID = "f7f8f9fa-a7a8-b7b8-c7c8-c9cacbcccdce"


Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class API:
    """A MockTransport handler: ``route(request)`` answers each request, every request is recorded."""

    def __init__(self, route: Handler) -> None:
        self.route = route
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.route(request)
        if not isinstance(answer, httpx.Response):
            answer = await answer
        return answer

    @property
    def queries(self) -> list[str]:
        return [request.url.query.decode() for request in self.requests]


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )


def ok(data: Any, request_id: str = "req-1", **metadata: Any) -> httpx.Response:
    return reply(200, {"data": data, "error": None, "metadata": {"request_id": request_id, **metadata}})


def scripted(*responses: httpx.Response) -> API:
    queue = list(responses)
    return API(lambda request: queue.pop(0))


def client(api: API, **policy: Any) -> ClearStreetClient:
    async def no_sleep(_: float) -> None:
        return None

    retry = RetryPolicy(sleep=no_sleep, random=lambda: 0.0, **policy)
    return ClearStreetClient(api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(api), retry=retry)


# -- example bodies (as the API documents them, with a few fields this code has never seen) -----------

BALANCES = {
    "account_id": ACCOUNT, "buying_power": "259890.00", "currency": "USD", "daily_change": "195.00",
    "daily_pnl": "195.00", "daily_realized_pnl": "0.00", "daily_unrealized_pnl": "195.00", "equity": "75895.00",
    "long_market_value": "24820.00", "short_market_value": "-8925.00", "margin_type": "REG_T", "multiplier": "4",
    "open_order_adjustment": "0.00", "settled_cash": "60000.00", "trade_cash": "60000.00",
    "unsettled_credits": "0.00", "unsettled_debits": "0.00", "unrealized_pnl": "1645.00",
    "withdrawable_cash": "57662.50",
    "sod": {
        "asof": "2025-11-03", "buying_power": "259200.00", "equity": "75700.00", "trade_cash": "60000.00",
        "long_market_value": "24700.00", "short_market_value": "-9000.00",
        "maintenance_margin_excess": "64800.00", "maintenance_margin_requirement": "10900.00",
    },
    "margin_details": {
        "initial_margin_requirement": "18232.50", "initial_margin_excess": "57662.50",
        "maintenance_margin_requirement": "10922.50", "maintenance_margin_excess": "64972.50",
        "overnight_margin_requirement": "18232.50", "overnight_margin_excess": "57662.50",
        "intraday_details": {"buying_power": "259890.00", "multiplier": "4"},
        "overnight_details": {"buying_power": "115325.00", "multiplier": "2"},
        "usage": {"total": "75895.00", "used": "10922.50"},
        "top_contributors": [
            {
                "underlying_instrument_id": AAPL_ID, "market_value": "17820.00",
                "initial_margin_requirement": "10270.00", "maintenance_margin_requirement": "6495.00",
                "overnight_margin_requirement": "10270.00",
            }
        ],
    },
    "day_trade_count": 0,  # an older field: kept as an extra
}  # fmt: skip

AAPL_SNAPSHOT = {
    "instrument_id": AAPL_ID, "symbol": "AAPL", "name": "Apple Inc.", "short_sale_restricted": False,
    "last_quote": {
        "bid": "150.98", "bid_size": 300, "bid_venue": "XNAS", "bid_timestamp": "2025-11-03T19:29:59.912000000Z",
        "ask": "151.02", "ask_size": 200, "ask_venue": "ARCX", "ask_timestamp": "2025-11-03T19:29:59.874000000Z",
        "midpoint": "151.00",
    },
    "last_trade": {"price": "151.00", "size": 100, "venue": "XNAS", "timestamp": "2025-11-03T19:29:58.301000000Z"},
    "session": {
        "ohlv_applicable": True, "ohlv_date": "2025-11-03", "open": "150.80", "high": "151.45", "low": "150.20",
        "cumulative_volume": 31245610, "previous_close": "150.50", "change": "0.50", "change_percent": "0.3322",
    },
    "cumulative_volume": 31245610, "greeks": None, "open_interest": None,
}  # fmt: skip


def option_snapshot(instrument_id: str = CALL_ID, **overrides: Any) -> dict[str, Any]:
    row = {
        "instrument_id": instrument_id, "symbol": "AAPL  251219C00190000", "name": None,
        "short_sale_restricted": None,
        "last_quote": {"ask": "2.76", "ask_size": 38},  # one-sided: no bid, no midpoint
        "last_trade": {"price": "2.72", "size": 5, "venue": "XCBO"},
        "session": {"ohlv_applicable": True, "previous_close": "2.70"},
        "open_interest": 15234,
        "greeks": {
            "theo_price": "2.72", "delta": "0.1726", "gamma": "0.0079", "theta": "-0.1336", "vega": "0.1370",
            "rho": "0.0294", "iv": "0", "timestamp": "2025-11-03T19:29:30.000000000Z",
        },
    }  # fmt: skip
    row.update(overrides)
    return row


def contract(contract_id: str = CALL_ID, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": contract_id, "symbol": "AAPL  251219C00190000", "underlying_instrument_id": AAPL_ID,
        "contract_type": "CALL", "strike_price": "190", "expiry": "2025-12-19", "multiplier": "100",
        "exercise_style": "AMERICAN", "listing_type": "STANDARD", "is_settle_on_open": False,
        "last_trade_cutoff": "2025-12-19T21:00:00Z", "currency": "USD", "exchange": "BATO",
        "is_tradable": True, "is_liquidation_only": False, "is_marginable": True, "open_interest": 15234,
        "tick_rules": [{"start_price": "0", "end_price": "3", "tick_size": "0.01"}, {"start_price": "3", "tick_size": "0.05"}],
    }  # fmt: skip
    row.update(overrides)
    return row


INSTRUMENT = {
    "id": AAPL_ID, "symbol": "AAPL", "name": "Apple Inc.", "instrument_type": "COMMON_STOCK", "venue": "XNMS",
    "country_of_issue": "US", "currency": "USD", "is_tradable": True, "is_liquidation_only": False,
    "is_marginable": True, "is_fractionable": True, "is_ptp": False, "is_short_prohibited": False,
    "is_threshold_security": False, "easy_to_borrow": True, "shortable_attribute": "EASY_TO_BORROW",
    "long_margin_rate": "0.25", "short_margin_rate": "0.30", "previous_close": "150.50", "adv": "55000000",
    "notional_adv": "8277500000.00",
    "tick_rules": [{"start_price": "0", "end_price": "1", "tick_size": "0.0001"}, {"start_price": "1", "tick_size": "0.01"}],
    "options_contract_expiry_dates": [
        {"date": "2025-11-07", "has_settles_on_close": True, "has_settles_on_open": False},
        {"date": "2025-12-19", "has_settles_on_close": True, "has_settles_on_open": False},
    ],
    "options_expiry_dates": ["2025-11-07", "2025-12-19"],
}  # fmt: skip

MARKET_HOURS = {
    "market": "us_options", "market_name": "US Options", "date": "2025-11-28", "timezone": "America/New_York",
    "current_time": "2025-11-28T12:40:00-05:00",
    "status": {"day_type": "EARLY_CLOSE", "is_open": True, "current_session": "regular"},
    "today_sessions": {
        "regular": {"open": "2025-11-28T09:30:00-05:00", "close": "2025-11-28T13:00:00-05:00", "time_until_close": "PT20M"}
    },
    "next_sessions": {"regular": {"open": "2025-12-01T09:30:00-05:00", "close": "2025-12-01T16:00:00-05:00"}},
}  # fmt: skip

ORDER = {
    "id": "019a4b2c-7d10-7e3f-9a21-4c5d6e7f8091", "client_order_id": "trim-aapl-call-20251103-01",
    "account_id": ACCOUNT, "instrument_id": CALL_ID, "instrument_type": "OPTION", "symbol": "AAPL  251219C00190000",
    "underlying_instrument_id": AAPL_ID, "underlying_instrument_type": "COMMON_STOCK", "side": "SELL",
    "quantity": "4", "filled_quantity": "0", "leaves_quantity": "4", "order_type": "LIMIT", "limit_price": "3.10",
    "time_in_force": "GOOD_TILL_CANCEL", "status": "NEW", "venue": "XCBO", "average_fill_price": None,
    "created_at": "2025-11-03T15:02:11.000000000Z", "updated_at": "2025-11-03T15:02:11.000000000Z",
}  # fmt: skip


# -- balances --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_balances_query_and_exact_decimals() -> None:
    api = scripted(ok(BALANCES, "bal-1"))
    async with client(api) as cs:
        result = await cs.balances.get(ACCOUNT, top_margin_contributors_limit=3)
    [request] = api.requests
    assert (request.method, request.url.path, api.queries[0]) == (
        "GET", f"/v1/accounts/{ACCOUNT}/balances", "top_margin_contributors_limit=3",
    )  # fmt: skip
    b = result.balances
    assert result.request_id == "bal-1"
    assert b.equity == Decimal("75895.00") and str(b.equity) == "75895.00"
    assert (b.short_market_value, b.multiplier, b.margin_type) == (Decimal("-8925.00"), Decimal("4"), MarginType.REG_T)
    assert b.sod.asof == date(2025, 11, 3) and b.sod.trade_cash == Decimal("60000.00")
    margin = b.margin_details
    assert margin is not None and margin.overnight_details.buying_power == Decimal("115325.00")
    assert margin.top_contributors is not None and margin.top_contributors[0].market_value == Decimal("17820.00")
    assert margin.usage is not None and margin.usage.used == Decimal("10922.50")
    assert b.model_extra == {"day_trade_count": 0}
    assert b.model_dump(mode="json")["withdrawable_cash"] == "57662.50"  # strings back on the way out


@pytest.mark.anyio
async def test_a_cash_account_and_unknown_margin_type() -> None:
    body = {**BALANCES, "margin_type": "SOMETHING_NEW", "margin_details": None, "multiplier": None}
    del body["short_market_value"]
    async with client(scripted(ok(body))) as cs:
        b = (await cs.balances.get(ACCOUNT)).balances
    assert (b.margin_type, b.margin_details, b.multiplier, b.short_market_value) == ("SOMETHING_NEW", None, None, None)


@pytest.mark.anyio
async def test_balances_arguments_are_checked_before_sending() -> None:
    api = scripted()
    async with client(api) as cs:
        with pytest.raises(ValueError, match="at least 1"):
            await cs.balances.get(ACCOUNT, top_margin_contributors_limit=0)
        with pytest.raises(TypeError):
            await cs.balances.get(ACCOUNT, top_margin_contributors_limit=True)  # an int to mypy, refused at run time
        with pytest.raises(ValueError):
            await cs.balances.get("19816x")
    assert api.requests == []


# -- snapshots -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_snapshot_queries_of_both_modes_as_the_sdk_sends_them() -> None:
    api = scripted(ok([AAPL_SNAPSHOT, option_snapshot()]), ok([option_snapshot()]))
    async with client(api) as cs:
        listed = await cs.market_data.snapshots(["AAPL", "AAPL 251219C00190000", AAPL_ID])
        chain = await cs.market_data.snapshots(underlying_instrument_id="AAPL", expiry=date(2025, 12, 19))
    assert api.queries == [
        "instrument_ids=AAPL%2CAAPL+251219C00190000%2Ca1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8",
        "expiry=2025-12-19&underlying_instrument_id=AAPL",
    ]
    assert all(r.url.path == "/v1/market-data/snapshot" for r in api.requests)
    aapl, call = listed.snapshots
    assert aapl.greeks is None and aapl.open_interest is None
    assert aapl.last_quote is not None and aapl.last_quote.midpoint == Decimal("151.00")
    assert aapl.last_quote.bid_size == 300 and isinstance(aapl.last_quote.bid_size, int)
    assert aapl.session.change_percent == Decimal("0.3322") and aapl.session.cumulative_volume == 31245610
    assert aapl.last_trade is not None and aapl.last_trade.timestamp == datetime(2025, 11, 3, 19, 29, 58, 301000, UTC)
    assert call.greeks is not None and call.greeks.iv == Decimal("0") and call.greeks.delta == Decimal("0.1726")
    assert call.greeks.theta == Decimal("-0.1336")
    assert call.last_quote is not None and call.last_quote.bid is None and call.last_quote.midpoint is None
    assert len(chain.snapshots) == 1 and chain.request_id == "req-1"


@pytest.mark.anyio
async def test_snapshot_keeps_unknown_fields_and_values() -> None:
    row = option_snapshot(session={"ohlv_applicable": True, "vwap": "2.71"}, venue_status="HALTED")
    async with client(scripted(ok([row]))) as cs:
        [snapshot] = (await cs.market_data.snapshots(["X"])).snapshots
    assert snapshot.model_extra == {"venue_status": "HALTED"}
    assert snapshot.session.model_extra == {"vwap": "2.71"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"instrument_ids": []}, ValueError, "empty"),
        ({"instrument_ids": [f"ID{i}" for i in range(101)]}, ValueError, "at most 100"),
        ({"instrument_ids": ["AAPL"], "underlying_instrument_id": "AAPL", "expiry": "2025-12-19"}, ValueError, "not both"),
        ({}, ValueError, "pass instrument_ids"),
        ({"underlying_instrument_id": "AAPL"}, ValueError, "go together"),
        ({"expiry": date(2025, 12, 19)}, ValueError, "go together"),
        ({"instrument_ids": "AAPL"}, TypeError, "not one string"),
        ({"instrument_ids": ["A,B"]}, ValueError, "comma"),
        ({"instrument_ids": [""]}, ValueError, "empty"),
        ({"underlying_instrument_id": "AAPL", "expiry": "19/12/2025"}, ValueError, "YYYY-MM-DD"),
        ({"underlying_instrument_id": "AAPL", "expiry": datetime(2025, 12, 19, tzinfo=UTC)}, TypeError, "datetime"),
    ],
)  # fmt: skip
async def test_snapshot_arguments_are_checked_before_sending(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    api = scripted()
    async with client(api) as cs:
        with pytest.raises(error, match=match):
            await cs.market_data.snapshots(**kwargs)
    assert api.requests == []


@pytest.mark.anyio
async def test_batched_snapshots_dedupe_split_by_100_and_keep_batch_order() -> None:
    ids = [f"ID{i:03d}" for i in range(250)]

    async def route(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["instrument_ids"].split(",")
        if asked[0] == "ID000":
            await anyio.sleep(0.05)  # the first batch answers last
        rows = [option_snapshot(f"uuid-{x}", symbol=x) for x in asked]
        if asked[0] == "ID200":
            rows.append(option_snapshot("uuid-ID000", symbol="ID000"))  # the same instrument again
        return ok(rows, request_id=f"req-{asked[0]}")

    api = API(route)
    async with client(api) as cs:
        result = await cs.market_data.snapshots_batched([*ids, *ids[:10], "ID249"])
    assert MAX_IDS_PER_REQUEST == 100
    sizes = sorted(len(r.url.params["instrument_ids"].split(",")) for r in api.requests)
    assert sizes == [50, 100, 100]
    assert [s.symbol for s in result.snapshots] == ids  # batch order, one row per instrument
    assert result.request_ids == ("req-ID000", "req-ID100", "req-ID200")


@pytest.mark.anyio
async def test_batched_snapshots_are_fetched_concurrently_within_the_bound() -> None:
    in_flight = peak = 0

    async def route(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.02)
        in_flight -= 1
        return ok([option_snapshot(f"u-{x}", symbol=x) for x in request.url.params["instrument_ids"].split(",")])

    ids = [f"S{i}" for i in range(1000)]  # 10 batches
    async with client(API(route)) as cs:
        result = await cs.market_data.snapshots_batched(ids, concurrency=3)
        assert peak == 3 and len(result.snapshots) == 1000
        peak = 0
        await cs.market_data.snapshots_batched(ids)
        assert peak == 4  # the default
        peak = 0
        await cs.market_data.snapshots_batched(ids, concurrency=1)
        assert peak == 1


@pytest.mark.anyio
async def test_a_failing_batch_raises_its_own_error_and_nothing_is_sent_for_no_ids() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.params["instrument_ids"].startswith("B100"):
            return reply(
                403,
                {"error": {"code": 403, "message": "No market data entitlement"}, "metadata": {"request_id": "r-403"}},
            )
        return ok([])

    api = API(route)
    async with client(api) as cs:
        with pytest.raises(APIStatusError) as raised:
            await cs.market_data.snapshots_batched([f"B{i}" for i in range(300)], concurrency=1)
        assert (raised.value.status_code, raised.value.message, raised.value.request_id) == (
            403, "No market data entitlement", "r-403",
        )  # fmt: skip
        sent = len(api.requests)
        empty = await cs.market_data.snapshots_batched([])
        assert (empty.snapshots, empty.request_ids, len(api.requests)) == ([], (), sent)
        with pytest.raises(TypeError):
            await cs.market_data.snapshots_batched("AAPL")
        with pytest.raises(ValueError, match="concurrency"):
            await cs.market_data.snapshots_batched(["AAPL"], concurrency=0)


# -- option contracts ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_option_contract_queries_as_the_sdk_sends_them() -> None:
    api = scripted(ok([contract()]), ok([contract(), contract(PUT_ID, contract_type="PUT", strike_price="140")]))
    async with client(api) as cs:
        chain = await cs.instruments.option_contracts(
            underlying_instrument_id="AAPL", expiry="2025-12-19", contract_type=ContractType.CALL,
            is_settle_on_open=False, page_size=50,
        )  # fmt: skip
        looked_up = await cs.instruments.option_contracts(contract_ids=[CALL_ID, "AAPL 251219P00140000"], root=None)
    assert api.queries == [
        "contract_type=CALL&expiry=2025-12-19&is_settle_on_open=false&page_size=50&underlying_instrument_id=AAPL",
        "contract_ids=e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe%2CAAPL+251219P00140000",
    ]
    assert api.requests[0].url.path == "/v1/instruments/options/contracts"
    [call] = chain.contracts
    assert (call.strike_price, call.multiplier, call.expiry) == (Decimal("190"), Decimal("100"), date(2025, 12, 19))
    assert (call.exercise_style, call.listing_type, call.contract_type) == (
        ExerciseStyle.AMERICAN, ListingType.STANDARD, ContractType.CALL,
    )  # fmt: skip
    assert call.last_trade_cutoff == datetime(2025, 12, 19, 21, 0, tzinfo=UTC)
    assert call.tick_rules is not None and call.tick_rules[1].end_price is None
    assert call.tick_rules[1].tick_size == Decimal("0.05") and call.open_interest == 15234
    assert looked_up.contracts[1].contract_type == ContractType.PUT


@pytest.mark.anyio
async def test_contracts_with_unknown_values_and_an_adjusted_multiplier() -> None:
    odd = contract(exercise_style="BERMUDAN", listing_type="WEEKLY_FLEX", multiplier="150", deliverable="150 AAPL")
    async with client(scripted(ok([odd]))) as cs:
        [row] = (await cs.instruments.option_contracts(root="AAPL1")).contracts
    assert (row.exercise_style, row.listing_type, row.multiplier) == ("BERMUDAN", "WEEKLY_FLEX", Decimal("150"))
    assert row.model_extra == {"deliverable": "150 AAPL"}


@pytest.mark.anyio
async def test_contract_pages_are_followed_resending_the_filters() -> None:
    api = scripted(
        ok([contract("c1")], next_page_token="t1", total_pages=3),
        ok([contract("c2")], next_page_token="t2"),
        ok([contract("c3")]),
    )
    async with client(api) as cs:
        every = await cs.instruments.all_option_contracts(root="SPX", expiry=date(2025, 12, 19), page_size=1)
    assert [c.id for c in every] == ["c1", "c2", "c3"]
    assert api.queries == [
        "expiry=2025-12-19&page_size=1&root=SPX",
        "expiry=2025-12-19&page_token=t1&root=SPX",
        "expiry=2025-12-19&page_token=t2&root=SPX",
    ]
    loop = scripted(ok([contract("c1")], next_page_token="t1"), ok([contract("c2")], next_page_token="t1"))
    async with client(loop) as cs:
        with pytest.raises(PaginationLoopError):
            await cs.instruments.all_option_contracts(root="SPX")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ValueError),
        ({"contract_ids": [CALL_ID], "root": "AAPL"}, ValueError),
        ({"contract_ids": [CALL_ID], "underlying_instrument_id": "AAPL"}, ValueError),
        ({"contract_ids": [f"c{i}" for i in range(101)]}, ValueError),
        ({"contract_ids": []}, ValueError),
        ({"root": "AAPL", "is_settle_on_open": "false"}, TypeError),
        ({"root": "AAPL", "page_size": 1001}, ValueError),
        ({"root": "AAPL", "expiry": "2025-12-19T00:00"}, ValueError),
    ],
)
async def test_contract_arguments_are_checked_before_sending(kwargs: dict[str, Any], error: type[Exception]) -> None:
    api = scripted()
    async with client(api) as cs:
        with pytest.raises(error):
            await cs.instruments.option_contracts(**kwargs)
        with pytest.raises(error):
            cs.instruments.option_contract_pages(**kwargs)  # checked before iteration starts
    assert api.requests == []


@pytest.mark.anyio
async def test_batched_contracts_split_by_100_and_follow_pages() -> None:
    ids = [f"K{i:03d}" for i in range(150)]

    def route(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "page_token" in params:
            return ok([contract("extra")], request_id="req-page-2")
        asked = params["contract_ids"].split(",")
        token = {"next_page_token": "more"} if asked[0] == "K100" else {}
        return ok([contract(x) for x in asked], request_id=f"req-{asked[0]}", **token)

    api = API(route)
    async with client(api) as cs:
        result = await cs.instruments.option_contracts_batched([*ids, "K000"], contract_type="PUT")
    assert [c.id for c in result.contracts] == [*ids, "extra"]
    assert result.request_ids == ("req-K000", "req-K100", "req-page-2")
    assert all("contract_type=PUT" in q for q in api.queries)
    page_two = next(r for r in api.requests if "page_token" in r.url.params)
    assert page_two.url.params["contract_ids"].split(",") == ids[100:]  # filters resent with the token


# -- instruments, clock, market hours ---------------------------------------------------------------


@pytest.mark.anyio
async def test_instrument_by_id_path_query_and_model() -> None:
    odd = {**INSTRUMENT, "shortable_attribute": "RESTRICTED", "instrument_type": "ETF", "isin": "US0378331005"}
    api = scripted(ok(INSTRUMENT), ok(odd))
    async with client(api) as cs:
        by_osi = await cs.instruments.get("AAPL 251219C00190000")
        by_uuid = await cs.instruments.get(AAPL_ID, include_options_expiry_dates=True)
    assert [r.url.raw_path for r in api.requests] == [
        b"/v1/instruments/AAPL%20251219C00190000",
        f"/v1/instruments/{AAPL_ID}?include_options_expiry_dates=true".encode(),
    ]
    aapl = by_osi.instrument
    assert (aapl.instrument_type, aapl.shortable_attribute, aapl.previous_close) == (
        SecurityType.COMMON_STOCK, ShortableAttribute.EASY_TO_BORROW, Decimal("150.50"),
    )  # fmt: skip
    assert aapl.options_contract_expiry_dates is not None
    assert aapl.options_contract_expiry_dates[1].date == date(2025, 12, 19)
    assert aapl.options_expiry_dates == [date(2025, 11, 7), date(2025, 12, 19)]
    assert (aapl.long_margin_rate, aapl.notional_adv) == (Decimal("0.25"), Decimal("8277500000.00"))
    other = by_uuid.instrument
    assert (other.shortable_attribute, other.instrument_type, other.model_extra) == (
        "RESTRICTED", "ETF", {"isin": "US0378331005"},
    )  # fmt: skip
    async with client(scripted()) as cs:
        with pytest.raises(ValueError):
            await cs.instruments.get("")
        with pytest.raises(TypeError):
            await cs.instruments.get("AAPL", include_options_expiry_dates=1)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_clock_and_market_hours() -> None:
    api = scripted(ok({"clock": "2025-11-03T19:30:00.000000000Z"}), ok([MARKET_HOURS]), ok([MARKET_HOURS] * 2))
    async with client(api) as cs:
        clock = await cs.clock.now()
        [hours] = (await cs.clock.market_hours(date="2025-11-28", market=MarketType.US_OPTIONS)).markets
        both = await cs.clock.market_hours()
    assert clock.clock == datetime(2025, 11, 3, 19, 30, tzinfo=UTC)
    assert [r.url.path for r in api.requests] == [
        "/v1/clock",
        "/v1/calendars/market-hours",
        "/v1/calendars/market-hours",
    ]
    assert api.queries == ["", "date=2025-11-28&market=us_options", ""]
    assert (hours.market, hours.status.day_type, hours.status.current_session) == (
        MarketType.US_OPTIONS, DayType.EARLY_CLOSE, MarketSessionType.REGULAR,
    )  # fmt: skip
    regular = hours.today_sessions.regular
    assert regular is not None and regular.time_until_close == "PT20M" and regular.time_until_open is None
    assert regular.close.utcoffset() is not None and regular.close.isoformat() == "2025-11-28T13:00:00-05:00"
    assert hours.today_sessions.after_hours is None and hours.next_sessions.regular is not None
    assert len(both.markets) == 2


@pytest.mark.anyio
async def test_market_hours_keep_unknown_values() -> None:
    odd = {
        **MARKET_HOURS,
        "market": "us_futures",
        "status": {"day_type": "HALF_DAY", "is_open": False, "current_session": "auction"},
    }
    async with client(scripted(ok([odd]))) as cs:
        [hours] = (await cs.clock.market_hours(market="us_futures")).markets
    assert (hours.market, hours.status.day_type, hours.status.current_session) == ("us_futures", "HALF_DAY", "auction")
    async with client(scripted()) as cs:
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            await cs.clock.market_hours(date="28/11/2025")


# -- orders ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_orders_query_as_the_sdk_sends_it() -> None:
    api = scripted(ok([ORDER]), ok([ORDER]), ok(ORDER, "one"))
    async with client(api) as cs:
        await cs.orders.page(
            ACCOUNT,
            from_=datetime(2025, 10, 31, 13, 30, tzinfo=UTC),
            to="2025-10-31T20:00:00Z",
            status=[OrderStatus.NEW, "PARTIALLY_FILLED"],
            updated_at={"gte": "2025-10-31"},
        )
        page = await cs.orders.page(
            ACCOUNT,
            status=["PENDING_NEW", "NEW", "PARTIALLY_FILLED"],
            underlying_instrument_ids=["AAPL"],
            instrument_ids=[CALL_ID, "TSLA"],
            instrument_type=SecurityType.OPTION,
            order_ids=["trim-aapl-call-20251103-01"],
            symbol="AAPL  251219C00190000",
            page_size=10,
        )
        one = await cs.orders.get(ACCOUNT, "trim-aapl-call-20251103-01")
    assert api.queries[0] == (
        "from=2025-10-31T13%3A30%3A00%2B00%3A00&status=NEW%2CPARTIALLY_FILLED&to=2025-10-31T20%3A00%3A00Z"
        "&updated_at%5Bgte%5D=2025-10-31"
    )
    assert api.queries[1] == (
        f"instrument_ids={CALL_ID}%2CTSLA&instrument_type=OPTION&order_ids=trim-aapl-call-20251103-01&page_size=10"
        "&status=PENDING_NEW%2CNEW%2CPARTIALLY_FILLED&symbol=AAPL++251219C00190000&underlying_instrument_ids=AAPL"
    )
    assert api.requests[2].url.path == f"/v1/accounts/{ACCOUNT}/orders/trim-aapl-call-20251103-01"
    [order] = page.orders
    assert (order.limit_price, order.leaves_quantity, order.status) == (Decimal("3.10"), Decimal("4"), OrderStatus.NEW)
    assert one.order.id == ORDER["id"] and one.request_id == "one"


@pytest.mark.anyio
async def test_order_pages_and_argument_checks() -> None:
    api = scripted(ok([ORDER], next_page_token="p2"), ok([ORDER]))
    async with client(api) as cs:
        orders = await cs.orders.all(ACCOUNT, status=["NEW"], page_size=1)
        assert len(orders) == 2
        assert api.queries == ["page_size=1&status=NEW", "page_token=p2&status=NEW"]
        with pytest.raises(ValueError, match="timezone"):
            await cs.orders.page(ACCOUNT, from_=datetime(2025, 10, 31, 13, 30))
        with pytest.raises(ValueError, match="updated_at"):
            await cs.orders.page(ACCOUNT, updated_at={"after": "2025-10-31"})
        with pytest.raises(TypeError):
            await cs.orders.page(ACCOUNT, status="NEW")  # a Sequence[str] to mypy, refused at run time
        with pytest.raises(ValueError):
            cs.orders.pages(ACCOUNT, status=[])
        with pytest.raises(ValueError):
            await cs.orders.get(ACCOUNT, "..")
    assert len(api.requests) == 2


# -- errors, retries, deadline ---------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda cs: cs.balances.get(ACCOUNT), f"/v1/accounts/{ACCOUNT}/balances"),
        (lambda cs: cs.market_data.snapshots(["AAPL"]), "/v1/market-data/snapshot"),
        (lambda cs: cs.instruments.option_contracts(root="AAPL"), "/v1/instruments/options/contracts"),
        (lambda cs: cs.instruments.get("AAPL"), "/v1/instruments/AAPL"),
        (lambda cs: cs.clock.now(), "/v1/clock"),
        (lambda cs: cs.clock.market_hours(), "/v1/calendars/market-hours"),
        (lambda cs: cs.orders.page(ACCOUNT), f"/v1/accounts/{ACCOUNT}/orders"),
        (lambda cs: cs.orders.get(ACCOUNT, "o-1"), f"/v1/accounts/{ACCOUNT}/orders/o-1"),
    ],
    ids=["balances", "snapshots", "contracts", "instrument", "clock", "hours", "orders", "order"],
)
async def test_403_is_not_retried_and_500_is_retried_and_both_keep_status_message_and_request_id(
    call: Callable[[ClearStreetClient], Any], path: str
) -> None:
    forbidden = {
        "error": {"code": 403, "message": "The caller does not have permission"},
        "metadata": {"request_id": "r-403"},
    }
    api = scripted(reply(403, forbidden))
    async with client(api) as cs:
        with pytest.raises(APIStatusError) as raised:
            await call(cs)
    assert (raised.value.status_code, raised.value.message, raised.value.request_id) == (
        403, "The caller does not have permission", "r-403",
    )  # fmt: skip
    assert [r.url.path for r in api.requests] == [path]
    failing = [
        reply(500, {"error": {"code": 500, "message": f"boom {n}"}, "metadata": {"request_id": f"r-{n}"}})
        for n in range(3)
    ]
    api = scripted(*failing)
    async with client(api) as cs:
        with pytest.raises(APIStatusError) as raised:
            await call(cs)
    assert (raised.value.status_code, raised.value.message, raised.value.request_id) == (500, "boom 2", "r-2")
    assert len(api.requests) == 3  # a read is retried twice


@pytest.mark.anyio
async def test_reads_retry_a_429_then_succeed_and_respect_the_deadline() -> None:
    api = scripted(
        reply(
            429,
            {"error": {"code": 429, "message": "slow down"}, "metadata": {"request_id": "r1"}},
            {"Retry-After": "1"},
        ),
        ok({"clock": "2025-11-03T19:30:00Z"}, "r2"),
    )
    async with client(api) as cs:
        result = await cs.clock.now()
        assert result.request_id == "r2" and len(api.requests) == 2
        with anyio.fail_after(0.2), pytest.raises(DeadlineExceededError):
            await cs.clock.now()  # too little of the caller's deadline left to start a read
    assert len(api.requests) == 2
