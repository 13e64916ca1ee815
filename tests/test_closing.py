"""Closing plans: orders, sides, quantities, prices, warnings, blocks and the one-line summary."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from positions_mcp.clearstreet.models import OrderType, Position, Side, TimeInForce
from positions_mcp.domain.closing import (
    CloseCode,
    PriceSource,
    close_scope,
    plan_close_position,
    plan_close_positions,
)
from positions_mcp.domain.resolve import ResolveCode, ResolveError

SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)  # Sat 10:00 ET: closed until Mon 09:30
TUESDAY_OPEN = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # Tue 10:00 ET: regular session
TUESDAY_EVENING = datetime(2026, 11, 17, 21, 30, tzinfo=UTC)  # Tue 16:30 ET: after the close
THANKSGIVING = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Thu 10:00 ET: exchange holiday

AAPL_ID = "70a34ea6-6465-438e-80a5-fabb1735256a"
TSLA_ID = "21d42f06-38a5-4494-8089-743d3dd6f9c7"
CALL_ID = "c7f5ecb6-f52c-46b9-8b56-4417482612f3"
GOOG_ID = "5b0e7c39-94a4-4c57-9e0f-3b0a3b1c2d4e"
USD_ID = "0f0e0d0c-0b0a-4090-8070-605040302010"


def position(symbol: str, quantity: str, instrument_id: str, **extra: Any) -> Position:
    wire: dict[str, Any] = {
        "account_id": 19816,
        "instrument_id": instrument_id,
        "instrument_type": "COMMON_STOCK",
        "symbol": symbol,
        "position_type": "LONG" if not quantity.startswith("-") else "SHORT",
        "quantity": quantity,
        "available_quantity": quantity,
        "market_value": "0",
    }
    wire.update(extra)
    return Position.model_validate(wire)


def aapl(**extra: Any) -> Position:
    return position("AAPL", "100", AAPL_ID, **{"instrument_price": "151.00", **extra})


def tsla(**extra: Any) -> Position:
    return position("TSLA", "-50", TSLA_ID, **{"instrument_price": "178.50", **extra})


def aapl_call(**extra: Any) -> Position:
    return position(
        "AAPL280121C00195000",
        "10",
        CALL_ID,
        **{
            "instrument_type": "OPTION",
            "instrument_price": "6.20",
            "underlying_instrument_id": AAPL_ID,
            "underlying_instrument_type": "COMMON_STOCK",
            **extra,
        },
    )


def cash() -> Position:
    return position("USD", "25000", USD_ID, instrument_type="CASH", instrument_price="1")


def test_close_all_summary_on_a_weekend() -> None:
    plan = plan_close_positions([aapl(), tsla()], cancel_orders=False, now=SATURDAY)
    assert plan.summary == (
        "Send 2 MARKET DAY orders: SELL 100 AAPL (~$15,100.00) and BUY 50 TSLA (~$8,925.00); "
        "estimated total $24,025.00 traded at the positions' prices: sells receive ~$15,100.00, buys pay ~$8,925.00. "
        "The market is closed now: the orders will wait for the open at Mon 2026-11-23 09:30 ET."
    )
    assert plan.allowed and plan.blocked == []
    assert plan.estimated_total == Decimal("24025.00")
    assert plan.market_open is False
    assert plan.next_open == datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    assert [w.code for w in plan.warnings] == [CloseCode.MARKET_CLOSED]


def test_orders_are_market_day_with_the_closing_side() -> None:
    plan = plan_close_positions([aapl(), tsla()], cancel_orders=False, now=TUESDAY_OPEN)
    sell, buy = plan.orders
    assert (sell.side, sell.quantity, sell.symbol, sell.instrument_id) == (Side.SELL, Decimal(100), "AAPL", AAPL_ID)
    assert (buy.side, buy.quantity, buy.position_quantity) == (Side.BUY, Decimal(50), Decimal(-50))
    for order in plan.orders:
        assert order.order_type is OrderType.MARKET
        assert order.time_in_force is TimeInForce.DAY
        assert order.multiplier == 1
        assert order.price_source is PriceSource.INSTRUMENT_PRICE
    assert plan.market_open is True and plan.next_open is None
    assert plan.warnings == []


def test_wire_shape_uses_decimal_strings() -> None:
    dumped = plan_close_position([aapl()], "AAPL", cancel_orders=None, now=TUESDAY_OPEN).model_dump(mode="json")
    order = dumped["orders"][0]
    assert order["quantity"] == "100"
    assert order["estimated_price"] == "151.00"
    assert order["estimated_notional"] == "15100.00"
    assert dumped["estimated_total"] == "15100.00"
    assert dumped["allowed"] is True
    assert dumped["cancel_orders"] is False


@pytest.mark.parametrize(
    "target",
    [
        "AAPL280121C00195000",
        "AAPL  280121C00195000",
        "AAPL 280121C00195000",
        "aapl 280121c00195000",
        CALL_ID,
        CALL_ID.upper(),
    ],
)
def test_option_close_resolves_any_rendering_and_multiplies_by_100(target: str) -> None:
    plan = plan_close_position([aapl(), aapl_call()], target, cancel_orders=False, now=TUESDAY_OPEN)
    (order,) = plan.orders
    assert order.instrument_id == CALL_ID
    assert (order.side, order.quantity, order.multiplier) == (Side.SELL, Decimal(10), 100)
    assert order.estimated_notional == Decimal("6200.00")  # 10 × 6.20 × 100
    assert [w.code for w in plan.warnings] == [CloseCode.OPTION_CONTRACTS]
    assert plan.summary == (
        "Send 1 MARKET DAY order: SELL 10 AAPL 280121C00195000 contracts (~$6,200.00); estimated total $6,200.00 at the position's price."
    )
    assert plan.target == target and plan.scope == "position"


def test_ticker_matches_the_stock_not_its_options() -> None:
    plan = plan_close_position([aapl_call(), aapl()], "aapl", cancel_orders=False, now=TUESDAY_OPEN)
    assert [o.instrument_id for o in plan.orders] == [AAPL_ID]


def test_working_orders_limit_the_close_to_the_available_quantity() -> None:
    short = tsla(available_quantity="-20")
    plan = plan_close_position([short], "TSLA", cancel_orders=False, now=TUESDAY_OPEN)
    (order,) = plan.orders
    assert (order.side, order.quantity) == (Side.BUY, Decimal(20))
    assert order.estimated_notional == Decimal("3570.00")  # 20 × 178.50
    (warning,) = plan.warnings
    assert warning.code == CloseCode.WORKING_ORDERS
    assert warning.message == (
        "TSLA: 30 of 50 are tied up in working orders, so this close sends 20; with "
        "cancel_orders=true those orders would be cancelled first and all 50 closed."
    )
    assert (
        plan.summary
        == "Send 1 MARKET DAY order: BUY 20 of 50 TSLA (~$3,570.00); estimated total $3,570.00 at the position's price."
    )
    assert "cancel_orders=true they would be cancelled" in plan.cancel_orders_effect


def test_positive_available_on_a_short_reads_the_same() -> None:
    plan = plan_close_position([tsla(available_quantity="20")], "TSLA", cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.orders[0].quantity == Decimal(20)


def test_cancel_orders_closes_the_whole_position() -> None:
    plan = plan_close_position([tsla(available_quantity="-20")], "TSLA", cancel_orders=True, now=TUESDAY_OPEN)
    (order,) = plan.orders
    assert order.quantity == Decimal(50)
    assert order.estimated_notional == Decimal("8925.00")
    assert plan.cancel_orders is True
    assert plan.warnings[0].code == CloseCode.WORKING_ORDERS
    assert "cancel_orders=true cancels them first so all 50 are closed" in plan.warnings[0].message
    assert plan.summary == (
        "Cancel any working orders on TSLA, then send 1 MARKET DAY order: BUY 50 TSLA (~$8,925.00); "
        "estimated total $8,925.00 at the position's price."
    )


def test_cancel_orders_none_means_false() -> None:
    plan = plan_close_position([tsla(available_quantity="-20")], "TSLA", cancel_orders=None, now=TUESDAY_OPEN)
    assert plan.cancel_orders is False
    assert plan.orders[0].quantity == Decimal(20)


def test_nothing_available_blocks_a_single_close() -> None:
    plan = plan_close_position([aapl(available_quantity="0")], "AAPL", cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.orders == []
    assert [w.code for w in plan.warnings] == [CloseCode.NOTHING_AVAILABLE]
    assert [b.code for b in plan.blocked] == [CloseCode.NOTHING_TO_CLOSE]
    assert not plan.allowed
    assert plan.summary.startswith("Blocked, nothing will be sent: Nothing to close:")


def test_nothing_available_on_one_position_of_close_all_only_warns() -> None:
    plan = plan_close_positions([aapl(available_quantity="0"), tsla()], cancel_orders=False, now=TUESDAY_OPEN)
    assert [o.symbol for o in plan.orders] == ["TSLA"]
    assert plan.allowed
    assert [w.code for w in plan.warnings] == [CloseCode.NOTHING_AVAILABLE]


def test_available_above_held_never_flips_the_position() -> None:
    plan = plan_close_position([tsla(available_quantity="100")], "TSLA", cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.orders[0].quantity == Decimal(50)
    assert [w.code for w in plan.warnings] == [CloseCode.AVAILABLE_ABOVE_HELD]


@pytest.mark.parametrize(
    ("now", "next_open"),
    [
        (TUESDAY_EVENING, "Wed 2026-11-18 09:30 ET"),
        (THANKSGIVING, "Fri 2026-11-27 09:30 ET"),
        (SATURDAY, "Mon 2026-11-23 09:30 ET"),
    ],
)
def test_market_closed_names_the_next_open(now: datetime, next_open: str) -> None:
    plan = plan_close_position([aapl()], "AAPL", cancel_orders=False, now=now)
    assert plan.market_open is False
    (warning,) = plan.warnings
    assert warning.code == CloseCode.MARKET_CLOSED
    assert next_open in warning.message
    assert plan.summary.endswith(f"The market is closed now: the orders will wait for the open at {next_open}.")


def test_notional_above_the_cap_blocks() -> None:
    plan = plan_close_positions(
        [aapl(), tsla()], cancel_orders=False, now=TUESDAY_OPEN, max_close_notional=Decimal("20000")
    )
    assert not plan.allowed
    assert [b.code for b in plan.blocked] == [CloseCode.NOTIONAL_CAP]
    assert CloseCode.NOTIONAL_CAP in [w.code for w in plan.warnings]
    assert plan.blocked[0].message == (
        "The estimated notional $24,025.00 is above the POSITIONS_MCP_MAX_CLOSE_NOTIONAL cap of "
        "$20,000.00, so this close will be refused."
    )
    assert plan.summary.startswith("Blocked, nothing will be sent: The estimated notional $24,025.00")
    assert plan.max_close_notional == Decimal("20000")
    assert len(plan.orders) == 2  # still shown, so the user sees what the cap stopped


def test_notional_equal_to_the_cap_is_allowed() -> None:
    plan = plan_close_positions(
        [aapl(), tsla()], cancel_orders=False, now=TUESDAY_OPEN, max_close_notional=Decimal("24025.00")
    )
    assert plan.allowed


def test_closing_price_is_the_fallback_and_says_so() -> None:
    plan = plan_close_position(
        [aapl(instrument_price=None, closing_price="150.00")], "AAPL", cancel_orders=False, now=TUESDAY_OPEN
    )
    order = plan.orders[0]
    assert (order.estimated_price, order.price_source) == (Decimal("150.00"), PriceSource.CLOSING_PRICE)
    assert order.estimated_notional == Decimal("15000.00")


def test_no_price_warns_and_blocks_only_under_a_cap() -> None:
    goog = position("GOOG", "10", GOOG_ID)
    plan = plan_close_positions([aapl(), goog], cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.allowed
    assert [w.code for w in plan.warnings] == [CloseCode.NO_PRICE]
    assert plan.orders[1].estimated_notional is None and plan.orders[1].price_source is None
    assert plan.estimated_total == Decimal("15100.00")
    assert plan.summary == (
        "Send 2 MARKET DAY orders: SELL 100 AAPL (~$15,100.00) and SELL 10 GOOG (no price); "
        "estimated total $15,100.00 at the position's price (without 1 order that has no price)."
    )
    capped = plan_close_positions(
        [aapl(), goog], cancel_orders=False, now=TUESDAY_OPEN, max_close_notional=Decimal("1000000")
    )
    assert [b.code for b in capped.blocked] == [CloseCode.NOTIONAL_UNKNOWN]


def test_notional_is_rounded_half_even_to_the_cent() -> None:
    half = position("AAPL", "0.5", AAPL_ID, instrument_price="151.01")  # 75.505
    plan = plan_close_position([half], AAPL_ID, cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.orders[0].estimated_notional == Decimal("75.50")
    assert plan.orders[0].quantity == Decimal("0.5")


def test_close_all_leaves_cash_out_and_says_so() -> None:
    plan = plan_close_positions([cash(), aapl(), aapl_call()], cancel_orders=False, now=TUESDAY_OPEN)
    assert [o.instrument_id for o in plan.orders] == [AAPL_ID, CALL_ID]
    assert plan.excluded == ["USD"]
    assert plan.warnings[0].code == CloseCode.CASH_EXCLUDED
    assert plan.estimated_total == Decimal("21300.00")  # 15,100 + 10 × 6.20 × 100
    assert plan.scope == "all" and plan.target is None


def test_closing_a_cash_position_is_blocked() -> None:
    plan = plan_close_position([cash(), aapl()], "USD", cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.orders == []
    assert [b.code for b in plan.blocked] == [CloseCode.CASH_POSITION]


def test_close_all_with_only_cash_has_nothing_to_close() -> None:
    plan = plan_close_positions([cash()], cancel_orders=True, now=TUESDAY_OPEN)
    assert [b.code for b in plan.blocked] == [CloseCode.NOTHING_TO_CLOSE]
    assert plan.blocked[0].message == "Nothing to close: the account holds no quantity to close."


def test_unknown_target_says_what_to_do() -> None:
    with pytest.raises(ResolveError) as caught:
        plan_close_position([aapl()], "NVDA", cancel_orders=False, now=TUESDAY_OPEN, account_id=19816)
    assert caught.value.code is ResolveCode.UNKNOWN_INSTRUMENT
    assert "No position of account 19816 matches 'NVDA'" in str(caught.value)
    assert "get_positions" in str(caught.value)


def test_ticker_of_held_options_hints_at_their_symbols() -> None:
    with pytest.raises(ResolveError) as caught:
        plan_close_position([aapl_call()], "AAPL", cancel_orders=False, now=TUESDAY_OPEN)
    assert "It holds options on AAPL: AAPL 280121C00195000" in caught.value.message


def test_empty_target_is_refused() -> None:
    with pytest.raises(ResolveError):
        plan_close_position([aapl()], "  ", cancel_orders=False, now=TUESDAY_OPEN)


def test_ambiguous_target_lists_the_candidates() -> None:
    twin = position("AAPL", "5", "aaaaaaaa-0000-4000-8000-000000000000", instrument_price="151.00")
    with pytest.raises(ResolveError) as caught:
        plan_close_position([aapl(), twin], "AAPL", cancel_orders=False, now=TUESDAY_OPEN)
    assert caught.value.code is ResolveCode.AMBIGUOUS_INSTRUMENT
    assert caught.value.candidates == (AAPL_ID, "aaaaaaaa-0000-4000-8000-000000000000")
    assert "pass the instrument UUID" in caught.value.message


def test_long_close_all_summary_is_truncated() -> None:
    many = [position(f"S{i}", "1", f"id-{i}", instrument_price="10") for i in range(8)]
    plan = plan_close_positions(many, cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.summary == (
        "Send 8 MARKET DAY orders: SELL 1 S0 (~$10.00), SELL 1 S1 (~$10.00), SELL 1 S2 (~$10.00), "
        "SELL 1 S3 (~$10.00), SELL 1 S4 (~$10.00) and 3 more; estimated total $80.00 at the positions' prices."
    )


def test_close_scope() -> None:
    positions = [cash(), aapl(), tsla(), position("ZERO", "0", "zero-id")]
    assert [p.symbol for p in close_scope(positions, None)] == ["AAPL", "TSLA"]
    assert [p.symbol for p in close_scope(positions, "tsla")] == ["TSLA"]
    with pytest.raises(ResolveError):
        close_scope(positions, "NVDA")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_close_positions([aapl()], cancel_orders=False, now=datetime(2026, 11, 17, 10, 0))


def test_seed_era_option_position_types_count_as_options() -> None:
    seed = position(
        "AAPL250117C00190000",
        "2",
        "seed-id",
        instrument_type="OTHER",
        position_type="LONG_CALL",
        instrument_price="1.50",
    )
    plan = plan_close_position([seed], "AAPL 250117C00190000", cancel_orders=False, now=TUESDAY_OPEN)
    assert plan.orders[0].multiplier == 100
    assert plan.orders[0].estimated_notional == Decimal("300.00")
