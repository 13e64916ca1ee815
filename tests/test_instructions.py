"""Instruction plans: the pre-acceptance rules (Clear Street's API documentation), in order, and what rows do."""

import re
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from positions_mcp.clearstreet.models import (
    NIL_UUID,
    InstructionRequest,
    InstructionType,
    Position,
    PositionInstruction,
)
from positions_mcp.domain.instructions import (
    InstructionCode,
    InstructionPlan,
    RowStatus,
    new_instruction_key,
    plan_instructions,
)
from positions_mcp.domain.market_view import Quote
from positions_mcp.domain.moneyness import MoneynessState

FRIDAY = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # Fri 10:00 ET, expiration business day
FRIDAY_1729 = datetime(2026, 11, 20, 22, 29, 59, tzinfo=UTC)
FRIDAY_1730 = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
FRIDAY_1630 = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)
THURSDAY_1800 = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

AAPL_ID = "70a34ea6-6465-438e-80a5-fabb1735256a"
TSLA_ID = "21d42f06-38a5-4494-8089-743d3dd6f9c7"
SPX_ID = "5e1c0a2b-0000-4000-8000-000000000500"
CALL_ID = "c7f5ecb6-f52c-46b9-8b56-4417482612f3"  # AAPL 261120C00195000, long 10, ITM
PUT_ID = "d1d1d1d1-0000-4000-8000-000000000210"  # AAPL 261120P00210000, long 5, ITM
OTM_CALL_ID = "e2e2e2e2-0000-4000-8000-000000000205"  # AAPL 261120C00205000, long 3, OTM
SHORT_ID = "f3f3f3f3-0000-4000-8000-000000000200"  # AAPL 261120C00200000, short 2
LATER_ID = "a4a4a4a4-0000-4000-8000-000000000190"  # AAPL 261218C00190000, long 2, ITM
TSLA_CALL_ID = "b5b5b5b5-0000-4000-8000-000000000250"  # TSLA 261218C00250000, long 4, OTM
GOOG_CALL_ID = "c6c6c6c6-0000-4000-8000-000000000100"  # no GOOG position: price unknown
SPX_CALL_ID = "d7d7d7d7-0000-4000-8000-000000005000"  # SPX 261120C05000000, cash-settled
SAT_ID = "e8e8e8e8-0000-4000-8000-000000000195"  # AAPL 261121C00195000, Saturday expiry


