"""analyze_scenario (domain.scenario) and the BSM helpers (domain.pricing), checked against figures
computed by hand: literal arithmetic for stock, and for options an independent Black-Scholes-Merton
written here with ``math`` and ``statistics.NormalDist`` (volatility implied by bisection, not by
the library under test).

Time: Monday 2026-11-23 10:00 ET (15:00 UTC). Expiries used, with the settlement instant the
module documents (16:00 ET on the expiration business day, 13:00 on an early close, 09:30 for an
AM-settled contract):

    2026-11-27 (Friday after Thanksgiving, early close)  13:00 ET = 18:00 UTC  →  4 d 3 h
    2027-01-15 (Friday)                                    16:00 ET = 21:00 UTC  →  53 d 6 h
    2027-01-15, AM-settled (SPX)                           09:30 ET = 14:30 UTC  →  52 d 23 h 30 min
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import NormalDist
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from positions_mcp.clearstreet.models import Position
from positions_mcp.domain import pricing
from positions_mcp.domain.contracts import ContractTerms, terms_for_positions
from positions_mcp.domain.market_view import Greeks, MarketView, Quote
from positions_mcp.domain.osi import symbol_key
from positions_mcp.domain.resolve import underlier_key, underlier_keys
from positions_mcp.domain.scenario import (
    MAX_JSON_BYTES,
    ScenarioCode,
    ScenarioError,
    ScenarioResult,
    Shock,
    analyze_scenario,
)
from positions_mcp.domain.scenario.underliers import UnderlierBook
from positions_mcp.simulator import DEMO_PRIMARY_ACCOUNT, Simulator

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday, 10:00 New York
YEAR = 365 * 24 * 3600
T_NEAR = (datetime(2026, 11, 27, 18, 0, tzinfo=UTC) - NOW).total_seconds() / YEAR  # early close 13:00 ET
T_JAN = (datetime(2027, 1, 15, 21, 0, tzinfo=UTC) - NOW).total_seconds() / YEAR
T_JAN_OPEN = (datetime(2027, 1, 15, 14, 30, tzinfo=UTC) - NOW).total_seconds() / YEAR
R = 0.04
CENT = Decimal("0.01")

AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
MSFT_ID = "dd61dd59-ce27-5e81-820a-33affbb8c6e7"
GOOG_ID = "c3c4c5c6-d3d4-e3e4-f3f4-f5f6f7f8f9fa"
SPX_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e20"
N = NormalDist()


def test_the_hand_computed_times_to_expiry() -> None:
    assert T_NEAR == (4 * 24 + 3) * 3600 / YEAR
    assert T_JAN == (53 * 24 + 6) * 3600 / YEAR
    assert T_JAN_OPEN == (52 * 24 + 23.5) * 3600 / YEAR


# ---------------------------------------------------------------------------- an independent BSM


def bs(s: float, k: float, t: float, sigma: float, *, call: bool, r: float = R) -> float:
    if s == 0:
        return 0.0 if call else k * math.exp(-r * t)
    d1 = (math.log(s / k) + (r + sigma * sigma / 2) * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)
    if call:
        return s * N.cdf(d1) - k * math.exp(-r * t) * N.cdf(d2)
    return k * math.exp(-r * t) * N.cdf(-d2) - s * N.cdf(-d1)


def bs_delta(s: float, k: float, t: float, sigma: float, *, call: bool, r: float = R) -> float:
    d1 = (math.log(s / k) + (r + sigma * sigma / 2) * t) / (sigma * math.sqrt(t))
    return N.cdf(d1) if call else N.cdf(d1) - 1


def implied(price: float, s: float, k: float, t: float, *, call: bool, r: float = R) -> float:
    """Bisection on the closed form: slow, simple and independent of the library."""
    low, high = 1e-6, 5.0
    for _ in range(200):
        mid = (low + high) / 2
        if bs(s, k, t, mid, call=call, r=r) < price:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def cents(value: float | Decimal) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    return number.quantize(CENT, rounding=ROUND_HALF_EVEN)


def option_pnl(
    price: str, s: float, s_new: float, k: float, t: float, qty: int, mult: int, *, call: bool, dvol: float = 0.0
) -> Decimal:
    """(new − current price) × qty × multiplier, rounded to the cent, with σ implied from ``price``."""
    sigma = implied(float(price), s, k, t, call=call)
    new = bs(s_new, k, t, sigma + dvol, call=call)
    return cents((Decimal(repr(new)) - Decimal(price)) * qty * mult)


# ---------------------------------------------------------------------------- builders


def stock(
    symbol: str,
    quantity: str,
    price: str | None,
    *,
    close: str | None = None,
    ident: str | None = None,
    kind: str = "COMMON_STOCK",
) -> Position:
    return Position.model_validate(
        {
            "account_id": 1,
            "instrument_id": ident or f"id-{symbol.lower()}",
            "instrument_type": kind,
            "symbol": symbol,
            "position_type": "LONG" if Decimal(quantity) >= 0 else "SHORT",
            "quantity": quantity,
            "available_quantity": quantity,
            "market_value": "0",
            "instrument_price": price,
            "closing_price": close,
        }
    )


def option(
    symbol: str,
    quantity: str,
    price: str | None,
    underlying: str | None,
    *,
    close: str | None = None,
    ident: str | None = None,
    underlying_type: str = "COMMON_STOCK",
) -> Position:
    return Position.model_validate(
        {
            "account_id": 1,
            "instrument_id": ident or f"id-{''.join(symbol.split()).lower()}",
            "instrument_type": "OPTION",
            "symbol": symbol,
            "position_type": "LONG" if Decimal(quantity) >= 0 else "SHORT",
            "quantity": quantity,
            "available_quantity": quantity,
            "market_value": "0",
            "instrument_price": price,
            "closing_price": close,
            "underlying_instrument_id": underlying,
            "underlying_instrument_type": underlying_type,
        }
    )


def run(
    positions: list[Position],
    shocks: list[Shock],
    market: MarketView | None = None,
    **kwargs: Any,
) -> ScenarioResult:
    return analyze_scenario(
        positions, market or MarketView(), shocks, now=NOW, account_id=1, environment="simulator", **kwargs
    )


def row(result: ScenarioResult, label: str) -> dict[str, Any]:
    found = [r for r in result.by_underlier if r.underlier == label]
    assert len(found) == 1, [r.underlier for r in result.by_underlier]
    return {name: getattr(found[0], name) for name in type(found[0]).model_fields}


def D(text: str) -> Decimal:
    return Decimal(text)


# ---------------------------------------------------------------------------- pricing (library)


def test_bsm_matches_the_textbook_example() -> None:
    # Hull, Options, Futures and Other Derivatives: S 42, K 40, r 10 %, σ 20 %, T 0.5 → c 4.76, p 0.81
    assert round(pricing.bsm_price(42, 40, 0.5, 0.2, 0.1, is_call=True), 4) == 4.7594
    assert round(pricing.bsm_price(42, 40, 0.5, 0.2, 0.1, is_call=False), 4) == 0.8086
    assert round(pricing.bsm_delta(42, 40, 0.5, 0.2, 0.1, is_call=True), 4) == 0.7791
    assert round(pricing.bsm_delta(42, 40, 0.5, 0.2, 0.1, is_call=False), 4) == -0.2209


@pytest.mark.parametrize("call", [True, False])
@pytest.mark.parametrize(
    ("s", "k", "t", "sigma"),
    [(151, 145, T_NEAR, 0.28), (151, 190, T_JAN, 0.6), (5602.5, 5700, T_JAN_OPEN, 0.16), (20, 35, 2.0, 1.2)],
)
def test_price_and_implied_volatility_agree_with_the_closed_form(
    s: float, k: float, t: float, sigma: float, call: bool
) -> None:
    price = bs(s, k, t, sigma, call=call)
    assert pricing.bsm_price(s, k, t, sigma, R, is_call=call) == pytest.approx(price, rel=1e-9, abs=1e-9)
    assert pricing.bsm_delta(s, k, t, sigma, R, is_call=call) == pytest.approx(
        bs_delta(s, k, t, sigma, call=call), abs=1e-12
    )
    assert pricing.implied_volatility(price, s, k, t, R, is_call=call) == pytest.approx(sigma, rel=1e-9)


@given(
    s=st.floats(1, 10_000),
    moneyness=st.floats(0.5, 2.0),
    days=st.floats(0.01, 1000),
    sigma=st.floats(0.05, 2.0),
    call=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_price_volatility_price_round_trip(s: float, moneyness: float, days: float, sigma: float, call: bool) -> None:
    k, t = s * moneyness, days / 365
    price = bs(s, k, t, sigma, call=call)
    if price <= pricing.lower_bound(s, k, t, R, is_call=call) + 1e-9 * s:
        return  # no time value left to invert (σ is not identifiable from the price)
    recovered = pricing.implied_volatility(price, s, k, t, R, is_call=call)
    assert pricing.bsm_price(s, k, t, recovered, R, is_call=call) == pytest.approx(price, rel=1e-7, abs=1e-9 * s)


def test_no_implied_volatility_outside_the_no_arbitrage_range() -> None:
    # European call lower bound: S − K·e^{−rT} = 151 − 145·e^{−0.04·0.5} = 8.8712 > intrinsic 6
    bound = 151 - 145 * math.exp(-0.04 * 0.5)
    assert pricing.lower_bound(151, 145, 0.5, R, is_call=True) == pytest.approx(bound)
    for price, side in (
        (6.0, "below the European lower bound"),
        (bound - 1e-6, "below the European lower bound"),
        (151.0, "at or above the upper bound"),
        (0.0, "below the European lower bound"),
    ):
        with pytest.raises(pricing.NoImpliedVolatility) as caught:
            pricing.implied_volatility(price, 151, 145, 0.5, R, is_call=True)
        assert caught.value.bound == side
    assert pricing.implied_volatility(bound + 0.05, 151, 145, 0.5, R, is_call=True) > 0


def test_spot_zero_is_the_limit() -> None:
    assert pricing.bsm_price(0, 100, 1.0, 0.3, R, is_call=True) == 0.0
    assert pricing.bsm_price(0, 100, 1.0, 0.3, R, is_call=False) == pytest.approx(100 * math.exp(-R))
    assert pricing.bsm_delta(0, 100, 1.0, 0.3, R, is_call=False) == -1.0


def test_the_library_is_imported_only_when_a_scenario_is_priced() -> None:
    code = (
        "import sys\n"
        "import positions_mcp.domain.scenario, positions_mcp.domain.pricing\n"
        "assert 'py_lets_be_rational' not in sys.modules, 'imported at module load'\n"
        "assert 'numpy' not in sys.modules\n"
        "from positions_mcp.domain.pricing import implied_volatility\n"
        "implied_volatility(10.0, 100.0, 100.0, 1.0, 0.04, is_call=True)\n"
        "assert 'py_lets_be_rational' in sys.modules and 'numpy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---------------------------------------------------------------------------- stock


def test_a_single_stock_up_ten_percent() -> None:
    result = run([stock("AAPL", "100", "151.00")], [Shock("AAPL", D("10"))])
    assert row(result, "AAPL") == {
        "underlier": "AAPL",
        "shock_row": 1,
        "spot": D("151.00"),
        "shocked_spot": D("166.10"),  # 151 × 1.10
        "pnl": D("1510.00"),  # 100 × 151 × 10 %
        "options_pnl": None,
        "delta_shares_before": D("100.00"),
        "delta_shares_after": D("100.00"),
        "delta_dollars_before": D("15100.00"),
        "delta_dollars_after": D("16610.00"),
        "options_revalued": 0,
        "options_at_intrinsic": None,
        "options_not_revalued": None,
    }
    assert result.total.pnl == D("1510.00")
    assert result.total.underliers == 1 and result.total.stock_positions == 1
    assert result.method.rate == D("0.04")
    assert result.method.shocks[0].price_change_pct == D("10")


def test_short_and_fractional_stock_round_each_position_to_the_cent() -> None:
    result = run(
        [stock("TSLA", "-50", "178.50"), stock("AMZN", "12.5", "185.95")],
        [Shock(None, D("-7.5"))],
    )
    assert row(result, "TSLA")["pnl"] == D("669.38")  # −50 × 178.50 × −7.5 % = 669.375 → half-even
    assert row(result, "AMZN")["pnl"] == D("-174.33")  # 12.5 × 185.95 × −7.5 % = −174.328125
    assert result.total.pnl == D("495.05")


def test_stock_without_a_current_price_uses_its_close_and_says_so() -> None:
    result = run([stock("BRK.B", "8", None, close="452.35")], [Shock(None, D("-10"))])
    assert row(result, "BRK.B")["pnl"] == D("-361.88")  # 8 × 452.35 × −10 %
    assert any("closing_price" in note and "BRK.B" in note for note in result.notes)


# ---------------------------------------------------------------------------- options


def test_a_call_whose_volatility_is_recovered_from_its_bsm_price() -> None:
    # A 3-contract AAPL 145 call on 2027-01-15 priced by BSM at σ 31 %: the scenario must find 31 %
    # again, so its shocked value is BSM at σ 31 % + 2 points and spot × 1.05.
    model = bs(151, 145, T_JAN, 0.31, call=True)
    price = Decimal(repr(model))
    assert pricing.implied_volatility(float(price), 151, 145, T_JAN, R, is_call=True) == pytest.approx(0.31, rel=1e-10)
    book = [stock("AAPL", "0", "151.00", ident=AAPL_ID), option("AAPL  270115C00145000", "3", str(price), AAPL_ID)]
    result = run(book, [Shock("AAPL", D("5"), D("2"))])
    new = bs(158.55, 145, T_JAN, 0.33, call=True)
    expected = cents((Decimal(repr(new)) - price) * 300)
    aapl = row(result, "AAPL")
    assert aapl["pnl"] == aapl["options_pnl"] == expected
    assert aapl["options_revalued"] == 1
    assert aapl["delta_shares_before"] == cents(300 * bs_delta(151, 145, T_JAN, 0.31, call=True))
    assert aapl["delta_shares_after"] == cents(300 * bs_delta(158.55, 145, T_JAN, 0.33, call=True))
    assert aapl["delta_dollars_after"] == cents(
        Decimal(repr(300 * bs_delta(158.55, 145, T_JAN, 0.33, call=True))) * D("158.55")
    )
    # No shock, no P&L, the same delta.
    still = row(run(book, [Shock("AAPL", D("0"))]), "AAPL")
    assert still["pnl"] == D("0.00") and still["delta_shares_before"] == still["delta_shares_after"]


def test_a_put_down_twenty_percent_and_a_short_position() -> None:
    book = [
        stock("NVDA", "-30", "123.15", ident="nvda"),
        option("NVDA  270115P00125000", "-5", "9.10", "nvda"),
    ]
    result = run(book, [Shock(None, D("-20"))])
    expected_option = option_pnl("9.10", 123.15, 98.52, 125, T_JAN, -5, 100, call=False)
    nvda = row(result, "NVDA")
    assert nvda["options_pnl"] == expected_option
    assert nvda["pnl"] == D("738.90") + expected_option  # −30 × 123.15 × −20 %
    assert expected_option < 0  # a short put loses when the stock falls


@pytest.mark.parametrize("pct", ["-100", "1000"])
def test_extreme_moves_stay_defined(pct: str) -> None:
    book = [stock("X", "10", "50.00", ident="x"), option("X     270115C00050000", "1", "4.00", "x")]
    result = run(book, [Shock(None, D(pct))])
    x = row(result, "X")
    if pct == "-100":
        assert x["shocked_spot"] == D("0.00")
        assert x["pnl"] == D("-500.00") + D("-400.00")  # the stock and the call go to 0
        assert x["delta_shares_after"] == D("10.00")
    else:
        assert x["shocked_spot"] == D("550.00")
        assert x["pnl"] == D("5000.00") + option_pnl("4.00", 50, 550, 50, T_JAN, 1, 100, call=True)
        assert x["delta_shares_after"] == D("110.00")  # deep in the money: delta 1


def test_an_option_without_a_price_is_left_out_and_noted() -> None:
    book = [
        stock("AAPL", "100", "151.00", ident=AAPL_ID),
        option("AAPL  270115C00160000", "5", None, AAPL_ID),
    ]
    result = run(book, [Shock("AAPL", D("-20"))])
    aapl = row(result, "AAPL")
    assert aapl["pnl"] == D("-3020.00")  # the stock alone
    assert aapl["options_revalued"] == 0 and aapl["options_not_revalued"] == 1
    assert aapl["delta_shares_after"] == D("100.00")
    assert result.total.options_not_revalued == 1
    assert result.left_out == [
        "1 position not revalued (no option price): left out of P&L and delta: AAPL 270115C00160000"
    ]


def test_option_prices_fall_back_to_the_snapshot_then_the_close() -> None:
    snapshot_priced = option("AAPL  270115C00150000", "1", None, AAPL_ID, ident="c150", close="1.00")
    close_priced = option("AAPL  270115C00155000", "1", None, AAPL_ID, ident="c155", close="9.00")
    market = MarketView(
        quotes={"c150": Quote("c150", "AAPL 270115C00150000", bid=D("11.90"), ask=D("12.10"), midpoint=D("12.00"))}
    )
    book = [stock("AAPL", "0", "151.00", ident=AAPL_ID), snapshot_priced, close_priced]
    result = run(book, [Shock(None, D("10"))], market)
    expected = option_pnl("12.00", 151, 166.1, 150, T_JAN, 1, 100, call=True) + option_pnl(
        "9.00", 151, 166.1, 155, T_JAN, 1, 100, call=True
    )
    assert row(result, "AAPL")["options_pnl"] == expected
    assert any("closing_price" in note and "AAPL 270115C00155000" in note for note in result.notes)


def test_spot_from_the_snapshot_when_the_underlier_is_not_held() -> None:
    market = MarketView(quotes={"spy": Quote("spy", "SPY", last=D("560.25"))})
    book = [option("SPY   270115P00565000", "2", "15.00", "spy")]
    result = run(book, [Shock("SPY", D("-10"))], market)
    spy = row(result, "SPY")
    assert spy["spot"] == D("560.25") and spy["shocked_spot"] == D("504.225")
    assert spy["pnl"] == option_pnl("15.00", 560.25, 504.225, 565, T_JAN, 2, 100, call=False)


def test_prices_above_the_bound_expired_and_unpriced_underliers_are_never_guessed() -> None:
    book = [
        stock("AAPL", "0", "151.00", ident=AAPL_ID),
        # Worth more than the stock itself: at or above the upper bound S, no implied volatility
        option("AAPL  270115C00100000", "1", "151.00", AAPL_ID),
        # Expired last Friday
        option("AAPL  261120C00150000", "1", "1.00", AAPL_ID),
        # An underlier with no price anywhere
        option("ZZZ   270115C00010000", "1", "1.00", "zzz"),
    ]
    result = run(book, [Shock(None, D("-5"))])
    assert row(result, "AAPL")["options_not_revalued"] == 2
    assert row(result, "ZZZ")["options_not_revalued"] == 1
    assert row(result, "ZZZ")["spot"] is None and row(result, "ZZZ")["delta_shares_after"] is None
    assert result.total.options_revalued == 0 and result.total.pnl == D("0.00")
    assert result.total.options_not_revalued == 3
    # each one left out is named, by reason, in a list the size budget never cuts
    assert result.left_out == [
        "1 position not revalued (no underlier price): left out of P&L and delta: ZZZ 270115C00010000",
        "1 position not revalued (past its settlement time): left out of P&L and delta: AAPL 261120C00150000",
        "1 position not revalued (price at or above the upper bound: no implied volatility): left out of P&L "
        "and delta: AAPL 270115C00100000",
    ]
    tight = run(book, [Shock(None, D("-5"))], max_json_bytes=600)
    assert tight.left_out == result.left_out and tight.by_underlier == []


def intrinsic_change(qty: int, price: str, before: Decimal, after: Decimal) -> Decimal:
    """(new − old) value of ``qty`` contracts when the option moves with its intrinsic value
    (``before`` → ``after`` a share) from ``price``, never below 0: hand arithmetic."""
    new = max(Decimal(price) + after - before, Decimal(0))
    return (new - Decimal(price)) * 100 * qty


def test_a_deep_in_the_money_option_at_parity_moves_with_its_intrinsic_value() -> None:
    """No volatility reproduces a price at or below the European lower bound, so BSM cannot
    revalue it; it is not dropped: it moves with its intrinsic value (an American option is never
    worth less), delta 1 a share in the money, and says so."""
    t = T_NEAR
    assert 50 - 30 * math.exp(-R * t) > 20.00  # the call at parity is below the lower bound
    assert 200 * math.exp(-R * T_JAN) - 151 > 47.80  # so is this put
    with pytest.raises(pricing.NoImpliedVolatility):
        pricing.implied_volatility(20.00, 50, 30, t, R, is_call=True)
    book = [
        stock("XYZ", "100", "50.00", ident="xyz-id"),
        option("XYZ   261127C00030000", "10", "20.00", "xyz-id"),  # strike 30, four days
        option("AAPL  270115P00200000", "2", "47.80", AAPL_ID),  # intrinsic 49 at 151
        stock("AAPL", "0", "151.00", ident=AAPL_ID),
    ]
    result = run(book, [Shock("XYZ", D("-10")), Shock("AAPL", D("10"), D("5"))])
    xyz, aapl = row(result, "XYZ"), row(result, "AAPL")
    # XYZ 50 → 45: the calls' intrinsic 20 → 15, 10 contracts: −5,000; the shares −500
    assert xyz["options_pnl"] == intrinsic_change(10, "20.00", D("20"), D("15")) == D("-5000.00")
    assert xyz["pnl"] == D("-5500.00")
    assert (xyz["delta_shares_before"], xyz["delta_shares_after"]) == (D("1100.00"), D("1100.00"))
    # AAPL 151 → 166.10: the put's intrinsic 49 → 33.90; the volatility shock does not move it
    assert aapl["options_pnl"] == intrinsic_change(2, "47.80", D("49"), D("33.90")) == D("-3020.00")
    assert (aapl["delta_shares_before"], aapl["delta_shares_after"]) == (D("-200.00"), D("-200.00"))
    assert (xyz["options_at_intrinsic"], aapl["options_at_intrinsic"]) == (1, 1)
    assert result.total.options_revalued == 2 and result.total.options_at_intrinsic == 2
    assert result.total.options_not_revalued == 0 and result.left_out is None
    assert result.total.pnl == D("-8520.00")
    assert "moves with its intrinsic value" in result.method.volatility
    assert any(
        note.startswith("2 options are priced at or below the European lower bound (no implied volatility)")
        and "XYZ 261127C00030000" in note
        for note in result.notes
    )
    # far enough that the put ends out of the money: worth 0, never less (−47.80 × 200)
    gone = run(book, [Shock("AAPL", D("50"))])
    assert row(gone, "AAPL")["options_pnl"] == intrinsic_change(2, "47.80", D("49"), D("0")) == D("-9560.00")
    assert row(gone, "AAPL")["delta_shares_after"] == D("0.00")
    # no move, no P&L
    assert run(book, [Shock(None, D("0"))]).total.pnl == D("0.00")


def test_a_volatility_shock_below_zero_is_floored_at_one_percent() -> None:
    """σ 20 % − 25 points: priced at the 1 % floor (said in a note), never dropped; the delta
    before the shock does not depend on the shock."""
    price = Decimal(repr(bs(151, 150, T_JAN, 0.20, call=True)))
    book = [stock("AAPL", "0", "151.00", ident=AAPL_ID), option("AAPL  270115C00150000", "1", str(price), AAPL_ID)]
    result = run(book, [Shock(None, D("0"), D("-25"))])
    unshocked = run(book, [Shock(None, D("0"))])
    aapl = row(result, "AAPL")
    assert (aapl["options_revalued"], aapl.get("options_not_revalued")) == (1, None)
    floored = Decimal(repr(bs(151, 150, T_JAN, 0.01, call=True)))
    assert aapl["pnl"] == ((floored - price) * 100).quantize(Decimal("0.01"))
    assert aapl["delta_shares_before"] == row(unshocked, "AAPL")["delta_shares_before"]
    assert any("below 1%, so 1% is used" in note for note in result.notes)


def test_a_cash_settled_spx_call() -> None:
    # SPX is an index: not held, priced by the snapshot; the 5700 call is European, AM-settled (its
    # time runs to 09:30 ET on 2027-01-15) and cash-settled: multiplier 100, no shares delivered.
    terms = ContractTerms(
        multiplier=D("100"),
        deliverable_shares=D("0"),
        exercise_style="EUROPEAN",
        settlement="CASH",
        is_settle_on_open=True,
        source="contract endpoint",
    )
    market = MarketView(quotes={SPX_ID: Quote(SPX_ID, "SPX", last=D("5602.50"))}, terms={"spx-c": terms})
    book = [option("SPX   270115C05700000", "1", "106.40", SPX_ID, ident="spx-c", underlying_type="INDEX")]
    result = run(book, [Shock("SPX", D("-10"), D("3"))], market)
    sigma = implied(106.40, 5602.5, 5700, T_JAN_OPEN, call=True)
    spx = row(result, "SPX")
    assert spx["shocked_spot"] == D("5042.25")
    assert spx["pnl"] == option_pnl("106.40", 5602.5, 5042.25, 5700, T_JAN_OPEN, 1, 100, call=True, dvol=0.03)
    assert spx["delta_shares_before"] == cents(100 * bs_delta(5602.5, 5700, T_JAN_OPEN, sigma, call=True))
    assert spx["delta_shares_after"] == cents(100 * bs_delta(5042.25, 5700, T_JAN_OPEN, sigma + 0.03, call=True))
    # Without the contract endpoint the known SPX root still says cash-settled and AM-settled (09:30 ET):
    # the PM-settled series have the root SPXW (Cboe contract specifications).
    fallback = row(run(book, [Shock("SPX", D("-10"), D("3"))], MarketView(quotes=market.quotes)), "SPX")
    assert fallback["pnl"] == spx["pnl"]


def test_an_adjusted_contract_with_multiplier_150() -> None:
    # The demo book's AAPL1 140 call: 150 shares a contract and a multiplier of 150.
    terms = ContractTerms(
        multiplier=D("150"),
        deliverable_shares=D("150"),
        exercise_style="AMERICAN",
        settlement="PHYSICAL",
        is_settle_on_open=False,
        source="contract endpoint",
    )
    book = [
        stock("AAPL", "0", "151.00", ident=AAPL_ID),
        option("AAPL1 270115C00140000", "2", "13.20", AAPL_ID, ident="aapl1"),
    ]
    result = run(book, [Shock("AAPL", D("-20"))], MarketView(terms={"aapl1": terms}))
    sigma = implied(13.20, 151, 140, T_JAN, call=True)
    aapl = row(result, "AAPL")
    assert aapl["pnl"] == option_pnl("13.20", 151, 120.8, 140, T_JAN, 2, 150, call=True)
    assert aapl["delta_shares_before"] == cents(300 * bs_delta(151, 140, T_JAN, sigma, call=True))
    # The same contract read as standard (multiplier 100) loses two thirds as much.
    standard = row(run(book, [Shock("AAPL", D("-20"))]), "AAPL")
    assert standard["pnl"] == option_pnl("13.20", 151, 120.8, 140, T_JAN, 2, 100, call=True)


def test_an_adjusted_contract_whose_deliverable_is_not_its_multiplier() -> None:
    # After a 3-for-2 split: 150 shares delivered, strike paid on 100 (OCC By-Laws VI §11A). Per
    # unit of premium that is an option on 1.5 shares: priced on spot × 1.5.
    terms = ContractTerms(
        multiplier=D("100"),
        deliverable_shares=D("150"),
        exercise_style="AMERICAN",
        settlement="PHYSICAL",
        is_settle_on_open=False,
        source="contract endpoint",
    )
    book = [
        stock("AAPL", "0", "100.00", ident=AAPL_ID),
        option("AAPL1 270115C00140000", "2", "16.00", AAPL_ID, ident="adj"),
    ]
    result = run(book, [Shock("AAPL", D("10"))], MarketView(terms={"adj": terms}))
    sigma = implied(16.00, 150, 140, T_JAN, call=True)
    aapl = row(result, "AAPL")
    assert aapl["pnl"] == option_pnl("16.00", 150, 165, 140, T_JAN, 2, 100, call=True)
    assert aapl["delta_shares_before"] == cents(2 * 150 * bs_delta(150, 140, T_JAN, sigma, call=True))


# ---------------------------------------------------------------------------- shocks


def three_stocks() -> list[Position]:
    return [
        stock("AAPL", "100", "151.00", ident=AAPL_ID),
        stock("MSFT", "200", "417.80", ident=MSFT_ID),
        stock("GOOG", "25", "139.05", ident=GOOG_ID),
    ]


@pytest.mark.parametrize(
    "shocks",
    [
        [Shock(None, D("-10")), Shock("AAPL", D("-20"))],  # a general row, then a specific one
        [Shock("aapl", D("-20")), Shock(None, D("-10"))],  # named beats general whatever the order
        [Shock(AAPL_ID.upper(), D("5")), Shock(None, D("-10")), Shock("AAPL", D("-20"))],  # later named wins
    ],
)
def test_later_rows_override_and_named_rows_beat_the_general_one(shocks: list[Shock]) -> None:
    result = run(three_stocks(), shocks)
    assert row(result, "AAPL")["pnl"] == D("-3020.00")  # 100 × 151 × −20 %
    assert row(result, "MSFT")["pnl"] == D("-8356.00")  # 200 × 417.80 × −10 %
    assert row(result, "GOOG")["pnl"] == D("-347.62")  # 25 × 139.05 × −10 % = −347.625 → half-even
    assert result.total.pnl == D("-11723.62")
    applied = {(s.underlier and s.underlier.upper(), s.price_change_pct): s.underliers for s in result.method.shocks}
    assert applied[(None, D("-10"))] == 2 and applied[("AAPL", D("-20"))] == 1
    if len(shocks) == 3:
        assert applied[(AAPL_ID.upper(), D("5"))] == 0
        assert any(note.startswith("row 1 (") and "applies to no underlier" in note for note in result.notes)


def test_two_general_rows_the_last_wins() -> None:
    result = run(three_stocks(), [Shock(None, D("-10")), Shock(None, D("10"))])
    assert row(result, "AAPL")["pnl"] == D("1510.00")
    assert any("row 1 (every underlier) is replaced by row 2" in note for note in result.notes)


def test_only_named_underliers_are_shocked_without_a_general_row() -> None:
    result = run(three_stocks(), [Shock("MSFT", D("1"))])
    assert [r.underlier for r in result.by_underlier] == ["MSFT"]
    assert result.total.underliers == 1
    assert any(note.startswith("2 underliers are not shocked") for note in result.notes)


def test_an_option_root_or_contract_id_names_its_underlier() -> None:
    book = [*three_stocks(), option("AAPL1 270115C00140000", "2", "13.20", AAPL_ID, ident="aapl1-id")]
    for name in ("AAPL1", "aapl1-id", AAPL_ID.lower(), " aapl "):
        result = run(book, [Shock(name, D("-20"))])
        assert [r.underlier for r in result.by_underlier] == ["AAPL"]


def test_an_unknown_underlier_is_refused_with_what_is_held() -> None:
    with pytest.raises(ScenarioError) as caught:
        run(three_stocks(), [Shock(None, D("-10")), Shock("XYZ", D("-20"))])
    error = caught.value
    assert error.code is ScenarioCode.UNKNOWN_UNDERLIER
    assert "Row 2" in error.message and "'XYZ'" in error.message
    assert "AAPL, GOOG, MSFT" in error.message
    assert error.held == ("AAPL", "GOOG", "MSFT")
    with pytest.raises(ScenarioError, match="holds no stock or option"):
        run([stock("USD", "1000", "1.00", kind="CASH")], [Shock("USD", D("1"))])  # cash is no underlier


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: [], "give 1 to 20 shocks, got 0"),
        (lambda: [Shock(None, D("1"))] * 21, "give 1 to 20 shocks, got 21"),
        (lambda: [Shock(None, 1.5)], "never a float"),  # type: ignore[arg-type]
        (lambda: [Shock(None, D("-100.01"))], "price_change_pct must be from -100 to 1000"),
        (lambda: [Shock(None, D("0"), D("NaN"))], "volatility_change_pts must be a finite number"),
        (lambda: [Shock("  ", D("1"))], "underlier must be"),
    ],
)
def test_invalid_shocks_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        run(three_stocks(), make())
    assert caught.value.code is ScenarioCode.INVALID_SHOCK


def test_an_empty_book_says_so() -> None:
    result = run([stock("USD", "1000", "1.00", kind="CASH")], [Shock(None, D("-10"))])
    assert result.total.pnl == D("0") and result.total.underliers == 0 and result.by_underlier == []
    assert result.notes == [
        "the account holds no stock, ETF or option: nothing to shock",
        "1 cash position not shocked",
    ]


def test_ints_are_exact_too() -> None:
    assert Shock("AAPL", -20, 5) == Shock("AAPL", D("-20"), D("5"))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the demo book


def D_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


async def demo_market(sim: Simulator, positions: list[Position]) -> MarketView:
    """The market view the use-case layer fills, read here from the simulator's endpoints."""
    ids = {p.instrument_id for p in positions} | {
        p.underlying_instrument_id for p in positions if p.underlying_instrument_id
    }
    async with httpx.AsyncClient(
        base_url="http://simulator", transport=sim.transport(), headers={"Authorization": "Bearer k"}
    ) as http:
        snapshot = (
            await http.get("/v1/market-data/snapshot", params={"instrument_ids": ",".join(sorted(ids))})
        ).json()["data"]
        contracts: list[dict[str, Any]] = []
        for underlier in sorted({p.underlying_instrument_id for p in positions if p.underlying_instrument_id}):
            response = await http.get(
                "/v1/instruments/options/contracts", params={"underlying_instrument_id": underlier}
            )
            contracts += response.json()["data"]
    quotes = {}
    for data in snapshot:
        quote, trade, greeks = data.get("last_quote") or {}, data.get("last_trade") or {}, data.get("greeks")
        quotes[data["instrument_id"]] = Quote(
            data["instrument_id"],
            data["symbol"],
            last=D_or_none(trade.get("price")),
            bid=D_or_none(quote.get("bid")),
            ask=D_or_none(quote.get("ask")),
            midpoint=D_or_none(quote.get("midpoint")),
            previous_close=D_or_none(data["session"].get("previous_close")),
            greeks=None
            if greeks is None
            else Greeks(
                delta=Decimal(greeks["delta"]),
                gamma=Decimal(greeks["gamma"]),
                theta=Decimal(greeks["theta"]),
                vega=Decimal(greeks["vega"]),
                rho=Decimal(greeks["rho"]),
                theo_price=Decimal(greeks["theo_price"]),
                timestamp=None,
            ),
        )
    return MarketView(quotes=quotes, terms=terms_for_positions(positions, contracts))


