"""The simulator's read-only market endpoints over raw HTTP: balances, market-data snapshots, option
contracts, instruments, clock, market hours and orders — consistent with the positions of the
same book. Expected figures are computed by hand here."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
import pytest
from conftest import AUTH, MONDAY_OPEN, api
from positions_mcp.domain.calendar import NEW_YORK
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, Simulator

AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
AAPL1_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e11"
SPX_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e20"
SPX_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e21"
BALANCES = f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/balances"
SNAPSHOT = "/v1/market-data/snapshot"
CONTRACTS = "/v1/instruments/options/contracts"
HOURS = "/v1/calendars/market-hours"
ORDERS = f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/orders"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK)


async def get(
    simulator: Simulator, path: str, params: Any = None, headers: dict[str, str] | None = AUTH
) -> httpx.Response:
    async with api(simulator, headers) as http:
        return await http.get(path, params=params)


async def data(simulator: Simulator, path: str, params: Any = None) -> Any:
    response = await get(simulator, path, params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("error") is None and body["metadata"]["request_id"]
    return body["data"]


def assert_error(response: httpx.Response, status: int, part: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == status and part in body["error"]["message"], body
    assert body["metadata"]["request_id"]


# -------------------------------------------------------------------------------------- balances


@pytest.mark.anyio
async def test_balances_of_the_demo_account_intraday(simulator: Simulator) -> None:
    b = await data(simulator, BALANCES)
    rows = simulator.positions(DEMO_PRIMARY_ACCOUNT)
    values = {r["symbol"]: Decimal(r["market_value"]) for r in rows}
    risk = {s: v for s, v in values.items() if s != "USD"}
    long_mv = sum(v for v in risk.values() if v > 0)
    short_mv = sum(v for v in risk.values() if v < 0)
    assert (long_mv, short_mv) == (Decimal("136339.43"), Decimal("-15689.50"))  # as summarize_exposure
    assert (b["long_market_value"], b["short_market_value"]) == ("136339.43", "-15689.50")
    assert b["trade_cash"] == b["settled_cash"] == "25000.00"
    assert b["equity"] == "145649.93"  # 25,000.00 + 136,339.43 − 15,689.50
    # maintenance, each position rounded to the cent:
    #   long stock 25 %: AAPL 3775.00 + AMZN 581.10 (2324.38) + BRK.B 904.70 + GOOG 869.06 + MSFT 20890.00
    #   short stock 30 %: NVDA 1108.35 + TSLA 2677.50
    #   long options 100 %: 6200 + 90 + 1020 + 1940 + 4410 + 3960 (AAPL1) + 10640 (SPX) = 28260.00
    #   short MSFT 430C ×3: 1920 + 20 % × 125,340 − OTM 3 × 100 × 12.20 = 23,328.00
    #   short NVDA 125P ×5: 1150 + 20 % × 61,575 − 0 = 13,465.00
    maintenance = Decimal("27019.86") + Decimal("3785.85") + Decimal("28260") + Decimal("36793")
    initial = (
        Decimal("7550") + Decimal("1162.19") + Decimal("1809.40") + Decimal("1738.12") + Decimal("41780")  # 50 % long
        + Decimal("1847.25") + Decimal("4462.50")  # 50 % short stock
        + Decimal("28260") + Decimal("36793")
    )  # fmt: skip
    margin = b["margin_details"]
    assert margin["maintenance_margin_requirement"] == str(maintenance) == "95858.71"
    assert margin["initial_margin_requirement"] == margin["overnight_margin_requirement"] == str(initial)
    assert initial == Decimal("125402.46")
    assert margin["maintenance_margin_excess"] == "49791.22"  # 145,649.93 − 95,858.71
    assert margin["initial_margin_excess"] == margin["overnight_margin_excess"] == "20247.47"
    assert margin["intraday_details"] == {"buying_power": "199164.88", "multiplier": "4"}  # 49,791.22 × 4
    assert margin["overnight_details"] == {"buying_power": "40494.94", "multiplier": "2"}  # 20,247.47 × 2
    assert (b["multiplier"], b["buying_power"], b["open_order_adjustment"]) == ("4", "199164.88", "0.00")
    assert b["withdrawable_cash"] == "20247.47"  # min(25,000.00, 20,247.47)
    assert margin["usage"] == {"total": "145649.93", "used": "95858.71"}
    assert "top_contributors" not in margin  # only when asked for
    assert (b["margin_type"], b["currency"], b["account_id"]) == ("REG_T", "USD", DEMO_PRIMARY_ACCOUNT)
    pnl = [r for r in rows if r["unrealized_pnl"] is not None]
    assert b["unrealized_pnl"] == str(sum(Decimal(r["unrealized_pnl"]) for r in pnl)) == "14352.13"
    assert b["daily_unrealized_pnl"] == "1129.37" and b["daily_realized_pnl"] == "0.00"
    assert b["daily_pnl"] == "1129.37"
    # start of day: the same holdings at the closes; AMZN 12.5 × 186.70 = 2333.75 exactly, while its
    # row's market value and daily P&L are each rounded (2324.38, −9.38): daily_change is a cent off
    sod = b["sod"]
    assert sod["asof"] == "2026-11-23" and sod["trade_cash"] == "25000.00"
    assert Decimal(sod["equity"]) == Decimal(sod["trade_cash"]) + Decimal(sod["long_market_value"]) + Decimal(
        sod["short_market_value"]
    )
    assert sod["short_market_value"] == "-16352.00"  # TSLA −9000 + NVDA −3642 − MSFT 430C 1785 − NVDA 125P 1925
    assert b["daily_change"] == str(Decimal(b["equity"]) - Decimal(sod["equity"])) == "1129.38"
    assert Decimal(sod["maintenance_margin_excess"]) == Decimal(sod["equity"]) - Decimal(
        sod["maintenance_margin_requirement"]
    )
    assert Decimal(sod["buying_power"]) == 4 * Decimal(sod["maintenance_margin_excess"])


@pytest.mark.anyio
async def test_top_contributors_group_options_under_their_underlier(simulator: Simulator) -> None:
    margin = (await data(simulator, BALANCES, {"top_margin_contributors_limit": 3}))["margin_details"]
    msft, nvda, aapl = margin["top_contributors"]
    msft_id = simulator.positions(DEMO_PRIMARY_ACCOUNT)
    msft_id = next(r["instrument_id"] for r in msft_id if r["symbol"] == "MSFT")
    assert msft == {
        "underlying_instrument_id": msft_id,
        "market_value": "81640.00",  # 83,560.00 − 1,920.00 (short 430C)
        "maintenance_margin_requirement": "44218.00",  # 20,890.00 + 23,328.00
        "initial_margin_requirement": "65108.00",  # 41,780.00 + 23,328.00
        "overnight_margin_requirement": "65108.00",
    }
    assert (nvda["market_value"], nvda["maintenance_margin_requirement"]) == ("-4844.50", "14573.35")
    # AAPL: stock 15,100 + 145C 6,200 + 160C 90 + AAPL1 3,960 (an adjusted contract counts toward AAPL)
    assert aapl["underlying_instrument_id"] == AAPL_ID
    assert (aapl["market_value"], aapl["maintenance_margin_requirement"]) == ("25350.00", "14025.00")
    one = (await data(simulator, BALANCES, {"top_margin_contributors_limit": 1}))["margin_details"]["top_contributors"]
    assert one == [msft]
    for bad in ("0", "-1", "x"):
        assert_error(await get(simulator, BALANCES, {"top_margin_contributors_limit": bad}), 400, "top_margin")


@pytest.mark.anyio
async def test_overnight_buying_power_uses_the_overnight_excess_times_two(simulator: Simulator) -> None:
    simulator.set_now(at(date(2026, 11, 23), 21, 0))  # after the after-hours session
    b = await data(simulator, BALANCES)
    assert (b["multiplier"], b["buying_power"]) == ("2", "40494.94")
    simulator.set_now(at(date(2026, 11, 24), 4, 0))  # pre-market opens: intraday again
    assert (await data(simulator, BALANCES))["multiplier"] == "4"


@pytest.mark.anyio
async def test_balances_of_the_second_account(simulator: Simulator) -> None:
    b = await data(simulator, f"/v1/accounts/{DEMO_INSTRUCTIONS_ACCOUNT}/balances")
    # AAPL 300 × 151.00 = 45,300.00; LEAP 5 × 12.40 × 100 = 6,200.00; TSLA 185C 3 × 0.62 × 100 = 186.00
    assert (b["long_market_value"], b["short_market_value"], b["trade_cash"]) == ("51686.00", "0.00", "5000.00")
    assert b["equity"] == "56686.00"
    margin = b["margin_details"]
    assert margin["maintenance_margin_requirement"] == "17711.00"  # 11,325 + 6,200 + 186
    assert margin["initial_margin_requirement"] == "29036.00"  # 22,650 + 6,386
    assert b["buying_power"] == "155900.00"  # (56,686 − 17,711) × 4
    assert b["withdrawable_cash"] == "5000.00"  # min(5,000.00, 27,650.00)


@pytest.mark.anyio
async def test_balances_follow_account_access_rules() -> None:
    simulator = Simulator(now=MONDAY_OPEN, api_keys={"k1": [DEMO_PRIMARY_ACCOUNT]})
    assert_error(await get(simulator, BALANCES, headers={"Authorization": "Bearer nope"}), 401, "Invalid API key")
    other = f"/v1/accounts/{DEMO_INSTRUCTIONS_ACCOUNT}/balances"
    assert_error(await get(simulator, other, headers={"Authorization": "Bearer k1"}), 403, "permission")
    assert (await get(simulator, BALANCES, headers={"Authorization": "Bearer k1"})).status_code == 200
    assert_error(await get(Simulator(now=MONDAY_OPEN), "/v1/accounts/424242/balances"), 404, "Account 424242")


# ------------------------------------------------------------------------------------- snapshot


def bsm(spot: float, strike: float, years: float, sigma: float, call: bool, r: float = 0.04) -> dict[str, Decimal]:
    """Black-Scholes-Merton written out independently of the simulator's module."""

    def n(x: float) -> float:
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def cdf(x: float) -> float:
        return (1 + math.erf(x / math.sqrt(2))) / 2

    d1 = (math.log(spot / strike) + (r + sigma**2 / 2) * years) / (sigma * math.sqrt(years))
    d2 = d1 - sigma * math.sqrt(years)
    disc = math.exp(-r * years)
    if call:
        price = spot * cdf(d1) - strike * disc * cdf(d2)
        delta, rho = cdf(d1), strike * years * disc * cdf(d2)
        theta = -spot * n(d1) * sigma / (2 * math.sqrt(years)) - r * strike * disc * cdf(d2)
    else:
        price = strike * disc * cdf(-d2) - spot * cdf(-d1)
        delta, rho = cdf(d1) - 1, -strike * years * disc * cdf(-d2)
        theta = -spot * n(d1) * sigma / (2 * math.sqrt(years)) + r * strike * disc * cdf(-d2)
    four = Decimal("0.0001")
    values = {
        "theo_price": price,
        "delta": delta,
        "gamma": n(d1) / (spot * sigma * math.sqrt(years)),
        "theta": theta / 252,
        "vega": spot * n(d1) * math.sqrt(years) / 100,
        "rho": rho / 100,
    }
    return {k: Decimal(repr(v)).quantize(four, rounding=ROUND_HALF_EVEN) for k, v in values.items()}


