"""The simulated API driven in-process over raw HTTP: envelope, auth, errors, the demo book,
symbol resolution, sorting and pagination (including a 10,000-position account)."""

from __future__ import annotations

import base64
import itertools
import json
import re
import struct
import time as wall_time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from conftest import MONDAY_OPEN, api
from hypothesis import given, settings
from hypothesis import strategies as st
from positions_mcp.domain.calendar import next_expiry_business_day
from positions_mcp.domain.osi import parse_osi
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, Simulator

# Monday 2026-11-23, 10:00 in New York: the market is open; the weekly expiry is Friday 2026-11-27.
POSITIONS = f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions"
POSITION_FIELDS = {
    "account_id", "available_quantity", "avg_price", "closing_price", "closing_price_date", "cost_basis",
    "daily_realized_pnl", "daily_unrealized_pnl", "daily_unrealized_pnl_pct", "instrument_id",
    "instrument_price", "instrument_type", "market_value", "position_type", "quantity", "symbol",
    "underlying_instrument_id", "underlying_instrument_type", "unrealized_pnl", "unrealized_pnl_pct",
}  # fmt: skip
AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def all_positions(simulator: Simulator, account: int = DEMO_PRIMARY_ACCOUNT) -> list[dict[str, Any]]:
    async with api(simulator) as http:
        response = await http.get(f"/v1/accounts/{account}/positions")
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def by_symbol(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["symbol"]: row for row in rows}


