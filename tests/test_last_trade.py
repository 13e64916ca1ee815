"""A contract's last trade: after it no close is advised, previewed or sent, and the preview says
what expiry does instead. Through the protocol against the simulator, on the expiry day before and
after the 16:00 close, on an early-close day (13:00) and for an AM-settled index option (SPX
monthly: its last trade is the close of the business day before, its settlement value comes from
the opening prices)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest
from conftest import Recorder, ok
from mcp import Client
from positions_mcp.clearstreet.market_models import ExerciseStyle
from positions_mcp.domain.calendar import NEW_YORK
from positions_mcp.domain.contracts import terms_for
from positions_mcp.domain.last_trade import AM_RULE, PM_RULE, ROW_CUTOFF, last_trade
from positions_mcp.settings import Settings
from positions_mcp.simulator import DEMO_PRIMARY_ACCOUNT, Simulator

pytestmark = pytest.mark.anyio

SPX_PUT = "SPX 270115P05650000"  # written 2, AM-settled, cash-settled, in the money by 47.50 points
AM_EXPIRY = date(2027, 1, 15)


def et(y: int, m: int, d: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(date(y, m, d), time(hour, minute), NEW_YORK).astimezone(UTC)


def simulator(built: datetime, now: datetime | None = None, *, spx_put: bool = False) -> Simulator:
    """The demo book built at ``built`` (its next expiry is the Friday after), the clock at ``now``;
    with ``spx_put``, 2 written SPX 5650 puts expiring 2027-01-15, AM- and cash-settled (an SPX
    monthly: European, settled from the opening prices)."""
    sim = Simulator(seed=0, now=built)
    if spx_put:
        sim.hold_option(
            DEMO_PRIMARY_ACCOUNT, SPX_PUT, "-2", "60.00", price="75.00", underlying="SPX",
            exercise_style=ExerciseStyle.EUROPEAN, settles_on_open=True, cash_settled=True,
        )  # fmt: skip
    if now is not None:
        sim.set_now(now)
    return sim


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    return ok(await client.call_tool(tool, arguments))


async def suggestions(client: Client) -> dict[str, str]:
    """The exposure summary's suggestion for each expiring option, by symbol."""
    expiring = (await call(client, "summarize_exposure"))["expiring"]["options"]
    column = expiring["columns"].index("suggestion")
    return {row[0]: row[column] for row in expiring["rows"]}


def codes(issues: list[dict[str, Any]]) -> list[str]:
    return [issue["code"] for issue in issues]


def warning(plan: dict[str, Any], code: str) -> str:
    messages: list[str] = [w["message"] for w in plan["warnings"] if w["code"] == code]
    [message] = messages
    return message


# -- a PM-settled option on its expiry day (Fri 2026-11-20 closes at 16:00 ET) -------------------


async def test_on_the_expiry_day_before_the_close_the_close_is_allowed_and_its_last_trade_named(
    make_settings: Callable[..., Settings],
) -> None:
    upstream = Recorder(simulator(et(2026, 11, 16, 10), et(2026, 11, 20, 15)))
    async with Client(upstream.server(make_settings())) as client:
        said = await suggestions(client)
        preview = await call(client, "preview_close_position", instrument_id="AAPL 261120C00145000")
    assert said["NVDA261120P00125000"] == "close by 16:00 ET today to avoid assignment"
    plan = preview["plan"]
    assert plan["allowed"] and preview["confirmation_token"] is not None
    assert warning(plan, "LAST_TRADING_DAY") == (
        "AAPL 261120C00145000: today is its last trading day: it trades until 16:00 ET today (the contract's "
        "last_trade_cutoff). A MARKET DAY order not filled by then does not carry over, and after that it can no "
        "longer be closed."
    )