@pytest.mark.anyio
async def test_one_price_per_instrument_in_positions_and_snapshot(simulator: Simulator) -> None:
    rows = await data(simulator, SNAPSHOT, {"instrument_ids": "AAPL,aapl," + AAPL_ID + ",SPY"})
    aapl, spy = rows  # the three AAPL ids collapse into one row
    assert aapl == {
        "instrument_id": AAPL_ID,
        "symbol": "AAPL",
        "name": "Apple Inc.",
        "short_sale_restricted": False,
        "last_quote": {
            "bid": "150.98", "bid_size": aapl["last_quote"]["bid_size"], "bid_venue": "XNAS",
            "bid_timestamp": "2026-11-23T15:00:00.000000000Z",
            "ask": "151.02", "ask_size": aapl["last_quote"]["ask_size"], "ask_venue": "ARCX",
            "ask_timestamp": "2026-11-23T15:00:00.000000000Z",
            "midpoint": "151.00",
        },
        "last_trade": {"price": "151.00", "size": 100, "venue": "XNAS", "timestamp": "2026-11-23T15:00:00.000000000Z"},
        "session": {
            "ohlv_applicable": True, "open": "150.70", "high": "151.03", "low": "150.67", "ohlv_date": "2026-11-23",
            "cumulative_volume": aapl["session"]["cumulative_volume"],
            "previous_close": "150.50", "change": "0.50", "change_percent": "0.3322",  # 0.50 / 150.50
        },
        "cumulative_volume": aapl["session"]["cumulative_volume"],
        "greeks": None,
        "open_interest": None,
    }  # fmt: skip
    assert all(isinstance(aapl["last_quote"][k], int) for k in ("bid_size", "ask_size"))
    assert isinstance(aapl["cumulative_volume"], int) and aapl["cumulative_volume"] > 0
    position = next(r for r in simulator.positions(DEMO_PRIMARY_ACCOUNT) if r["symbol"] == "AAPL")
    assert position["instrument_price"] == aapl["last_trade"]["price"] == aapl["last_quote"]["midpoint"]
    assert position["closing_price"] == aapl["session"]["previous_close"]
    # SPY is not held, and priced all the same
    assert (spy["symbol"], spy["last_trade"]["price"], spy["last_quote"]["bid"], spy["last_quote"]["ask"]) == (
        "SPY", "560.25", "560.23", "560.27",
    )  # fmt: skip
    simulator.set_instrument_price("AAPL", "152.40")
    [moved] = await data(simulator, SNAPSHOT, {"instrument_ids": "AAPL"})
    assert moved["last_trade"]["price"] == moved["last_quote"]["midpoint"] == "152.40"
    assert (
        next(r for r in simulator.positions(DEMO_PRIMARY_ACCOUNT) if r["symbol"] == "AAPL")["market_value"]
        == "15240.00"
    )