def assert_error(response: httpx.Response, status: int, message_part: str = "") -> dict[str, Any]:
    """The API's error envelope: ``{error: {code, message}, metadata: {request_id}}`` as JSON."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == status
    assert message_part in body["error"]["message"]
    assert UUID.fullmatch(body["metadata"]["request_id"])
    assert "data" not in body
    assert isinstance(body, dict)
    return body


# ------------------------------------------------------------------ envelope and the demo book


@pytest.mark.anyio
async def test_positions_envelope_every_field_and_fresh_request_ids(simulator: Simulator) -> None:
    async with api(simulator) as http:
        first = await http.get(POSITIONS)
        second = await http.get(POSITIONS)
    body = first.json()
    assert set(body) == {"data", "error", "metadata"}
    assert body.get("error") is None
    assert all(set(row) == POSITION_FIELDS for row in body["data"])
    ids = {first.json()["metadata"]["request_id"], second.json()["metadata"]["request_id"]}
    assert len(ids) == 2 and all(UUID.fullmatch(i) for i in ids)
    assert first.headers["x-request-id"] == body["metadata"]["request_id"]
    assert body["metadata"] | {"request_id": None} == {
        "request_id": None,
        "page_number": 1,
        "total_items": 17,
        "total_pages": 1,
        "next_page_token": None,
        "previous_page_token": None,
    }


@pytest.mark.anyio
async def test_primary_account_reproduces_the_seed_examples(simulator: Simulator) -> None:
    rows = by_symbol(await all_positions(simulator))
    aapl = rows["AAPL"]
    assert aapl | {"closing_price_date": None} == {
        "account_id": 19816,
        "instrument_id": AAPL_ID,
        "instrument_type": "COMMON_STOCK",
        "symbol": "AAPL",
        "position_type": "LONG",
        "quantity": "100",
        "available_quantity": "100",
        "avg_price": "145.00",
        "cost_basis": "14500.00",
        "instrument_price": "151.00",
        "closing_price": "150.50",
        "closing_price_date": None,
        "market_value": "15100.00",
        "unrealized_pnl": "600.00",
        "unrealized_pnl_pct": "4.14",
        "daily_unrealized_pnl": "50.00",
        "daily_unrealized_pnl_pct": "0.33",
        "daily_realized_pnl": "0.00",
        "underlying_instrument_id": None,
        "underlying_instrument_type": None,
    }
    assert aapl["closing_price_date"] == "2026-11-20"  # the business day before Monday
    tsla = rows["TSLA"]
    assert (tsla["instrument_id"], tsla["quantity"], tsla["position_type"]) == (
        "d4d5d6d7-e4e5-f4f5-a4a5-a6a7a8a9aaab", "-50", "SHORT",
    )  # fmt: skip
    assert (tsla["avg_price"], tsla["closing_price"], tsla["instrument_price"]) == ("180.00", "180.00", "178.50")
    assert (tsla["market_value"], tsla["cost_basis"], tsla["unrealized_pnl"]) == ("-8925.00", "-9000.00", "75.00")
    assert tsla["available_quantity"] == "50"  # a magnitude, also for shorts
    goog = rows["GOOG"]
    assert (goog["instrument_id"], goog["quantity"]) == ("c3c4c5c6-d3d4-e3e4-f3f4-f5f6f7f8f9fa", "25")
    call = next(row for row in rows.values() if row["instrument_id"] == AAPL_CALL_ID)
    assert call["instrument_type"] == "OPTION" and call["position_type"] == "LONG" and call["quantity"] == "10"
    assert call["underlying_instrument_id"] == AAPL_ID and call["underlying_instrument_type"] == "COMMON_STOCK"
    assert call["symbol"] == parse_osi(call["symbol"]).compact()
    assert call["market_value"] == "6200.00"  # 10 × 6.20 × 100


@pytest.mark.anyio
async def test_demo_book_has_what_the_prompts_need(simulator: Simulator) -> None:
    rows = await all_positions(simulator)
    by_id = {row["instrument_id"]: row for row in rows}
    equities = [r for r in rows if r["instrument_type"] == "COMMON_STOCK"]
    options = [r for r in rows if r["instrument_type"] == "OPTION"]
    assert {r["position_type"] for r in equities} == {"LONG", "SHORT"}
    assert any(r["instrument_type"] == "CASH" for r in rows)
    assert any("." in r["quantity"] for r in equities)  # a fractional-share position
    assert any(r["instrument_price"] is None for r in rows)  # something for data-quality notes
    msft = by_symbol(rows)["MSFT"]
    assert Decimal(msft["available_quantity"]) < abs(Decimal(msft["quantity"]))  # a working order
    next_expiry = next_expiry_business_day(MONDAY_OPEN.date())
    moneyness_at_next_expiry = set()
    for row in options:
        contract = parse_osi(row["symbol"])
        assert row["position_type"] in {"LONG", "SHORT"}
        assert row["underlying_instrument_type"] == ("INDEX" if contract.root == "SPX" else "COMMON_STOCK")
        # the simulator quotes every underlier, even one the account does not hold
        quote = simulator.quote(row["underlying_instrument_id"])
        assert quote is not None
        intrinsic = max(Decimal(0), (quote - contract.strike) if contract.is_call else (contract.strike - quote))
        assert Decimal(row["instrument_price"]) >= intrinsic, row["symbol"]
        if contract.expiry == next_expiry:
            moneyness_at_next_expiry.add(intrinsic > 0)
    assert moneyness_at_next_expiry == {True, False}
    assert {parse_osi(r["symbol"]).expiry == next_expiry for r in options} == {True, False}  # and later ones
    assert any(r["position_type"] == "SHORT" for r in options)
    assert any(r["underlying_instrument_id"] not in by_id for r in options)  # underlier not held


@pytest.mark.anyio
async def test_second_account_holds_the_instruction_examples_contract(simulator: Simulator) -> None:
    rows = by_symbol(await all_positions(simulator, DEMO_INSTRUCTIONS_ACCOUNT))
    leap = rows["AAPL280121C00195000"]
    assert leap["instrument_id"] == "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e01"
    assert leap["position_type"] == "LONG" and Decimal(leap["quantity"]) > 0


def test_demo_book_is_deterministic_for_a_seed() -> None:
    one, two = Simulator(seed=3, now=MONDAY_OPEN), Simulator(seed=3, now=MONDAY_OPEN)
    assert one.positions(DEMO_PRIMARY_ACCOUNT) == two.positions(DEMO_PRIMARY_ACCOUNT)
    assert one.orders() == two.orders()
    assert one.instructions() == two.instructions()


def test_demo_book_is_built_relative_to_today() -> None:
    later = Simulator(now=datetime(2027, 3, 1, 15, 0, tzinfo=UTC))
    expiries = {
        parse_osi(row["symbol"]).expiry
        for row in later.positions(DEMO_PRIMARY_ACCOUNT)
        if row["instrument_type"] == "OPTION"
    }
    assert min(expiries) == next_expiry_business_day(datetime(2027, 3, 1).date())


# ------------------------------------------------------------------------------------- auth


@pytest.mark.anyio
@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "test-key"])
async def test_missing_or_malformed_bearer_is_401(simulator: Simulator, header: str | None) -> None:
    async with api(simulator, headers={} if header is None else {"Authorization": header}) as http:
        response = await http.get(POSITIONS)
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.anyio
async def test_configured_keys_limit_accounts() -> None:
    simulator = Simulator(now=MONDAY_OPEN, api_keys={"ops": {DEMO_PRIMARY_ACCOUNT}})
    async with api(simulator, {"Authorization": "Bearer ops"}) as http:
        assert (await http.get(POSITIONS)).status_code == 200
        assert_error(
            await http.get(f"/v1/accounts/{DEMO_INSTRUCTIONS_ACCOUNT}/positions"),
            403,
            "The caller does not have permission to execute the specified operation",
        )
        assert_error(await http.get("/v1/accounts/4242/positions"), 403)  # unmapped: no existence leak
    async with api(simulator, {"Authorization": "Bearer someone-else"}) as http:
        assert_error(await http.get(POSITIONS), 401, "Invalid API key")


# ------------------------------------------------------------------------ errors and routes


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/v1/accounts/424242/positions", 404, "Account 424242 not found"),
        ("GET", "/v1/accounts/abc/positions", 400, "account_id"),
        ("GET", "/v1/accounts/-1/positions", 400, "account_id"),
        ("GET", "/v1/accounts/99999999999999999999/positions", 400, "account_id"),
        ("DELETE", "/v1/accounts/424242/positions/AAPL", 404, "Account 424242"),
        ("GET", "/v1/accounts/424242/orders", 404, "Account 424242 not found"),
        ("GET", "/v1/accounts/19816/executions", 404, "No route"),
        ("GET", "/v2/whatever", 404, "No route"),
        ("GET", "/v1/accounts/19816/positions/", 404, "No route"),
        ("GET", "/v1/accounts/19816/positions/AAPL", 405, "allowed: DELETE"),
        ("POST", "/v1/accounts/19816/positions", 405, "allowed"),
        ("PUT", "/v1/accounts/19816/positions/instructions", 405, "allowed: GET, HEAD, POST"),
        ("GET", "/v1/accounts/19816/positions/instructions/abc", 405, "allowed: DELETE"),
        ("DELETE", "/v1/accounts/19816/positions/instructions", 404, "Instrument not found: instructions"),
        ("DELETE", "/v1/accounts/19816/positions/NOPE", 404, "Instrument not found: NOPE"),
        ("GET", POSITIONS + "?page_size=0", 400, "page_size"),
        ("GET", POSITIONS + "?page_size=1001", 400, "page_size"),
        ("GET", POSITIONS + "?page_size=ten", 400, "page_size"),
        ("GET", POSITIONS + "?page_size=-5", 400, "page_size"),
        ("GET", POSITIONS + "?page_size=" + "9" * 5000, 400, "page_size"),
        ("GET", POSITIONS + "?page_token=not*a*token", 400, "page_token"),
        ("GET", POSITIONS + "?page_token=AAAA", 400, "page_token"),
        ("GET", POSITIONS + "?sort_by=PRICE", 400, "sort_by 'PRICE' is not one of SYMBOL"),
        ("GET", POSITIONS + "?sort_by=symbol", 400, "sort_by"),
        ("GET", POSITIONS + "?sort_direction=UP", 400, "sort_direction"),
        ("GET", POSITIONS + "?instrument_ids=AAPL,NOPE", 404, "Instrument not found: NOPE"),
        ("GET", POSITIONS + "/instructions?instrument_id=NOPE", 404, "Instrument not found"),
        ("GET", POSITIONS + "/instructions?underlying_instrument_id=NOPE", 404, "Instrument not found"),
    ],
)
async def test_bad_requests_answer_the_error_envelope(
    simulator: Simulator, method: str, path: str, status: int, message: str
) -> None:
    async with api(simulator) as http:
        response = await http.request(method, path)
    body = assert_error(response, status, message)
    assert response.headers["x-request-id"] == body["metadata"]["request_id"]
    if status == 405:
        assert response.headers["allow"]


@pytest.mark.anyio
async def test_bad_page_tokens_of_the_right_shape_are_rejected(simulator: Simulator) -> None:
    limit_zero = base64.urlsafe_b64encode(struct.pack(">QQ", 0, 0)).rstrip(b"=").decode()
    limit_too_big = base64.urlsafe_b64encode(struct.pack(">QQ", 0, 5000)).rstrip(b"=").decode()
    seventeen_bytes = base64.urlsafe_b64encode(bytes(17)).rstrip(b"=").decode()
    async with api(simulator) as http:
        for token in (limit_zero, limit_too_big, seventeen_bytes):
            assert_error(await http.get(POSITIONS, params={"page_token": token}), 400, "page_token")


@pytest.mark.anyio
async def test_version_endpoint_answers_without_a_key(simulator: Simulator) -> None:
    async with api(simulator, headers={}) as http:
        response = await http.get("/v1/version")
    assert response.status_code == 200
    assert response.json()["data"] == {"version": "2025-10-31"}


# ----------------------------------------------------------------------- symbol resolution


@pytest.mark.anyio
async def test_instrument_ids_filter_accepts_every_identifier_form(simulator: Simulator) -> None:
    call = by_symbol(await all_positions(simulator))
    osi = next(parse_osi(s) for s, r in call.items() if r["instrument_id"] == AAPL_CALL_ID)
    forms = [AAPL_CALL_ID.upper(), osi.padded(), osi.spaced(), osi.compact(), osi.padded().lower()]
    async with api(simulator) as http:
        for form in forms:
            response = await http.get(POSITIONS, params={"instrument_ids": form})
            assert [row["instrument_id"] for row in response.json()["data"]] == [AAPL_CALL_ID], form
        comma = await http.get(POSITIONS, params={"instrument_ids": "aapl,TSLA , " + osi.padded()})
        repeated = await http.get(f"{POSITIONS}?instrument_ids=aapl&instrument_ids=TSLA&instrument_ids={osi.compact()}")
        held_elsewhere = await http.get(POSITIONS, params={"instrument_ids": "AAPL280121C00195000"})
    expected = {"AAPL", "TSLA", osi.compact()}
    assert {row["symbol"] for row in comma.json()["data"]} == expected
    assert {row["symbol"] for row in repeated.json()["data"]} == expected
    assert held_elsewhere.json()["data"] == []  # known instrument, not held here: no rows, no error


# ------------------------------------------------------------------------ sorting and paging

AMOUNT_SORTS = {
    "QUANTITY": "quantity",
    "MARKET_VALUE": "market_value",
    "UNREALIZED_PNL": "unrealized_pnl",
    "DAILY_UNREALIZED_PNL": "daily_unrealized_pnl",
    "DAILY_REALIZED_PNL": "daily_realized_pnl",
}


@pytest.mark.anyio
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("sort_by", [*AMOUNT_SORTS, "SYMBOL", "INSTRUMENT_TYPE", "POSITION_TYPE"])
async def test_every_sort_key_orders_rows(simulator: Simulator, sort_by: str, direction: str) -> None:
    async with api(simulator) as http:
        rows = (await http.get(POSITIONS, params={"sort_by": sort_by, "sort_direction": direction})).json()["data"]
    assert len(rows) == 17
    field = AMOUNT_SORTS.get(sort_by, sort_by.lower())
    values = [row[field] for row in rows]
    present = [v for v in values if v is not None]
    assert values == present + [None] * (len(values) - len(present))  # nulls last, both directions
    keys = [Decimal(v) for v in present] if sort_by in AMOUNT_SORTS else present
    assert keys == sorted(keys, reverse=direction == "DESC")  # numeric, not lexical
    for previous, current in itertools.pairwise(rows):  # ties: by symbol, ascending
        if previous[field] == current[field]:
            assert previous["symbol"] < current["symbol"]


@pytest.mark.anyio
async def test_default_sort_is_symbol_ascending(simulator: Simulator) -> None:
    symbols = [row["symbol"] for row in await all_positions(simulator)]
    assert symbols == sorted(symbols)


@pytest.mark.anyio
async def test_paging_through_a_sorted_filtered_list(simulator: Simulator) -> None:
    params = {
        "instrument_ids": "AAPL,TSLA,GOOG,MSFT,NVDA,AMZN,BRK.B",
        "sort_by": "MARKET_VALUE",
        "sort_direction": "DESC",
    }
    async with api(simulator) as http:
        whole = (await http.get(POSITIONS, params=params)).json()["data"]
        pages, response = [], await http.get(POSITIONS, params={**params, "page_size": 3})
        while True:
            metadata = response.json()["metadata"]
            pages.append(response.json()["data"])
            assert metadata["page_number"] == len(pages)
            assert (metadata["total_items"], metadata["total_pages"]) == (7, 3)
            assert (metadata.get("previous_page_token") is None) == (len(pages) == 1)
            token = metadata.get("next_page_token")
            if token is None:
                break
            assert "=" not in token and re.fullmatch(r"[A-Za-z0-9_-]+", token)
            offset, limit = struct.unpack(">QQ", base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            assert (offset, limit) == (3 * len(pages), 3)
            response = await http.get(POSITIONS, params={**params, "page_token": token, "page_size": 999})
        back = await http.get(POSITIONS, params={**params, "page_token": metadata.get("previous_page_token")})
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [row for page in pages for row in page] == whole
    assert back.json()["data"] == pages[1]
    assert back.json()["metadata"]["page_number"] == 2


@pytest.mark.anyio
async def test_empty_result_and_pages_past_the_end(simulator: Simulator) -> None:
    async with api(simulator) as http:
        empty = await http.get(POSITIONS, params={"instrument_ids": "SPY"})
        beyond_token = base64.urlsafe_b64encode(struct.pack(">QQ", 100, 10)).rstrip(b"=").decode()
        beyond = await http.get(POSITIONS, params={"page_token": beyond_token})
    assert empty.json()["data"] == []
    assert empty.json()["metadata"] | {"request_id": None} == {
        "request_id": None,
        "page_number": 1,
        "total_items": 0,
        "total_pages": 0,
        "next_page_token": None,
        "previous_page_token": None,
    }
    assert beyond.json()["data"] == [] and beyond.json()["metadata"]["page_number"] == 11


# --------------------------------------------------------------------- the generated account


@pytest.mark.anyio
async def test_ten_thousand_positions_page_by_page(simulator: Simulator) -> None:
    simulator.add_generated_account(777, positions=10_000, seed=1)
    started = wall_time.perf_counter()
    rows, pages = [], 0
    async with api(simulator) as http:
        params: dict[str, Any] = {"sort_by": "MARKET_VALUE", "sort_direction": "DESC"}
        response = await http.get("/v1/accounts/777/positions", params=params)
        while True:
            body = response.json()
            rows.extend(body["data"])
            pages += 1
            assert body["metadata"]["total_items"] == 10_000 and body["metadata"]["total_pages"] == 10
            if body["metadata"].get("next_page_token") is None:
                break
            response = await http.get(
                "/v1/accounts/777/positions", params={**params, "page_token": body["metadata"].get("next_page_token")}
            )
    elapsed = wall_time.perf_counter() - started
    assert pages == 10 and len(rows) == 10_000
    assert len({row["instrument_id"] for row in rows}) == 10_000
    values = [Decimal(row["market_value"]) for row in rows]
    assert values == sorted(values, reverse=True)
    kinds = {(row["instrument_type"], row["position_type"]) for row in rows}
    assert kinds == {("COMMON_STOCK", "LONG"), ("COMMON_STOCK", "SHORT"), ("OPTION", "LONG"), ("OPTION", "SHORT")}
    assert elapsed < 10, f"paging 10,000 positions took {elapsed:.1f}s"


def test_generated_accounts_are_deterministic() -> None:
    one, two = Simulator(now=MONDAY_OPEN), Simulator(now=MONDAY_OPEN)
    one.add_generated_account(5, positions=300, seed=9)
    two.add_generated_account(5, positions=300, seed=9)
    assert one.positions(5) == two.positions(5)
    two.add_generated_account(6, positions=300, seed=10)
    assert [r["quantity"] for r in two.positions(6)] != [r["quantity"] for r in two.positions(5)]
    with pytest.raises(ValueError, match="already exists"):
        one.add_generated_account(DEMO_PRIMARY_ACCOUNT, positions=10)


# --------------------------------------------------------------------- never a 500, always JSON

_segments = st.sampled_from(
    ["19816", "122503", "0", "abc", "-1", "AAPL", "aapl", "AAPL%20%20261127C00145000", "instructions", "%00",
     "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe", "00000000-0000-0000-0000-000000000000", "%F0%9F%92%A5", "..", ""]
)  # fmt: skip
_query_values = st.one_of(
    st.text(max_size=12), st.sampled_from(["SYMBOL", "DESC", "AAPL,TSLA", "AAAAAAAAAAAAAAAAAAAAAA"])
)
_bodies = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    ).map(lambda value: json.dumps(value).encode()),
    st.lists(
        st.fixed_dictionaries(
            {
                "instruction_type": st.sampled_from(["EXERCISE", "DO_NOT_EXERCISE", "X"]),
                "instrument_id": st.sampled_from(["AAPL  261127C00145000", "NVDA261127P00125000", "AAPL", "?"]),
                "quantity": st.sampled_from(["1", "0", "-2", "1.5", "abc", "99"]),
            },
            optional={"client_instruction_id": st.sampled_from(["k", "", None])},
        ),
        max_size=4,
    ).map(lambda rows: json.dumps(rows).encode()),
)


@settings(max_examples=250, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]),
    segments=st.lists(_segments, min_size=0, max_size=4),
    query=st.dictionaries(
        st.sampled_from(["page_size", "page_token", "sort_by", "sort_direction", "instrument_ids", "instrument_id"]),
        _query_values,
        max_size=3,
    ),
    body=_bodies,
)
def test_no_request_gets_a_500_or_a_body_outside_the_envelope(
    method: str, segments: list[str], query: dict[str, str], body: bytes | None
) -> None:
    simulator = _FUZZ_SIM
    path = "/v1/accounts/" + "/".join(["19816", "positions", *segments][: 2 + len(segments)])

    async def call() -> httpx.Response:
        async with api(simulator) as http:
            return await http.request(method, path, params=query, content=body)

    response = anyio.run(call)
    assert response.status_code < 500, (method, path, query, body, response.text)
    parsed = response.json()
    assert UUID.fullmatch(parsed["metadata"]["request_id"])
    assert (parsed.get("error") is None) == (response.status_code == 200)


_FUZZ_SIM = Simulator(seed=0, now=MONDAY_OPEN)