async def test_past_the_close_on_the_expiry_day_a_close_is_blocked_and_expiry_said_instead(
    make_settings: Callable[..., Settings],
) -> None:
    """Before: 'Send 1 MARKET DAY order … The market is closed now: the orders will wait for the open
    at Mon 2026-11-23 09:30 ET.' for a contract that expires that Friday."""
    upstream = Recorder(simulator(et(2026, 11, 16, 10), et(2026, 11, 20, 16, 30)))
    questions: list[str] = []

    async def person(context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        questions.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    async with Client(upstream.server(make_settings())) as client:
        said = await suggestions(client)
        long = await call(client, "preview_close_position", instrument_id="AAPL 261120C00145000")
        short = await call(client, "preview_close_position", instrument_id="NVDA 261120P00125000")
        lapsing = await call(client, "preview_close_position", instrument_id="AAPL 261120C00160000")
        stock = await call(client, "preview_close_position", instrument_id="AAPL")
    async with Client(upstream.server(make_settings()), elicitation_callback=person) as client:
        refused = await client.call_tool("close_position", {"instrument_id": "AAPL 261120C00145000"})
    assert said["NVDA261120P00125000"] == (
        "its last trade was 16:00 ET today: it can no longer be closed through this server and assignment is "
        "likely; contact the desk"
    )
    head = (
        "its last trade was 16:00 ET today (the contract's last_trade_cutoff), so a closing order could not trade "
        "before it expires (a MARKET DAY order would only wait for the next open); none is sent. At expiry instead: "
    )
    assert long["plan"]["summary"] == (
        f"Blocked, nothing will be sent: AAPL 261120C00145000: {head}it will be exercised automatically (OCC Rule "
        "805(d) exercise by exception; in the money by $6.00 a share, AAPL at $151.00): pay $145,000.00 and "
        "receive 1000 AAPL shares. What can still be done: to let it lapse, send DO_NOT_EXERCISE by 17:30 ET today."
    )
    assert short["plan"]["blocked"][0]["message"] == (
        f"NVDA 261120P00125000: {head}assignment is likely (in the money by $1.85 a share, NVDA at $123.15): pay "
        "$62,500.00 and receive 500 NVDA shares. Nothing can change that through this server; contact the desk."
    )
    assert lapsing["plan"]["blocked"][0]["message"].endswith(
        "it expires worthless, nothing is received (out of the money or under $0.01 in it, AAPL at $151.00). "
        "What can still be done: to exercise, send CONTRARY_EXERCISE by 17:30 ET today."
    )
    for preview in (long, short, lapsing):
        assert codes(preview["plan"]["blocked"]) == ["PAST_LAST_TRADE"]
        assert preview.get("confirmation_token") is None
    # the stock still closes at Monday's open
    assert stock["plan"]["allowed"]
    assert stock["plan"]["summary"].endswith("the orders will wait for the open at Mon 2026-11-23 09:30 ET.")
    assert refused.is_error and questions == []
    assert upstream.writes == []


async def test_close_all_is_refused_whole_while_a_position_is_past_its_last_trade(
    make_settings: Callable[..., Settings],
) -> None:
    """Clear Street's close-all closes every position in one request: the expired contracts cannot be
    left out of it, so the preview is blocked and says to close the others one at a time."""
    upstream = Recorder(simulator(et(2026, 11, 16, 10), et(2026, 11, 20, 16, 30)))
    async with Client(upstream.server(make_settings())) as client:
        preview = await call(client, "preview_close_positions")
        refused = await client.call_tool("close_positions", {})
    plan = preview["plan"]
    assert plan["summary"] == (
        "Blocked, nothing will be sent: close-all sends a closing order for every position, and AAPL "
        "261120C00145000, AAPL 261120C00160000, NVDA 261120P00125000 and SPY 261120P00565000 are past the last "
        "trade (such an order cannot trade before expiry), so close-all is refused: close the other positions one at "
        "a time with preview_close_position. What expiry does instead is said for each contract in blocked."
    )
    assert codes(plan["blocked"]) == ["PAST_LAST_TRADE"] * 5
    assert [b.get("symbol") for b in plan["blocked"][1:]] == [
        "AAPL 261120C00145000",
        "AAPL 261120C00160000",
        "NVDA 261120P00125000",
        "SPY 261120P00565000",
    ]
    assert "deliver 200 SPY shares and receive $113,000.00" in plan["blocked"][4]["message"]
    assert preview.get("confirmation_token") is None
    assert refused.is_error and upstream.writes == []


# -- an early close (Fri 2026-11-27 closes at 13:00 ET) ------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "closes"), [(12, 30, True), (13, 0, False), (13, 30, False)], ids=["12:30", "13:00", "13:30"]
)
async def test_on_an_early_close_the_last_trade_is_13_00(
    make_settings: Callable[..., Settings], hour: int, minute: int, closes: bool
) -> None:
    upstream = Recorder(simulator(et(2026, 11, 23, 10), et(2026, 11, 27, hour, minute)))
    async with Client(upstream.server(make_settings())) as client:
        said = await suggestions(client)
        preview = await call(client, "preview_close_position", instrument_id="AAPL 261127C00145000")
    plan = preview["plan"]
    assert plan["allowed"] is closes
    if closes:
        assert said["NVDA261127P00125000"] == "close by 13:00 ET today to avoid assignment"
        assert "it trades until 13:00 ET today" in warning(plan, "LAST_TRADING_DAY")
    else:
        assert said["NVDA261127P00125000"].startswith("its last trade was 13:00 ET today: it can no longer be closed")
        message = plan["blocked"][0]["message"]
        assert message.startswith("AAPL 261127C00145000: its last trade was 13:00 ET today")
        # the exercise cutoff is 14:30 ET on an early close (FINRA Rule 2360(b)(23)(A))
        assert message.endswith("What can still be done: to let it lapse, send DO_NOT_EXERCISE by 14:30 ET today.")