@pytest.mark.anyio
async def test_option_rows_carry_bsm_greeks_and_open_interest(simulator: Simulator) -> None:
    [call] = await data(simulator, SNAPSHOT, {"instrument_ids": "AAPL 261127C00145000"})
    assert call["symbol"] == "AAPL  261127C00145000" and call["short_sale_restricted"] is None
    quote = call["last_quote"]
    # price 6.20, tick 0.05 at and above 3.00: 6.20 ∓ 2 ticks
    assert (quote["bid"], quote["ask"], quote["midpoint"]) == ("6.10", "6.30", "6.20")
    assert (quote["bid_venue"], quote["ask_venue"]) == ("XCBO", "BATO")
    assert isinstance(call["open_interest"], int) and call["open_interest"] > 0
    # S 151, K 145, σ 28 % (AAPL), r 4 %, from Monday 10:00 to Friday's 13:00 close (early close): 99 hours
    expected = bsm(151.0, 145.0, 99 / (365 * 24), 0.28, call=True)
    greeks = call["greeks"]
    assert {k: Decimal(greeks[k]) for k in expected} == expected
    assert greeks["iv"] == "0" and greeks["timestamp"] == "2026-11-23T15:00:00.000000000Z"
    assert Decimal(greeks["delta"]) == Decimal("0.9181")
    [put] = await data(simulator, SNAPSHOT, {"instrument_ids": "NVDA261127P00125000"})
    assert {k: Decimal(put["greeks"][k]) for k in expected} == bsm(123.15, 125.0, 99 / 8760, 0.50, call=False)