@pytest.fixture
def demo() -> Iterator[tuple[list[Position], Simulator]]:
    sim = Simulator(seed=0, now=NOW)
    yield [Position.model_validate(r) for r in sim.positions(DEMO_PRIMARY_ACCOUNT)], sim


@pytest.mark.anyio
async def test_volatility_implied_from_the_simulators_model_price_is_its_volatility(
    demo: tuple[list[Position], Simulator],
) -> None:
    # The simulator prices its greeks with BSM at r 4 % and a fixed σ per underlier; its
    # theo_price (4 decimals) must imply that σ again with this module's time to expiry.
    positions, sim = demo
    market = await demo_market(sim, positions)
    vols = {"AAPL": 0.28, "AAPL1": 0.28, "GOOG": 0.30, "MSFT": 0.24, "NVDA": 0.50, "SPY": 0.16, "SPX": 0.16}
    book = UnderlierBook(market)
    book.add(positions)
    checked = set()
    for underlier in book.underliers.values():
        for position, osi in underlier.options:
            quote = market.quotes[position.instrument_id]
            if quote.greeks is None:
                continue  # the TSLA put: greeks never observed
            spot = market.price(position.underlying_instrument_id)
            terms = book.terms(position, osi)
            assert spot is not None and terms is not None
            years = book.years(osi, terms, NOW)
            sigma = pricing.implied_volatility(
                float(quote.greeks.theo_price), float(spot), float(osi.strike), years, R, is_call=osi.is_call
            )
            assert sigma == pytest.approx(vols[osi.root], abs=2e-3), osi
            checked.add(osi.root)
    assert checked == set(vols)