# -- an AM-settled index option (SPX monthly expiring Fri 2027-01-15) ----------------------------


async def test_an_am_settled_option_trades_for_the_last_time_the_business_day_before(
    make_settings: Callable[..., Settings],
) -> None:
    """Thursday 2027-01-14 10:00 ET: before, the summary said 'close before expiry to avoid assignment'
    for the written SPX puts, with no word that Friday is too late."""
    upstream = Recorder(simulator(et(2027, 1, 14, 10), spx_put=True))
    async with Client(upstream.server(make_settings())) as client:
        said = await suggestions(client)
        preview = await call(client, "preview_close_position", instrument_id=SPX_PUT)
        everything = await call(client, "preview_close_positions")
    assert said["SPX270115P05650000"] == (
        "close by 16:00 ET today to avoid assignment (its last trade; AM-settled: its settlement value is set from "
        "the opening prices on Fri 2027-01-15)"
    )
    assert said["NVDA270115P00125000"] == "close before expiry to avoid assignment"  # PM-settled: Friday still trades
    plan = preview["plan"]
    assert plan["allowed"]
    assert warning(plan, "LAST_TRADING_DAY") == (
        "SPX 270115P05650000: today is its last trading day: it trades until 16:00 ET today (AM-settled: the close "
        "of the business day before its expiration day); AM-settled: its settlement value is set from the opening "
        "prices on Fri 2027-01-15. A MARKET DAY order not filled by then does not carry over, and after that it can "
        "no longer be closed."
    )
    assert everything["plan"]["allowed"]
    assert "SPX 270115P05650000: today is its last trading day" in warning(everything["plan"], "LAST_TRADING_DAY")


async def test_on_its_expiry_day_an_am_settled_option_cannot_be_closed(
    make_settings: Callable[..., Settings],
) -> None:
    """Friday 2027-01-15 10:00 ET. Before: the summary advised 'close by 16:00 ET today to avoid
    assignment' and preview_close_position offered 'Send 1 MARKET DAY order: BUY 2 SPX 270115P05650000
    contracts (~$15,040.00)'. The PM-settled options expiring the same day still trade."""
    upstream = Recorder(simulator(et(2027, 1, 14, 10), et(2027, 1, 15, 10), spx_put=True))
    async with Client(upstream.server(make_settings())) as client:
        said = await suggestions(client)
        preview = await call(client, "preview_close_position", instrument_id=SPX_PUT)
        same_day = await call(client, "preview_close_position", instrument_id="NVDA 270115P00125000")
        everything = await call(client, "preview_close_positions")
    assert said["SPX270115P05650000"] == (
        "AM-settled: its settlement value is set from today's opening prices; its last trade was 16:00 ET on Thu "
        "2027-01-14: it can no longer be closed and assignment is likely; contact the desk"
    )
    assert said["NVDA270115P00125000"] == "close by 16:00 ET today to avoid assignment"
    assert preview["plan"]["summary"] == (
        "Blocked, nothing will be sent: SPX 270115P05650000: its last trade was 16:00 ET on Thu 2027-01-14 "
        "(AM-settled: the close of the business day before its expiration day), so a closing order could not trade "
        "before it expires (a MARKET DAY order would only wait for the next open); none is sent. At expiry instead: "
        "assignment is likely (in the money by 47.50 points, SPX at $5,602.50): pay about $9,500.00 in cash, the "
        "intrinsic value at the index's current level (an estimate until the settlement value is set; no shares "
        "move). AM-settled: its settlement value is set from today's opening prices. Nothing can change that through "
        "this server; contact the desk."
    )
    assert preview.get("confirmation_token") is None
    assert same_day["plan"]["allowed"]
    assert everything["plan"]["blocked"][0]["message"].startswith(
        "close-all sends a closing order for every position, and SPX 270115P05650000 is past the last trade"
    )
    assert upstream.writes == []