@pytest.mark.anyio
async def test_missing_greeks_index_levels_and_missing_or_one_sided_quotes(simulator: Simulator) -> None:
    unobserved, spx, brk, spx_call = await data(
        simulator, SNAPSHOT, {"instrument_ids": "TSLA 270115P00170000,SPX,BRK.B,SPX 270115C05700000"}
    )
    assert unobserved["greeks"] is None and unobserved["last_quote"]["midpoint"] == "4.85"
    assert spx["last_quote"] is None  # an index has no quote ...
    assert spx["last_trade"] == {"price": "5602.50", "size": 0, "timestamp": "2026-11-23T15:00:00.000000000Z"}
    assert spx["session"] == {
        "ohlv_applicable": False, "previous_close": "5621.00", "change": "-18.50", "change_percent": "-0.3291",
    }  # fmt: skip
    assert brk["last_quote"] is None and brk["last_trade"] is None  # no current price
    assert brk["session"] == {"ohlv_applicable": True, "previous_close": "452.35"}
    # SPX options tick 0.10 above 3.00: 106.40 ∓ 0.20; AM-settled: greeks to the 2027-01-15 open
    assert (spx_call["last_quote"]["bid"], spx_call["last_quote"]["ask"]) == ("106.20", "106.60")
    years = (at(date(2027, 1, 15), 9, 30) - MONDAY_OPEN).total_seconds() / (365 * 24 * 3600)
    expected = bsm(5602.5, 5700.0, years, 0.16, call=True)
    assert {k: Decimal(spx_call["greeks"][k]) for k in expected} == expected
    simulator.set_instrument_price("AAPL 261127C00160000", "0.01")
    [cheap] = await data(simulator, SNAPSHOT, {"instrument_ids": "AAPL261127C00160000"})
    quote = cheap["last_quote"]
    assert "bid" not in quote and "midpoint" not in quote and quote["ask"] == "0.03"  # one-sided