@pytest.mark.anyio
async def test_demo_book_aapl_down_twenty_percent(demo: tuple[list[Position], Simulator]) -> None:
    positions, sim = demo
    result = analyze_scenario(
        positions,
        await demo_market(sim, positions),
        [Shock("AAPL", D("-20"))],
        now=NOW,
        account_id=DEMO_PRIMARY_ACCOUNT,
        environment="simulator",
    )
    # 100 AAPL at 151.00 → 120.80; calls: 10 × 145C @ 6.20 and 5 × 160C @ 0.18 expiring Friday
    # 2026-11-27 (an early close: 13:00 ET), 2 × AAPL1 140C @ 13.20 on 2027-01-15, multiplier 150.
    c145 = option_pnl("6.20", 151, 120.8, 145, T_NEAR, 10, 100, call=True)
    c160 = option_pnl("0.18", 151, 120.8, 160, T_NEAR, 5, 100, call=True)
    c140 = option_pnl("13.20", 151, 120.8, 140, T_JAN, 2, 150, call=True)
    assert c145 < D("-5000") and c160 == D("-90.00") and c140 < D("-2000")  # the short calls collapse
    aapl = row(result, "AAPL")
    assert aapl["pnl"] == D("-3020.00") + c145 + c160 + c140
    assert aapl["options_pnl"] == c145 + c160 + c140
    assert aapl["options_revalued"] == 3
    s145, s160, s140 = (
        implied(p, 151, k, t, call=True) for p, k, t in ((6.20, 145, T_NEAR), (0.18, 160, T_NEAR), (13.20, 140, T_JAN))
    )
    before = (
        100
        + 1000 * bs_delta(151, 145, T_NEAR, s145, call=True)
        + 500 * bs_delta(151, 160, T_NEAR, s160, call=True)
        + 300 * bs_delta(151, 140, T_JAN, s140, call=True)
    )
    after = (
        100
        + 1000 * bs_delta(120.8, 145, T_NEAR, s145, call=True)
        + 500 * bs_delta(120.8, 160, T_NEAR, s160, call=True)
        + 300 * bs_delta(120.8, 140, T_JAN, s140, call=True)
    )
    assert aapl["delta_shares_before"] == cents(before)
    assert aapl["delta_shares_after"] == cents(after)
    assert result.total.pnl == aapl["pnl"]
    assert result.total.underliers == 1
    assert any(note.startswith("8 underliers are not shocked") for note in result.notes)


