"""The trading rules where money is at stake, each with the audit's figures.

1. the exercise cutoff on early-close days (FINRA Rule 2360(b)(23)(A));
2. ``cancel_orders`` does not free contracts held by a pending exercise;
3. every instruction consumes the contracts it covers, whatever the row order;
4. one exercise-by-exception rule (OCC Rule 805) for the preview and the exposure summary;
5. exercise style and settlement (European-style index options, cash settlement);
6. the contract's multiplier and deliverable, never a hard-coded 100;
7. a put exercise checks the free shares, not the held shares;
8. the expiry suggestions know the time;
9. a short's market value is counted with the quantity's sign.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from exposure_views import types_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from positions_mcp.clearstreet.models import Position, PositionInstruction
from positions_mcp.domain.calendar import NEW_YORK
from positions_mcp.domain.closing import CloseCode, plan_close_position, plan_close_positions
from positions_mcp.domain.exposure import DefaultAtExpiry, summarize_exposure
from positions_mcp.domain.instructions import InstructionCode, InstructionPlan, RowStatus, plan_instructions
from positions_mcp.domain.osi import parse_osi

ACCOUNT = 122503
AAPL_ID = "70a34ea6-6465-438e-80a5-fabb1735256a"
MSFT_ID = "5f0c1b2a-0000-4000-8000-0000000005f7"
SPX_ID = "5e1c0a2b-0000-4000-8000-000000000500"
TSLA_ID = "21d42f06-38a5-4494-8089-743d3dd6f9c7"
CALL_ID = "c7f5ecb6-f52c-46b9-8b56-4417482612f3"  # AAPL 261120C00195000, long 10
THANKS_ID = "c1c1c1c1-0000-4000-8000-000000001127"  # AAPL 261127C00195000, long 10
XMAS_ID = "c2c2c2c2-0000-4000-8000-000000001225"  # AAPL 261225C00195000, long 10 (decided Thu 12-24)
LATER_ID = "a4a4a4a4-0000-4000-8000-000000000190"  # AAPL 261218C00190000, long 2
PENNY_ID = "b1b1b1b1-0000-4000-8000-000000150995"  # AAPL 261120C00150995, long 1
SPX_CALL_ID = "d7d7d7d7-0000-4000-8000-000000005600"  # SPX 261218C05600000, long 1
PUT_ID = "e9e9e9e9-0000-4000-8000-000000000420"  # MSFT 261218P00420000, long 2
ADJ_ID = "f1f1f1f1-0000-4000-8000-000000000100"  # AAPL1 261218C00100000, long 2 (adjusted)
PENDING_ID = "63987bde-0967-4f76-840b-cb9033ce2a74"


def et(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def position(symbol: str, quantity: str, instrument_id: str, **extra: Any) -> Position:
    wire: dict[str, Any] = {
        "account_id": ACCOUNT,
        "instrument_id": instrument_id,
        "instrument_type": "COMMON_STOCK",
        "symbol": symbol,
        "position_type": "SHORT" if quantity.startswith("-") else "LONG",
        "quantity": quantity,
        "available_quantity": quantity,
        "market_value": "0",
    }
    wire.update(extra)
    return Position.model_validate(wire)


def option(symbol: str, quantity: str, instrument_id: str, underlier: str, **extra: Any) -> Position:
    fields = {
        "instrument_type": "OPTION",
        "underlying_instrument_id": underlier,
        "underlying_instrument_type": "COMMON_STOCK",
        **extra,
    }
    return position(symbol, quantity, instrument_id, **fields)


AAPL = position("AAPL", "300", AAPL_ID, instrument_price="200.50")
BOOK = [
    AAPL,
    option("AAPL261120C00195000", "10", CALL_ID, AAPL_ID),
    option("AAPL261127C00195000", "10", THANKS_ID, AAPL_ID),
    option("AAPL261225C00195000", "10", XMAS_ID, AAPL_ID),
    option("AAPL261218C00190000", "2", LATER_ID, AAPL_ID),
]


def row(kind: str, instrument: str, quantity: str | int, key: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"instruction_type": kind, "instrument_id": instrument, "quantity": str(quantity)}
    if key is not None:
        out["instruction_id"] = key
    return out


def keys() -> Any:
    counter = itertools.count(1)
    return lambda: f"key-{next(counter)}"


def plan(*rows: dict[str, Any], book: list[Position] = BOOK, now: datetime, **kwargs: Any) -> InstructionPlan:
    kwargs.setdefault("new_key", keys())
    return plan_instructions(book, list(rows), now=now, **kwargs)


def instruction(
    kind: str = "EXERCISE",
    quantity: str = "4",
    status: str = "SENT",
    instrument_id: str = CALL_ID,
    symbol: str = "AAPL  261120C00195000",
    id_: str = PENDING_ID,
) -> PositionInstruction:
    return PositionInstruction.model_validate(
        {
            "id": id_,
            "account_id": ACCOUNT,
            "client_instruction_id": f"client-{id_[:8]}",
            "instruction_type": kind,
            "instrument_id": instrument_id,
            "quantity": quantity,
            "status": status,
            "symbol": symbol,
        }
    )


# ------------------------------------------------------------------------------------------------
# 1. The exercise cutoff on early-close days


@pytest.mark.parametrize(
    ("instrument", "day"),
    [(THANKS_ID, date(2026, 11, 27)), (XMAS_ID, date(2026, 12, 24))],
)
def test_dne_after_1430_on_an_early_close_expiry_day_is_past_the_cutoff(instrument: str, day: date) -> None:
    late = plan(row("DO_NOT_EXERCISE", instrument, 10), now=et(day.year, day.month, day.day, 15, 0))
    (r,) = late.rows
    assert (r.status, r.reason) == (RowStatus.BLOCKED, InstructionCode.EXERCISE_PAST_CUTOFF)
    assert r.metadata == {"cutoff_time": f"{day.isoformat()}T14:30:00-05:00"}
    assert "14:30 ET" in r.message and "17:30" not in r.message
    assert "FINRA Rule 2360(b)(23)(A)" in r.message
    assert late.cutoff_time == "14:30 America/New_York"

    early = plan(row("DO_NOT_EXERCISE", instrument, 10), now=et(day.year, day.month, day.day, 14, 29))
    assert early.ready
    assert early.rows[0].submit_before == et(day.year, day.month, day.day, 14, 30)
    assert early.summary.startswith(f"Submit 1 instruction before {day:%a %Y-%m-%d} 14:30 ET: ")
    assert "17:30" not in early.summary + " ".join(early.rows[0].notes) + early.rows[0].message


def test_early_exercise_after_an_early_close_cutoff_is_noted() -> None:
    p = plan(row("EXERCISE", LATER_ID, 1), now=et(2026, 11, 27, 15, 0))
    assert p.ready
    assert "it is past today's 14:30 ET cutoff" in p.rows[0].notes[-1]


def test_a_broker_cutoff_applies_only_when_it_is_earlier() -> None:
    regular = plan(row("EXERCISE", CALL_ID, 1), now=et(2026, 11, 20, 16, 30), cutoff=time(16, 0))
    assert regular.rows[0].metadata == {"cutoff_time": "2026-11-20T16:00:00-05:00"}
    # 16:00 is later than the FINRA deadline of an early-close day: 14:30 stands
    early = plan(row("EXERCISE", THANKS_ID, 1), now=et(2026, 11, 27, 14, 45), cutoff=time(16, 0))
    assert early.rows[0].metadata == {"cutoff_time": "2026-11-27T14:30:00-05:00"}
    assert plan(row("EXERCISE", CALL_ID, 1), now=et(2026, 11, 20, 17, 0), cutoff=time(18, 0)).ready
    assert not plan(row("EXERCISE", CALL_ID, 1), now=et(2026, 11, 20, 17, 30), cutoff=time(18, 0)).ready


def test_todays_cutoff_for_the_surface() -> None:
    from positions_mcp.domain.calendar import describe_exercise_cutoff, exercise_cutoff

    assert exercise_cutoff(date(2026, 11, 27)) == et(2026, 11, 27, 14, 30)
    assert exercise_cutoff(date(2026, 12, 24)) == et(2026, 12, 24, 14, 30)
    assert exercise_cutoff(date(2026, 11, 25)) == et(2026, 11, 25, 17, 30)
    assert exercise_cutoff(date(2026, 11, 25), time(16, 0)) == et(2026, 11, 25, 16, 0)
    assert exercise_cutoff(date(2026, 11, 27), time(16, 0)) == et(2026, 11, 27, 14, 30)
    assert describe_exercise_cutoff(date(2026, 11, 27)) == (
        "14:30 ET on Fri 2026-11-27 (the market closes early at 13:00 ET; FINRA Rule 2360(b)(23)(A))"
    )
    assert describe_exercise_cutoff(date(2026, 11, 25)) == "17:30 ET on Wed 2026-11-25 (FINRA Rule 2360(b)(23)(A))"
    assert describe_exercise_cutoff(date(2026, 11, 26)) == (
        "none on Thu 2026-11-26 (the market is closed); next: 14:30 ET on Fri 2026-11-27 "
        "(the market closes early at 13:00 ET; FINRA Rule 2360(b)(23)(A))"
    )


# ------------------------------------------------------------------------------------------------
# 2. cancel_orders does not free contracts held by a pending exercise

C145_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"


def c145(available: str = "6") -> Position:
    return option(
        "AAPL261218C00145000",
        "10",
        C145_ID,
        AAPL_ID,
        available_quantity=available,
        instrument_price="6.20",
    )


PENDING_4 = instruction(quantity="4", instrument_id=C145_ID, symbol="AAPL  261218C00145000")
TUESDAY = et(2026, 11, 17, 10, 0)


def test_cancel_orders_closes_only_what_pending_exercises_leave() -> None:
    p = plan_close_position([AAPL, c145()], C145_ID, cancel_orders=True, now=TUESDAY, pending_instructions=[PENDING_4])
    (order,) = p.orders
    assert order.quantity == Decimal(6)
    assert order.estimated_notional == Decimal("3720.00")  # 6 × 6.20 × 100
    assert "SELL 6 of 10 AAPL 261218C00145000 contracts" in p.summary
    assert "all 10 are closed" not in " ".join(w.message for w in p.warnings) + p.summary + p.cancel_orders_effect
    held = [w for w in p.warnings if w.code == CloseCode.PENDING_EXERCISE]
    assert len(held) == 1
    assert held[0].message == (
        "AAPL 261218C00145000: 4 of 10 are held by pending exercise instructions (ids "
        f"{PENDING_ID}), which cancel_orders does not free: this close sends 6, and those 4 will "
        "still be exercised (receive 400 AAPL shares and pay $58,000.00) unless you cancel them with "
        "cancel_position_instruction to close all 10."
    )
    assert not [w for w in p.warnings if w.code == CloseCode.WORKING_ORDERS]  # nothing else ties them
    assert "cancel_position_instruction" in p.cancel_orders_effect


def test_tied_contracts_split_into_pending_exercises_and_working_orders() -> None:
    # 10 held, 4 in a pending exercise, 2 in working orders: available 4
    for cancel, sent in ((True, 6), (False, 4)):
        p = plan_close_positions(
            [c145(available="4")], cancel_orders=cancel, now=TUESDAY, pending_instructions=[PENDING_4]
        )
        assert p.orders[0].quantity == Decimal(sent)
        codes = {w.code: w.message for w in p.warnings}
        assert "held by pending exercise instructions (ids " + PENDING_ID + ")" in codes[CloseCode.PENDING_EXERCISE]
        assert "cancel_position_instruction" in codes[CloseCode.PENDING_EXERCISE]
        assert "2 of 10 are tied up in working orders" in codes[CloseCode.WORKING_ORDERS]


def test_pending_exercise_not_netted_by_the_api_still_limits_the_close() -> None:
    # The API may report available_quantity without netting the exercise out: never sell those.
    p = plan_close_position(
        [c145(available="10")], C145_ID, cancel_orders=False, now=TUESDAY, pending_instructions=[PENDING_4]
    )
    assert p.orders[0].quantity == Decimal(6)


def test_only_live_exercise_instructions_hold_contracts_for_a_close() -> None:
    others = [
        instruction(quantity="4", status=status, instrument_id=C145_ID, symbol="AAPL  261218C00145000")
        for status in ("ACCEPTED", "CANCELLED", "REJECTED")
    ] + [instruction("DO_NOT_EXERCISE", "4", instrument_id=C145_ID, symbol="AAPL  261218C00145000")]
    p = plan_close_position(
        [c145(available="10")], C145_ID, cancel_orders=True, now=TUESDAY, pending_instructions=others
    )
    assert p.orders[0].quantity == Decimal(10)


def test_everything_held_by_an_exercise_blocks_the_close_and_says_why() -> None:
    pending = instruction(quantity="10", instrument_id=C145_ID, symbol="AAPL  261218C00145000")
    p = plan_close_position(
        [c145(available="0")], C145_ID, cancel_orders=True, now=TUESDAY, pending_instructions=[pending]
    )
    assert p.orders == [] and not p.allowed
    assert "pending exercise instructions" in p.blocked[0].message
    assert "cancel_position_instruction" in p.blocked[0].message


# ------------------------------------------------------------------------------------------------
# 3. Every instruction consumes the contracts it covers, whatever the row order

FRIDAY = et(2026, 11, 20, 10, 0)  # expiration business day of AAPL 261120C00195000 (10 held)


@pytest.mark.parametrize(
    "rows",
    [
        [("DO_NOT_EXERCISE", 10), ("EXERCISE", 10)],
        [("EXERCISE", 10), ("DO_NOT_EXERCISE", 10)],
        [("DO_NOT_EXERCISE", 10), ("CONTRARY_EXERCISE", 10)],
        [("EXERCISE", 3), ("DO_NOT_EXERCISE", 2)],  # even within the 10 held: contradictory
    ],
)
def test_contradictory_rows_on_one_contract_are_blocked(rows: list[tuple[str, int]]) -> None:
    p = plan(*(row(kind, CALL_ID, n) for kind, n in rows), now=FRIDAY)
    assert not p.ready
    for r in p.rows:
        assert r.reason is InstructionCode.CONFLICTING_INSTRUCTIONS
        assert "rows 1 and 2" in r.message


def test_the_same_instruction_twice_cannot_cover_more_than_is_held() -> None:
    p = plan(row("DO_NOT_EXERCISE", CALL_ID, 10), row("DO_NOT_EXERCISE", CALL_ID, 10), now=FRIDAY)
    assert [r.reason for r in p.rows] == [InstructionCode.INSUFFICIENT_POSITION] * 2
    assert p.rows[0].metadata == p.rows[1].metadata == {"available": "10", "requested": "20"}
    assert "rows 1 and 2 together instruct 20" in p.rows[0].message
    assert plan(row("DO_NOT_EXERCISE", CALL_ID, 4), row("DO_NOT_EXERCISE", CALL_ID, 6), now=FRIDAY).ready


@pytest.mark.parametrize("kind", ["DO_NOT_EXERCISE", "CONTRARY_EXERCISE", "EXERCISE"])
def test_pending_instructions_of_every_type_hold_contracts(kind: str) -> None:
    pending = instruction(kind, "10")
    p = plan(row("EXERCISE", CALL_ID, 1), now=FRIDAY, existing=[pending])
    (r,) = p.rows
    assert r.reason is InstructionCode.INSUFFICIENT_POSITION
    assert r.metadata == {"available": "0", "requested": "1"}
    assert PENDING_ID in r.message and "cancel_position_instruction" in r.message


def test_a_failed_cancel_leaves_the_instruction_standing() -> None:
    pending = instruction("DO_NOT_EXERCISE", "10", status="CANCEL_FAILED")
    assert not plan(row("EXERCISE", CALL_ID, 1), now=FRIDAY, existing=[pending]).ready
    done = instruction("EXERCISE", "10", status="ACCEPTED")  # exercised: not held twice
    assert plan(row("EXERCISE", CALL_ID, 1), now=FRIDAY, existing=[done]).ready


HELD = {CALL_ID: 10, LATER_ID: 2}
ROW_STRATEGY = st.tuples(
    st.sampled_from(["EXERCISE", "DO_NOT_EXERCISE", "CONTRARY_EXERCISE"]),
    st.sampled_from([CALL_ID, LATER_ID]),
    st.integers(min_value=1, max_value=12),
)


@given(st.lists(ROW_STRATEGY, min_size=1, max_size=5), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_batch_verdict_does_not_depend_on_row_order(rows: list[tuple[str, str, int]], rnd: Any) -> None:
    requested = [row(kind, iid, n, key=f"k{i}") for i, (kind, iid, n) in enumerate(rows)]
    shuffled = list(requested)
    rnd.shuffle(shuffled)
    now = et(2026, 12, 18, 10, 0)  # the expiry day of both contracts: every instruction type may pass
    book = [*BOOK[:1], option("AAPL261218C00195000", "10", CALL_ID, AAPL_ID), BOOK[4]]
    a, b = plan(*requested, book=book, now=now), plan(*shuffled, book=book, now=now)
    assert a.ready == b.ready
    by_key = {r.instruction_id: (r.status, r.reason) for r in a.rows}
    assert {r.instruction_id: (r.status, r.reason) for r in b.rows} == by_key


@given(
    st.lists(ROW_STRATEGY, min_size=1, max_size=5),
    st.lists(st.tuples(st.sampled_from(["EXERCISE", "DO_NOT_EXERCISE"]), st.integers(1, 4)), max_size=2),
    st.integers(min_value=0, max_value=10),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_ready_batch_covers_more_contracts_than_are_available(
    rows: list[tuple[str, str, int]], pending: list[tuple[str, int]], available: int
) -> None:
    now = et(2026, 12, 18, 10, 0)
    call = option("AAPL261218C00195000", "10", CALL_ID, AAPL_ID, available_quantity=str(available))
    book = [BOOK[0], call, BOOK[4]]
    existing = [
        instruction(
            kind,
            str(n),
            instrument_id=CALL_ID,
            symbol="AAPL  261218C00195000",
            id_=f"{i:08d}-0000-4000-8000-000000000000",
        )
        for i, (kind, n) in enumerate(pending, start=1)
    ]
    p = plan(*(row(kind, iid, n) for kind, iid, n in rows), book=book, now=now, existing=existing)
    if p.ready:
        reserved = sum(n for _, n in pending)
        free = {CALL_ID: min(available, HELD[CALL_ID] - reserved), LATER_ID: HELD[LATER_ID]}
        for iid in HELD:
            assert sum(n for _, i, n in rows if i == iid) <= free[iid]
            assert len({kind for kind, i, _ in rows if i == iid}) <= 1


@given(
    st.integers(min_value=0, max_value=10),
    st.lists(
        st.tuples(st.sampled_from(["EXERCISE", "DO_NOT_EXERCISE", "CONTRARY_EXERCISE"]), st.integers(1, 5)),
        max_size=3,
    ),
    st.sampled_from(["EXERCISE", "DO_NOT_EXERCISE", "CONTRARY_EXERCISE"]),
    st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=3),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_plan_and_the_simulator_agree_on_what_can_be_instructed(
    working: int, pending: list[tuple[str, int]], kind: str, quantities: list[int]
) -> None:
    """The simulator is the oracle: on the expiry day, with a working SELL order and pending
    instructions of every type on 10 held calls, a batch the plan calls ready is accepted whole, and
    one it blocks for quantity is rejected (Clear Street's API documentation as the simulator reads it)."""
    from positions_mcp.clearstreet.enums import InstructionType, OrderStatus, OrderType, Side, TimeInForce
    from positions_mcp.simulator import DEMO_PRIMARY_ACCOUNT, Simulator
    from positions_mcp.simulator.instruction_batch import SubmittedRow, submit_batch
    from positions_mcp.simulator.order_lifecycle import add_order

    now = et(2026, 11, 27, 10, 0)
    simulator = Simulator(seed=0, now=now)
    state = simulator._state
    account = state.accounts[DEMO_PRIMARY_ACCOUNT]
    call = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"  # AAPL  261127C00145000, 10 long
    holding = account.holdings[call]
    if working:
        add_order(
            state,
            account,
            holding.instrument,
            side=Side.SELL,
            quantity=Decimal(working),
            client_order_id="working-sell",
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            created_at=now,
            status=OrderStatus.NEW,
            limit_price=Decimal("100"),
        )
    for number, (pending_kind, n) in enumerate(pending):
        submit_batch(
            state, account, [SubmittedRow(InstructionType(pending_kind), call, Decimal(n), f"pending-{number}")]
        )
    positions = [Position.model_validate(p) for p in simulator.positions(DEMO_PRIMARY_ACCOUNT)]
    existing = [PositionInstruction.model_validate(i) for i in simulator.instructions(DEMO_PRIMARY_ACCOUNT)]
    rows = [row(kind, call, n, key=f"new-{i}") for i, n in enumerate(quantities)]
    planned = plan_instructions(positions, rows, now=now, existing=existing)
    outcome = submit_batch(
        state,
        account,
        [SubmittedRow(InstructionType(kind), call, Decimal(n), f"new-{i}") for i, n in enumerate(quantities)],
    )
    accepted = all(r["status"] == "SENT" for r in outcome.rows)
    insufficient = {r.reason for r in planned.rows} == {InstructionCode.INSUFFICIENT_POSITION}
    assert planned.ready == accepted, (planned.rows[0].message, [r["rejection_reason"] for r in outcome.rows])
    assert planned.ready or insufficient


# ------------------------------------------------------------------------------------------------
# 4. One exercise-by-exception rule everywhere (OCC Rule 805)

PENNY_BOOK = [
    position("AAPL", "300", AAPL_ID, instrument_price="151.00", market_value="45300.00"),
    option("AAPL261120C00150995", "1", PENNY_ID, AAPL_ID, market_value="50.00", instrument_price="0.50"),
]


def test_the_default_at_expiry_rule() -> None:
    from positions_mcp.domain.expiry import default_at_expiry

    penny = parse_osi("AAPL261120C00150995")
    assert default_at_expiry(True, penny, Decimal("151.00")) is DefaultAtExpiry.LAPSE  # $0.005 < $0.01
    assert default_at_expiry(True, penny, Decimal("151.005")) is DefaultAtExpiry.AUTO_EXERCISE
    assert default_at_expiry(False, penny, Decimal("151.00")) is DefaultAtExpiry.ASSIGNMENT_POSSIBLE
    assert default_at_expiry(True, penny, None) is DefaultAtExpiry.UNKNOWN


def test_a_long_call_half_a_cent_in_the_money_lapses_in_both_views() -> None:
    summary = summarize_exposure(
        PENNY_BOOK, account_id=ACCOUNT, environment="simulator", as_of=et(2026, 11, 20, 10, 0), max_json_bytes=None
    )
    assert summary.expiring is not None
    (expiring,) = summary.expiring.options.rows
    assert expiring.default_at_expiry is DefaultAtExpiry.LAPSE
    assert "CONTRARY_EXERCISE" in expiring.suggestion

    cea = plan(row("CONTRARY_EXERCISE", PENNY_ID, 1), book=PENNY_BOOK, now=FRIDAY).rows[0]
    assert cea.status is RowStatus.OK
    assert cea.delivery is not None  # CEA reverses a lapse: the contract is exercised
    assert (cea.delivery.shares, cea.delivery.cash) == (Decimal(100), Decimal("-15099.50"))
    assert "NOT exercised" not in cea.message
    assert cea.message == (
        "CONTRARY_EXERCISE 1 AAPL 261120C00150995: exercised instead of lapsing (in the money by only "
        "$0.005 a share, under the $0.01 of OCC exercise by exception): receive 100 AAPL shares at "
        "$150.995 and pay $15,099.50; intrinsic value $0.50"
    )
    dne = plan(row("DO_NOT_EXERCISE", PENNY_ID, 1), book=PENNY_BOOK, now=FRIDAY).rows[0]
    assert dne.message == (
        "DO_NOT_EXERCISE 1 AAPL 261120C00150995: changes nothing: it lapses anyway (in the money by only "
        "$0.005 a share, under the $0.01 of OCC exercise by exception); nothing is delivered"
    )


def test_one_cent_in_the_money_is_exercised_by_default_in_both_views() -> None:
    book = [PENNY_BOOK[0], option("AAPL261120C00150990", "1", PENNY_ID, AAPL_ID, market_value="1.00")]
    summary = summarize_exposure(
        book, account_id=ACCOUNT, environment="simulator", as_of=et(2026, 11, 20, 10, 0), max_json_bytes=None
    )
    assert summary.expiring is not None
    assert summary.expiring.options.rows[0].default_at_expiry is DefaultAtExpiry.AUTO_EXERCISE
    cea = plan(row("CONTRARY_EXERCISE", PENNY_ID, 1), book=book, now=FRIDAY).rows[0]
    assert cea.delivery is None
    assert cea.message == (
        "CONTRARY_EXERCISE 1 AAPL 261120C00150990: NOT exercised although in the money by $0.01 a share "
        "(exercised automatically otherwise, OCC exercise by exception): gives up intrinsic value $1.00; "
        "nothing is delivered"
    )


@given(
    st.integers(min_value=1, max_value=400_000),
    st.integers(min_value=0, max_value=800_000),
    st.sampled_from(["C", "P"]),
    st.sampled_from(["CONTRARY_EXERCISE", "DO_NOT_EXERCISE", "EXERCISE"]),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_instructions_follow_the_same_default(strike_k: int, spot_k: int, right: str, kind: str) -> None:
    from positions_mcp.domain.expiry import default_at_expiry

    strike, spot = Decimal(strike_k).scaleb(-3), Decimal(spot_k).scaleb(-3)
    symbol = f"AAPL261120{right}{strike_k:08d}"
    book = [
        position("AAPL", "300", AAPL_ID, instrument_price=str(spot)),
        option(symbol, "1", PENNY_ID, AAPL_ID),
    ]
    (r,) = plan(row(kind, PENNY_ID, 1), book=book, now=FRIDAY).rows
    assert r.status is RowStatus.OK
    default = default_at_expiry(True, parse_osi(symbol), spot)
    exercised = kind == "EXERCISE" or (kind == "CONTRARY_EXERCISE" and default is DefaultAtExpiry.LAPSE)
    assert (r.delivery is not None) is exercised, (strike, spot)


# ------------------------------------------------------------------------------------------------
# 5. Exercise style and settlement

SPX_BOOK = [
    position("SPX", "0", SPX_ID, instrument_type="INDEX", instrument_price="5650.00"),
    option(
        "SPX261218C05600000", "1", SPX_CALL_ID, SPX_ID, underlying_instrument_type="INDEX", instrument_price="80.00"
    ),
]


def test_early_exercise_of_a_european_style_option_is_refused() -> None:
    p = plan(row("EXERCISE", SPX_CALL_ID, 1), book=SPX_BOOK, now=et(2026, 11, 23, 10, 0))
    (r,) = p.rows
    assert (r.status, r.reason) == (RowStatus.BLOCKED, InstructionCode.EUROPEAN_EXERCISE_BEFORE_EXPIRY)
    assert r.message == (
        "SPX 261218C05600000 is a European-style option (known index roots): it can be exercised only on "
        "its expiration day Fri 2026-12-18, not before; sell it to realise its value now."
    )
    assert r.metadata == {"exercise_style": "EUROPEAN", "expiry": "2026-12-18"}


def test_index_options_settle_in_cash_on_the_expiration_day() -> None:
    p = plan(row("EXERCISE", SPX_CALL_ID, 1), book=SPX_BOOK, now=et(2026, 12, 18, 10, 0))
    (r,) = p.rows
    assert r.status is RowStatus.OK
    assert r.delivery is not None
    assert (r.delivery.settlement, r.delivery.shares, r.delivery.cash) == ("CASH", Decimal(0), Decimal("5000.00"))
    assert r.delivery.text == (
        "cash-settled, no shares: receive the intrinsic value, $5,000.00 at the current level "
        "($50.00 × 100 × 1); the settlement value decides"
    )


def test_contract_terms_from_the_endpoint_and_the_fallbacks() -> None:
    from positions_mcp.domain.contracts import ContractTerms, terms_for

    spx = terms_for(SPX_BOOK[1])
    assert spx == ContractTerms(
        multiplier=Decimal(100),
        deliverable_shares=Decimal(0),
        exercise_style="EUROPEAN",
        settlement="CASH",
        is_settle_on_open=True,  # the SPX root's series are AM-settled; the PM weeklies are SPXW
        source="known index roots",
    )
    assert terms_for("SPXW 261218C05600000").is_settle_on_open is None
    aapl = terms_for("AAPL 261218C00190000")
    assert (aapl.multiplier, aapl.deliverable_shares, aapl.exercise_style, aapl.settlement, aapl.source) == (
        Decimal(100),
        Decimal(100),
        None,
        "PHYSICAL",
        "default (standard equity option)",
    )
    wire = {
        "id": ADJ_ID,
        "symbol": "AAPL1 261218C00100000",
        "multiplier": "150",
        "exercise_style": "AMERICAN",
        "is_settle_on_open": False,
        "last_trade_cutoff": "2026-12-18T21:00:00Z",
    }
    adjusted = terms_for("AAPL1 261218C00100000", wire)
    assert (adjusted.multiplier, adjusted.deliverable_shares, adjusted.exercise_style, adjusted.source) == (
        Decimal(150),
        Decimal(150),
        "AMERICAN",
        "contract endpoint",
    )
    assert adjusted.last_trade_cutoff == datetime(2026, 12, 18, 21, 0, tzinfo=UTC)
    # the endpoint wins over the list of roots
    endpoint = terms_for(SPX_BOOK[1], {"multiplier": "100", "exercise_style": "AMERICAN"})
    assert (endpoint.exercise_style, endpoint.settlement, endpoint.source) == ("AMERICAN", "CASH", "contract endpoint")
    with pytest.raises(ValueError, match="float"):
        terms_for("AAPL 261218C00190000", {"multiplier": 100.0, "exercise_style": "AMERICAN"})


def test_a_style_from_the_contract_endpoint_blocks_too() -> None:
    from positions_mcp.domain.contracts import terms_for

    terms = {LATER_ID: terms_for(BOOK[4], {"multiplier": "100", "exercise_style": "EUROPEAN"})}
    p = plan(row("EXERCISE", LATER_ID, 1), now=FRIDAY, contracts=terms)
    assert p.rows[0].reason is InstructionCode.EUROPEAN_EXERCISE_BEFORE_EXPIRY
    assert "(contract endpoint)" in p.rows[0].message


def test_a_contract_row_without_a_style_keeps_the_index_roots_listed_style() -> None:
    """SPX is European by its listing: an options-contracts row that leaves the style out (or
    names one this server does not know) does not make an early exercise acceptable."""
    from positions_mcp.domain.contracts import terms_for

    for row_without_style in ({"multiplier": "100"}, {"multiplier": "100", "exercise_style": "BERMUDAN"}):
        terms = {SPX_CALL_ID: terms_for(SPX_BOOK[1], row_without_style)}
        p = plan(row("EXERCISE", SPX_CALL_ID, 1), book=SPX_BOOK, now=et(2026, 11, 23, 10, 0), contracts=terms)
        assert p.rows[0].reason is InstructionCode.EUROPEAN_EXERCISE_BEFORE_EXPIRY


def test_an_unreadable_contract_row_blocks_the_instruction_and_flags_the_close() -> None:
    """A multiplier of "0" from the contract endpoint: the fallback stands in, marked, so the
    instruction (whose delivery cannot be stated) is blocked and the close says its estimate may
    be wrong; with a notional cap set, the close cannot be checked and is blocked too."""
    from positions_mcp.domain.contracts import terms_for_positions

    wire = [{"id": LATER_ID, "symbol": BOOK[4].symbol, "multiplier": "0", "exercise_style": "AMERICAN"}]
    terms = terms_for_positions(BOOK, wire)
    assert terms[LATER_ID].problem == (
        "the contract endpoint's row is unusable (multiplier must be a positive number, got '0')"
    )
    assert terms[LATER_ID].multiplier == Decimal(100) and terms[LATER_ID].source == "default (standard equity option)"
    (r,) = plan(row("EXERCISE", LATER_ID, 1), now=FRIDAY, contracts=terms).rows
    assert (r.status, r.reason) == (RowStatus.BLOCKED, InstructionCode.CONTRACT_TERMS_UNUSABLE)
    assert "cannot be read: the contract endpoint's row is unusable" in r.message

    close = plan_close_position(BOOK, LATER_ID, cancel_orders=False, now=FRIDAY, contracts=terms)
    assert close.allowed
    assert CloseCode.CONTRACT_TERMS_UNUSABLE in {w.code for w in close.warnings}
    capped = plan_close_position(
        BOOK, LATER_ID, cancel_orders=False, now=FRIDAY, contracts=terms, max_close_notional=Decimal(10**9)
    )
    assert [b.code for b in capped.blocked] == [CloseCode.NOTIONAL_UNKNOWN]
    assert capped.blocked[0].message.startswith("A multiplier is unreadable")


def test_an_unknown_style_is_said_out_loud_never_assumed() -> None:
    (r,) = plan(row("EXERCISE", LATER_ID, 1), now=FRIDAY).rows
    assert r.status is RowStatus.OK
    assert any(note.startswith("exercise style unknown") for note in r.notes)


# ------------------------------------------------------------------------------------------------
# 6. The contract's multiplier and deliverable


def test_an_adjusted_contract_shows_its_real_deliverable_when_instructed() -> None:
    from positions_mcp.domain.contracts import terms_for

    adjusted = option("AAPL1 261218C00100000", "2", ADJ_ID, AAPL_ID, instrument_price="70.00")
    book = [position("AAPL", "300", AAPL_ID, instrument_price="151.00"), adjusted]
    terms = {
        ADJ_ID: terms_for(adjusted, {"multiplier": "100", "deliverable_shares": "150", "exercise_style": "AMERICAN"})
    }
    (r,) = plan(row("EXERCISE", ADJ_ID, 2), book=book, now=FRIDAY, contracts=terms).rows
    assert r.status is RowStatus.OK and r.delivery is not None
    # 2 contracts × 150 shares; the strike is paid on the multiplier: 2 × 100 × $100
    assert (r.delivery.shares, r.delivery.cash) == (Decimal(300), Decimal("-20000.00"))
    assert r.delivery.text == "receive 300 AAPL shares for an aggregate strike of $20,000.00 (150 shares a contract)"
    # intrinsic 2 × (150 × 151 − 100 × 100) = 25,300
    assert "intrinsic value $25,300.00" in r.notes[0]


def test_an_adjusted_contract_is_in_or_out_of_the_money_on_its_real_deliverable() -> None:
    from positions_mcp.domain.contracts import terms_for
    from positions_mcp.domain.expiry import default_at_expiry

    # Strike 250 > 200.50 looks in the money per share, but 150 shares (worth $30,075.00) are
    # delivered for an aggregate strike of 100 × $250 = $25,000.00: out of the money by $5,075.00.
    adjusted = option("AAPL1 261120P00250000", "2", ADJ_ID, AAPL_ID)
    terms = terms_for(adjusted, {"multiplier": "100", "deliverable_shares": "150", "exercise_style": "AMERICAN"})
    assert default_at_expiry(True, parse_osi(adjusted.symbol), Decimal("200.50"), terms) is DefaultAtExpiry.LAPSE
    (r,) = plan(row("EXERCISE", ADJ_ID, 2), book=[AAPL, adjusted], now=FRIDAY, contracts={ADJ_ID: terms}).rows
    assert r.moneyness is not None and r.moneyness.state.value == "OTM"
    assert r.notes[0] == (
        "out of the money (AAPL $200.50 vs strike $250.00): exercising costs $10,150.00 more than trading the shares"
    )
    assert r.delivery is not None and (r.delivery.shares, r.delivery.cash) == (Decimal(-300), Decimal("50000.00"))


def test_an_adjusted_contract_in_the_close_plan() -> None:
    from positions_mcp.domain.contracts import terms_for

    adjusted = option("AAPL1 261218C00100000", "2", ADJ_ID, AAPL_ID, instrument_price="70.00")
    terms = {ADJ_ID: terms_for(adjusted, {"multiplier": "150", "exercise_style": "AMERICAN"})}
    p = plan_close_position([adjusted], ADJ_ID, cancel_orders=False, now=TUESDAY, contracts=terms)
    (order,) = p.orders
    assert (order.multiplier, order.estimated_notional) == (150, Decimal("21000.00"))  # 2 × 70 × 150
    (warning,) = [w for w in p.warnings if w.code == CloseCode.OPTION_CONTRACTS]
    assert "× 100" not in warning.message and "100 shares" not in warning.message
    assert warning.message == (
        "Option quantities are contracts: notional = contracts × price × multiplier "
        "(AAPL1 261218C00100000: deliverable not confirmed, multiplier 150)."
    )


def test_the_standard_option_warning_is_unchanged() -> None:
    p = plan_close_position([c145(available="10")], C145_ID, cancel_orders=False, now=TUESDAY)
    (warning,) = [w for w in p.warnings if w.code == CloseCode.OPTION_CONTRACTS]
    assert warning.message == (
        "Option quantities are contracts of 100 shares: notional = contracts × price × 100 (AAPL 261218C00145000)."
    )


def test_an_unknown_instrument_type_with_an_osi_symbol_is_valued_as_an_option() -> None:
    odd = position("AAPL261218C00145000", "10", C145_ID, instrument_type="LISTED_OPTION", instrument_price="6.20")
    p = plan_close_positions([odd], cancel_orders=False, now=TUESDAY, max_close_notional=Decimal("1000"))
    (order,) = p.orders
    assert (order.multiplier, order.estimated_notional) == (100, Decimal("6200.00"))
    assert [b.code for b in p.blocked] == [CloseCode.NOTIONAL_CAP]
    assert any(w.code == CloseCode.OPTION_BY_SYMBOL for w in p.warnings)


# ------------------------------------------------------------------------------------------------
# 7. A put exercise checks the free shares


def test_a_put_exercise_counts_the_shares_committed_to_working_orders() -> None:
    book = [
        position("MSFT", "200", MSFT_ID, available_quantity="120", instrument_price="400.00"),
        option("MSFT261218P00420000", "2", PUT_ID, MSFT_ID),
    ]
    (r,) = plan(row("EXERCISE", PUT_ID, 2), book=book, now=FRIDAY).rows
    assert r.delivery is not None
    assert (r.delivery.shares, r.delivery.shares_held, r.delivery.enough_shares) == (
        Decimal(-200),
        Decimal(200),
        False,
    )
    assert r.delivery.text == (
        "deliver 200 MSFT shares at $420.00 and receive $84,000.00 (the account holds 200, of which 80 are "
        "committed to working orders: only 120 are free, so delivering 200 leaves it short 80 shares "
        "unless those orders are cancelled)"
    )


def test_put_exercises_of_one_batch_share_the_free_shares() -> None:
    book = [
        position("MSFT", "200", MSFT_ID, available_quantity="150", instrument_price="400.00"),
        option("MSFT261218P00420000", "2", PUT_ID, MSFT_ID),
    ]
    p = plan(row("EXERCISE", PUT_ID, 1), row("EXERCISE", PUT_ID, 1), book=book, now=FRIDAY)
    assert p.ready
    assert [r.delivery.enough_shares for r in p.rows if r.delivery] == [False, False]  # 200 needed, 150 free


# ------------------------------------------------------------------------------------------------
# 8. The suggestions know the time


def expiring_now(now: datetime, quantity: str, symbol: str = "AAPL261127C00150000") -> Any:
    book = [
        position("AAPL", "300", AAPL_ID, instrument_price="151.00", market_value="45300.00"),
        option(symbol, quantity, THANKS_ID, AAPL_ID, market_value="100.00"),
    ]
    summary = summarize_exposure(book, account_id=ACCOUNT, environment="simulator", as_of=now, max_json_bytes=None)
    assert summary.expiring is not None
    (row_,) = summary.expiring.options.rows
    return row_


def test_after_the_cutoff_on_expiry_day_nothing_more_can_be_sent() -> None:
    long = expiring_now(et(2026, 11, 20, 18, 0), "10", "AAPL261120C00150000")
    assert long.default_at_expiry is DefaultAtExpiry.AUTO_EXERCISE
    assert long.suggestion == (
        "past today's 17:30 ET exercise cutoff: it will be exercised automatically; nothing can change that "
        "through this server, contact the desk"
    )
    short = expiring_now(et(2026, 11, 20, 18, 0), "-10", "AAPL261120C00150000")
    assert short.suggestion == (
        "its last trade was 16:00 ET today: it can no longer be closed through this server and assignment is "
        "likely; contact the desk"
    )


def test_suggestions_on_an_early_close_expiry_day() -> None:
    # 2026-11-27 closes at 13:00 ET; the exercise cutoff is 14:30 ET
    assert expiring_now(et(2026, 11, 27, 10, 0), "10").suggestion == (
        "to let it lapse, send DO_NOT_EXERCISE by 14:30 ET today"
    )
    assert expiring_now(et(2026, 11, 27, 10, 0), "-10").suggestion == "close by 13:00 ET today to avoid assignment"
    after_close = expiring_now(et(2026, 11, 27, 13, 30), "10")
    assert after_close.suggestion == "to let it lapse, send DO_NOT_EXERCISE by 14:30 ET today"
    assert "contact the desk" in expiring_now(et(2026, 11, 27, 13, 30), "-10").suggestion
    assert "contact the desk" in expiring_now(et(2026, 11, 27, 15, 0), "10").suggestion


def test_the_suggestion_is_a_pure_function_of_default_side_and_time() -> None:
    from positions_mcp.domain.expiry import expiry_suggestion

    day = date(2026, 11, 20)
    assert expiry_suggestion(DefaultAtExpiry.AUTO_EXERCISE, True, et(2026, 11, 18, 10), day) == (
        "to let it lapse, send DO_NOT_EXERCISE on expiry day"
    )
    assert expiry_suggestion(DefaultAtExpiry.LAPSE, True, et(2026, 11, 20, 17, 29), day) == (
        "to exercise, send CONTRARY_EXERCISE by 17:30 ET today"
    )
    assert expiry_suggestion(DefaultAtExpiry.LAPSE, True, et(2026, 11, 20, 17, 30), day) == (
        "past today's 17:30 ET exercise cutoff: it will lapse; nothing can change that through this "
        "server, contact the desk"
    )
    assert expiry_suggestion(DefaultAtExpiry.LAPSE, False, et(2026, 11, 20, 19, 0), day) == "no action needed"
    assert expiry_suggestion(DefaultAtExpiry.ASSIGNMENT_POSSIBLE, False, et(2026, 11, 20, 15, 59), day) == (
        "near the money: consider closing by 16:00 ET today"
    )


# ------------------------------------------------------------------------------------------------
# 9. A short's market value is counted with the quantity's sign


def test_a_short_reported_with_a_positive_value_is_counted_short() -> None:
    book = [
        position("AAPL", "10", AAPL_ID, market_value="1000.00"),
        position("TSLA", "-10", TSLA_ID, market_value="500.00"),  # should be -500.00
    ]
    s = summarize_exposure(book, account_id=ACCOUNT, environment="simulator", as_of=TUESDAY, max_json_bytes=None)
    assert (s.long_market_value, s.short_market_value) == (Decimal("1000.00"), Decimal("-500.00"))
    assert (s.gross_market_value, s.net_market_value) == (Decimal("1500.00"), Decimal("500.00"))
    assert types_of(s)[0].short == Decimal("-500.00")
    assert (
        "1 position has a market_value whose sign disagrees with quantity: counted with the quantity's sign (e.g. TSLA)"
    ) in s.notes


# -- what exercising costs, against the cash -------------------------------------------------------


def funds(cash: str) -> Any:
    from positions_mcp.domain.market_view import Funds

    return Funds("USD", Decimal(cash), Decimal(cash), Decimal(cash), Decimal(cash))


def cash_check(p: InstructionPlan, cash: str, *, book: list[Position] = BOOK, now: datetime, **kwargs: Any) -> Any:
    from positions_mcp.domain.cash_check import check_cash

    return check_cash(p, funds(cash), positions=book, now=now, **kwargs)


def test_the_cash_check_counts_what_exercises_already_sent_will_pay() -> None:
    """4 AAPL 195 calls already sent (SENT: the balances do not show them yet) pay 4 × 100 × 195 =
    78,000; 2 more pay 39,000: against 100,000 of cash that is 17,000 short. Nothing expires that
    Wednesday: no expiry figure."""
    now = et(2026, 11, 18, 10, 0)
    pending = [instruction("EXERCISE", "4", "SENT")]
    p = plan(row("EXERCISE", CALL_ID, 2), now=now, existing=pending)
    check = cash_check(p, "100000.00", existing=pending, now=now)
    assert check is not None
    assert (check.exercise_cash, check.pending_exercise_cash, check.expiry_cash, check.cash_after) == (
        Decimal("-39000.00"),
        Decimal("-78000.00"),
        None,
        Decimal("-17000.00"),
    )
    assert check.warning is not None and check.warning.startswith(
        "these exercises pay $39,000.00 and 1 instruction already sent (EXERCISE 4 AAPL 261120C00195000, SENT) "
        "pays $78,000.00 at settlement (T+1) against trade cash of $100,000.00: cash short by $17,000.00"
    )
    # an accepted exercise has moved its cash already, a cancelled or rejected one never will
    for status in ("ACCEPTED", "CANCELLED", "REJECTED"):
        done = [instruction("EXERCISE", "4", status)]
        check = cash_check(
            plan(row("EXERCISE", CALL_ID, 2), now=now, existing=done), "100000.00", existing=done, now=now
        )
        assert check is not None and (check.pending_exercise_cash, check.cash_after) == (None, Decimal("61000.00"))


def test_the_cash_check_counts_only_certain_receipts_and_the_same_nights_expiry() -> None:
    """A cash-settled call receives an estimate: it does not pay for a call exercise. On their common
    expiry day, 1 SPX call (+5,000 at today's level, not counted) with 1 of the 2 AAPL 190 calls
    (−19,000); the other AAPL 190 call, 10.50 in the money, is exercised by default the same night
    (−19,000): against 15,000 of cash, 23,000 short."""
    book = [*BOOK, *SPX_BOOK]
    now = et(2026, 12, 18, 10, 0)
    p = plan(row("EXERCISE", LATER_ID, 1), row("EXERCISE", SPX_CALL_ID, 1), book=book, now=now)
    assert p.ready, p.why_blocked()
    check = cash_check(p, "15000.00", book=book, now=now)
    assert check is not None
    assert (check.exercise_cash, check.expiry_cash, check.cash_after) == (
        Decimal("-19000.00"),
        Decimal("-19000.00"),
        Decimal("-23000.00"),
    )
    assert check.warning is not None and "cash short by $23,000.00" in check.warning
    assert "the rest of today's expiry pays $19,000.00" in check.warning
    assert check.warning.endswith("not counted: $5,000.00 cash-settled at today's level (an estimate)")


def test_a_put_exercise_on_shares_not_free_is_counted_only_for_the_free_shares() -> None:
    """2 MSFT 420 puts deliver 200 shares for 84,000; 120 of the 200 held are free (80 are in working
    orders): the cash for 120 shares, 84,000 × 120 / 200 = 50,400, is counted; the other 33,600 is a
    short sale's proceeds (Regulation T), named and not counted. The summary's rule, the same function."""
    book = [
        position("MSFT", "200", MSFT_ID, available_quantity="120", instrument_price="400.00"),
        option("MSFT261218P00420000", "2", PUT_ID, MSFT_ID),
    ]
    check = cash_check(plan(row("EXERCISE", PUT_ID, 2), book=book, now=FRIDAY), "1000.00", book=book, now=FRIDAY)
    assert check is not None
    assert (check.exercise_cash, check.short_sale_proceeds, check.cash_after) == (
        Decimal("50400.00"),
        Decimal("33600.00"),
        Decimal("51400.00"),
    )
    assert check.warning == (
        "cash after these exercises counts only what is certain; not counted: $33,600.00 of short-sale proceeds "
        "(delivering shares not held free)"
    )
