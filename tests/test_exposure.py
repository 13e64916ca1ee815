"""The exposure summary: sums checked against hand-computed values, options, expiry, size bound.

Every expected number below was computed by hand from the fixture rows (the arithmetic is in the
comments); none comes from running the code under test.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inline_snapshot import snapshot
from positions_mcp.clearstreet.models import Position
from positions_mcp.domain import exposure as exposure_module
from positions_mcp.domain.expiry import default_at_expiry
from positions_mcp.domain.exposure import (
    MAX_JSON_BYTES,
    DefaultAtExpiry,
    ExposureBuilder,
    ExposureSummary,
    summarize_exposure,
)
from positions_mcp.domain.moneyness import moneyness
from positions_mcp.domain.osi import OptionRight, OptionSymbol, parse_osi

ACCOUNT = 19816
TODAY = date(2026, 4, 1)  # a Wednesday; Friday 2026-04-03 is Good Friday
AS_OF = datetime(2026, 4, 1, 14, 30, tzinfo=UTC)

AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
TSLA_ID = "d4d5d6d7-e4e5-f4f5-a4a5-a6a7a8a9aaab"
MSFT_ID = "5f0c1b2a-0000-4000-8000-0000000005f7"
GOOG_ID = "9a9b9c9d-0000-4000-8000-000000000600"  # never held: options on it have no price


def pos(symbol: str, quantity: str, market_value: str, **fields: Any) -> Position:
    """A Position from a wire-shaped row (decimal strings), with boring defaults."""
    wire: dict[str, Any] = {
        "account_id": ACCOUNT,
        "instrument_id": f"id-{symbol}",
        "instrument_type": "COMMON_STOCK",
        "symbol": symbol,
        "position_type": "SHORT" if quantity.startswith("-") else "LONG",
        "quantity": quantity,
        "available_quantity": quantity.lstrip("-"),
        "market_value": market_value,
    }
    wire.update(fields)
    return Position.model_validate(wire)


def option(symbol: str, quantity: str, market_value: str, underlying: str | None, **fields: Any) -> Position:
    return pos(
        symbol,
        quantity,
        market_value,
        instrument_type="OPTION",
        underlying_instrument_id=underlying,
        underlying_instrument_type="COMMON_STOCK" if underlying else None,
        **fields,
    )


def book() -> list[Position]:
    return [
        # 1. fractional shares: 100.5 × 151.10 = 15185.55
        pos(
            "AAPL",
            "100.5",
            "15185.55",
            instrument_id=AAPL_ID,
            instrument_price="151.10",
            closing_price="150.50",
            unrealized_pnl="0.10",
            daily_unrealized_pnl="0.20",
            daily_realized_pnl="0.30",
        ),
        # 2. a short: -50 × 178.50 = -8925.00
        pos(
            "TSLA",
            "-50",
            "-8925.00",
            instrument_id=TSLA_ID,
            instrument_price="178.50",
            unrealized_pnl="0.20",
            daily_unrealized_pnl="-0.10",
            daily_realized_pnl="0.00",
        ),
        # 3. seed-era LONG_CALL row, compact OSI, expires Thursday 2026-04-02, strike 150 < 151.10
        option(
            "AAPL260402C00150000",
            "10",
            "1150.00",
            AAPL_ID,
            position_type="LONG_CALL",
            instrument_price="1.15",
            unrealized_pnl="0.30",
        ),
        # 4. short put, padded OSI, expires Monday 2026-04-06, strike 152.50 > 151.10
        option(
            "AAPL  260406P00152500",
            "-3",
            "-465.00",
            AAPL_ID,
            instrument_price="1.55",
            unrealized_pnl="-0.01",
            daily_unrealized_pnl="0.01",
        ),
        # 5. option whose underlier is not held; expires on Good Friday; no instrument_price
        option("GOOG 260403C00300000", "2", "12.34", GOOG_ID, closing_price="0.06"),
        # 6. an instrument type this server does not know
        pos(
            "XYZ.WS",
            "1000",
            "333.00",
            instrument_type="WARRANT",
            instrument_price="0.333",
            unrealized_pnl="0.00",
            daily_unrealized_pnl="0.00",
            daily_realized_pnl="0.00",
        ),
        # 7. cash: not exposure
        pos("USD", "2500.75", "2500.75", instrument_type="CASH", instrument_price="1"),
        # 8. fractional shares without instrument_price: 0.3 × 400.33 (close) = 120.099 -> 120.10
        pos("MSFT", "0.3", "120.10", instrument_id=MSFT_ID, closing_price="400.33", unrealized_pnl="0.10"),
        # 9. short call on MSFT, expires 2026-05-15: outside the window
        option(
            "MSFT  260515C00420000",
            "-1",
            "-250.00",
            MSFT_ID,
            instrument_price="2.50",
            unrealized_pnl="0.05",
            daily_unrealized_pnl="0.02",
            daily_realized_pnl="1.11",
        ),
        # 10. an option whose symbol is not OSI and whose underlier is not given
        option("BADSYMBOL", "1", "5.00", None, instrument_price="0.05"),
        # 11. past expiration but still listed
        option(
            "AAPL  260327C00140000",
            "1",
            "0.00",
            AAPL_ID,
            instrument_price="0.00",
            unrealized_pnl="-0.33",
            daily_unrealized_pnl="0.00",
        ),
    ]


def summarize(positions: list[Position], **overrides: Any) -> ExposureSummary:
    options: dict[str, Any] = {
        "account_id": ACCOUNT,
        "environment": "simulator",
        "as_of": AS_OF,
        "today": TODAY,
        "max_json_bytes": None,
    }
    return summarize_exposure(positions, **(options | overrides))


def as_json(summary: ExposureSummary) -> dict[str, Any]:
    return json.loads(summary.model_dump_json())


# -- totals -----------------------------------------------------------------------------------


def test_totals_are_exact_sums_of_what_the_upstream_reported() -> None:
    s = summarize(book())
    assert (s.account_id, s.environment, s.as_of) == (ACCOUNT, "simulator", AS_OF)
    assert s.positions == 11
    # long rows 1,3,5,6,8,10,11: 15185.55 + 1150.00 + 12.34 + 333.00 + 120.10 + 5.00 + 0.00
    assert s.long_market_value == Decimal("16805.99")
    # short rows 2,4,9: -8925.00 - 465.00 - 250.00
    assert s.short_market_value == Decimal("-9640.00")
    assert s.gross_exposure == Decimal("26445.99")  # 16805.99 + 9640.00
    assert s.net_exposure == Decimal("7165.99")  # 16805.99 - 9640.00
    assert s.cash == Decimal("2500.75")
    # 0.10 + 0.20 + 0.30 - 0.01 + 0.00 + 0.10 + 0.05 - 0.33 (a float sum would not be 0.41)
    assert s.unrealized_pnl == Decimal("0.41")
    assert s.daily_unrealized_pnl == Decimal("0.13")  # 0.20 - 0.10 + 0.01 + 0.00 + 0.02 + 0.00
    assert s.daily_realized_pnl == Decimal("1.41")  # 0.30 + 0.00 + 0.00 + 1.11


def test_money_travels_as_exact_strings() -> None:
    data = as_json(summarize(book()))
    assert data["long_market_value"] == "16805.99"
    assert data["unrealized_pnl"] == "0.41"
    assert data["by_type"][2] == {
        "type": "WARRANT",
        "positions": 1,
        "long": "333.00",
        "short": "0",
        "gross_pct": "1.26",
    }
    assert data["as_of"] == "2026-04-01T14:30:00Z"


def test_breakdowns_by_side_and_type() -> None:
    s = summarize(book())
    sides = {side.side: side for side in s.by_side}
    assert (sides["LONG"].positions, sides["LONG"].market_value) == (7, Decimal("16805.99"))
    assert sides["LONG"].gross_pct == Decimal("63.55")  # 16805.99 / 26445.99 = 63.548 %
    assert (sides["SHORT"].positions, sides["SHORT"].market_value) == (3, Decimal("-9640.00"))
    assert sides["SHORT"].gross_pct == Decimal("36.45")  # 9640.00 / 26445.99 = 36.452 %
    assert [(t.type, t.positions, t.long, t.short, t.gross_pct) for t in s.by_type] == [
        # rows 1, 8 long; 2 short; gross 24230.65 = 91.623 %
        ("COMMON_STOCK", 3, Decimal("15305.65"), Decimal("-8925.00"), Decimal("91.62")),
        # rows 3, 5, 10, 11 long; 4, 9 short; gross 1882.34 = 7.118 %
        ("OPTION", 6, Decimal("1167.34"), Decimal("-715.00"), Decimal("7.12")),
        ("WARRANT", 1, Decimal("333.00"), Decimal("0"), Decimal("1.26")),  # 333 / 26445.99
    ]


def test_largest_positions_and_concentration() -> None:
    s = summarize(book())
    assert [(p.symbol, p.market_value, p.gross_pct) for p in s.largest] == [
        ("AAPL", Decimal("15185.55"), Decimal("57.42")),  # 15185.55 / 26445.99 = 57.421 %
        ("TSLA", Decimal("-8925.00"), Decimal("33.75")),  # 33.748 %
        ("AAPL260402C00150000", Decimal("1150.00"), Decimal("4.35")),  # 4.348 %
        ("AAPL  260406P00152500", Decimal("-465.00"), Decimal("1.76")),  # 1.758 %
        ("XYZ.WS", Decimal("333.00"), Decimal("1.26")),  # 1.259 %
        ("MSFT  260515C00420000", Decimal("-250.00"), Decimal("0.95")),  # 0.945 %
        ("MSFT", Decimal("120.10"), Decimal("0.45")),  # 0.454 %
        ("GOOG 260403C00300000", Decimal("12.34"), Decimal("0.05")),  # 0.047 %
        ("BADSYMBOL", Decimal("5.00"), Decimal("0.02")),  # 0.019 %
        ("AAPL  260327C00140000", Decimal("0.00"), Decimal("0.00")),
    ]
    assert s.largest[0].quantity == Decimal("100.5")
    assert "USD" not in {p.symbol for p in s.largest}  # cash is not a position at risk
    assert s.concentration.largest_pct == Decimal("57.42")
    # 15185.55 + 8925.00 + 1150.00 + 465.00 + 333.00 = 26058.55; / 26445.99 = 98.535 %
    assert s.concentration.top5_pct == Decimal("98.53")


def test_top_n_caps_the_largest_list_but_not_the_concentration() -> None:
    s = summarize(book(), top_n=2)
    assert [p.symbol for p in s.largest] == ["AAPL", "TSLA"]
    assert s.concentration.top5_pct == Decimal("98.53")


# -- options ---------------------------------------------------------------------------------


def test_options_grouped_by_underlier() -> None:
    options = summarize(book()).options
    assert options is not None
    assert options.positions == 6
    assert options.long == Decimal("14")  # 10 + 2 + 1 + 1
    assert options.short == Decimal("4")  # 3 + 1
    assert options.underliers == 4
    rows = [
        (u.underlier, u.price, u.long, u.short, u.calls, u.puts, u.notional, u.market_value, u.next_expiry)
        for u in options.by_underlier
    ]
    assert rows == [
        # 11 long calls (incl. the expired one) + 3 short puts; 14 × 100 × 151.10 = 211540.00;
        # 1150.00 - 465.00 + 0.00 = 685.00; the expired 2026-03-27 is not "next"
        (
            "AAPL",
            Decimal("151.10"),
            Decimal("11"),
            Decimal("3"),
            Decimal("11"),
            Decimal("3"),
            Decimal("211540.00"),
            Decimal("685.00"),
            date(2026, 4, 2),
        ),
        # priced at its closing price 400.33: 1 × 100 × 400.33
        (
            "MSFT",
            Decimal("400.33"),
            Decimal("0"),
            Decimal("1"),
            Decimal("1"),
            Decimal("0"),
            Decimal("40033.00"),
            Decimal("-250.00"),
            date(2026, 5, 15),
        ),
        # not held: no price, no notional; labelled by the OSI root
        (
            "GOOG",
            None,
            Decimal("2"),
            Decimal("0"),
            Decimal("2"),
            Decimal("0"),
            None,
            Decimal("12.34"),
            date(2026, 4, 3),
        ),
        # no underlying id and no parsable symbol
        ("unknown", None, Decimal("1"), Decimal("0"), Decimal("0"), Decimal("0"), None, Decimal("5.00"), None),
    ]


def test_expiring_options_with_moneyness_and_default_at_expiry() -> None:
    expiring = summarize(book()).expiring
    assert expiring is not None
    # today 2026-04-01 + 3 business days: 04-02, (Good Friday, weekend), 04-06, 04-07
    assert (expiring.window_business_days, expiring.through) == (3, date(2026, 4, 7))
    assert expiring.count == 3
    assert expiring.by_default == {"ASSIGNMENT_LIKELY": 1, "AUTO_EXERCISE": 1, "UNKNOWN": 1}
    call, goog, put = expiring.options
    # long call, strike 150, spot 151.10: 1.10 in the money, 110.00 a contract, 1.10/150 = 0.733 %
    assert (call.symbol, call.quantity, call.expiry, call.expiration_day, call.days_left) == (
        "AAPL260402C00150000",
        Decimal("10"),
        date(2026, 4, 2),
        None,
        1,
    )
    assert (call.moneyness, call.spot, call.intrinsic, call.distance_pct) == (
        "ITM",
        Decimal("151.10"),
        Decimal("110.00"),
        Decimal("0.73"),
    )
    assert call.default_at_expiry is DefaultAtExpiry.AUTO_EXERCISE
    assert "DO_NOT_EXERCISE" in call.suggestion
    # expires on Good Friday: decisions happen on Thursday 04-02; the underlier is not held
    assert (goog.expiry, goog.expiration_day, goog.days_left) == (date(2026, 4, 3), date(2026, 4, 2), 1)
    assert (goog.moneyness, goog.spot, goog.intrinsic, goog.distance_pct) == (None, None, None, None)
    assert goog.default_at_expiry is DefaultAtExpiry.UNKNOWN
    # short put, strike 152.50, spot 151.10: 1.40 in the money, 140.00 a contract, 0.918 %
    assert (put.quantity, put.expiry, put.days_left) == (Decimal("-3"), date(2026, 4, 6), 2)
    assert (put.moneyness, put.intrinsic, put.distance_pct) == ("ITM", Decimal("140.00"), Decimal("0.92"))
    assert put.default_at_expiry is DefaultAtExpiry.ASSIGNMENT_LIKELY


def test_expiry_window_zero_is_today_only() -> None:
    s = summarize(book(), today=date(2026, 4, 2), expiry_window_business_days=0)
    assert s.expiring is not None
    assert s.expiring.through == date(2026, 4, 2)
    assert [o.symbol for o in s.expiring.options] == ["AAPL260402C00150000", "GOOG 260403C00300000"]
    assert {o.days_left for o in s.expiring.options} == {0}


def test_expiring_list_is_capped_with_a_count_of_all() -> None:
    s = summarize(book(), expiring_limit=1, underlier_limit=2)
    assert s.expiring is not None and s.options is not None
    assert (s.expiring.count, len(s.expiring.options)) == (3, 1)
    assert (s.options.underliers, len(s.options.by_underlier)) == (4, 2)


def underlier_and_option(strike: str, spot: str, right: str, quantity: str) -> list[Position]:
    thousandths = int(Decimal(strike) * 1000)
    return [
        pos("XYZ", "1", spot, instrument_id="XYZ-ID", instrument_price=spot),
        option(f"XYZ   260401{right}{thousandths:08d}", quantity, "1.00", "XYZ-ID"),
    ]


@pytest.mark.parametrize(
    ("strike", "spot", "right", "quantity", "state", "default"),
    [
        # OCC exercise by exception: a long option is exercised at >= $0.01 in the money
        ("100", "100.01", "C", "1", "ITM", DefaultAtExpiry.AUTO_EXERCISE),
        ("100", "100.009", "C", "1", "ITM", DefaultAtExpiry.LAPSE),  # less than a cent
        ("100", "100", "C", "1", "ATM", DefaultAtExpiry.LAPSE),
        ("100", "99.99", "C", "1", "OTM", DefaultAtExpiry.LAPSE),
        ("100", "99.99", "P", "1", "ITM", DefaultAtExpiry.AUTO_EXERCISE),
        ("100", "100.01", "P", "1", "OTM", DefaultAtExpiry.LAPSE),
        # shorts: assigned when the holder's contract is auto-exercised
        ("100", "100.01", "C", "-1", "ITM", DefaultAtExpiry.ASSIGNMENT_LIKELY),
        ("100", "100.005", "C", "-1", "ITM", DefaultAtExpiry.ASSIGNMENT_POSSIBLE),
        ("100", "100", "P", "-1", "ATM", DefaultAtExpiry.ASSIGNMENT_POSSIBLE),
        ("100", "90", "P", "-1", "ITM", DefaultAtExpiry.ASSIGNMENT_LIKELY),
        ("100", "110", "P", "-1", "OTM", DefaultAtExpiry.LAPSE),
    ],
)
def test_default_at_expiry(
    strike: str, spot: str, right: str, quantity: str, state: str, default: DefaultAtExpiry
) -> None:
    s = summarize(underlier_and_option(strike, spot, right, quantity))
    assert s.expiring is not None
    (row,) = s.expiring.options
    assert (row.moneyness, row.default_at_expiry, row.days_left) == (state, default, 0)
    assert row.suggestion


@given(
    st.integers(min_value=1, max_value=99_999_999),
    st.integers(min_value=0, max_value=200_000_000),
    st.sampled_from(OptionRight),
    st.booleans(),
)
@settings(max_examples=200)
def test_default_agrees_with_moneyness(strike_k: int, spot_k: int, right: OptionRight, long: bool) -> None:
    strike, spot = Decimal(strike_k).scaleb(-3), Decimal(spot_k).scaleb(-3)
    symbol = OptionSymbol("XYZ", date(2026, 4, 1), right, strike)
    where = moneyness(symbol, spot)
    default = default_at_expiry(long, symbol, spot)
    exercised = where.intrinsic_per_share >= Decimal("0.01")
    if long:
        assert default is (DefaultAtExpiry.AUTO_EXERCISE if exercised else DefaultAtExpiry.LAPSE)
    elif exercised:
        assert default is DefaultAtExpiry.ASSIGNMENT_LIKELY
    elif where.state.value == "OTM":
        assert default is DefaultAtExpiry.LAPSE
    else:
        assert default is DefaultAtExpiry.ASSIGNMENT_POSSIBLE


@given(
    st.builds(
        OptionSymbol,
        root=st.from_regex(r"[A-Z0-9.]{1,6}", fullmatch=True),
        expiry=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
        right=st.sampled_from(OptionRight),
        strike=st.integers(min_value=0, max_value=99_999_999).map(lambda n: Decimal(n).scaleb(-3)),
    )
)
def test_fast_osi_path_agrees_with_parse_osi(symbol: OptionSymbol) -> None:
    for text in (symbol.padded(), symbol.spaced(), symbol.compact()):
        match = exposure_module._FAST_OSI.fullmatch(text)
        assert match is not None
        assert match[1] == symbol.root
        assert exposure_module._yymmdd(match[2]) == symbol.expiry
        assert (match[3] == "C") == symbol.is_call
        assert parse_osi(text) == symbol


def test_slow_path_symbols_still_count() -> None:
    # lower case and a tab: not the fast path, but parse_osi reads them
    s = summarize(
        [*underlier_and_option("100", "101", "C", "1")[:1], option("xyz\t260401c00100000", "1", "1.00", "XYZ-ID")]
    )
    assert s.expiring is not None and s.expiring.count == 1
    assert s.expiring.options[0].default_at_expiry is DefaultAtExpiry.AUTO_EXERCISE


# -- data quality ----------------------------------------------------------------------------


def test_data_quality_notes() -> None:
    assert summarize(book()).notes == [
        "1 position has an unknown instrument_type 'WARRANT': counted as non-option exposure",
        "unrealized_pnl missing on 3 positions: the total excludes them",  # rows 5, 7, 10
        "daily_unrealized_pnl missing on 5 positions: the total excludes them",  # 3, 5, 7, 8, 10
        "daily_realized_pnl missing on 7 positions: the total excludes them",  # 3, 4, 5, 7, 8, 10, 11
        "2 positions have no instrument_price (e.g. GOOG 260403C00300000, MSFT)",
        "1 option symbol could not be parsed as OSI: no expiry, strike or right for them (e.g. BADSYMBOL)",
        "1 option has no underlying_instrument_id: grouped by OSI root, no underlier price (e.g. BADSYMBOL)",
        "no price in this book for 2 underliers (not held or unpriced): notional and moneyness "
        "omitted (e.g. GOOG, unknown)",
        "1 underlier is priced at closing_price (no instrument_price) (e.g. MSFT)",
        "1 option is past expiration but still listed (e.g. AAPL  260327C00140000)",
    ]


def test_odd_rows_are_noted_not_hidden() -> None:
    rows = [
        pos("AAPL", "10", "100.00", unrealized_pnl="1"),
        pos("AAPL", "10", "100.00", unrealized_pnl="1"),  # same instrument_id again
        pos("LOST", "0", "0.00", instrument_id="id-lost", unrealized_pnl="1"),
        pos("ODD", "5", "-50.00", unrealized_pnl="1"),  # value sign disagrees with quantity
        pos("SEED", "-5", "-50.00", position_type="LONG", unrealized_pnl="1"),
        pos("ELSE", "1", "1.00", account_id=122503, unrealized_pnl="1"),
    ]
    s = summarize(rows)
    assert s.positions == 6
    assert s.gross_exposure == Decimal("301.00")  # 100 + 100 + 0 + 50 + 50 + 1
    # ODD is long (quantity 5) but reported -50.00: counted +50.00 with the quantity's sign
    assert s.net_exposure == Decimal("201.00")  # 100 + 100 + 0 + 50 - 50 + 1
    assert s.long_market_value == Decimal("251.00")  # AAPL twice, ODD, ELSE, LOST (0)
    assert s.short_market_value == Decimal("-50.00")  # SEED
    assert s.unrealized_pnl == Decimal("6")
    assert s.daily_unrealized_pnl is None and s.daily_realized_pnl is None
    assert s.notes == [
        "1 position belongs to another account than 19816: included in the totals",
        "1 instrument_id was read more than once (book changed while paging?): counted each time (e.g. AAPL)",
        "daily_unrealized_pnl missing on every position: total omitted",
        "daily_realized_pnl missing on every position: total omitted",
        "6 positions have no instrument_price (e.g. AAPL, AAPL, LOST)",
        "1 position has quantity 0 (e.g. LOST)",
        "1 position has a market_value whose sign disagrees with quantity: counted with the quantity's sign (e.g. ODD)",
        "1 position has a position_type that disagrees with the quantity sign: quantity used (e.g. SEED)",
    ]


def test_seed_era_option_rows_are_options_whatever_their_instrument_type() -> None:
    rows = [
        pos("AAPL", "1", "151.00", instrument_id=AAPL_ID, instrument_price="151.00"),
        # seed era: SecurityType OTHER, the right in the position type
        pos(
            "AAPL250117C00190000",
            "-2",
            "-10.00",
            instrument_type="OTHER",
            position_type="SHORT_CALL",
            underlying_instrument_id=AAPL_ID,
        ),
    ]
    s = summarize(rows, today=date(2025, 1, 15))
    assert s.options is not None
    assert (s.options.positions, s.options.short) == (1, Decimal("2"))
    (group,) = s.options.by_underlier
    assert (group.underlier, group.notional) == ("AAPL", Decimal("30200.00"))  # 2 × 100 × 151
    assert s.expiring is not None
    assert s.expiring.options[0].default_at_expiry is DefaultAtExpiry.LAPSE  # strike 190 > 151
    assert not any("unknown instrument_type" in note for note in s.notes)


def test_many_unknown_types_stay_bounded() -> None:
    rows = [pos(f"W{i}", "1", f"{i}.00", instrument_type=f"KIND_{i}" + "X" * 60) for i in range(1, 21)]
    s = summarize(rows)
    assert len(s.by_type) == 8
    assert s.by_type[0].type.startswith("KIND_20")
    unknown_notes = [note for note in s.notes if "instrument_type" in note]
    assert len(unknown_notes) == 4  # three examples and "17 more"
    assert unknown_notes[-1] == "17 more unknown instrument_types"
    assert all(len(note) < 130 for note in s.notes)
    assert "by_type lists the 8 largest of 20 instrument types" in s.notes


# -- empty and degenerate books ----------------------------------------------------------------


def test_empty_book() -> None:
    s = summarize([])
    assert s.positions == 0
    assert (s.gross_exposure, s.net_exposure, s.unrealized_pnl) == (Decimal(0), Decimal(0), Decimal(0))
    assert s.by_type == [] and s.largest == [] and s.notes == []
    assert s.concentration.largest_pct is None
    assert s.options is None and s.expiring is None
    assert as_json(s)["concentration"] == {}


def test_cash_only_book_has_no_exposure_and_no_percentages() -> None:
    s = summarize([pos("USD", "10", "10.00", instrument_type="CASH")])
    assert (s.cash, s.gross_exposure) == (Decimal("10.00"), Decimal(0))
    assert all(side.gross_pct is None for side in s.by_side)


def test_sums_never_round() -> None:
    # 51 significant digits in the sum: far more than the default decimal context (28) keeps
    rows = [
        pos("BIG", "1", "12345678901234567890.123456789012", unrealized_pnl="0.000000000000000000000000000001"),
        pos("TINY", "1", "0.000000000000000000000000000001", unrealized_pnl="12345678901234567890"),
    ]
    s = summarize(rows)
    assert s.gross_exposure == Decimal("12345678901234567890.123456789012000000000000000001")
    assert s.unrealized_pnl == Decimal("12345678901234567890.000000000000000000000000000001")
    assert as_json(s)["unrealized_pnl"] == "12345678901234567890.000000000000000000000000000001"


def test_as_of_must_be_aware_and_today_defaults_to_new_york() -> None:
    with pytest.raises(ValueError, match="aware"):
        ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=datetime(2026, 4, 1))
    # 02:00 UTC on April 2 is still April 1 in New York
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=datetime(2026, 4, 2, 2, 0, tzinfo=UTC))
    assert builder.today == date(2026, 4, 1)
    with pytest.raises(ValueError, match="negative"):
        ExposureBuilder(account_id=ACCOUNT, environment="x", as_of=AS_OF, top_n=-1)


# -- streaming ---------------------------------------------------------------------------------


def without_examples(summary: ExposureSummary) -> dict[str, Any]:
    data = summary.model_dump(mode="json")
    data["notes"] = sorted(re.sub(r" \(e\.g\. .*\)$", "", note) for note in data["notes"])
    return data


def test_pages_and_builds() -> None:
    rows = book()
    builder = ExposureBuilder(
        account_id=ACCOUNT, environment="simulator", as_of=AS_OF, today=TODAY, max_json_bytes=None
    )
    for start in range(0, len(rows), 4):  # pages of 4
        assert builder.add(rows[start : start + 4]) is builder
    first = builder.build()
    assert first == builder.build()  # build does not consume
    assert first == summarize(rows)
    builder.add(iter([]))  # an empty page changes nothing
    assert builder.build() == first


@given(st.permutations(list(range(11))), st.lists(st.integers(min_value=1, max_value=11), max_size=5))
@settings(max_examples=60, deadline=None)
def test_any_order_and_any_paging_give_the_same_summary(order: list[int], cuts: list[int]) -> None:
    # Options may arrive before their underlier: prices are resolved at build time.
    rows = [book()[i] for i in order]
    builder = ExposureBuilder(
        account_id=ACCOUNT, environment="simulator", as_of=AS_OF, today=TODAY, max_json_bytes=None
    )
    start = 0
    for cut in sorted(set(cuts)):
        builder.add(rows[start:cut])
        start = max(start, cut)
    builder.add(rows[start:])
    assert without_examples(builder.build()) == without_examples(summarize(book()))


# -- the whole summary, pinned -----------------------------------------------------------------


def test_full_summary_snapshot() -> None:
    assert as_json(summarize(book())) == snapshot(
        {
            "as_of": "2026-04-01T14:30:00Z",
            "environment": "simulator",
            "account_id": 19816,
            "positions": 11,
            "long_market_value": "16805.99",
            "short_market_value": "-9640.00",
            "gross_exposure": "26445.99",
            "net_exposure": "7165.99",
            "cash": "2500.75",
            "unrealized_pnl": "0.41",
            "daily_unrealized_pnl": "0.13",
            "daily_realized_pnl": "1.41",
            "by_side": [
                {"side": "LONG", "positions": 7, "market_value": "16805.99", "gross_pct": "63.55"},
                {"side": "SHORT", "positions": 3, "market_value": "-9640.00", "gross_pct": "36.45"},
            ],
            "by_type": [
                {"type": "COMMON_STOCK", "positions": 3, "long": "15305.65", "short": "-8925.00", "gross_pct": "91.62"},
                {"type": "OPTION", "positions": 6, "long": "1167.34", "short": "-715.00", "gross_pct": "7.12"},
                {"type": "WARRANT", "positions": 1, "long": "333.00", "short": "0", "gross_pct": "1.26"},
            ],
            "largest": [
                {"symbol": "AAPL", "quantity": "100.5", "market_value": "15185.55", "gross_pct": "57.42"},
                {"symbol": "TSLA", "quantity": "-50", "market_value": "-8925.00", "gross_pct": "33.75"},
                {"symbol": "AAPL260402C00150000", "quantity": "10", "market_value": "1150.00", "gross_pct": "4.35"},
                {"symbol": "AAPL  260406P00152500", "quantity": "-3", "market_value": "-465.00", "gross_pct": "1.76"},
                {"symbol": "XYZ.WS", "quantity": "1000", "market_value": "333.00", "gross_pct": "1.26"},
                {"symbol": "MSFT  260515C00420000", "quantity": "-1", "market_value": "-250.00", "gross_pct": "0.95"},
                {"symbol": "MSFT", "quantity": "0.3", "market_value": "120.10", "gross_pct": "0.45"},
                {"symbol": "GOOG 260403C00300000", "quantity": "2", "market_value": "12.34", "gross_pct": "0.05"},
                {"symbol": "BADSYMBOL", "quantity": "1", "market_value": "5.00", "gross_pct": "0.02"},
                {"symbol": "AAPL  260327C00140000", "quantity": "1", "market_value": "0.00", "gross_pct": "0.00"},
            ],
            "concentration": {"largest_pct": "57.42", "top5_pct": "98.53"},
            "options": {
                "positions": 6,
                "long": "14",
                "short": "4",
                "underliers": 4,
                "by_underlier": [
                    {
                        "underlier": "AAPL",
                        "price": "151.10",
                        "long": "11",
                        "short": "3",
                        "calls": "11",
                        "puts": "3",
                        "notional": "211540.00",
                        "market_value": "685.00",
                        "next_expiry": "2026-04-02",
                    },
                    {
                        "underlier": "MSFT",
                        "price": "400.33",
                        "long": "0",
                        "short": "1",
                        "calls": "1",
                        "puts": "0",
                        "notional": "40033.00",
                        "market_value": "-250.00",
                        "next_expiry": "2026-05-15",
                    },
                    {
                        "underlier": "GOOG",
                        "long": "2",
                        "short": "0",
                        "calls": "2",
                        "puts": "0",
                        "market_value": "12.34",
                        "next_expiry": "2026-04-03",
                    },
                    {
                        "underlier": "unknown",
                        "long": "1",
                        "short": "0",
                        "calls": "0",
                        "puts": "0",
                        "market_value": "5.00",
                    },
                ],
            },
            "expiring": {
                "window_business_days": 3,
                "through": "2026-04-07",
                "count": 3,
                "by_default": {"ASSIGNMENT_LIKELY": 1, "AUTO_EXERCISE": 1, "UNKNOWN": 1},
                "options": [
                    {
                        "symbol": "AAPL260402C00150000",
                        "quantity": "10",
                        "expiry": "2026-04-02",
                        "days_left": 1,
                        "moneyness": "ITM",
                        "spot": "151.10",
                        "intrinsic": "110.00",
                        "distance_pct": "0.73",
                        "default_at_expiry": "AUTO_EXERCISE",
                        "suggestion": "to let it lapse, send DO_NOT_EXERCISE on expiry day",
                    },
                    {
                        "symbol": "GOOG 260403C00300000",
                        "quantity": "2",
                        "expiry": "2026-04-03",
                        "expiration_day": "2026-04-02",
                        "days_left": 1,
                        "default_at_expiry": "UNKNOWN",
                        "suggestion": "check the underlier price, then decide",
                    },
                    {
                        "symbol": "AAPL  260406P00152500",
                        "quantity": "-3",
                        "expiry": "2026-04-06",
                        "days_left": 2,
                        "moneyness": "ITM",
                        "spot": "151.10",
                        "intrinsic": "140.00",
                        "distance_pct": "0.92",
                        "default_at_expiry": "ASSIGNMENT_LIKELY",
                        "suggestion": "close before expiry to avoid assignment",
                    },
                ],
            },
            "notes": [
                "1 position has an unknown instrument_type 'WARRANT': counted as non-option exposure",
                "unrealized_pnl missing on 3 positions: the total excludes them",
                "daily_unrealized_pnl missing on 5 positions: the total excludes them",
                "daily_realized_pnl missing on 7 positions: the total excludes them",
                "2 positions have no instrument_price (e.g. GOOG 260403C00300000, MSFT)",
                "1 option symbol could not be parsed as OSI: no expiry, strike or right for them (e.g. BADSYMBOL)",
                "1 option has no underlying_instrument_id: grouped by OSI root, no underlier price (e.g. BADSYMBOL)",
                "no price in this book for 2 underliers (not held or unpriced): notional and moneyness omitted (e.g. GOOG, unknown)",
                "1 underlier is priced at closing_price (no instrument_price) (e.g. MSFT)",
                "1 option is past expiration but still listed (e.g. AAPL  260327C00140000)",
            ],
        }
    )


def test_output_schema_keeps_decimals_as_strings() -> None:
    schema = ExposureSummary.model_json_schema(mode="serialization")
    assert schema["properties"]["gross_exposure"]["type"] == "string"
    assert "pattern" in schema["properties"]["gross_exposure"]
    assert "gross_exposure" in schema["required"] and "cash" not in schema["required"]
    assert schema["properties"]["gross_exposure"]["description"] == "Σ |market_value| (CASH excluded)."


# -- bounded size ------------------------------------------------------------------------------


def synthetic_book(n: int, seed: int = 7) -> list[Position]:
    """n positions: half equities (long and short, some unpriced), half options on them."""
    rnd = random.Random(seed)
    equities = []
    rows: list[dict[str, Any]] = []
    for i in range(n // 2):
        price = Decimal(rnd.randint(100, 50_000)).scaleb(-2)
        quantity = Decimal(rnd.choice((1, 1, 1, -1)) * rnd.randint(1, 5000))
        iid = f"{rnd.getrandbits(128):032x}"
        equities.append((iid, f"T{i:04d}", price))
        rows.append(
            {
                "account_id": ACCOUNT,
                "instrument_id": iid,
                "instrument_type": "COMMON_STOCK",
                "symbol": f"T{i:04d}",
                "position_type": "LONG" if quantity > 0 else "SHORT",
                "quantity": str(quantity),
                "available_quantity": str(abs(quantity)),
                "market_value": str(quantity * price),
                "instrument_price": None if rnd.random() < 0.01 else str(price),
                "closing_price": str(price),
                "unrealized_pnl": "12.34",
                "daily_unrealized_pnl": "-1.01",
                "daily_realized_pnl": "0.00",
            }
        )
    for _ in range(n - n // 2):
        uid, root, price = rnd.choice(equities)
        expiry = TODAY + timedelta(days=rnd.randint(0, 400))
        strike = (price * Decimal(rnd.choice(("0.8", "0.9", "1", "1.1", "1.2")))).quantize(Decimal("0.5"))
        quantity = Decimal(rnd.choice((1, -1)) * rnd.randint(1, 50))
        premium = Decimal(rnd.randint(1, 2000)).scaleb(-2)
        rows.append(
            {
                "account_id": ACCOUNT,
                "instrument_id": f"{rnd.getrandbits(128):032x}",
                "instrument_type": "OPTION",
                "symbol": f"{root:<6}{expiry:%y%m%d}{rnd.choice('CP')}{int(strike * 1000):08d}",
                "position_type": "LONG" if quantity > 0 else "SHORT",
                "quantity": str(quantity),
                "available_quantity": str(abs(quantity)),
                "market_value": str(quantity * premium * 100),
                "instrument_price": str(premium),
                "underlying_instrument_id": uid,
                "underlying_instrument_type": "COMMON_STOCK",
                "unrealized_pnl": "-3.33",
                "daily_unrealized_pnl": "0.10",
                "daily_realized_pnl": "0.00",
            }
        )
    return [Position.model_validate(row) for row in rows]


@pytest.fixture(scope="module")
def big_book() -> list[Position]:
    return synthetic_book(10_000)


def test_ten_thousand_positions_fit_in_3_kb(big_book: list[Position]) -> None:
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF, today=TODAY)
    started = time.perf_counter()
    for start in range(0, len(big_book), 500):
        builder.add(big_book[start : start + 500])
    summary = builder.build()
    elapsed = time.perf_counter() - started
    text = summary.model_dump_json()
    assert len(text.encode()) <= MAX_JSON_BYTES == 3000
    # counts stay complete even where lists were shortened
    assert summary.positions == 10_000
    assert summary.options is not None and summary.options.positions == 5_000
    assert summary.options.underliers > len(summary.options.by_underlier) >= 1
    assert summary.expiring is not None and summary.expiring.count > len(summary.expiring.options) >= 1
    assert sum(summary.expiring.by_default.values()) == summary.expiring.count
    assert len(summary.largest) >= 1
    assert sum(side.positions for side in summary.by_side) == 10_000
    # exact: the totals equal the plain sums of the rows
    assert summary.gross_exposure == sum((abs(p.market_value) for p in big_book), Decimal(0))
    assert summary.net_exposure == sum((p.market_value for p in big_book), Decimal(0))
    assert summary.unrealized_pnl == Decimal("12.34") * 5000 + Decimal("-3.33") * 5000
    assert elapsed < 2.0  # generous: a few tens of milliseconds on a laptop


def test_without_a_budget_the_lists_are_top_n(big_book: list[Position]) -> None:
    summary = summarize(big_book)
    assert len(summary.largest) == 10
    assert summary.options is not None and len(summary.options.by_underlier) == 5
    assert summary.expiring is not None and len(summary.expiring.options) == 5
    budgeted = summarize(big_book, max_json_bytes=3000)
    assert budgeted.largest == summary.largest[: len(budgeted.largest)]  # shortened from the tail
    assert budgeted.notes[-1] == "lists shortened to fit 3000 bytes (counts are complete)"


def test_a_book_that_trips_every_note_still_fits(big_book: list[Position]) -> None:
    odd = [pos(f"WEIRD{i}", "1", "1.00", instrument_type=f"KIND{i}", account_id=1) for i in range(12)]
    odd += book() + book()  # duplicates, bad symbols, missing P&L, expired options...
    summary = summarize(big_book + odd, max_json_bytes=3000)
    assert len(summary.model_dump_json().encode()) <= 3000
    assert summary.positions == 10_000 + 12 + 22