@pytest.mark.anyio
async def test_demo_book_without_a_move_has_no_pnl(demo: tuple[list[Position], Simulator]) -> None:
    positions, sim = demo
    result = analyze_scenario(
        positions,
        await demo_market(sim, positions),
        [Shock(None, D("0"))],
        now=NOW,
        account_id=DEMO_PRIMARY_ACCOUNT,
        environment="simulator",
        max_json_bytes=None,
    )
    assert result.total.pnl == D("0.00")
    assert result.total.options_revalued == 9 and result.total.options_not_revalued == 0
    assert result.total.underliers == 9 and result.total.stock_positions == 7
    for r in result.by_underlier:
        assert r.pnl == D("0.00") and r.delta_shares_before == r.delta_shares_after, r


# ---------------------------------------------------------------------------- resolution


@pytest.mark.anyio
async def test_names_and_keys_agree_with_domain_resolve(demo: tuple[list[Position], Simulator]) -> None:
    positions, _ = demo
    extra = [
        option("QQQ   270115C00400000", "1", "5.00", None),  # no underlier id: keyed by its root
        stock("QQQ", "1", "480.00", ident="qqq-id"),
    ]
    book_positions = [p for p in positions if p.instrument_type != "CASH"] + extra
    book = UnderlierBook(MarketView())
    book.add(book_positions)
    assert set(book.underliers) == {underlier_key(p) for p in book_positions}
    texts = set()
    for p in book_positions:
        texts |= {
            p.symbol,
            p.instrument_id,
            p.instrument_id.upper(),
            p.symbol.lower(),
            p.underlying_instrument_id or "x",
        }
        texts.add(p.symbol.split()[0][:5])
    for text in sorted(texts):
        assert book.names.get(symbol_key(text), set()) == underlier_keys(book_positions, text), text