async def test_a_long_am_settled_option_on_its_expiry_day_says_its_settlement_and_what_can_be_sent(
    make_settings: Callable[..., Settings],
) -> None:
    """The demo's long SPX 5700 call (out of the money at 5,602.50) on its expiry day, 2027-01-15."""
    upstream = Recorder(simulator(et(2026, 11, 16, 10), et(2027, 1, 15, 10)))
    async with Client(upstream.server(make_settings())) as client:
        said = await suggestions(client)
        preview = await call(client, "preview_close_position", instrument_id="SPX 270115C05700000")
        exercise = await call(
            client,
            "preview_submit_position_instructions",
            instructions=[
                {"instruction_type": "CONTRARY_EXERCISE", "instrument_id": "SPX 270115C05700000", "quantity": 1}
            ],
        )
    assert said["SPX270115C05700000"] == (
        "to exercise, send CONTRARY_EXERCISE by 17:30 ET today (AM-settled: its settlement value is set from "
        "today's opening prices)"
    )
    assert preview["plan"]["blocked"][0]["message"].endswith(
        "At expiry instead: it expires worthless, nothing is received (out of the money or under $0.01 in it, SPX at "
        "$5,602.50). What can still be done: to exercise, send CONTRARY_EXERCISE by 17:30 ET today (AM-settled: its "
        "settlement value is set from today's opening prices)."
    )
    [row] = exercise["plan"]["rows"]
    assert row["status"] == "OK"
    assert (
        "AM-settled: its settlement value is set from today's opening prices; its last trade was 16:00 ET on Thu "
        "2027-01-14 (AM-settled: the close of the business day before its expiration day)"
    ) in row["notes"]


# -- where the last trade comes from -------------------------------------------------------------