@pytest.mark.anyio
async def test_chain_mode_returns_every_contract_of_the_expiry(simulator: Simulator) -> None:
    rows = await data(simulator, SNAPSHOT, {"underlying_instrument_id": "AAPL", "expiry": "2026-11-27"})
    assert [r["symbol"] for r in rows] == ["AAPL  261127C00145000", "AAPL  261127C00160000"]
    later = await data(simulator, SNAPSHOT, {"underlying_instrument_id": AAPL_ID, "expiry": "2027-01-15"})
    assert [r["symbol"] for r in later] == ["AAPL1 270115C00140000"]  # the adjusted contract is on AAPL
    assert await data(simulator, SNAPSHOT, {"underlying_instrument_id": "AAPL", "expiry": "2026-12-04"}) == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "At least one instrument_id is required"),
        ({"instrument_ids": ""}, 400, "At least one instrument_id is required"),
        ({"instrument_ids": ",".join(["AAPL"] * 101)}, 400, "At most 100"),
        ({"instrument_ids": "AAPL", "underlying_instrument_id": "AAPL", "expiry": "2026-11-27"}, 400, "combined"),
        ({"underlying_instrument_id": "AAPL"}, 400, "together"),
        ({"expiry": "2026-11-27"}, 400, "together"),
        ({"underlying_instrument_id": "AAPL", "expiry": "27/11/2026"}, 400, "YYYY-MM-DD"),
        ({"underlying_instrument_id": "NOPE", "expiry": "2026-11-27"}, 404, "Instrument not found: NOPE"),
        ({"instrument_ids": "NOPE,NADA"}, 404, "Instrument not found for id `NOPE`"),
    ],
)
async def test_snapshot_argument_errors(
    simulator: Simulator, params: dict[str, str], status: int, message: str
) -> None:
    assert_error(await get(simulator, SNAPSHOT, params), status, message)


@pytest.mark.anyio
async def test_snapshot_needs_only_a_key_and_skips_unknown_ids(simulator: Simulator) -> None:
    assert_error(await get(simulator, SNAPSHOT, {"instrument_ids": "AAPL"}, headers=None), 401, "Authorization")
    keyed = Simulator(now=MONDAY_OPEN, api_keys={"k": []})  # a key with no account still reads market data
    assert (await get(keyed, SNAPSHOT, {"instrument_ids": "AAPL"}, {"Authorization": "Bearer k"})).status_code == 200
    rows = await data(simulator, SNAPSHOT, [("instrument_ids", "NOPE"), ("instrument_ids", "TSLA")])  # repeated keys
    assert [r["symbol"] for r in rows] == ["TSLA"]


# ----------------------------------------------------------------------------- option contracts


@pytest.mark.anyio
async def test_contract_terms_multiplier_style_settlement_and_cutoffs(simulator: Simulator) -> None:
    rows = await data(
        simulator, CONTRACTS, {"contract_ids": f"{AAPL1_CALL_ID},SPX 270115C05700000,AAPL261127C00145000"}
    )
    aapl1, spx, aapl = rows
    assert aapl1 == {
        "id": AAPL1_CALL_ID, "symbol": "AAPL1 270115C00140000", "underlying_instrument_id": AAPL_ID,
        "contract_type": "CALL", "strike_price": "140", "expiry": "2027-01-15", "multiplier": "150",
        "exercise_style": "AMERICAN", "listing_type": "STANDARD", "is_settle_on_open": False,
        "last_trade_cutoff": "2027-01-15T21:00:00Z",  # 16:00 EST
        "currency": "USD", "exchange": "XCBO", "is_tradable": True, "is_liquidation_only": False,
        "is_marginable": True, "open_interest": aapl1["open_interest"],
        "tick_rules": [
            {"start_price": "0", "end_price": "3", "tick_size": "0.01"}, {"start_price": "3", "tick_size": "0.05"},
        ],
    }  # fmt: skip
    assert (spx["id"], spx["underlying_instrument_id"], spx["multiplier"]) == (SPX_CALL_ID, SPX_ID, "100")
    assert (spx["exercise_style"], spx["is_settle_on_open"]) == ("EUROPEAN", True)
    assert spx["last_trade_cutoff"] == "2027-01-14T21:00:00Z"  # AM-settled: the close of the day before
    assert spx["tick_rules"] == [
        {"start_price": "0", "end_price": "3", "tick_size": "0.05"}, {"start_price": "3", "tick_size": "0.10"},
    ]  # fmt: skip
    assert aapl["last_trade_cutoff"] == "2026-11-27T18:00:00Z"  # the 13:00 ET early close
    simulator.set_now(at(date(2026, 11, 27), 13, 0))
    [closed] = await data(simulator, CONTRACTS, {"contract_ids": AAPL_CALL_ID})
    assert closed["is_tradable"] is False