# ---------------------------------------------------------------------------- output


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from walk(item)


def no_float(text: str) -> float:
    raise AssertionError(f"a float in the JSON: {text}")


@pytest.mark.anyio
async def test_decimal_strings_in_json_and_no_float_anywhere(demo: tuple[list[Position], Simulator]) -> None:
    positions, sim = demo
    result = analyze_scenario(
        positions,
        await demo_market(sim, positions),
        [Shock(None, D("-10"), D("5")), Shock("AAPL", D("-20"))],
        now=NOW,
        account_id=DEMO_PRIMARY_ACCOUNT,
        environment="simulator",
    )
    data = json.loads(result.model_dump_json(), parse_float=no_float)
    assert data["total"]["pnl"] == str(result.total.pnl) and isinstance(data["total"]["pnl"], str)
    assert data["method"]["rate"] == "0.04" and data["method"]["dividends"] == "0"
    assert data["method"]["shocks"][0] == {"price_change_pct": "-10", "volatility_change_pts": "5", "underliers": 8}
    for item in data["by_underlier"]:
        for name in ("spot", "shocked_spot", "pnl", "delta_shares_before", "delta_dollars_after"):
            assert isinstance(item[name], str), (name, item)
            Decimal(item[name])
    assert not any(isinstance(v, float) for v in walk(result.model_dump()))
    assert not any(isinstance(v, float) for v in walk(data))
    schema = json.dumps(ScenarioResult.model_json_schema())
    assert '"number"' not in schema


