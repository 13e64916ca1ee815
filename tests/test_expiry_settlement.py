"""One model of what expiry settles, shared by the exposure summary and the exercise preview's cash
check (domain.settlement): the instructions in force, the same night's expiry, short-sale proceeds
and an adjusted contract whose deliverable is not confirmed. Through the protocol, against the
simulator's demo book (account 19816) on its expiry day, Friday 2026-11-27 at 10:00 ET (an early
close: exercise cutoff 14:30 ET).

The demo book, expiring that day, by hand (AAPL 151.00, NVDA 123.15, SPY 560.25; trade cash 25,000.00):

    AAPL 145C × 10   6.00 in the money: auto-exercised, pays 10 × 100 × 145 = 145,000.00, +1,000 AAPL
    AAPL 160C × 5    out of the money: lapses; exercised it pays 5 × 100 × 160 = 80,000.00, +500 AAPL
    NVDA 125P × −5   1.85 in the money: assigned, pays 5 × 100 × 125 = 62,500.00, +500 NVDA
    SPY 565P × 2     4.75 in the money: auto-exercised, receives 2 × 100 × 565 = 113,000.00 for 200 SPY
                     the account does not hold: a short sale's proceeds (Regulation T), not counted

By default: cash out 145,000 + 62,500 = 207,500.00; counted −207,500.00; cash after −182,500.00.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import MONDAY_OPEN, Recorder, ok
from mcp import Client
from positions_mcp.settings import Settings
from positions_mcp.simulator import Simulator

pytestmark = pytest.mark.anyio

ACCOUNT = 19816
FRIDAY_10 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 10:00 ET, the demo contracts' expiry day
C145, C160, SPY_PUT = "AAPL  261127C00145000", "AAPL  261127C00160000", "SPY   261127P00565000"


@asynccontextmanager
async def connect(simulator: Simulator, make_settings: Callable[..., Settings]) -> AsyncIterator[Client]:
    async with Client(Recorder(simulator).server(make_settings())) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    return ok(await client.call_tool(tool, arguments))


def expiring(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    table = summary["expiring"]["options"]
    return {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["rows"]}


async def preview_cash(client: Client, *rows: tuple[str, str, int]) -> dict[str, Any]:
    batch = [{"instruction_type": kind, "instrument_id": symbol, "quantity": n} for kind, symbol, n in rows]
    plan: dict[str, Any] = (await call(client, "preview_submit_position_instructions", instructions=batch))["plan"]
    assert plan["ready"], plan["summary"]
    return plan


async def test_the_summary_counts_the_instructions_in_force(make_settings: Callable[..., Settings]) -> None:
    """An ACCEPTED DO_NOT_EXERCISE for the 10 AAPL 145 calls and an ACCEPTED CONTRARY_EXERCISE for
    the 5 AAPL 160 calls (OCC Rule 805: contrary instructions override exercise by exception): the
    145s are not exercised, the 160s are. Cash out 62,500 (NVDA) + 80,000 (AAPL 160s) = 142,500.00
    (was 207,500.00), AAPL +500 shares (was +1,000); counted −142,500.00, cash after −117,500.00."""
    simulator = Simulator(seed=0, now=FRIDAY_10)
    async with connect(simulator, make_settings) as client:
        before = await call(client, "summarize_exposure")
        dne = simulator.place_instruction(ACCOUNT, C145, "DO_NOT_EXERCISE", 10, "ACCEPTED")
        cea = simulator.place_instruction(ACCOUNT, C160, "CONTRARY_EXERCISE", 5, "ACCEPTED")
        after = await call(client, "summarize_exposure")
    was = before["expiring"]["at_expiry"]
    assert (was["cash_out"], was["net_cash"], was["cash_after"]) == ("207500.00", "-207500.00", "-182500.00")
    assert was["shares"]["AAPL"] == "1000" and "instructed" not in was
    assert expiring(before)["AAPL261127C00145000"]["suggestion"] == (
        "to let it lapse, send DO_NOT_EXERCISE by 14:30 ET today"
    )
    now = after["expiring"]["at_expiry"]
    assert (now["cash_out"], now["cash_in"], now["short_sale_proceeds"]) == ("142500.00", "113000.00", "113000.00")
    assert (now["net_cash"], now["cash_after"]) == ("-142500.00", "-117500.00")
    assert now["shares"] == {"AAPL": "500", "NVDA": "500", "SPY": "-200"}
    assert now["instructed"] == 2
    rows = expiring(after)
    # the 145s: no advice to send the DO_NOT_EXERCISE already in force; the row names it
    assert rows["AAPL261127C00145000"]["suggestion"] == f"10 not exercised (DO_NOT_EXERCISE 10 ACCEPTED {dne['id']})"
    assert rows["AAPL261127C00160000"]["suggestion"] == f"5 exercised (CONTRARY_EXERCISE 5 ACCEPTED {cea['id']})"
    assert rows["AAPL261127C00145000"]["default_at_expiry"] == "AUTO_EXERCISE"  # what it does if nobody acts
    assert now["warning"].startswith(
        "cash short by $117,500.00 at expiry, not counting the $113,000.00 of short-sale proceeds"
    )


@pytest.mark.parametrize(
    ("status", "cash_out", "counted"),
    [
        ("SENT", "62500.00", True),
        ("ACCEPTED", "62500.00", True),
        ("CANCEL_REQUESTED", "62500.00", True),  # in force until CANCELLED
        ("CANCEL_FAILED", "62500.00", True),  # the instruction stands
        ("CANCELLED", "207500.00", False),
        ("REJECTED", "207500.00", False),
        ("UNKNOWN", "62500.00", None),  # may or may not stand: its 10 contracts are not counted either way
    ],
)
async def test_which_instructions_are_in_force(
    make_settings: Callable[..., Settings], status: str, cash_out: str, counted: bool | None
) -> None:
    """A DO_NOT_EXERCISE for all 10 AAPL 145 calls in each status the API knows."""
    simulator = Simulator(seed=0, now=FRIDAY_10)
    dne = simulator.place_instruction(ACCOUNT, C145, "DO_NOT_EXERCISE", 10, status)
    async with connect(simulator, make_settings) as client:
        summary = await call(client, "summarize_exposure")
    settlement = summary["expiring"]["at_expiry"]
    assert settlement["cash_out"] == cash_out
    suggestion = expiring(summary)["AAPL261127C00145000"]["suggestion"]
    if counted is False:
        assert "instructed" not in settlement and "AAPL" in settlement["shares"]
        assert suggestion == "to let it lapse, send DO_NOT_EXERCISE by 14:30 ET today"
        return
    assert settlement["instructed"] == 1 and "AAPL" not in settlement["shares"]
    effect = "not exercised" if counted else "outcome unknown"
    assert suggestion.startswith(f"10 {effect} (DO_NOT_EXERCISE 10 {status} {dne['id']})")
    assert ("a SENT one can be cancelled by 14:30 ET on Fri 11-27" in suggestion) is (status == "SENT")
    assert settlement.get("not_counted") == (1 if counted is None else None)


async def test_an_instruction_for_some_of_the_contracts(make_settings: Callable[..., Settings]) -> None:
    """DO_NOT_EXERCISE for 4 of the 10 AAPL 145 calls: the other 6 are exercised, 6 × 100 × 145 =
    87,000.00; cash out 87,000 + 62,500 = 149,500.00, AAPL +600."""
    simulator = Simulator(seed=0, now=FRIDAY_10)
    dne = simulator.place_instruction(ACCOUNT, C145, "DO_NOT_EXERCISE", 4, "ACCEPTED")
    async with connect(simulator, make_settings) as client:
        summary = await call(client, "summarize_exposure")
    settlement = summary["expiring"]["at_expiry"]
    assert (settlement["cash_out"], settlement["shares"]["AAPL"]) == ("149500.00", "600")
    assert expiring(summary)["AAPL261127C00145000"]["suggestion"] == (
        f"4 not exercised (DO_NOT_EXERCISE 4 ACCEPTED {dne['id']}); the other 6: to let it lapse, send "
        "DO_NOT_EXERCISE by 14:30 ET today"
    )


async def test_the_exercise_preview_counts_what_is_sent_and_the_same_nights_expiry(
    make_settings: Callable[..., Settings],
) -> None:
    """A CONTRARY_EXERCISE for the 5 AAPL 160 calls is SENT. Previewing EXERCISE 10 AAPL 145 calls:
    the batch pays 145,000.00, the instruction already sent 80,000.00 (it exercises: the 160s would
    lapse), the rest of tonight's expiry 62,500.00 (NVDA puts assigned; the SPY puts' 113,000.00 is
    a short sale's proceeds, named, not counted): 25,000 − 287,500 = 262,500.00 short (it said
    120,000.00, counting the batch alone). The summary counts the same settlement: −262,500.00.
    With NVDA at 126.00 the puts lapse: 200,000.00 short in both."""
    simulator = Simulator(seed=0, now=FRIDAY_10)
    cea = simulator.place_instruction(ACCOUNT, C160, "CONTRARY_EXERCISE", 5, "SENT")
    async with connect(simulator, make_settings) as client:
        plan = await preview_cash(client, ("EXERCISE", C145, 10))
        summary = await call(client, "summarize_exposure")
        simulator.set_instrument_price("NVDA", "126.00")
        calm = await preview_cash(client, ("EXERCISE", C145, 10))
        calm_summary = await call(client, "summarize_exposure")
    cash = plan["cash"]
    assert (cash["exercise_cash"], cash["pending_exercise_cash"], cash["expiry_cash"]) == (
        "-145000.00",
        "-80000.00",
        "-62500.00",
    )
    assert (cash["short_sale_proceeds"], cash["trade_cash"], cash["cash_after"]) == (
        "113000.00",
        "25000.00",
        "-262500.00",
    )
    assert cash["warning"].startswith(
        "these exercises pay $145,000.00, 1 instruction already sent (CONTRARY_EXERCISE 5 AAPL 261127C00160000, "
        "SENT) pays $80,000.00 and the rest of today's expiry pays $62,500.00 (by default, at today's prices) at settlement (T+1) against trade "
        "cash of $25,000.00: cash short by $262,500.00"
    )
    assert cash["warning"].endswith("not counted: $113,000.00 of short-sale proceeds (delivering shares not held free)")
    assert plan["summary"].endswith("Cash: short by $262,500.00 at settlement (see cash).")
    assert summary["expiring"]["at_expiry"]["cash_after"] == cash["cash_after"]
    assert expiring(summary)["AAPL261127C00160000"]["suggestion"].startswith(
        f"5 exercised (CONTRARY_EXERCISE 5 SENT {cea['id']}); a SENT one can be cancelled by 14:30 ET"
    )
    quiet = calm["cash"]
    assert (quiet["pending_exercise_cash"], quiet["expiry_cash"], quiet["cash_after"]) == (
        "-80000.00",
        "0.00",
        "-200000.00",
    )
    assert "the rest of today's expiry pays nothing counted" in quiet["warning"]
    assert calm_summary["expiring"]["at_expiry"]["cash_after"] == "-200000.00"


async def test_the_preview_and_the_summary_agree_without_instructions(make_settings: Callable[..., Settings]) -> None:
    """EXERCISE 2 of the AAPL 145 calls on their expiry day: the other 8 are exercised by default
    that night, so the settlement is the summary's: −29,000 − 116,000 − 62,500 = −207,500; 182,500.00
    short, as the summary says. The batch's own DO_NOT_EXERCISE rows change that night too: with
    DO_NOT_EXERCISE for the 2 SPY puts, no SPY is delivered and no short-sale proceeds are left."""
    simulator = Simulator(seed=0, now=FRIDAY_10)
    async with connect(simulator, make_settings) as client:
        summary = await call(client, "summarize_exposure")
        plan = await preview_cash(client, ("EXERCISE", C145, 2))
        with_dne = await preview_cash(client, ("EXERCISE", C145, 2), ("DO_NOT_EXERCISE", SPY_PUT, 2))
    assert summary["expiring"]["at_expiry"]["cash_after"] == plan["cash"]["cash_after"] == "-182500.00"
    # 8 × 100 × 145 + 62,500 = 178,500.00 by default; the SPY puts' 113,000.00 counted nowhere
    assert (plan["cash"]["exercise_cash"], plan["cash"]["expiry_cash"]) == ("-29000.00", "-178500.00")
    assert (plan["cash"].get("pending_exercise_cash"), plan["cash"]["short_sale_proceeds"]) == (None, "113000.00")
    assert (with_dne["cash"]["cash_after"], with_dne["cash"].get("short_sale_proceeds")) == ("-182500.00", None)


async def test_short_sale_proceeds_are_named_apart_in_both_places(
    make_settings: Callable[..., Settings],
) -> None:
    """Monday 2026-11-23: exercising the 2 SPY 565 puts delivers 200 SPY the account does not hold.
    The 113,000.00 it receives is a short sale's proceeds (Regulation T, 12 CFR 220.4): the preview
    counts nothing and names it; the summary names the same figure and leaves it out of net_cash."""
    async with connect(Simulator(seed=0, now=MONDAY_OPEN), make_settings) as client:
        plan = await preview_cash(client, ("EXERCISE", SPY_PUT, 2))
        summary = await call(client, "summarize_exposure")
    cash = plan["cash"]
    assert (cash["exercise_cash"], cash["short_sale_proceeds"], cash["cash_after"]) == ("0.00", "113000.00", "25000.00")
    assert cash.get("expiry_cash") is None  # nothing expires that Monday
    assert cash["warning"] == (
        "cash after these exercises counts only what is certain; not counted: $113,000.00 of short-sale proceeds "
        "(delivering shares not held free)"
    )
    settlement = summary["expiring"]["at_expiry"]
    assert (settlement["cash_in"], settlement["short_sale_proceeds"], settlement["net_cash"]) == (
        "113000.00",
        "113000.00",
        "-207500.00",  # 113,000 − 113,000 − 207,500
    )


async def test_an_adjusted_contract_with_a_row_has_no_confirmed_deliverable(
    make_settings: Callable[..., Settings],
) -> None:
    """AAPL1 261127 140 calls (an adjusted root) whose contract row says multiplier 100 and, like
    every row of the endpoint, nothing of the deliverable: an adjustment may deliver 150 shares
    with multiplier 100, so it is not taken to deliver 100. The summary leaves it out of the cash,
    the shares and the delta and says so; the exercise preview refuses to state what it delivers."""
    simulator = Simulator(seed=0, now=FRIDAY_10)
    symbol = "AAPL1 261127C00140000"
    simulator.hold_option(ACCOUNT, symbol, "2", "11.20", price="11.20", underlying="AAPL")
    async with connect(simulator, make_settings) as client:
        summary = await call(client, "summarize_exposure")
        batch = [{"instruction_type": "EXERCISE", "instrument_id": symbol, "quantity": 1}]
        plan: dict[str, Any] = (await call(client, "preview_submit_position_instructions", instructions=batch))["plan"]
    settlement = summary["expiring"]["at_expiry"]
    # unchanged by the AAPL1 calls (standard: 2 × 100 × 140 = 28,000.00 more and +200 AAPL)
    assert (settlement["cash_out"], settlement["shares"]["AAPL"], settlement["not_counted"]) == (
        "207500.00",
        "1000",
        1,
    )
    row = expiring(summary)[symbol.replace(" ", "")]
    assert (row["default_at_expiry"], row.get("moneyness"), row.get("intrinsic_per_contract")) == (
        "UNKNOWN",
        None,
        None,
    )
    assert row["suggestion"].startswith("deliverable not confirmed, ask the desk what it delivers; ")
    # the AAPL delta leaves out both adjusted calls (the demo's January AAPL1 and these)
    assert summary["delta"]["contracts_without_greeks"]["AAPL"] == "4"
    assert "AAPL1" not in settlement["shares"]
    [blocked] = plan["rows"]
    assert (blocked["status"], blocked["reason"]) == ("BLOCKED", "CONTRACT_TERMS_UNUSABLE")
    assert blocked["message"].startswith("The deliverable of AAPL1 261127C00140000 is not confirmed")


async def test_instructions_that_cannot_be_read_are_said(
    make_settings: Callable[..., Settings],
) -> None:
    simulator = Simulator(seed=0, now=FRIDAY_10)
    simulator.faults.add(403, times=None, path_contains="/positions/instructions")
    async with connect(simulator, make_settings) as client:
        summary = await call(client, "summarize_exposure")
    assert summary["notes"][0] == (
        "position instructions unavailable (Clear Street 403): what expiry settles assumes no instruction in force"
    )
    assert summary["expiring"]["at_expiry"]["cash_out"] == "207500.00"


async def test_a_close_past_its_last_trade_says_what_the_instructions_in_force_settle(
    make_settings: Callable[..., Settings],
) -> None:
    """At 13:30 ET on the early-close expiry day (last trade 13:00) with an ACCEPTED DO_NOT_EXERCISE
    for 4 of the 10 AAPL 145 calls: the blocked close says what the summary counts — 4 not
    exercised, the other 6 exercised, 6 × 100 × 145 = $87,000.00 for 600 shares — never the
    default's $145,000.00 for all 10."""
    simulator = Simulator(seed=0, now=datetime(2026, 11, 27, 18, 30, tzinfo=UTC))
    dne = simulator.place_instruction(ACCOUNT, C145, "DO_NOT_EXERCISE", 4, "ACCEPTED")
    async with connect(simulator, make_settings) as client:
        preview = await call(client, "preview_close_position", instrument_id=C145)
        summary = await call(client, "summarize_exposure")
    [blocked] = [b for b in preview["plan"]["blocked"] if b["code"] == "PAST_LAST_TRADE"]
    assert f"4 not exercised (DO_NOT_EXERCISE 4 ACCEPTED {dne['id']})" in blocked["message"]
    assert "the other 6: it will be exercised automatically" in blocked["message"]
    assert "in all it would pay $87,000.00 and receive 600 AAPL shares" in blocked["message"]
    assert "$145,000.00" not in blocked["message"]
    # nothing can trade: no warning about when orders sent now would fill
    assert not [w for w in preview["plan"].get("warnings", []) if w["code"] in ("MARKET_CLOSED", "EARLY_CLOSE")]
    assert summary["expiring"]["at_expiry"]["shares"]["AAPL"] == "600"


async def test_a_close_past_its_last_trade_never_assumes_an_adjusted_deliverable(
    make_settings: Callable[..., Settings],
) -> None:
    """AAPL1 261127 140 calls (adjusted root, contract row multiplier 100, no deliverable) past
    their last trade: the blocked close states no shares or cash for them, as the summary counts none."""
    simulator = Simulator(seed=0, now=datetime(2026, 11, 27, 18, 30, tzinfo=UTC))
    symbol = "AAPL1 261127C00140000"
    simulator.hold_option(ACCOUNT, symbol, "2", "11.20", price="11.20", underlying="AAPL")
    async with connect(simulator, make_settings) as client:
        preview = await call(client, "preview_close_position", instrument_id=symbol)
    [blocked] = [b for b in preview["plan"]["blocked"] if b["code"] == "PAST_LAST_TRADE"]
    assert "deliverable are not confirmed" in blocked["message"]
    assert "AAPL shares" not in blocked["message"] and "$28,000.00" not in blocked["message"]