def position(symbol: str, quantity: str, instrument_id: str, **extra: Any) -> Position:
    wire: dict[str, Any] = {
        "account_id": 122503,
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


def option(symbol: str, quantity: str, instrument_id: str, underlier: str | None, **extra: Any) -> Position:
    fields = {
        "instrument_type": "OPTION",
        "underlying_instrument_id": underlier,
        "underlying_instrument_type": "COMMON_STOCK",
        **extra,
    }
    return position(symbol, quantity, instrument_id, **fields)


BOOK = [
    position("AAPL", "300", AAPL_ID, instrument_price="200.50"),
    position("TSLA", "-50", TSLA_ID, instrument_price="240.00"),
    position("SPX", "1", SPX_ID, instrument_type="INDEX", instrument_price="5100.00"),
    option("AAPL261120C00195000", "10", CALL_ID, AAPL_ID),
    option("AAPL  261120P00210000", "5", PUT_ID, AAPL_ID),
    option("AAPL261120C00205000", "3", OTM_CALL_ID, AAPL_ID),
    option("AAPL261120C00200000", "-2", SHORT_ID, AAPL_ID),
    option("AAPL261218C00190000", "2", LATER_ID, AAPL_ID),
    option("TSLA261218C00250000", "4", TSLA_CALL_ID, TSLA_ID),
    option("GOOG261120C00100000", "1", GOOG_CALL_ID, "goog-not-held"),
    option("SPX261120C05000000", "1", SPX_CALL_ID, SPX_ID, underlying_instrument_type="INDEX"),
    option("AAPL261121C00195000", "1", SAT_ID, AAPL_ID),
]


def keys() -> Any:
    counter = iter(range(1, 1000))
    return lambda: f"key-{next(counter)}"


def row(kind: str, instrument: str, quantity: str, key: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"instruction_type": kind, "instrument_id": instrument, "quantity": quantity}
    if key is not None:
        out["instruction_id"] = key
    return out


def plan(*rows: dict[str, Any], now: datetime = FRIDAY, **kwargs: Any) -> InstructionPlan:
    kwargs.setdefault("new_key", keys())
    return plan_instructions(BOOK, list(rows), now=now, **kwargs)


def existing(
    key: str,
    kind: str = "EXERCISE",
    quantity: str = "4",
    status: str = "SENT",
    instrument_id: str = CALL_ID,
    id_: str = "63987bde-0967-4f76-840b-cb9033ce2a74",
) -> PositionInstruction:
    return PositionInstruction.model_validate(
        {
            "id": id_,
            "account_id": 122503,
            "client_instruction_id": key,
            "instruction_type": kind,
            "instrument_id": instrument_id,
            "quantity": quantity,
            "status": status,
            "symbol": "AAPL  261120C00195000",
        }
    )


def blocked(p: InstructionPlan, index: int = 0) -> tuple[str | None, str]:
    r = p.rows[index]
    assert r.status is RowStatus.BLOCKED
    return r.reason, r.message


# -- what OK rows do ----------------------------------------------------------------------------


def test_exercise_calls_receive_shares_and_pay_cash() -> None:
    p = plan(row("EXERCISE", "aapl 261120c00195000", "5"))
    assert p.ready
    (r,) = p.rows
    assert (r.status, r.reason, r.instrument_id, r.symbol) == (RowStatus.OK, None, CALL_ID, "AAPL  261120C00195000")
    assert r.delivery is not None
    assert (r.delivery.settlement, r.delivery.shares, r.delivery.cash) == (
        "PHYSICAL",
        Decimal(500),
        Decimal("-97500.00"),
    )
    assert r.delivery.shares_held == Decimal(300)
    assert r.message == (
        "EXERCISE 5 AAPL 261120C00195000: receive 500 AAPL shares at $195.00 and pay $97,500.00; no change: "
        "it would be exercised automatically anyway (in the money by $5.50 a share, OCC exercise by exception)"
    )
    assert r.moneyness is not None and r.moneyness.state is MoneynessState.ITM
    assert r.notes == ["in the money (AAPL $200.50 vs strike $195.00): intrinsic value $2,750.00"]
    assert r.submit_before == datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
    assert p.summary == (
        "Submit 1 instruction before Fri 2026-11-20 17:30 ET: EXERCISE 5 AAPL 261120C00195000: "
        "receive 500 AAPL shares at $195.00 and pay $97,500.00; no change: it would be exercised "
        "automatically anyway (in the money by $5.50 a share, OCC exercise by exception)."
    )


def test_exercise_puts_deliver_shares_and_check_the_holding() -> None:
    short = plan(row("EXERCISE", PUT_ID, "4")).rows[0].delivery
    enough = plan(row("EXERCISE", PUT_ID, "1")).rows[0].delivery
    assert short is not None and enough is not None
    assert (short.shares, short.cash, short.enough_shares) == (Decimal(-400), Decimal("84000.00"), False)
    assert short.text == (
        "deliver 400 AAPL shares at $210.00 and receive $84,000.00 (the account holds 300: "
        "delivering 400 leaves it short 100 shares)"
    )
    assert (enough.shares, enough.cash, enough.enough_shares) == (Decimal(-100), Decimal("21000.00"), True)
    # Put exercises of one batch share the shares held: 400 + 100 > 300, both rows say so.
    p = plan(row("EXERCISE", PUT_ID, "4"), row("EXERCISE", PUT_ID, "1"))
    assert [r.delivery.enough_shares for r in p.rows if r.delivery] == [False, False]
    assert p.rows[1].delivery is not None and p.rows[1].delivery.text == (
        "deliver 100 AAPL shares at $210.00 and receive $21,000.00 (the account holds 300: the batch's put "
        "exercises deliver 500 in all, which leaves it short 200 shares)"
    )


def test_dne_on_an_itm_option_gives_up_intrinsic_value() -> None:
    p = plan(row("DO_NOT_EXERCISE", CALL_ID, "5"))
    (r,) = p.rows
    assert r.status is RowStatus.OK and r.delivery is None
    assert r.message == (
        "DO_NOT_EXERCISE 5 AAPL 261120C00195000: NOT exercised although in the money by $5.50 a share "
        "(exercised automatically otherwise, OCC exercise by exception): gives up intrinsic value $2,750.00; "
        "nothing is delivered"
    )


def test_dne_on_an_otm_option_changes_nothing() -> None:
    (r,) = plan(row("DO_NOT_EXERCISE", OTM_CALL_ID, "3")).rows
    assert r.notes == [
        "out of the money (AAPL $200.50 vs strike $205.00): it would not be exercised automatically anyway"
    ]


def test_contrary_exercise_on_otm_exercises_and_shows_delivery() -> None:
    (r,) = plan(row("CONTRARY_EXERCISE", OTM_CALL_ID, "3")).rows
    assert r.status is RowStatus.OK
    assert r.delivery is not None and r.delivery.cash == Decimal("-61500.00")
    assert r.notes == [
        "exercised although out of the money: $1,350.00 worse than trading the shares (AAPL $200.50 vs strike $205.00)"
    ]


def test_contrary_exercise_on_itm_gives_up_intrinsic_value() -> None:
    (r,) = plan(row("CONTRARY_EXERCISE", CALL_ID, "2")).rows
    assert r.delivery is None
    assert r.notes == [
        "NOT exercised although in the money: gives up intrinsic value $1,100.00 (AAPL $200.50 vs strike $195.00)"
    ]


def test_exercising_out_of_the_money_says_what_it_costs() -> None:
    (r,) = plan(row("EXERCISE", TSLA_CALL_ID, "2")).rows
    assert r.status is RowStatus.OK
    assert r.moneyness is not None and r.moneyness.state is MoneynessState.OTM
    assert r.message == (
        "EXERCISE 2 TSLA 261218C00250000: receive 200 TSLA shares at $250.00 and pay $50,000.00; exercised "
        "now; at today's price it would lapse at expiry (out of the money: TSLA $240.00 vs strike $250.00); "
        "exercising costs $2,000.00 more than trading the shares"
    )
    assert r.delivery is not None and r.delivery.shares_held == Decimal(-50)


def test_early_exercise_without_a_bid_says_the_time_value_is_not_known() -> None:
    (r,) = plan(row("EXERCISE", LATER_ID, "1")).rows
    assert r.time_value is None
    assert r.notes[1] == (
        "early exercise gives up the remaining time value: how much is not known (no market-data snapshot of "
        "the contract); selling the contracts may be worth more than the intrinsic value $1,050.00"
    )
    (r,) = plan(row("EXERCISE", LATER_ID, "1"), quotes={LATER_ID: Quote(LATER_ID, "AAPL 261218C00190000")}).rows
    assert r.time_value is None and "(the contract's market-data snapshot has no bid)" in r.notes[1]


BID_AT = datetime(2026, 11, 20, 14, 58, tzinfo=UTC)  # 09:58 ET


def test_early_exercise_gives_up_the_time_value_at_the_bid_in_dollars() -> None:
    """AAPL 200.50, the 190 call expiring in December: intrinsic 10.50 a share; at the bid 12.35 two
    contracts would sell for 2 × 100 × 12.35 = 2,470.00, exercise is worth 2,100.00: 370.00 given up."""
    quote = Quote(LATER_ID, "AAPL 261218C00190000", bid=Decimal("12.35"), ask=Decimal("12.55"), bid_timestamp=BID_AT)
    (r,) = plan(row("EXERCISE", LATER_ID, "2"), quotes={LATER_ID: quote}).rows
    assert r.time_value == Decimal("370.00")
    assert r.notes[1] == (
        "early exercise gives up about $370.00 of time value, an estimate at the bid: selling the 2 contracts at "
        "the bid $12.35 would bring $2,470.00 ($12.35 × 100 × 2; bid from the market-data snapshot, quoted Fri "
        "2026-11-20 09:58 ET), exercising is worth the intrinsic value $2,100.00"
    )
    assert r.message.endswith("gives up the remaining time value, about $370.00 at the bid")


def test_a_bid_under_intrinsic_gives_up_no_time_value() -> None:
    quote = Quote(LATER_ID, "AAPL 261218C00190000", bid=Decimal("10.20"))
    (r,) = plan(row("EXERCISE", LATER_ID, "1"), quotes={LATER_ID: quote}).rows
    assert r.time_value == Decimal("-30.00")
    assert r.notes[1] == (
        "no time value is given up at the bid: selling the 1 contract at the bid $10.20 would bring $1,020.00 "
        "($10.20 × 100 × 1; bid from the market-data snapshot), $30.00 less than the intrinsic value $1,050.00 "
        "exercising is worth"
    )
    assert r.message.endswith("gives up the remaining time value, none at the bid")


def test_no_time_value_figure_on_the_expiration_day_or_out_of_the_money() -> None:
    quotes = {
        CALL_ID: Quote(CALL_ID, "AAPL 261120C00195000", bid=Decimal("5.60")),
        TSLA_CALL_ID: Quote(TSLA_CALL_ID, "TSLA 261218C00250000", bid=Decimal("3.10")),
    }
    expiring, otm = plan(row("EXERCISE", CALL_ID, "1"), row("EXERCISE", TSLA_CALL_ID, "1"), quotes=quotes).rows
    assert expiring.time_value is None and otm.time_value is None
    assert not any("time value" in note for note in expiring.notes + otm.notes)


def test_unknown_underlier_price_shows_no_moneyness() -> None:
    (r,) = plan(row("EXERCISE", GOOG_CALL_ID, "1")).rows
    assert r.status is RowStatus.OK and r.moneyness is None
    assert r.notes == ["GOOG price unknown: moneyness not shown"]
    assert r.delivery is not None and r.delivery.cash == Decimal("-10000.00")


def test_prices_can_be_supplied() -> None:
    (r,) = plan(row("EXERCISE", GOOG_CALL_ID, "1"), prices={"goog-not-held": Decimal("120")}).rows
    assert r.moneyness is not None and r.moneyness.intrinsic_per_share == Decimal(20)


def test_index_options_settle_in_cash() -> None:
    (r,) = plan(row("EXERCISE", "SPX 261120C05000000", "1")).rows
    assert r.delivery is not None
    assert (r.delivery.settlement, r.delivery.shares, r.delivery.cash) == ("CASH", Decimal(0), Decimal("10000.00"))


# -- the rules, each on its own ---------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["0", "-1", "1.5", "0.0"])
def test_quantity_must_be_a_positive_whole_number(quantity: str) -> None:
    code, message = blocked(plan(row("EXERCISE", CALL_ID, quantity)))
    assert code is InstructionCode.INVALID_QUANTITY
    assert "positive whole number" in message


def test_whole_number_with_decimals_is_accepted() -> None:
    assert plan(row("EXERCISE", CALL_ID, "2.0")).ready


def test_duplicate_key_in_the_batch() -> None:
    p = plan(row("EXERCISE", CALL_ID, "1", "dup"), row("EXERCISE", CALL_ID, "1", "dup"))
    assert p.rows[0].status is RowStatus.OK
    assert blocked(p, 1)[0] is InstructionCode.DUPLICATE_INSTRUCTION
    assert not p.ready


def test_duplicate_key_in_the_account() -> None:
    p = plan(row("EXERCISE", CALL_ID, "1", "used"), existing=[existing("used", status="ACCEPTED")])
    code, message = blocked(p)
    assert code is InstructionCode.DUPLICATE_INSTRUCTION
    assert p.rows[0].metadata == {"existing_id": "63987bde-0967-4f76-840b-cb9033ce2a74"}
    assert "already used by instruction" in message  # another quantity under that key: a true duplicate


def test_the_same_instruction_under_its_own_key_is_a_repeat_not_a_second_exercise() -> None:
    """A retry carrying the keys of what was sent is harmless: the row is ALREADY_SUBMITTED, does
    not consume the contracts again, and the batch may be sent (the API answers with the original)."""
    sent = existing("first-try", quantity="4", status="SENT")
    p = plan(row("EXERCISE", CALL_ID, "4", "first-try"), existing=[sent])
    assert p.ready
    assert p.rows[0].status is RowStatus.ALREADY_SUBMITTED
    assert p.rows[0].metadata == {"existing_id": sent.id}
    assert "nothing is instructed twice" in p.rows[0].message
    assert p.summary.startswith("Already submitted, nothing new:")
    assert [r.client_instruction_id for r in p.requests()] == ["first-try"]


def test_a_put_exercise_under_its_own_key_is_a_repeat_and_delivers_nothing_twice() -> None:
    """A retry of a put exercise is ALREADY_SUBMITTED like a call's; the shares it delivers are not
    counted again against what the batch's other put exercises deliver (300 AAPL held: 3 contracts
    more deliver 300, enough; with the repeat's 200 counted it would be 500)."""
    sent = existing("put-try", quantity="2", status="SENT", instrument_id=PUT_ID)
    p = plan(row("EXERCISE", PUT_ID, "2", "put-try"), row("EXERCISE", PUT_ID, "3"), existing=[sent])
    assert p.ready
    assert [r.status for r in p.rows] == [RowStatus.ALREADY_SUBMITTED, RowStatus.OK]
    delivery = p.rows[1].delivery
    assert delivery is not None and delivery.enough_shares is True
    assert delivery.text == "deliver 300 AAPL shares at $210.00 and receive $63,000.00 (the account holds 300, enough)"


def test_unpersisted_rejections_do_not_hold_their_key() -> None:
    p = plan(row("EXERCISE", CALL_ID, "1", "retry"), existing=[existing("retry", status="REJECTED", id_=NIL_UUID)])
    assert p.ready


def test_unknown_instrument() -> None:
    code, message = blocked(plan(row("EXERCISE", "99999999-0000-4000-8000-000000000000", "1")))
    assert code is InstructionCode.UNKNOWN_INSTRUMENT
    assert "get_positions" in message


def test_osi_symbol_not_held_is_insufficient_position() -> None:
    p = plan(row("EXERCISE", "AAPL 261120C00300000", "1"))
    assert blocked(p) == (
        InstructionCode.INSUFFICIENT_POSITION,
        "The account holds no AAPL 261120C00300000 contracts (available 0).",
    )
    assert p.rows[0].metadata == {"available": "0"}


def test_a_stock_is_not_an_option() -> None:
    code, message = blocked(plan(row("EXERCISE", "AAPL", "1")))
    assert code is InstructionCode.NOT_AN_OPTION
    assert "not an option" in message


def test_a_short_option_cannot_be_instructed() -> None:
    code, message = blocked(plan(row("EXERCISE", SHORT_ID, "1")))
    assert code is InstructionCode.NOT_LONG
    assert message.startswith("The account is short 2 AAPL 261120C00200000")


def test_quantity_above_available() -> None:
    p = plan(row("EXERCISE", CALL_ID, "11"))
    assert blocked(p)[0] is InstructionCode.INSUFFICIENT_POSITION
    assert p.rows[0].metadata == {"available": "10", "requested": "11"}


def test_available_quantity_not_held_quantity_limits() -> None:
    book = [*BOOK[:3], option("AAPL261120C00195000", "10", CALL_ID, AAPL_ID, available_quantity="6")]
    p = plan_instructions(book, [row("EXERCISE", CALL_ID, "7")], now=FRIDAY, new_key=keys())
    assert p.rows[0].metadata == {"available": "6", "requested": "7"}


def test_pending_exercises_reserve_contracts() -> None:
    sent = existing("earlier", quantity="4", status="SENT")
    p = plan(row("EXERCISE", CALL_ID, "7"), existing=[sent])
    code, message = blocked(p)
    assert code is InstructionCode.INSUFFICIENT_POSITION
    assert p.rows[0].metadata == {"available": "6", "requested": "7"}
    assert "4 held by pending instructions (63987bde-0967-4f76-840b-cb9033ce2a74: EXERCISE 4, SENT)" in message
    assert "cancel_position_instruction" in message
    assert plan(row("EXERCISE", CALL_ID, "6"), existing=[sent]).ready
    cancelling = existing("earlier", quantity="4", status="CANCEL_REQUESTED")
    assert not plan(row("EXERCISE", CALL_ID, "7"), existing=[cancelling]).ready


def test_pending_exercises_already_netted_out_are_not_counted_twice() -> None:
    # The simulator (and maybe the API) reports available_quantity net of pending exercises.
    book = [*BOOK[:3], option("AAPL261120C00195000", "10", CALL_ID, AAPL_ID, available_quantity="6")]
    sent = existing("earlier", quantity="4", status="SENT")
    assert plan_instructions(book, [row("EXERCISE", CALL_ID, "6")], now=FRIDAY, existing=[sent]).ready
    p = plan_instructions(book, [row("EXERCISE", CALL_ID, "7")], now=FRIDAY, existing=[sent], new_key=keys())
    assert p.rows[0].metadata == {"available": "6", "requested": "7"}


def test_finished_exercises_do_not_reserve() -> None:
    for status in ("ACCEPTED", "CANCELLED", "REJECTED"):
        assert plan(row("EXERCISE", CALL_ID, "10"), existing=[existing("old", status=status)]).ready


def test_the_rows_of_one_contract_are_checked_together() -> None:
    # No longer "first come, first served": 6 + 5 > 10 blocks both rows.
    p = plan(row("EXERCISE", CALL_ID, "6"), row("EXERCISE", CALL_ID, "5"), row("DO_NOT_EXERCISE", OTM_CALL_ID, "3"))
    assert [r.reason for r in p.rows] == [InstructionCode.INSUFFICIENT_POSITION] * 2 + [None]
    assert p.rows[0].metadata == p.rows[1].metadata == {"available": "10", "requested": "11"}
    both = plan(row("EXERCISE", CALL_ID, "6"), row("EXERCISE", CALL_ID, "5"), row("DO_NOT_EXERCISE", CALL_ID, "4"))
    assert {r.reason for r in both.rows} == {InstructionCode.CONFLICTING_INSTRUCTIONS}
    assert "together they also ask for 15 where 10 can be instructed" in both.rows[0].message


@pytest.mark.parametrize(
    ("kind", "code"),
    [("DO_NOT_EXERCISE", InstructionCode.DNE_NOT_ON_EXPIRY), ("CONTRARY_EXERCISE", InstructionCode.CEA_NOT_ON_EXPIRY)],
)
def test_dne_and_cea_only_on_the_expiration_business_day(kind: str, code: InstructionCode) -> None:
    p = plan(row(kind, TSLA_CALL_ID, "1"))
    assert blocked(p)[0] is code
    assert p.rows[0].metadata == {"expiry": "2026-12-18", "business_date": "2026-11-20"}
    assert "Fri 2026-12-18, which has not come yet" in p.rows[0].message
    late = plan(row(kind, CALL_ID, "1"), now=MONDAY)
    assert late.rows[0].reason is code
    assert "has passed" in late.rows[0].message


def test_saturday_expiry_decides_on_the_friday() -> None:
    p = plan(row("DO_NOT_EXERCISE", SAT_ID, "1"))
    assert p.ready
    assert p.rows[0].submit_before == datetime(2026, 11, 20, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["EXERCISE", "DO_NOT_EXERCISE", "CONTRARY_EXERCISE"])
def test_cutoff_on_the_expiration_day(kind: str) -> None:
    assert plan(row(kind, CALL_ID, "1"), now=FRIDAY_1729).ready
    p = plan(row(kind, CALL_ID, "1"), now=FRIDAY_1730)
    assert blocked(p)[0] is InstructionCode.EXERCISE_PAST_CUTOFF
    assert p.rows[0].metadata == {"cutoff_time": "2026-11-20T17:30:00-05:00"}


def test_cutoff_is_configurable() -> None:
    p = plan(row("EXERCISE", CALL_ID, "1"), now=FRIDAY_1630, cutoff=time(16, 0))
    assert blocked(p)[0] is InstructionCode.EXERCISE_PAST_CUTOFF
    assert p.rows[0].metadata == {"cutoff_time": "2026-11-20T16:00:00-05:00"}
    assert p.cutoff_time == "16:00 America/New_York"


def test_early_exercise_after_the_daily_cutoff_is_noted_not_blocked() -> None:
    p = plan(row("EXERCISE", TSLA_CALL_ID, "1"), now=THURSDAY_1800)
    assert p.ready
    assert p.rows[0].notes[-1] == (
        "it is past today's 17:30 ET cutoff: the exercise may be processed on the next business day"
    )
    assert p.rows[0].submit_before == datetime(2026, 12, 18, 22, 30, tzinfo=UTC)


def test_exercise_after_expiry() -> None:
    code, message = blocked(plan(row("EXERCISE", CALL_ID, "1"), now=MONDAY))
    assert code is InstructionCode.EXERCISE_PAST_CUTOFF
    assert message == "AAPL 261120C00195000 expired: its last exercise cutoff was 17:30 ET on Fri 2026-11-20."


def test_weekend_exercise_waits_for_the_next_business_day() -> None:
    p = plan(row("EXERCISE", TSLA_CALL_ID, "1"), now=SATURDAY)
    assert p.ready
    assert p.rows[0].submit_before == datetime(2026, 12, 18, 22, 30, tzinfo=UTC)
    assert not any("past today's" in note for note in p.rows[0].notes)


def test_rules_run_in_the_reference_order() -> None:
    p = plan(
        row("EXERCISE", SHORT_ID, "0", "k"),  # quantity before everything; a rejected row holds no key
        row("EXERCISE", CALL_ID, "1", "k"),  # so this one passes and holds "k"
        row("EXERCISE", SHORT_ID, "1", "k"),  # duplicate before not long
        row("EXERCISE", SHORT_ID, "99"),  # not long before quantity > available
        row("DO_NOT_EXERCISE", TSLA_CALL_ID, "99"),  # available before the expiry-day rule
        row("DO_NOT_EXERCISE", LATER_ID, "1"),
        row("EXERCISE", "AAPL", "0"),  # quantity before resolution
    )
    assert [r.reason for r in p.rows] == [
        InstructionCode.INVALID_QUANTITY,
        None,
        InstructionCode.DUPLICATE_INSTRUCTION,
        InstructionCode.NOT_LONG,
        InstructionCode.INSUFFICIENT_POSITION,
        InstructionCode.DNE_NOT_ON_EXPIRY,
        InstructionCode.INVALID_QUANTITY,
    ]


# -- keys, requests, summary ----------------------------------------------------------------------


def test_keys_are_kept_or_generated() -> None:
    p = plan(row("EXERCISE", CALL_ID, "1", "mine"), row("EXERCISE", CALL_ID, "1"), row("EXERCISE", CALL_ID, "1", "  "))
    assert [(r.instruction_id, r.generated_key) for r in p.rows] == [("mine", False), ("key-1", True), ("key-2", True)]
    assert p.instruction_keys == ["mine", "key-1", "key-2"]


def test_default_keys_are_cs_mcp_uuid4() -> None:
    assert re.fullmatch(
        r"cs-mcp-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", new_instruction_key()
    )
    p = plan_instructions(BOOK, [row("EXERCISE", CALL_ID, "1")], now=FRIDAY)
    assert p.rows[0].instruction_id.startswith("cs-mcp-")


def test_requests_send_resolved_ids_and_assigned_keys() -> None:
    p = plan(row("EXERCISE", "AAPL 261120C00195000", "2", "mine"), row("DO_NOT_EXERCISE", "aapl261120p00210000", "5"))
    assert p.requests() == [
        InstructionRequest(
            instruction_type=InstructionType.EXERCISE,
            instrument_id=CALL_ID,
            quantity=Decimal(2),
            client_instruction_id="mine",
        ),
        InstructionRequest(
            instruction_type=InstructionType.DO_NOT_EXERCISE,
            instrument_id=PUT_ID,
            quantity=Decimal(5),
            client_instruction_id="key-1",
        ),
    ]
    assert p.instrument_ids == [CALL_ID, PUT_ID]


def test_blocked_plan_is_not_ready_and_cannot_be_sent() -> None:
    p = plan(row("EXERCISE", CALL_ID, "1"), row("DO_NOT_EXERCISE", TSLA_CALL_ID, "1"))
    assert not p.ready
    assert p.summary.startswith(
        "Not ready, nothing will be sent: row 2 (DO_NOT_EXERCISE 1 TSLA 261218C00250000) is DNE_NOT_ON_EXPIRY: "
        "DO_NOT_EXERCISE must be submitted on the contract's expiration business day Fri 2026-12-18"
    )
    with pytest.raises(ValueError, match="not ready"):
        p.requests()


def test_no_rows_is_not_ready() -> None:
    p = plan()
    assert not p.ready
    assert p.summary == "No instructions were given: nothing to submit."


def test_input_shapes() -> None:
    from_request = InstructionRequest(
        instruction_type=InstructionType.EXERCISE, instrument_id=CALL_ID, quantity=Decimal(1), client_instruction_id="a"
    )
    alias = {"instruction_type": "EXERCISE", "instrument_id": CALL_ID, "quantity": "1", "client_instruction_id": "b"}
    p = plan_instructions(BOOK, [from_request, alias], now=FRIDAY, new_key=keys())
    assert [r.instruction_id for r in p.rows] == ["a", "b"]


def test_json_is_compact_strings() -> None:
    dumped = plan(row("EXERCISE", CALL_ID, "5")).model_dump(mode="json")
    assert dumped["ready"] is True
    r = dumped["rows"][0]
    assert (r["quantity"], r["delivery"]["cash"], r["moneyness"]["intrinsic_per_share"]) == ("5", "-97500.00", "5.50")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_instructions(BOOK, [], now=datetime(2026, 11, 20, 10, 0))