def test_a_large_book_stays_small_with_exact_totals() -> None:
    sim = Simulator(seed=0, now=NOW)
    sim.add_generated_account(777, positions=3000)
    positions = [Position.model_validate(r) for r in sim.positions(777)]
    shocks = [Shock(None, D("-10"), D("5"))]
    full = analyze_scenario(
        positions,
        MarketView(),
        shocks,
        now=NOW,
        account_id=777,
        environment="simulator",
        top_n=10_000,
        max_json_bytes=None,
    )
    small = analyze_scenario(positions, MarketView(), shocks, now=NOW, account_id=777, environment="simulator")
    assert len(small.model_dump_json().encode()) <= MAX_JSON_BYTES
    assert small.total == full.total
    assert sum((r.pnl for r in full.by_underlier), Decimal(0)) == full.total.pnl
    assert full.total.underliers == len(full.by_underlier) == 1800
    assert small.by_underlier == full.by_underlier[: len(small.by_underlier)]
    assert [abs(r.pnl) for r in small.by_underlier] == sorted((abs(r.pnl) for r in small.by_underlier), reverse=True)
    assert any("lists shortened" in note for note in small.notes)


def test_twenty_named_shocks_still_fit() -> None:
    tickers = [f"T{i:02d}" for i in range(25)]
    book = [stock(t, "10", "100.00") for t in tickers]
    shocks = [Shock(t, D(f"-{i}.5"), D("2.25")) for i, t in enumerate(tickers[:20])]
    result = run(book, shocks)
    assert len(result.model_dump_json().encode()) <= MAX_JSON_BYTES
    assert len(result.method.shocks) == 20
    assert result.total.underliers == 20
    assert result.total.pnl == sum((cents(D("-10") * D(f"{i}.5")) for i in range(20)), Decimal(0))