@pytest.mark.anyio
async def test_contract_listings_filters_roots_and_pages(simulator: Simulator) -> None:
    everything = await data(simulator, CONTRACTS, {"underlying_instrument_id": "AAPL"})
    assert [r["symbol"] for r in everything] == [
        "AAPL  261127C00145000", "AAPL  261127C00160000", "AAPL1 270115C00140000", "AAPL  280121C00195000",
    ]  # fmt: skip
    assert [r["symbol"] for r in await data(simulator, CONTRACTS, {"root": "AAPL1"})] == ["AAPL1 270115C00140000"]
    assert [r["id"] for r in await data(simulator, CONTRACTS, {"root": "SPX"})] == [SPX_CALL_ID]
    assert [r["id"] for r in await data(simulator, CONTRACTS, {"underlier": "spx"})] == [SPX_CALL_ID]
    filtered = await data(
        simulator, CONTRACTS, {"underlying_instrument_id": "AAPL", "expiry": "2026-11-27", "contract_type": "CALL"}
    )
    assert len(filtered) == 2
    assert await data(simulator, CONTRACTS, {"underlying_instrument_id": "AAPL", "is_settle_on_open": "true"}) == []
    assert await data(simulator, CONTRACTS, {"underlying_instrument_id": "AAPL", "contract_type": "PUT"}) == []
    seen: list[str] = []
    token: str | None = None
    while True:
        params = {"underlying_instrument_id": "AAPL", **({"page_token": token} if token else {"page_size": "3"})}
        response = await get(simulator, CONTRACTS, params)
        body = response.json()
        seen.extend(r["symbol"] for r in body["data"])
        assert body["metadata"]["total_items"] == 4 and body["metadata"]["total_pages"] == 2
        token = body["metadata"].get("next_page_token")
        if token is None:
            break
    assert seen == [r["symbol"] for r in everything]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "Exactly one identifier"),
        ({"contract_ids": AAPL_CALL_ID, "root": "AAPL"}, 400, "Exactly one identifier"),
        ({"contract_ids": ",".join([AAPL_CALL_ID] * 101)}, 400, "At most 100"),
        ({"root": "AAPL", "underlier": "TSLA"}, 400, "must be equal"),
        ({"underlying_instrument_id": "NOPE"}, 404, "Instrument not found: NOPE"),
        ({"root": "NOPE"}, 404, "Instrument not found: NOPE"),
        ({"contract_ids": "NOPE"}, 404, "Instrument not found: NOPE"),
        ({"root": "AAPL", "contract_type": "STRADDLE"}, 400, "contract_type"),
        ({"root": "AAPL", "is_settle_on_open": "maybe"}, 400, "is_settle_on_open"),
        ({"root": "AAPL", "page_size": "0"}, 400, "page_size"),
    ],
)
async def test_contract_argument_errors(
    simulator: Simulator, params: dict[str, str], status: int, message: str
) -> None:
    assert_error(await get(simulator, CONTRACTS, params), status, message)


# ----------------------------------------------------------------------------------- instruments


@pytest.mark.anyio
async def test_instrument_by_id_with_expiry_dates(simulator: Simulator) -> None:
    aapl = await data(simulator, f"/v1/instruments/{AAPL_ID}", {"include_options_expiry_dates": "true"})
    assert (aapl["symbol"], aapl["instrument_type"], aapl["name"], aapl["venue"]) == (
        "AAPL", "COMMON_STOCK", "Apple Inc.", "XNMS",
    )  # fmt: skip
    assert (aapl["is_tradable"], aapl["is_liquidation_only"], aapl["previous_close"]) == (True, False, "150.50")
    assert (aapl["long_margin_rate"], aapl["short_margin_rate"], aapl["shortable_attribute"]) == (
        "0.25", "0.30", "EASY_TO_BORROW",
    )  # fmt: skip
    assert aapl["options_expiry_dates"] == ["2026-11-27", "2027-01-15", "2028-01-21"]
    assert aapl["options_contract_expiry_dates"][0] == {
        "date": "2026-11-27", "has_settles_on_close": True, "has_settles_on_open": False,
    }  # fmt: skip
    plain = await data(simulator, "/v1/instruments/aapl")
    assert "options_expiry_dates" not in plain and plain["id"] == AAPL_ID
    spx = await data(simulator, "/v1/instruments/SPX", {"include_options_expiry_dates": "true"})
    assert (spx["instrument_type"], spx["is_tradable"]) == ("INDEX", False)
    assert spx["options_contract_expiry_dates"] == [
        {"date": "2027-01-15", "has_settles_on_close": False, "has_settles_on_open": True}
    ]
    option = await data(simulator, "/v1/instruments/AAPL 261127C00145000")
    assert (option["id"], option["symbol"], option["instrument_type"]) == (
        AAPL_CALL_ID, "AAPL  261127C00145000", "OPTION",
    )  # fmt: skip
    assert "strike_price" not in option and "multiplier" not in option


@pytest.mark.anyio
async def test_expiry_dates_disappear_once_nothing_on_them_trades(simulator: Simulator) -> None:
    simulator.set_now(at(date(2026, 11, 27), 13, 30))  # after the early close of the AAPL weekly
    aapl = await data(simulator, "/v1/instruments/AAPL", {"include_options_expiry_dates": "true"})
    assert aapl["options_expiry_dates"] == ["2027-01-15", "2028-01-21"]
    simulator.set_now(at(date(2027, 1, 14), 16, 0))  # SPX (AM-settled) stops trading the day before expiry
    spx = await data(simulator, "/v1/instruments/SPX", {"include_options_expiry_dates": "true"})
    assert spx["options_contract_expiry_dates"] == []