class EarlierCutoff(Recorder):
    """An API whose option-contracts rows say trading ends at 14:00 ET on 2026-11-20."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if "/options/contracts" not in request.url.path:
            return response
        await response.aread()
        body = json.loads(response.content)
        for row in body.get("data") or []:
            if row["expiry"] == "2026-11-20":
                row["last_trade_cutoff"] = "2026-11-20T19:00:00Z"
        return httpx.Response(response.status_code, json=body, request=request)


async def test_the_contracts_own_last_trade_cutoff_is_read_and_wins(make_settings: Callable[..., Settings]) -> None:
    upstream = EarlierCutoff(simulator(et(2026, 11, 16, 10), et(2026, 11, 20, 15)))
    async with Client(upstream.server(make_settings())) as client:
        said = await suggestions(client)
        preview = await call(client, "preview_close_position", instrument_id="AAPL 261120C00145000")
    assert said["NVDA261120P00125000"].startswith("its last trade was 14:00 ET today: it can no longer be closed")
    assert preview["plan"]["blocked"][0]["message"].startswith(
        "AAPL 261120C00145000: its last trade was 14:00 ET today (the contract's last_trade_cutoff)"
    )


async def test_without_the_contracts_endpoint_the_spx_root_is_still_am_settled(
    make_settings: Callable[..., Settings],
) -> None:
    """The Cboe listing: SPX-root series are AM-settled (the PM-settled ones are SPXW)."""
    sim = simulator(et(2027, 1, 14, 10), et(2027, 1, 15, 10), spx_put=True)
    sim.faults.add(403, times=None, path_contains="/options/contracts")
    upstream = Recorder(sim)
    async with Client(upstream.server(make_settings())) as client:
        preview = await call(client, "preview_close_position", instrument_id=SPX_PUT)
    assert preview["plan"]["blocked"][0]["message"].startswith(
        "SPX 270115P05650000: its last trade was 16:00 ET on Thu 2027-01-14 (AM-settled: the close of the business "
        "day before its expiration day)"
    )


def test_the_last_trade_rule() -> None:
    """One function: the row's cutoff, else the close of the expiration business day (13:00 ET on an
    early close), or of the business day before it for an AM-settled contract; never later than
    that for an AM-settled one."""
    pm = terms_for("AAPL 261127C00145000")
    spx = terms_for("SPX 270115P05650000")
    assert (last_trade(date(2026, 11, 27), pm).at, last_trade(date(2026, 11, 27), pm).source) == (
        et(2026, 11, 27, 13),
        PM_RULE,
    )
    assert (last_trade(AM_EXPIRY, spx).at, last_trade(AM_EXPIRY, spx).source) == (et(2027, 1, 14, 16), AM_RULE)
    # Good Friday 2026-04-03: the monthly expires Thursday, so an AM-settled one last trades Wednesday
    assert last_trade(date(2026, 4, 3), spx).at == et(2026, 4, 1, 16)
    assert last_trade(date(2026, 4, 3), pm).at == et(2026, 4, 2, 16)
    # after Thanksgiving: an AM-settled contract expiring Fri 2026-11-27 last trades Wed 2026-11-25
    assert last_trade(date(2026, 11, 27), spx).at == et(2026, 11, 25, 16)
    row = terms_for("AAPL 261120C00145000", {"multiplier": "100", "last_trade_cutoff": "2026-11-20T20:15:00Z"})
    assert (last_trade(date(2026, 11, 20), row).at, last_trade(date(2026, 11, 20), row).source) == (
        et(2026, 11, 20, 15, 15),
        ROW_CUTOFF,
    )
    late = terms_for("SPX 270115P05650000", {"multiplier": "100", "last_trade_cutoff": "2027-01-15T21:00:00Z"})
    assert last_trade(AM_EXPIRY, late).at == et(2027, 1, 14, 16)  # an AM-settled row's later cutoff is not believed


# -- the simulator -------------------------------------------------------------------------------


async def test_the_simulator_serves_an_am_settled_contract_and_never_fills_past_the_last_trade() -> None:
    sim = simulator(et(2027, 1, 14, 10), et(2027, 1, 15, 10), spx_put=True)
    headers = {"Authorization": "Bearer any"}
    async with httpx.AsyncClient(base_url="http://simulator", transport=sim.transport(), headers=headers) as http:
        contracts = await http.get("/v1/instruments/options/contracts", params={"contract_ids": SPX_PUT})
        closed = await http.delete(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/{SPX_PUT}")
    [row] = contracts.json()["data"]
    assert (row["is_settle_on_open"], row["exercise_style"], row["last_trade_cutoff"], row["is_tradable"]) == (
        True,
        "EUROPEAN",
        "2027-01-14T21:00:00Z",  # 16:00 ET the business day before
        False,
    )
    [order] = closed.json()["data"]  # the API takes the order (it says nothing about refusing one)…
    sim.settle()
    [after] = [o for o in sim.orders(DEMO_PRIMARY_ACCOUNT) if o["id"] == order["id"]]
    assert after["status"] == "REJECTED"  # …but it never trades
    held = {p["symbol"]: p["quantity"] for p in sim.positions(DEMO_PRIMARY_ACCOUNT)}
    assert held["SPX270115P05650000"] == "-2"


@pytest.mark.parametrize(
    ("instant", "stated"),
    [
        (
            et(2027, 1, 14, 10),
            "options expiring today trade until 16:00 ET today; AM-settled index options (is_settle_on_open, e.g. "
            "SPX monthlies) stop a business day earlier: those expiring Fri 2027-01-15 trade for the last time at "
            "16:00 ET today, those expiring today no longer trade (last trade 16:00 ET on Wed 2027-01-13",
        ),
        (
            et(2026, 11, 27, 13, 30),
            "options expiring today traded for the last time at 13:00 ET today (PASSED)",
        ),
    ],
)
@pytest.mark.parametrize("name", ["close_position", "review_expiring_options"])
async def test_the_prompts_state_the_days_last_trades(
    upstream: Recorder, make_settings: Callable[..., Settings], name: str, instant: datetime, stated: str
) -> None:
    arguments = {"instrument_id": "SPX 270115P05650000"} if name == "close_position" else {}
    async with Client(upstream.server(make_settings())) as client:
        upstream.simulator.set_now(instant)
        text = (await client.get_prompt(name, arguments)).messages[0].content.text  # type: ignore[union-attr]
    assert f"Options' last trades: {stated}" in text.replace("\n", " ")