def test_result_states_the_method() -> None:
    result = run([stock("AAPL", "1", "1.00")], [Shock(None, D("1"))], rate=D("0.05"))
    method = result.method
    assert method.rate == D("0.05")
    assert "Black-Scholes-Merton" in method.model
    assert "16:00 ET" in method.time_to_expiry and "ACT/365" in method.time_to_expiry
    assert "implied from each option's price" in method.volatility
    assert set(method.not_modelled) >= {"dividends", "rate moves", "time decay"}
    assert any("early exercise" in item for item in method.not_modelled)
    with pytest.raises(ValueError, match="rate must be from"):
        run([stock("AAPL", "1", "1.00")], [Shock(None, D("1"))], rate=D("2"))
    with pytest.raises(ValueError, match="aware"):
        analyze_scenario(
            [], MarketView(), [Shock(None, D("1"))], now=NOW.replace(tzinfo=None), account_id=1, environment="x"
        )


def test_the_underlier_a_row_names_is_kept_when_the_list_is_cut() -> None:
    """Every underlier −5 %, then AAPL's volatility +5: when the rows are cut to fit, AAPL (the
    one the person named) stays, however small its P&L."""
    book = [stock(f"T{index:03d}", "1000", "400.00") for index in range(60)]
    book.append(stock("AAPL", "1", "151.00", ident=AAPL_ID))
    result = run(book, [Shock(None, D("-5")), Shock("AAPL", D("0"), D("5"))])
    assert len(result.model_dump_json().encode()) <= 3000
    assert len(result.by_underlier) < 61
    assert "AAPL" in {outcome.underlier for outcome in result.by_underlier}