@pytest.mark.anyio
async def test_instrument_errors(simulator: Simulator) -> None:
    assert_error(await get(simulator, "/v1/instruments/AAP"), 404, "Instrument not found: AAP")
    assert_error(
        await get(simulator, "/v1/instruments/AAPL", {"include_options_expiry_dates": "yes"}), 400, "true or false"
    )
    assert_error(await get(simulator, "/v1/instruments/AAPL", headers=None), 401, "Authorization")


# ---------------------------------------------------------------------------- clock and hours


@pytest.mark.anyio
async def test_the_clock_is_the_simulated_clock(simulator: Simulator) -> None:
    assert await data(simulator, "/v1/clock") == {"clock": "2026-11-23T15:00:00.000000000Z"}
    simulator.advance(90.5)
    assert await data(simulator, "/v1/clock") == {"clock": "2026-11-23T15:01:30.500000000Z"}


@pytest.mark.anyio
async def test_market_hours_on_a_regular_day(simulator: Simulator) -> None:
    equities, options = await data(simulator, HOURS)
    assert equities["market"] == "us_equities" and options["market"] == "us_options"
    assert (equities["date"], equities["timezone"], equities["current_time"]) == (
        "2026-11-23", "America/New_York", "2026-11-23T10:00:00-05:00",
    )  # fmt: skip
    assert equities["status"] == {"day_type": "TRADING_DAY", "is_open": True, "current_session": "regular"}
    assert equities["today_sessions"] == {
        "pre_market": {"open": "2026-11-23T04:00:00-05:00", "close": "2026-11-23T09:30:00-05:00"},
        "regular": {
            "open": "2026-11-23T09:30:00-05:00", "close": "2026-11-23T16:00:00-05:00", "time_until_close": "PT6H",
        },
        "after_hours": {
            "open": "2026-11-23T16:00:00-05:00", "close": "2026-11-23T20:00:00-05:00", "time_until_open": "PT6H",
        },
    }  # fmt: skip
    assert set(options["today_sessions"]) == {"regular"}
    assert options["next_sessions"] == {
        "regular": {"open": "2026-11-24T09:30:00-05:00", "close": "2026-11-24T16:00:00-05:00"}
    }


@pytest.mark.anyio
async def test_market_hours_on_early_close_holiday_and_weekend_days(simulator: Simulator) -> None:
    simulator.set_now(at(date(2026, 11, 27), 12, 40))
    [options] = await data(simulator, HOURS, {"market": "us_options"})
    assert options["status"] == {"day_type": "EARLY_CLOSE", "is_open": True, "current_session": "regular"}
    assert options["today_sessions"]["regular"] == {
        "open": "2026-11-27T09:30:00-05:00", "close": "2026-11-27T13:00:00-05:00", "time_until_close": "PT20M",
    }  # fmt: skip
    assert options["next_sessions"]["regular"]["open"] == "2026-11-30T09:30:00-05:00"  # over the weekend
    [equities] = await data(simulator, HOURS, {"market": "us_equities"})
    assert set(equities["today_sessions"]) == {"pre_market", "regular"}  # no after-hours on an early close
    thanksgiving, weekend = (
        await data(simulator, HOURS, {"date": "2026-11-26", "market": "us_equities"}),
        await data(simulator, HOURS, {"date": "2026-11-28", "market": "us_equities"}),
    )
    assert thanksgiving[0]["status"]["day_type"] == "HOLIDAY" and thanksgiving[0]["today_sessions"] == {}
    assert thanksgiving[0]["next_sessions"]["regular"]["close"] == "2026-11-27T13:00:00-05:00"
    assert weekend[0]["status"]["day_type"] == "WEEKEND" and weekend[0]["today_sessions"] == {}
    # status.is_open is about now whatever the date asked: it is 12:40 on the early-close Friday
    assert weekend[0]["status"]["is_open"] is True
    future = await data(simulator, HOURS, {"date": "2026-11-30", "market": "us_options"})
    assert future[0]["today_sessions"]["regular"]["time_until_open"] == "P2DT20H50M"  # Fri 12:40 → Mon 09:30


@pytest.mark.anyio
async def test_market_hours_outside_sessions_and_errors(simulator: Simulator) -> None:
    simulator.set_now(at(date(2026, 11, 24), 5, 0))
    equities, options = await data(simulator, HOURS)
    assert equities["status"]["current_session"] == "pre_market" and equities["status"]["is_open"] is True
    assert options["status"] == {"day_type": "TRADING_DAY", "is_open": False, "current_session": None}
    assert options["today_sessions"]["regular"]["time_until_open"] == "PT4H30M"
    assert_error(await get(simulator, HOURS, {"market": "us_event_contracts"}), 400, "us_equities, us_options")
    assert_error(await get(simulator, HOURS, {"date": "2026-13-01"}), 400, "YYYY-MM-DD")


