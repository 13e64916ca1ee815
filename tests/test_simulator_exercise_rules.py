"""Trading rules the simulator enforces on position instructions:
the FINRA exercise cutoff on early-close days, batches judged per contract whatever the row order,
European-style exercise only on the expiration day, cash-settled index options, and exercises that
move cash as well as shares. Every expected figure is computed by hand in the test."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import MONDAY_OPEN, api
from positions_mcp.domain.calendar import NEW_YORK
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, Simulator

PRIMARY = f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/instructions"
AAPL_CALL = "AAPL  261127C00145000"  # 10 long, expiring Friday 2026-11-27 (an early close)
AAPL_OTM_CALL = "AAPL  261127C00160000"  # 5 long
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
AAPL1_CALL = "AAPL1 270115C00140000"  # 2 long, multiplier 150
SPX_CALL = "SPX   270115C05700000"  # 1 long, European, AM-settled, cash-settled
SPY_PUT = "SPY   261127P00565000"  # 2 long
LEAP = "AAPL  280121C00195000"
EXERCISE_DOMAIN = "com.clearstreet.oems.exercise"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK)


def row(instruction_type: str, instrument_id: str, quantity: str) -> dict[str, Any]:
    return {"instruction_type": instruction_type, "instrument_id": instrument_id, "quantity": quantity}


async def submit(sim: Simulator, rows: list[dict[str, Any]], account: int = DEMO_PRIMARY_ACCOUNT) -> httpx.Response:
    async with api(sim) as http:
        return await http.post(f"/v1/accounts/{account}/positions/instructions", json=rows)


def held(sim: Simulator, symbol: str, account: int = DEMO_PRIMARY_ACCOUNT) -> dict[str, Any] | None:
    return next((r for r in sim.positions(account) if r["symbol"] == symbol), None)


def cash(sim: Simulator, account: int = DEMO_PRIMARY_ACCOUNT) -> Decimal:
    usd = held(sim, "USD", account)
    return Decimal(usd["quantity"]) if usd else Decimal(0)


def reasons(response: httpx.Response) -> list[str | None]:
    return [r["rejection"]["reason"] if r["rejection"] else r["status"] for r in response.json()["data"]]


# ------------------------------------------------------------- 1. cutoff on early-close days


@pytest.mark.anyio
async def test_a_dne_after_1430_on_an_early_close_expiry_day_is_past_the_cutoff() -> None:
    # 2026-11-27, the day after Thanksgiving, closes at 13:00: FINRA's deadline is 13:00 + 1:30.
    sim = Simulator(now=MONDAY_OPEN)
    sim.set_now(at(date(2026, 11, 27), 15, 0))
    late = await submit(sim, [row("DO_NOT_EXERCISE", AAPL_CALL, "10")])
    assert late.status_code == 400
    [rejected] = late.json()["data"]
    assert rejected["rejection"] == {
        "reason": "EXERCISE_PAST_CUTOFF",
        "domain": EXERCISE_DOMAIN,
        "description": f"Instructions for {AAPL_CALL} were due by the exercise cutoff (2026-11-27T14:30:00-05:00)",
        "metadata": {"cutoff_time": "2026-11-27T14:30:00-05:00"},
    }
    in_time = Simulator(now=MONDAY_OPEN)
    in_time.set_now(at(date(2026, 11, 27), 14, 29))
    assert (await submit(in_time, [row("DO_NOT_EXERCISE", AAPL_CALL, "10")])).status_code == 200


@pytest.mark.anyio
async def test_christmas_eve_is_an_early_close_expiry_day_too() -> None:
    # Friday 2026-12-25 is a holiday: the weekly expiry moves to Thursday 2026-12-24, an early close.
    sim = Simulator(now=at(date(2026, 12, 24), 14, 45))
    assert sim.dates.next_expiry == date(2026, 12, 24)
    call = "AAPL  261224C00145000"
    late = await submit(sim, [row("CONTRARY_EXERCISE", call, "1"), row("EXERCISE", call, "1")])
    assert [r["rejection"]["metadata"] for r in late.json()["data"]] == [
        {"cutoff_time": "2026-12-24T14:30:00-05:00"}
    ] * 2


@pytest.mark.anyio
async def test_a_regular_expiry_day_keeps_1730_and_a_broker_cutoff_only_ever_makes_it_earlier() -> None:
    friday = date(2026, 12, 4)
    sim = Simulator(now=at(friday, 17, 0))
    call = "AAPL  261204C00145000"
    assert (await submit(sim, [row("DO_NOT_EXERCISE", call, "1")])).status_code == 200
    sim.set_now(at(friday, 17, 30))
    late = await submit(sim, [row("DO_NOT_EXERCISE", call, "1")])
    assert late.json()["data"][0]["rejection"]["metadata"] == {"cutoff_time": "2026-12-04T17:30:00-05:00"}
    # Simulator(exercise_cutoff=17:30) on the early close: min(17:30, 14:30) = 14:30
    early = Simulator(now=at(date(2026, 11, 27), 15, 0), exercise_cutoff=time(17, 30))
    response = await submit(early, [row("DO_NOT_EXERCISE", "AAPL  261127C00145000", "1")])
    assert response.json()["data"][0]["rejection"]["metadata"] == {"cutoff_time": "2026-11-27T14:30:00-05:00"}
    # a broker cutoff at 16:00 on a regular day: min(16:00, 17:30) = 16:00
    broker = Simulator(now=at(friday, 16, 0), exercise_cutoff=time(16, 0))
    response = await submit(broker, [row("DO_NOT_EXERCISE", call, "1")])
    assert response.json()["data"][0]["rejection"]["metadata"] == {"cutoff_time": "2026-12-04T16:00:00-05:00"}


# -------------------------------------------------------------- 3. batches judged per contract


@pytest.mark.anyio
@pytest.mark.parametrize(
    "rows",
    [
        [row("DO_NOT_EXERCISE", AAPL_CALL, "10"), row("EXERCISE", AAPL_CALL, "10")],
        [row("EXERCISE", AAPL_CALL, "10"), row("DO_NOT_EXERCISE", AAPL_CALL, "10")],
        [row("DO_NOT_EXERCISE", AAPL_CALL, "10"), row("DO_NOT_EXERCISE", AAPL_CALL_ID, "10")],
        [row("CONTRARY_EXERCISE", AAPL_CALL, "6"), row("EXERCISE", AAPL_CALL, "5")],
    ],
    ids=["dne-then-exercise", "exercise-then-dne", "dne-twice", "cea-and-exercise"],
)
async def test_rows_that_together_exceed_the_position_are_all_rejected_in_any_order(rows: list[dict[str, Any]]) -> None:
    sim = Simulator(now=at(date(2026, 11, 27), 10, 0))  # the expiration day: DNE and CEA are allowed
    response = await submit(sim, rows)
    assert response.status_code == 400
    total = sum(int(r["quantity"]) for r in rows)
    for rejected in response.json()["data"]:
        assert rejected["status"] == "REJECTED"
        assert rejected["rejection"]["reason"] == "INSUFFICIENT_POSITION"
        assert rejected["rejection"]["metadata"] == {"available": "10", "requested": str(total)}
    assert sim.instructions(DEMO_PRIMARY_ACCOUNT) == []


@pytest.mark.anyio
async def test_the_verdict_of_every_row_is_the_same_for_every_row_order() -> None:
    rows = [
        row("EXERCISE", AAPL_CALL, "3"),
        row("DO_NOT_EXERCISE", AAPL_CALL, "8"),  # 3 + 8 = 11 > 10: both rejected
        row("EXERCISE", AAPL_OTM_CALL, "2"),  # 2 of 5: sent
        row("DO_NOT_EXERCISE", AAPL_OTM_CALL, "3"),  # 2 + 3 = 5 of 5: sent
    ]
    for order in itertools.permutations(range(len(rows))):
        sim = Simulator(now=at(date(2026, 11, 27), 10, 0))
        response = await submit(sim, [rows[i] for i in order])
        verdicts = {order[n]: r["status"] for n, r in enumerate(response.json()["data"])}
        assert verdicts == {0: "REJECTED", 1: "REJECTED", 2: "SENT", 3: "SENT"}, order


@pytest.mark.anyio
async def test_instructions_that_fit_together_do_not_contradict_each_other() -> None:
    sim = Simulator(now=at(date(2026, 11, 27), 10, 0))
    split = await submit(sim, [row("EXERCISE", AAPL_CALL, "4"), row("DO_NOT_EXERCISE", AAPL_CALL, "6")])
    assert split.status_code == 200 and reasons(split) == ["SENT", "SENT"]


@pytest.mark.anyio
async def test_pending_instructions_of_every_type_consume_contracts() -> None:
    sim = Simulator(now=at(date(2026, 11, 27), 10, 0))
    [dne] = (await submit(sim, [row("DO_NOT_EXERCISE", AAPL_CALL, "7")])).json()["data"]
    assert dne["status"] == "SENT"
    # the pending DNE covers 7 of the 10: an exercise of 4 exceeds the 3 left
    refused = await submit(sim, [row("EXERCISE", AAPL_CALL, "4")])
    assert refused.json()["data"][0]["rejection"]["metadata"] == {"available": "3", "requested": "4"}
    async with api(sim) as http:
        assert (await http.delete(f"{PRIMARY}/{dne['id']}")).json()["data"]["status"] == "CANCEL_REQUESTED"
    still = await submit(sim, [row("EXERCISE", AAPL_CALL, "4")])  # CANCEL_REQUESTED still counts
    assert still.json()["data"][0]["rejection"]["metadata"] == {"available": "3", "requested": "4"}
    sim.advance(2)  # the cancel completes: the contracts are free again
    assert (await submit(sim, [row("EXERCISE", AAPL_CALL, "4")])).status_code == 200
    # closing is only held back by pending exercises (a DNE does not stop a sale): 10 − 4
    assert held(sim, "AAPL261127C00145000")["available_quantity"] == "6"  # type: ignore[index]


# ---------------------------------------------------------------- 5. European-style options


@pytest.mark.anyio
async def test_a_european_option_cannot_be_exercised_before_its_expiration_day() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    response = await submit(sim, [row("EXERCISE", SPX_CALL, "1")])
    assert response.status_code == 400
    [rejected] = response.json()["data"]
    assert rejected["rejection"] == {
        "reason": "EUROPEAN_EARLY_EXERCISE",
        "domain": EXERCISE_DOMAIN,
        "description": f"{SPX_CALL} is a European-style option: it can only be exercised on its expiration "
        "date (2027-01-15)",
        "metadata": {"expiry": "2027-01-15", "business_date": "2026-11-23"},
    }
    # an American contract can be exercised the same day
    assert (await submit(sim, [row("EXERCISE", AAPL1_CALL, "1")])).status_code == 200


@pytest.mark.anyio
async def test_an_index_option_exercised_on_its_expiration_day_settles_in_cash() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    assert sim.dates.monthly_expiry == date(2027, 1, 15)
    sim.set_now(at(date(2027, 1, 15), 10, 0))
    sim.set_instrument_price("SPX", "5750.00")
    before = {r["symbol"] for r in sim.positions(DEMO_PRIMARY_ACCOUNT)}
    response = await submit(sim, [row("EXERCISE", SPX_CALL, "1")])
    assert response.status_code == 200
    sim.advance(3)
    assert sim.instructions(DEMO_PRIMARY_ACCOUNT)[-1]["status"] == "ACCEPTED"
    after = {r["symbol"] for r in sim.positions(DEMO_PRIMARY_ACCOUNT)}
    assert after == before - {"SPX270115C05700000"}  # no SPX "shares" delivered
    # intrinsic (5750 − 5700) × 1 contract × 100 = 5,000.00 on top of the 25,000.00
    assert cash(sim) == Decimal("30000.00")
    # realized: (50.00 intrinsic − 92.50 premium) × 100 = −4,250.00
    async with api(sim) as http:
        balances = (await http.get(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/balances")).json()["data"]
    assert balances["daily_realized_pnl"] == "-4250.00"
    assert balances["trade_cash"] == "30000.00"


@pytest.mark.anyio
async def test_an_out_of_the_money_index_exercise_pays_nothing() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    sim.set_now(at(date(2027, 1, 15), 10, 0))  # SPX stays at 5602.50, below the 5700 strike
    await submit(sim, [row("EXERCISE", SPX_CALL, "1")])
    sim.advance(3)
    assert held(sim, "SPX270115C05700000") is None and cash(sim) == Decimal("25000.00")


# -------------------------------------------------------- 10. exercises move cash and shares


@pytest.mark.anyio
async def test_a_call_exercise_pays_the_strike_from_cash() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    await submit(sim, [row("EXERCISE", AAPL_CALL, "2")])
    sim.advance(3)
    assert held(sim, "AAPL")["quantity"] == "300"  # type: ignore[index]
    # 25,000.00 − 2 × 100 × 145 = −4,000.00: the account now borrows (a SHORT cash row)
    usd = held(sim, "USD")
    assert usd is not None and (usd["quantity"], usd["position_type"], usd["market_value"]) == (
        "-4000",
        "SHORT",
        "-4000.00",
    )


@pytest.mark.anyio
async def test_a_put_exercise_delivers_shares_and_receives_the_strike() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    await submit(sim, [row("EXERCISE", SPY_PUT, "2")])
    sim.advance(3)
    assert held(sim, "SPY")["quantity"] == "-200"  # type: ignore[index]
    assert cash(sim) == Decimal("25000") + 2 * 100 * 565  # 138,000.00


@pytest.mark.anyio
async def test_an_adjusted_contract_delivers_its_multiplier_in_shares() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    aapl1 = held(sim, "AAPL1270115C00140000")
    assert aapl1 is not None
    # valued with the contract's multiplier, 150, not 100
    assert (aapl1["market_value"], aapl1["cost_basis"], aapl1["unrealized_pnl"]) == ("3960.00", "2940.00", "1020.00")
    assert aapl1["daily_unrealized_pnl"] == "105.00"  # 2 × (13.20 − 12.85) × 150
    await submit(sim, [row("EXERCISE", AAPL1_CALL, "1")])
    sim.advance(3)
    aapl = held(sim, "AAPL")
    # 100 + 150 shares; average (100 × 145.00 + 150 × (140 + 9.80)) / 250 = 147.88
    assert aapl is not None and (aapl["quantity"], aapl["avg_price"]) == ("250", "147.88")
    assert cash(sim) == Decimal("25000") - 150 * 140  # 4,000.00
    assert held(sim, "AAPL1270115C00140000")["quantity"] == "1"  # type: ignore[index]


@pytest.mark.anyio
async def test_the_second_account_holds_what_its_accepted_exercise_left() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    [accepted] = [i for i in sim.instructions(DEMO_INSTRUCTIONS_ACCOUNT) if i["status"] == "ACCEPTED"]
    assert (accepted["instruction_type"], accepted["symbol"], accepted["accepted_quantity"]) == ("EXERCISE", LEAP, "1")
    # Before: 6 contracts, 200 AAPL at 140.70, 24,500.00 cash. The exercise of 1 contract:
    leap = held(sim, "AAPL280121C00195000", DEMO_INSTRUCTIONS_ACCOUNT)
    assert leap is not None and leap["quantity"] == "5"  # 6 − 1
    aapl = held(sim, "AAPL", DEMO_INSTRUCTIONS_ACCOUNT)
    # 200 + 100 shares; (200 × 140.70 + 100 × (195 + 10.80)) / 300 = 48,720 / 300 = 162.40
    assert aapl is not None and (aapl["quantity"], aapl["avg_price"]) == ("300", "162.40")
    assert cash(sim, DEMO_INSTRUCTIONS_ACCOUNT) == Decimal("24500") - 100 * 195  # 5,000.00


@pytest.mark.anyio
async def test_a_closing_fill_moves_its_proceeds_into_cash() -> None:
    sim = Simulator(now=MONDAY_OPEN)
    async with api(sim) as http:
        await http.delete(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/GOOG")
        sim.settle()
        balances = (await http.get(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/balances")).json()["data"]
    assert held(sim, "GOOG") is None
    assert cash(sim) == Decimal("25000") + 25 * Decimal("139.05")  # 28,476.25
    assert balances["daily_realized_pnl"] == "166.25"  # 25 × (139.05 − 132.40), the position gone