# ---------------------------------------------------------------------------- through the protocol

PARITY_ACCOUNT = 5150


def parity_book(simulator: Simulator) -> None:
    """Account 5150: 100 XYZ at 50.00, 10 XYZ 30 calls at parity (20.00, below the European lower
    bound 50 − 30·e^{−rT}) and 5 XYZ 50 calls at 1.50, all expiring Friday 2026-11-27 (four days)."""
    from datetime import date

    from positions_mcp.domain.osi import OptionRight

    state = simulator._state
    xyz = state.instruments.equity("XYZ", D("50.00"), D("49.80"), volatility=D("0.30"))
    friday = date(2026, 11, 27)
    deep = state.instruments.option(xyz, friday, OptionRight.CALL, D("30"), D("20.00"), D("19.80"))
    near = state.instruments.option(xyz, friday, OptionRight.CALL, D("50"), D("1.50"), D("1.40"))
    account = state.open_account(PARITY_ACCOUNT)
    for instrument, quantity, average in ((xyz, "100", "40.00"), (deep, "10", "18.00"), (near, "5", "1.00")):
        state.hold(account, instrument, D(quantity), D(average))


@pytest.mark.anyio
async def test_a_call_at_parity_is_in_the_scenario_through_the_protocol(client: Any, simulator: Simulator) -> None:
    """The deep in-the-money call priced at parity has no implied volatility; the total a person
    reads includes it (moved with its intrinsic value) and says how it was valued."""
    parity_book(simulator)
    result = await client.call_tool(
        "analyze_scenario", {"account_id": PARITY_ACCOUNT, "shocks": [{"price_change_pct": -10}]}
    )
    assert not result.is_error, result.content
    data = result.structured_content
    # by hand: the shares 100 × (45 − 50); the 30 calls' intrinsic 20 → 15 on 10 × 100; the 50 calls by BSM
    shares = D("-500.00")
    deep = D("-5000.00")
    near = option_pnl("1.50", 50, 45, 50, T_NEAR, 5, 100, call=True)
    assert data["total"]["pnl"] == str(shares + deep + near)
    assert D(data["total"]["pnl"]) == D("-6185.83")  # −1,185.83 when the parity call was left out
    assert data["total"]["options_revalued"] == 2 and data["total"]["options_at_intrinsic"] == 1
    assert data["total"]["options_not_revalued"] == 0 and "left_out" not in data
    [xyz] = data["by_underlier"]
    assert xyz["options_at_intrinsic"] == 1 and "moves with its intrinsic value" in data["method"]["volatility"]
    assert any("XYZ 261127C00030000" in note and "European lower bound" in note for note in data["notes"])