# ------------------------------------------------------------------------------------------ orders


@pytest.mark.anyio
async def test_orders_list_filters_and_pages(simulator: Simulator) -> None:
    [resting] = await data(simulator, ORDERS)
    assert (resting["symbol"], resting["status"], resting["limit_price"]) == ("MSFT", "NEW", "450.00")
    async with api(simulator) as http:
        await http.delete(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/{AAPL_CALL_ID}")
        await http.delete(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/GOOG")
    assert [o["symbol"] for o in await data(simulator, ORDERS)] == ["MSFT", "AAPL261127C00145000", "GOOG"]
    on_aapl = await data(simulator, ORDERS, {"underlying_instrument_ids": "AAPL", "status": "PENDING_NEW,NEW"})
    assert [o["instrument_id"] for o in on_aapl] == [AAPL_CALL_ID]
    assert [o["symbol"] for o in await data(simulator, ORDERS, {"status": "NEW"})] == ["MSFT"]
    assert [o["symbol"] for o in await data(simulator, ORDERS, {"instrument_ids": "goog,MSFT"})] == ["MSFT", "GOOG"]
    assert [o["symbol"] for o in await data(simulator, ORDERS, {"instrument_type": "OPTION"})] == [
        "AAPL261127C00145000"
    ]
    assert len(await data(simulator, ORDERS, {"from": "2026-11-23T15:00:00Z"})) == 2
    assert len(await data(simulator, ORDERS, {"to": "2026-11-22"})) == 1  # the resting order, from Friday
    assert len(await data(simulator, ORDERS, {"updated_at[gte]": "2026-11-23"})) == 2
    first = (await get(simulator, ORDERS, {"page_size": "2"})).json()
    assert [o["symbol"] for o in first["data"]] == ["MSFT", "AAPL261127C00145000"]
    assert first["metadata"]["total_items"] == 3 and first["metadata"].get("next_page_token")
    second = (await get(simulator, ORDERS, {"page_token": first["metadata"].get("next_page_token")})).json()
    assert [o["symbol"] for o in second["data"]] == ["GOOG"] and second["metadata"].get("next_page_token") is None
    simulator.settle()
    assert [o["symbol"] for o in await data(simulator, ORDERS, {"status": "FILLED"})] == ["AAPL261127C00145000", "GOOG"]


@pytest.mark.anyio
async def test_one_order_by_id_or_by_client_order_id_while_open(simulator: Simulator) -> None:
    [resting] = await data(simulator, ORDERS)
    assert await data(simulator, f"{ORDERS}/{resting['id']}") == resting
    assert await data(simulator, f"{ORDERS}/{resting['client_order_id']}") == resting
    async with api(simulator) as http:
        [close] = (await http.delete(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/GOOG")).json()["data"]
    assert (await data(simulator, f"{ORDERS}/{close['client_order_id']}"))["id"] == close["id"]
    simulator.settle()
    assert (await data(simulator, f"{ORDERS}/{close['id']}"))["status"] == "FILLED"
    assert_error(await get(simulator, f"{ORDERS}/{close['client_order_id']}"), 404, "not found")  # no longer open
    assert_error(await get(simulator, f"{ORDERS}/nope"), 404, "Order nope not found")


@pytest.mark.anyio
async def test_order_errors_and_access() -> None:
    simulator = Simulator(now=MONDAY_OPEN, api_keys={"k": [DEMO_PRIMARY_ACCOUNT]})
    key = {"Authorization": "Bearer k"}
    assert_error(await get(simulator, ORDERS, {"status": "OPEN"}, key), 400, "status 'OPEN'")
    assert_error(await get(simulator, ORDERS, {"instrument_type": "BOND"}, key), 400, "instrument_type")
    assert_error(await get(simulator, ORDERS, {"instrument_ids": "NOPE"}, key), 404, "Instrument not found: NOPE")
    assert_error(await get(simulator, ORDERS, {"from": "yesterday"}, key), 400, "RFC 3339")
    assert_error(
        await get(simulator, ORDERS, {"updated_at[gte]": "2026-11-24", "updated_at[lt]": "2026-11-23"}, key),
        400,
        "after",
    )
    other = f"/v1/accounts/{DEMO_INSTRUCTIONS_ACCOUNT}/orders"
    assert_error(await get(simulator, other, headers=key), 403, "permission")
