"""The exposure summary: sums checked against hand-computed values, options, expiry, size bound.

Every expected number below was computed by hand from the fixture rows (the arithmetic is in the
comments); none comes from running the code under test.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from exposure_views import delta_table, row_dicts, types_of
from hypothesis import given, settings
from hypothesis import strategies as st
from inline_snapshot import snapshot
from positions_mcp.clearstreet.models import Position
from positions_mcp.domain.expiry import default_at_expiry
from positions_mcp.domain.exposure import (
    MAX_JSON_BYTES,
    DefaultAtExpiry,
    ExposureBuilder,
    ExposureSummary,
    option_symbols,
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
    shown: dict[str, Any] = json.loads(summary.model_dump_json())
    return shown


# -- totals -----------------------------------------------------------------------------------


def test_totals_are_exact_sums_of_what_the_upstream_reported() -> None:
    s = summarize(book())
    assert (s.account_id, s.environment, s.as_of) == (ACCOUNT, "simulator", AS_OF)
    assert s.positions == 11
    # long rows 1,3,5,6,8,10,11: 15185.55 + 1150.00 + 12.34 + 333.00 + 120.10 + 5.00 + 0.00
    assert s.long_market_value == Decimal("16805.99")
    # short rows 2,4,9: -8925.00 - 465.00 - 250.00
    assert s.short_market_value == Decimal("-9640.00")
    assert s.gross_market_value == Decimal("26445.99")  # 16805.99 + 9640.00
    assert s.net_market_value == Decimal("7165.99")  # 16805.99 - 9640.00
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
    assert (s.long_positions, s.long_market_value) == (7, Decimal("16805.99"))
    assert (s.short_positions, s.short_market_value) == (3, Decimal("-9640.00"))
    assert [(t.type, t.positions, t.long, t.short, t.gross_pct) for t in types_of(s)] == [
        # rows 1, 8 long; 2 short; gross 24230.65 = 91.623 %
        ("COMMON_STOCK", 3, Decimal("15305.65"), Decimal("-8925.00"), Decimal("91.62")),
        # rows 3, 5, 10, 11 long; 4, 9 short; gross 1882.34 = 7.118 %
        ("OPTION", 6, Decimal("1167.34"), Decimal("-715.00"), Decimal("7.12")),
        ("WARRANT", 1, Decimal("333.00"), Decimal("0"), Decimal("1.26")),  # 333 / 26445.99
    ]


def test_largest_positions_and_concentration() -> None:
    s = summarize(book())
    assert s.largest is not None
    assert [(p.symbol, p.market_value, p.gross_pct) for p in s.largest.rows] == [
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
    assert s.largest.rows[0].quantity == Decimal("100.5")
    assert "USD" not in {p.symbol for p in s.largest.rows}  # cash is not a position at risk
    assert (s.concentration.largest, s.concentration.largest_pct) == ("AAPL", Decimal("57.42"))
    # 15185.55 + 8925.00 + 1150.00 + 465.00 + 333.00 = 26058.55; / 26445.99 = 98.535 %
    assert s.concentration.top5_pct == Decimal("98.53")


def test_top_n_caps_the_largest_list_but_not_the_concentration() -> None:
    s = summarize(book(), top_n=2)
    assert s.largest is not None
    assert [p.symbol for p in s.largest.rows] == ["AAPL", "TSLA"]
    assert s.concentration.top5_pct == Decimal("98.53")


# -- options ---------------------------------------------------------------------------------


def test_delta_by_underlier_without_market_data() -> None:
    # No market view: shares count at delta 1 at the positions' prices; options have no greeks, so
    # no delta (never guessed), and underliers priced by no position have no dollars.
    delta = summarize(book()).delta
    assert delta is not None
    assert delta.underliers == 6  # AAPL, TSLA, XYZ.WS, MSFT; GOOG and BADSYMBOL (options only)
    assert delta.greeks_as_of is None
    assert (delta.gamma_dollars_per_1pct, delta.vega_dollars_per_vol_point, delta.theta_dollars_per_day) == (
        None,
        None,
        None,
    )
    assert delta_table(delta).columns == ("underlier", "price", "delta_shares", "delta_dollars", "gross_pct")
    assert delta_table(delta).rows == [
        # 100.5 × 151.10 = 15185.55; gross 15185.55 + 8925.00 + 333.00 + 120.10 = 24563.65 → 61.82 %
        ("AAPL", Decimal("151.10"), Decimal("100.50"), Decimal("15185.55"), Decimal("61.82")),
        ("TSLA", Decimal("178.50"), Decimal("-50.00"), Decimal("-8925.00"), Decimal("36.33")),  # 36.334 %
        ("XYZ.WS", Decimal("0.333"), Decimal("1000.00"), Decimal("333.00"), Decimal("1.36")),  # 1.356 %
        # closing price 400.33 (no instrument_price): 0.3 × 400.33 = 120.099 → 120.10
        ("MSFT", Decimal("400.33"), Decimal("0.30"), Decimal("120.10"), Decimal("0.49")),  # 0.489 %
        # unpriced, last: no dollars
        ("BADSYMBOL", None, Decimal("0.00"), None, None),
        ("GOOG", None, Decimal("0.00"), None, None),
    ]
    assert delta.net_dollars == Decimal("6713.65")  # 15185.55 - 8925.00 + 333.00 + 120.10
    assert delta.gross_dollars == Decimal("24563.65")
    # every option contract is without greeks: 10 + 3 + 1 (expired) on AAPL, 2 GOOG, 1 MSFT, 1 BADSYMBOL
    assert delta.contracts_without_greeks == {
        "AAPL": Decimal("14"),
        "GOOG": Decimal("2"),
        "BADSYMBOL": Decimal("1"),
        "MSFT": Decimal("1"),
    }


def test_options_overview_names_premium_and_notional_apart() -> None:
    options = summarize(book()).options
    assert options is not None
    assert options.positions == 6
    assert options.long_contracts == Decimal("14")  # 10 + 2 + 1 + 1
    assert options.short_contracts == Decimal("4")  # 3 + 1
    # premium: Σ market_value of the option rows, 1150.00 - 465.00 + 12.34 - 250.00 + 5.00 + 0.00
    assert options.premium == Decimal("452.34")
    # underlier notional, standard multiplier assumed (no contract terms), priced underliers only:
    # AAPL (10 + 3 + 1) × 100 × 151.10 = 211540.00, MSFT 1 × 100 × 400.33 = 40033.00
    assert options.underlier_notional == Decimal("251573.00")
    assert options.delta_dollars is None  # no greeks: not estimated
    assert options.contracts_without_greeks == Decimal("18")


def test_expiring_options_with_moneyness_and_default_at_expiry() -> None:
    expiring = summarize(book()).expiring
    assert expiring is not None
    # today 2026-04-01 + 3 business days: 04-02, (Good Friday, weekend), 04-06, 04-07
    assert (expiring.window_business_days, expiring.through) == (3, date(2026, 4, 7))
    assert expiring.count == 3
    assert expiring.by_default is None  # every expiring option is listed: the rows say it
    call, goog, put = row_dicts(expiring.options)
    # long call, strike 150, spot 151.10: 1.10 in the money, 110.00 a contract, 1.10/150 = 0.733 %;
    # within 1 % of the strike (1.50): pin risk
    assert call == {
        "symbol": "AAPL260402C00150000",
        "contracts": Decimal("10"),
        "days_left": 1,
        "moneyness": "ITM",
        "distance_pct": Decimal("0.73"),
        "intrinsic_per_contract": Decimal("110.00"),
        "pin_risk": True,
        "default_at_expiry": DefaultAtExpiry.AUTO_EXERCISE,
        "suggestion": "to let it lapse, send DO_NOT_EXERCISE on expiry day",
    }
    # expires on Good Friday: decisions happen on Thursday 04-02; the underlier is not held nor quoted
    assert (goog["symbol"], goog["days_left"], goog["moneyness"], goog["distance_pct"]) == (
        "GOOG 260403C00300000",
        1,
        None,
        None,
    )
    assert (goog["intrinsic_per_contract"], goog["pin_risk"]) == (None, False)
    assert goog["default_at_expiry"] is DefaultAtExpiry.UNKNOWN
    # short put, strike 152.50, spot 151.10: 1.40 in the money, 140.00 a contract, 0.918 %; pinned
    # (1.40 ≤ 1 % of 152.50 = 1.525)
    assert (put["contracts"], put["days_left"]) == (Decimal("-3"), 2)
    assert (put["moneyness"], put["intrinsic_per_contract"], put["distance_pct"]) == (
        "ITM",
        Decimal("140.00"),
        Decimal("0.92"),
    )
    assert put["default_at_expiry"] is DefaultAtExpiry.ASSIGNMENT_LIKELY
    assert expiring.pin_risk == 2


def test_what_the_defaults_settle_without_balances() -> None:
    settlement = summarize(book()).expiring.at_expiry  # type: ignore[union-attr]
    assert settlement is not None
    # the long call exercised pays 10 × 100 × 150 = 150000 for 1000 AAPL; the short put assigned
    # pays 3 × 100 × 152.50 = 45750 for 300 AAPL
    assert (settlement.cash_out, settlement.cash_in, settlement.net_cash) == (
        Decimal("195750"),
        Decimal("0"),
        Decimal("-195750"),
    )
    assert settlement.shares == {"AAPL": Decimal("1300")}
    assert settlement.not_counted == 1  # GOOG: UNKNOWN
    assert (settlement.cash_after, settlement.warning) == (None, None)  # no balances to compare with


def test_expiry_window_zero_is_today_only() -> None:
    s = summarize(book(), today=date(2026, 4, 2), expiry_window_business_days=0)
    assert s.expiring is not None
    assert s.expiring.through == date(2026, 4, 2)
    rows = row_dicts(s.expiring.options)
    assert [o["symbol"] for o in rows] == ["AAPL260402C00150000", "GOOG 260403C00300000"]
    assert {o["days_left"] for o in rows} == {0}


def test_expiring_list_is_capped_with_a_count_of_all_beyond_a_small_book() -> None:
    s = summarize(book(), expiring_limit=1, underlier_limit=2)  # 11 positions: a small book, shown whole
    assert s.expiring is not None and s.delta is not None
    assert (s.expiring.count, len(s.expiring.options.rows)) == (3, 3)
    assert (s.delta.underliers, len(delta_table(s.delta).rows)) == (6, 6)
    s = summarize(book(), expiring_limit=1, underlier_limit=2, small_book=10)
    assert s.expiring is not None and s.delta is not None
    assert (s.expiring.count, len(s.expiring.options.rows)) == (3, 1)
    assert s.expiring.by_default == {"ASSIGNMENT_LIKELY": 1, "AUTO_EXERCISE": 1, "UNKNOWN": 1}
    assert (s.delta.underliers, len(delta_table(s.delta).rows)) == (6, 2)
    assert s.delta.top5_pct == Decimal("100.00")  # the four priced underliers are all of the gross


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
    (row,) = row_dicts(s.expiring.options)
    assert (row["moneyness"], row["default_at_expiry"], row["days_left"]) == (state, default, 0)
    assert row["suggestion"]


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
        match = option_symbols.FAST_OSI.fullmatch(text)
        assert match is not None
        assert match[1] == symbol.root
        assert option_symbols.yymmdd(match[2]) == symbol.expiry
        assert (match[3] == "C") == symbol.is_call
        assert parse_osi(text) == symbol
        # what the fold reads from the fast path, and the contract it makes of that, are the same
        reader = option_symbols.OsiReader()
        osi = reader.read(text)
        assert osi is not None and osi[:3] == (symbol.root, symbol.expiry, symbol.is_call)
        assert reader.contract(osi, symbol.expiry) == symbol


def test_slow_path_symbols_still_count() -> None:
    # lower case and a tab: not the fast path, but parse_osi reads them
    s = summarize(
        [*underlier_and_option("100", "101", "C", "1")[:1], option("xyz\t260401c00100000", "1", "1.00", "XYZ-ID")]
    )
    assert s.expiring is not None and s.expiring.count == 1
    assert row_dicts(s.expiring.options)[0]["default_at_expiry"] is DefaultAtExpiry.AUTO_EXERCISE


# -- data quality ----------------------------------------------------------------------------


NO_MARKET = (
    "no market data: prices from the positions; no greeks: option delta unavailable; contract terms "
    "assumed standard; no balances"
)


def test_data_quality_notes() -> None:
    assert summarize(book()).notes == [
        # what qualifies the headline totals first, then the delta and greeks
        "unrealized_pnl missing on 3 positions: the total excludes them",  # rows 5, 7, 10
        "daily_unrealized_pnl missing on 5 positions: the total excludes them",  # 3, 5, 7, 8, 10
        "daily_realized_pnl missing on 7 positions: the total excludes them",  # 3, 4, 5, 7, 8, 10, 11
        NO_MARKET,
        "no price for 2 underliers: delta dollars, notional and moneyness omitted (e.g. GOOG, BADSYMBOL)",
        "1 underlier priced at a previous close (e.g. MSFT)",
        "1 position has an unknown instrument_type 'WARRANT': counted as non-option exposure",
        "2 positions have no instrument_price (e.g. GOOG 260403C00300000, MSFT)",
        "1 option symbol could not be parsed as OSI: no expiry, strike or right for them (e.g. BADSYMBOL)",
        "1 option has no underlying_instrument_id: grouped by OSI root, no underlier price (e.g. BADSYMBOL)",
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
    assert s.gross_market_value == Decimal("301.00")  # 100 + 100 + 0 + 50 + 50 + 1
    # ODD is long (quantity 5) but reported -50.00: counted +50.00 with the quantity's sign
    assert s.net_market_value == Decimal("201.00")  # 100 + 100 + 0 + 50 - 50 + 1
    assert s.long_market_value == Decimal("251.00")  # AAPL twice, ODD, ELSE, LOST (0)
    assert s.short_market_value == Decimal("-50.00")  # SEED
    assert s.unrealized_pnl == Decimal("6")
    assert s.daily_unrealized_pnl is None and s.daily_realized_pnl is None
    assert s.notes == [
        # the P&L fields missing on the same rows share one note
        "daily_unrealized_pnl, daily_realized_pnl missing on every position: totals omitted",
        "no market data: prices from the positions; no balances",
        # no row has a price: AAPL (twice, one underlier), LOST, ODD, SEED, ELSE
        "no price for 5 underliers: delta dollars, notional and moneyness omitted (e.g. AAPL, LOST, ODD)",
        "1 position belongs to another account than 19816: included in the totals",
        "1 instrument_id was read more than once (book changed while paging?): counted each time (e.g. AAPL)",
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
    assert (s.options.positions, s.options.short_contracts) == (1, Decimal("2"))
    assert s.options.underlier_notional == Decimal("30200.00")  # 2 × 100 × 151
    assert s.delta is not None and [row[0] for row in delta_table(s.delta).rows] == ["AAPL"]
    assert s.expiring is not None
    assert row_dicts(s.expiring.options)[0]["default_at_expiry"] is DefaultAtExpiry.LAPSE  # strike 190 > 151
    assert not any("unknown instrument_type" in note for note in s.notes)


def test_many_unknown_types_stay_bounded() -> None:
    rows = [pos(f"W{i}", "1", f"{i}.00", instrument_type=f"KIND_{i}" + "X" * 60) for i in range(1, 21)]
    s = summarize(rows)
    assert len(types_of(s)) == 8
    assert types_of(s)[0].type.startswith("KIND_20")
    unknown_notes = [note for note in s.notes if "instrument_type" in note]
    assert len(unknown_notes) == 4  # three examples and "17 more"
    assert unknown_notes[-1] == "17 more unknown instrument_types"
    assert all(len(note) < 130 for note in s.notes)
    assert "by_type lists the 8 largest of 20 instrument types" in s.notes


# -- empty and degenerate books ----------------------------------------------------------------


def test_empty_book() -> None:
    s = summarize([])
    assert s.positions == 0
    assert (s.gross_market_value, s.net_market_value, s.unrealized_pnl) == (Decimal(0), Decimal(0), Decimal(0))
    assert s.by_type == [] and s.largest is not None and s.largest.rows == [] and s.notes == []
    assert s.concentration.largest_pct is None
    assert s.delta is None and s.options is None and s.expiring is None and s.funds is None
    assert as_json(s)["concentration"] == {}


def test_cash_only_book_has_no_exposure_and_no_percentages() -> None:
    s = summarize([pos("USD", "10", "10.00", instrument_type="CASH")])
    assert (s.cash, s.gross_market_value) == (Decimal("10.00"), Decimal(0))
    assert (s.long_positions, s.short_positions) == (0, 0)
    assert s.delta is None and not any("market data" in note for note in s.notes)


def test_sums_never_round() -> None:
    # 51 significant digits in the sum: far more than the default decimal context (28) keeps
    rows = [
        pos("BIG", "1", "12345678901234567890.123456789012", unrealized_pnl="0.000000000000000000000000000001"),
        pos("TINY", "1", "0.000000000000000000000000000001", unrealized_pnl="12345678901234567890"),
    ]
    s = summarize(rows)
    assert s.gross_market_value == Decimal("12345678901234567890.123456789012000000000000000001")
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
            "gross_market_value": "26445.99",
            "net_market_value": "7165.99",
            "long_positions": 7,
            "short_positions": 3,
            "cash": "2500.75",
            "unrealized_pnl": "0.41",
            "daily_unrealized_pnl": "0.13",
            "daily_realized_pnl": "1.41",
            "by_type": [
                {"type": "COMMON_STOCK", "positions": 3, "long": "15305.65", "short": "-8925.00", "gross_pct": "91.62"},
                {"type": "OPTION", "positions": 6, "long": "1167.34", "short": "-715.00", "gross_pct": "7.12"},
                {"type": "WARRANT", "positions": 1, "long": "333.00", "short": "0", "gross_pct": "1.26"},
            ],
            "delta": {
                "net_dollars": "6713.65",
                "gross_dollars": "24563.65",
                "underliers": 6,
                "contracts_without_greeks": {"AAPL": "14", "GOOG": "2", "MSFT": "1", "BADSYMBOL": "1"},
                "by_underlier": {
                    "columns": ["underlier", "price", "delta_shares", "delta_dollars", "gross_pct"],
                    "rows": [
                        ["AAPL", "151.10", "100.50", "15185.55", "61.82"],
                        ["TSLA", "178.50", "-50.00", "-8925.00", "36.33"],
                        ["XYZ.WS", "0.333", "1000.00", "333.00", "1.36"],
                        ["MSFT", "400.33", "0.30", "120.10", "0.49"],
                        ["BADSYMBOL", None, "0.00", None, None],
                        ["GOOG", None, "0.00", None, None],
                    ],
                },
            },
            "largest": {
                "columns": ["symbol", "quantity", "market_value", "gross_pct"],
                "rows": [
                    ["AAPL", "100.5", "15185.55", "57.42"],
                    ["TSLA", "-50", "-8925.00", "33.75"],
                    ["AAPL260402C00150000", "10", "1150.00", "4.35"],
                    ["AAPL  260406P00152500", "-3", "-465.00", "1.76"],
                    ["XYZ.WS", "1000", "333.00", "1.26"],
                    ["MSFT  260515C00420000", "-1", "-250.00", "0.95"],
                    ["MSFT", "0.3", "120.10", "0.45"],
                    ["GOOG 260403C00300000", "2", "12.34", "0.05"],
                    ["BADSYMBOL", "1", "5.00", "0.02"],
                    ["AAPL  260327C00140000", "1", "0.00", "0.00"],
                ],
            },
            "concentration": {"largest": "AAPL", "largest_pct": "57.42", "top5_pct": "98.53"},
            "options": {
                "positions": 6,
                "long_contracts": "14",
                "short_contracts": "4",
                "premium": "452.34",
                "underlier_notional": "251573.00",
                "contracts_without_greeks": "18",
            },
            "expiring": {
                "window_business_days": 3,
                "through": "2026-04-07",
                "count": 3,
                "pin_risk": 2,
                "options": {
                    "columns": [
                        "symbol",
                        "contracts",
                        "days_left",
                        "moneyness",
                        "distance_pct",
                        "intrinsic_per_contract",
                        "pin_risk",
                        "default_at_expiry",
                        "suggestion",
                    ],
                    "rows": [
                        [
                            "AAPL260402C00150000",
                            "10",
                            1,
                            "ITM",
                            "0.73",
                            "110.00",
                            True,
                            "AUTO_EXERCISE",
                            "to let it lapse, send DO_NOT_EXERCISE on expiry day",
                        ],
                        [
                            "GOOG 260403C00300000",
                            "2",
                            1,
                            None,
                            None,
                            None,
                            False,
                            "UNKNOWN",
                            "check the underlier price, then decide",
                        ],
                        [
                            "AAPL  260406P00152500",
                            "-3",
                            2,
                            "ITM",
                            "0.92",
                            "140.00",
                            True,
                            "ASSIGNMENT_LIKELY",
                            "close before expiry to avoid assignment",
                        ],
                    ],
                },
                "at_expiry": {
                    "cash_out": "195750.00",
                    "cash_in": "0.00",
                    "net_cash": "-195750.00",
                    "shares": {"AAPL": "1300"},
                    "not_counted": 1,
                },
            },
            "notes": [
                "unrealized_pnl missing on 3 positions: the total excludes them",
                "daily_unrealized_pnl missing on 5 positions: the total excludes them",
                "daily_realized_pnl missing on 7 positions: the total excludes them",
                "no market data: prices from the positions; no greeks: option delta unavailable; contract terms assumed standard; no balances",
                "no price for 2 underliers: delta dollars, notional and moneyness omitted (e.g. GOOG, BADSYMBOL)",
                "1 underlier priced at a previous close (e.g. MSFT)",
                "1 position has an unknown instrument_type 'WARRANT': counted as non-option exposure",
                "2 positions have no instrument_price (e.g. GOOG 260403C00300000, MSFT)",
                "1 option symbol could not be parsed as OSI: no expiry, strike or right for them (e.g. BADSYMBOL)",
                "1 option has no underlying_instrument_id: grouped by OSI root, no underlier price (e.g. BADSYMBOL)",
                "1 option is past expiration but still listed (e.g. AAPL  260327C00140000)",
            ],
        }
    )


def test_output_schema_keeps_decimals_as_strings() -> None:
    schema = ExposureSummary.model_json_schema(mode="serialization")
    gross = schema["properties"]["gross_market_value"]
    assert gross["type"] == "string" and "pattern" in gross
    assert "gross_market_value" in schema["required"] and "cash" not in schema["required"]
    assert gross["description"] == (
        "Σ |market_value| (CASH excluded): market value, not risk (an option counts its premium)."
    )
    # the tables' rows are arrays typed column by column (named as the columns), decimals as strings
    row = schema["$defs"]["UnderlierRow"]
    assert row["type"] == "array"
    assert [item["title"] for item in row["prefixItems"]] == [
        "Underlier",
        "Price",
        "Delta Shares",
        "Delta Dollars",
        "Gross Pct",
    ]
    assert row["prefixItems"][2]["type"] == "string" and "pattern" in row["prefixItems"][2]


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


def test_ten_thousand_positions_fit_in_4_kb(big_book: list[Position]) -> None:
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF, today=TODAY)
    for start in range(0, len(big_book), 500):
        builder.add(big_book[start : start + 500])
    summary = builder.build()
    text = summary.model_dump_json()
    assert len(text.encode()) <= MAX_JSON_BYTES == 4096
    # counts stay complete even where lists were shortened
    assert summary.positions == 10_000
    assert summary.options is not None and summary.options.positions == 5_000
    assert summary.delta is not None
    assert summary.delta.underliers == 5_000 > len(delta_table(summary.delta).rows) >= 1
    assert summary.delta.top5_pct is not None  # the list is cut: the concentration is given apart
    assert summary.expiring is not None and summary.expiring.count > len(summary.expiring.options.rows) >= 1
    assert summary.expiring.by_default is not None
    assert sum(summary.expiring.by_default.values()) == summary.expiring.count
    assert summary.long_positions + summary.short_positions == 10_000
    # exact: the totals equal the plain sums of the rows
    assert summary.gross_market_value == sum((abs(p.market_value) for p in big_book), Decimal(0))
    assert summary.net_market_value == sum((p.market_value for p in big_book), Decimal(0))
    # without market data, the delta is the shares' (delta 1) at the positions' prices (a closing
    # price where there is no instrument_price), each underlier rounded to the cent
    dollars = [
        (p.quantity * (p.instrument_price or p.closing_price)).quantize(Decimal("0.01"))  # type: ignore[operator]
        for p in big_book
        if p.instrument_type == "COMMON_STOCK"
    ]
    assert summary.delta.net_dollars == sum(dollars, Decimal(0))
    assert summary.delta.gross_dollars == sum(map(abs, dollars), Decimal(0))
    assert summary.unrealized_pnl == Decimal("12.34") * 5000 + Decimal("-3.33") * 5000


def test_without_a_budget_the_lists_are_top_n(big_book: list[Position]) -> None:
    summary = summarize(big_book)
    assert summary.largest is not None and len(summary.largest.rows) == 10
    assert summary.delta is not None and len(delta_table(summary.delta).rows) == 10
    assert summary.expiring is not None and len(summary.expiring.options.rows) == 5
    budgeted = summarize(big_book, max_json_bytes=3000)
    assert budgeted.largest is not None
    assert budgeted.largest.rows == summary.largest.rows[: len(budgeted.largest.rows)]  # shortened from the tail
    assert budgeted.delta is not None
    assert delta_table(budgeted.delta).rows == delta_table(summary.delta).rows[: len(delta_table(budgeted.delta).rows)]
    assert budgeted.notes[-1].endswith("cut to fit 3000 bytes; count fields and totals are complete")


def test_a_book_that_trips_every_note_still_fits(big_book: list[Position]) -> None:
    odd = [pos(f"WEIRD{i}", "1", "1.00", instrument_type=f"KIND{i}", account_id=1) for i in range(12)]
    odd += book() + book()  # duplicates, bad symbols, missing P&L, expired options...
    summary = summarize(big_book + odd, max_json_bytes=3000)
    assert len(summary.model_dump_json().encode()) <= 3000
    assert summary.positions == 10_000 + 12 + 22


def test_long_symbols_cannot_push_a_small_book_past_its_budget() -> None:
    """24 holdings whose symbols are 100 characters: every name is cut to 32, so the bound holds."""
    rows = [pos(f"{index:02d}" + "X" * 98, "10", f"{100 + index}.00", instrument_price="10.00") for index in range(24)]
    s = summarize(rows, max_json_bytes=MAX_JSON_BYTES)
    assert len(s.model_dump_json().encode()) <= MAX_JSON_BYTES
    assert s.delta is not None and s.delta.underliers == 24
    assert all(len(row.underlier) <= 32 for row in delta_table(s.delta).rows)
