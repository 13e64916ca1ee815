"""The exposure summary of the demo book, checked against figures computed by hand.

Account 19816 at Monday 2026-11-23 10:00 ET (see the simulator's demo book):

    AAPL 15100.00   AAPL 145C 6200.00   AAPL 160C 90.00   AMZN 2324.38   BRK.B 3618.80
    GOOG 3476.25    GOOG 135C 4410.00   MSFT 83560.00     SPY 565P 1020.00   TSLA 170P 1940.00
    AAPL1 140C (multiplier 150) 2 × 13.20 × 150 = 3960.00   SPX 5700C 1 × 106.40 × 100 = 10640.00
    long  = 136339.43
    MSFT 430C -1920.00   NVDA -3694.50   NVDA 125P -1150.00   TSLA -8925.00
    short = -15689.50        gross = 152028.93      net = 120649.93      USD cash 25000.00 apart
    unrealized  600 + 3700 − 385 + 182.38 + 166.25 + 1290 + 5910 + 450 + 238.50 − 125 + 340 + 75
                − 500 + 0 (cash) + 1020 (AAPL1: 3960 − 2 × 9.80 × 150) + 1390 (SPX: 10640 − 9250)
                = 14352.13 (BRK.B reports none: noted)
    daily unr.  50 + 450 − 20 − 9.38 + 21.25 + 330 + 500 − 135 − 52.50 + 775 + 100 + 75 − 220 + 0
                + 105 (AAPL1: 2 × 0.35 × 150) − 840 (SPX: −8.40 × 100) = 1129.37
    MSFT share of gross: 83560 / 152028.93 = 54.96 %
    AAPL 145C: (151 − 145) / 145 = 4.14 % in the money, 6.00 × 100 = 600.00 intrinsic a contract
    AAPL 160C: (151 − 160) / 160 = −5.625 → −5.62 % (half-even), out of the money
    NVDA 125P short: (125 − 123.15) / 125 = 1.48 % in the money → assignment likely

With the market data the simulator serves (snapshots with its greeks, option contracts, balances),
read through the client as the use-case layer does (tests/exposure_views.py):

    AAPL delta = 100 + 10 × 100 × δ(145C) + 5 × 100 × δ(160C) + 2 × 150 × δ(AAPL1)
    exercising the 10 AAPL 145 calls pays 10 × 100 × 145 = 145,000.00; the 5 NVDA 125 puts, likely
    assigned, 5 × 100 × 125 = 62,500.00; the 2 SPY 565 puts exercised bring 2 × 100 × 565 =
    113,000.00 and deliver 200 SPY the account does not hold: a short sale's proceeds, not counted.
    Counted −207,500.00 against 25,000.00 of trade cash: 182,500.00 short.

The AAPL1 140 call's contract row gives multiplier 150 but no deliverable: an adjusted contract's
deliverable is not confirmed, so it is left out of delta (and would be of expiry cash).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from conftest import MONDAY_OPEN, text_of
from exposure_views import delta_table, demo_book_and_view
from mcp import Client
from positions_mcp.clearstreet.models import Position
from positions_mcp.domain.exposure import MAX_JSON_BYTES, DefaultAtExpiry, ExposureSummary, summarize_exposure
from positions_mcp.domain.market_view import MarketView
from positions_mcp.simulator import Simulator
from positions_mcp.simulator.book import AAPL1_CALL_ID, AAPL_CALL_ID, AAPL_ID, SPX_CALL_ID, TSLA_ID

ACCOUNT = 19816


@pytest.mark.anyio
async def test_demo_book_totals_match_the_hand_computation(client: Client) -> None:
    result = await client.call_tool("summarize_exposure", {})
    assert not result.is_error
    summary: dict[str, Any] = result.structured_content or {}
    assert summary["environment"] == "simulator"
    assert summary["account_id"] == 19816
    assert summary["positions"] == 17
    assert summary["long_market_value"] == "136339.43"
    assert summary["short_market_value"] == "-15689.50"
    assert summary["gross_market_value"] == "152028.93"
    assert summary["net_market_value"] == "120649.93"
    assert summary["cash"] == "25000.00"
    assert summary["unrealized_pnl"] == "14352.13"
    assert summary["daily_unrealized_pnl"] == "1129.37"
    assert summary["daily_realized_pnl"] == "0.00"
    assert summary["concentration"]["largest_pct"] == "54.96"  # MSFT
    assert len(text_of(result).encode()) <= MAX_JSON_BYTES  # the text, compact, is under the JSON's budget too


@pytest.mark.anyio
async def test_demo_book_expiring_options_and_what_expiry_does(client: Client) -> None:
    # Through the tool: positions, and the market data the simulator serves for them.
    result = await client.call_tool("summarize_exposure", {})
    table = (result.structured_content or {})["expiring"]["options"]
    expiring = {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["rows"]}
    assert len(expiring) == 4  # a small book: every expiring option is listed
    itm_call = expiring["AAPL261127C00145000"]
    assert (itm_call["moneyness"], itm_call["distance_pct"], itm_call["intrinsic_per_contract"]) == (
        "ITM",
        "4.14",
        "600.00",
    )
    assert itm_call["default_at_expiry"] == "AUTO_EXERCISE"
    otm_call = expiring["AAPL261127C00160000"]
    assert (otm_call["moneyness"], otm_call["distance_pct"]) == ("OTM", "-5.62")
    assert otm_call["default_at_expiry"] == "LAPSE"
    short_put = expiring["NVDA261127P00125000"]
    assert (short_put["moneyness"], short_put["distance_pct"]) == ("ITM", "1.48")
    assert short_put["default_at_expiry"] == "ASSIGNMENT_LIKELY"
    # SPY is not held: the snapshot prices it ($560.25), 0.84 % in the money, within the pin range
    spy = expiring["SPY261127P00565000"]
    assert (spy["moneyness"], spy["distance_pct"], spy["pin_risk"]) == ("ITM", "0.84", True)
    assert spy["default_at_expiry"] == "AUTO_EXERCISE"


# -- with the market data the simulator serves ---------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> tuple[list[Position], MarketView]:
    return demo_book_and_view(Simulator(seed=0, now=MONDAY_OPEN), ACCOUNT)


def summarize(rows: list[Position], view: MarketView | None, budget: int | None = None) -> ExposureSummary:
    return summarize_exposure(
        rows,
        account_id=ACCOUNT,
        environment="simulator",
        as_of=MONDAY_OPEN,
        market=view,
        expiry_window_business_days=5,
        max_json_bytes=budget,
    )


def delta_of(view: MarketView, instrument_id: str) -> Decimal:
    quote = view.quotes[instrument_id]
    assert quote.greeks is not None
    return quote.greeks.delta


def test_aapl_delta_counts_every_contract_whose_deliverable_is_known(
    demo: tuple[list[Position], MarketView],
) -> None:
    import dataclasses

    from positions_mcp.domain.contracts import terms_for

    rows, view = demo
    by_symbol = {p.symbol: p for p in rows}
    call_160 = by_symbol["AAPL261127C00160000"].instrument_id
    adjusted = view.terms[AAPL1_CALL_ID]
    # from the contract endpoint: multiplier 150, no deliverable field, so for AAPL1 it is not confirmed
    assert (adjusted.multiplier, adjusted.deliverable_confirmed) == (Decimal(150), False)
    # computed here from the greeks fed to the summary
    shares = Decimal(100) + 10 * 100 * delta_of(view, AAPL_CALL_ID) + 5 * 100 * delta_of(view, call_160)
    s = summarize(rows, view)
    assert s.delta is not None and s.delta.by_underlier is not None
    aapl = next(row for row in delta_table(s.delta).rows if row.underlier == "AAPL")
    assert aapl.price == view.price(AAPL_ID) == Decimal("151.00")
    assert aapl.delta_shares == shares.quantize(Decimal("0.01"))
    assert aapl.delta_dollars == (shares * Decimal("151.00")).quantize(Decimal("0.01"))
    # with the simulator's greeks at Monday 10:00 ET: 100 + 918.1 + 13.9 = 1032.00 shares; AAPL1 left out
    assert (aapl.delta_shares, aapl.delta_dollars) == (Decimal("1032.00"), Decimal("155832.00"))
    assert s.delta.contracts_without_greeks == {"TSLA": Decimal(4), "AAPL": Decimal(2)}
    assert (
        "deliverable not confirmed for 1 adjusted option (e.g. AAPL1270115C00140000): left out of delta, notional "
        "and expiry cash"
    ) in s.notes
    assert s.delta.greeks_as_of == view.quotes[AAPL_CALL_ID].greeks.timestamp  # type: ignore[union-attr]
    # with its deliverable confirmed (150 shares a contract), AAPL1 counts: + 2 × 150 × δ = 237.75 shares
    aapl1 = next(p for p in rows if p.instrument_id == AAPL1_CALL_ID)
    confirmed = terms_for(aapl1, {"multiplier": "150", "deliverable_shares": "150"})
    known = summarize(rows, dataclasses.replace(view, terms={**view.terms, AAPL1_CALL_ID: confirmed}))
    assert known.delta is not None and known.delta.by_underlier is not None
    aapl = next(row for row in delta_table(known.delta).rows if row.underlier == "AAPL")
    assert aapl.delta_shares == (shares + 2 * 150 * delta_of(view, AAPL1_CALL_ID)).quantize(Decimal("0.01"))
    assert (aapl.delta_shares, aapl.delta_dollars) == (Decimal("1269.75"), Decimal("191732.25"))


def test_an_adjusted_contract_without_its_terms_is_left_out_not_valued_at_100(
    demo: tuple[list[Position], MarketView],
) -> None:
    """The option-contracts endpoint gave no row for AAPL1 (150 shares a contract): its delta is not
    guessed at 100 shares; it is left out, counted without greeks and named in a note."""
    import dataclasses

    rows, view = demo
    without = dataclasses.replace(view, terms={k: v for k, v in view.terms.items() if k != AAPL1_CALL_ID})
    s = summarize(rows, without)
    assert s.delta is not None and s.delta.by_underlier is not None
    aapl = next(row for row in delta_table(s.delta).rows if row.underlier == "AAPL")
    assert aapl.delta_shares == Decimal("1032.00")  # 100 + 918.1 + 13.9: the 237.75 of AAPL1 left out
    assert s.delta.contracts_without_greeks is not None and s.delta.contracts_without_greeks["AAPL"] == Decimal(2)
    assert any(note.startswith("no contract terms for 1 adjusted option") for note in s.notes)


def test_premium_delta_and_notional_of_the_aapl_calls(demo: tuple[list[Position], MarketView]) -> None:
    # The ten 145 calls alone: premium 10 × 6.20 × 100 = 6,200.00 (market value); underlier
    # notional 10 × 100 × 151.00 = 151,000.00; delta dollars 10 × 100 × δ × 151.00.
    rows, view = demo
    calls = [p for p in rows if p.instrument_id in (AAPL_ID, AAPL_CALL_ID)]
    s = summarize(calls, view)
    assert s.options is not None
    assert s.options.premium == Decimal("6200.00")
    assert s.options.underlier_notional == Decimal("151000.00")
    assert s.options.delta_dollars == (1000 * delta_of(view, AAPL_CALL_ID) * Decimal("151.00")).quantize(
        Decimal("0.01")
    )


def test_cash_needed_at_expiry_against_the_funds(demo: tuple[list[Position], MarketView]) -> None:
    rows, view = demo
    s = summarize(rows, view)
    assert s.funds is not None and view.funds is not None
    assert (s.funds.trade_cash, s.funds.overnight_buying_power) == (
        view.funds.trade_cash,
        view.funds.overnight_buying_power,
    )
    assert s.funds.trade_cash == Decimal("25000.00")
    assert s.expiring is not None
    settlement = s.expiring.at_expiry
    assert settlement is not None
    # long ITM calls × multiplier × strike (AAPL 145C) + short ITM puts likely assigned (NVDA 125P)
    assert settlement.cash_out == 10 * 100 * Decimal(145) + 5 * 100 * Decimal(125) == Decimal("207500")
    assert settlement.cash_in == 2 * 100 * Decimal(565)  # SPY 565P exercised
    # the account holds no SPY: all of the 113,000.00 is a short sale's proceeds, not counted
    assert settlement.short_sale_proceeds == Decimal("113000.00")
    assert settlement.net_cash == Decimal("-207500.00")  # 113000 − 113000 − 207500
    assert settlement.cash_after == Decimal("25000.00") - Decimal("207500") == Decimal("-182500.00")
    assert settlement.shares == {"AAPL": Decimal("1000"), "NVDA": Decimal("500"), "SPY": Decimal("-200")}
    assert settlement.warning == (
        "cash short by $182,500.00 at expiry, not counting the $113,000.00 of short-sale proceeds from delivering "
        "shares not held free; SPY would go short 200 shares: add funds, or act as each row's suggestion says"
    )


def test_spy_moneyness_comes_from_the_snapshot(demo: tuple[list[Position], MarketView]) -> None:
    rows, view = demo
    s = summarize(rows, view)
    assert s.expiring is not None
    spy = next(row for row in s.expiring.options.rows if row.symbol == "SPY261127P00565000")
    # SPY 560.25 (snapshot; the account holds no SPY): (565 − 560.25) / 565 = 0.84 % in the money,
    # 4.75 × 100 = 475.00 a contract; within 1 % of the strike (5.65): pin risk
    assert (spy.moneyness, spy.distance_pct, spy.intrinsic_per_contract) == ("ITM", Decimal("0.84"), Decimal("475.00"))
    assert spy.default_at_expiry is DefaultAtExpiry.AUTO_EXERCISE
    assert spy.pin_risk is True and s.expiring.pin_risk == 1


def test_the_tsla_put_without_greeks(demo: tuple[list[Position], MarketView]) -> None:
    rows, view = demo
    tsla_put = next(p for p in rows if p.underlying_instrument_id == TSLA_ID)
    assert view.quotes[tsla_put.instrument_id].greeks is None  # the simulated feed never observed it
    s = summarize(rows, view)
    assert s.delta is not None and s.options is not None
    tsla = next(row for row in delta_table(s.delta).rows if row.underlier == "TSLA")
    assert (tsla.delta_shares, tsla.delta_dollars) == (Decimal("-50.00"), Decimal("-8925.00"))  # the stock alone
    # AAPL's 2: the adjusted AAPL1 call, whose deliverable is not confirmed
    assert s.delta.contracts_without_greeks == {"TSLA": Decimal("4"), "AAPL": Decimal("2")}
    assert s.options.contracts_without_greeks == Decimal("6")
    assert s.notes[:2] == [
        "unrealized_pnl, daily_unrealized_pnl missing on 1 position: their totals exclude it",  # BRK.B
        "no greeks for 1 option (e.g. TSLA270115P00170000): left out of delta and greeks",
    ]


def test_the_index_option_counts_in_index_points(demo: tuple[list[Position], MarketView]) -> None:
    rows, view = demo
    s = summarize(rows, view)
    assert s.delta is not None
    spx = next(row for row in delta_table(s.delta).rows if row.underlier == "SPX")
    shares = 100 * delta_of(view, SPX_CALL_ID)  # 1 contract × multiplier 100 × δ
    assert spx.price == Decimal("5602.50")  # the index level, from the snapshot
    assert spx.delta_dollars == (shares * Decimal("5602.50")).quantize(Decimal("0.01"))


def test_the_small_demo_book_is_shown_whole_in_4_kb(demo: tuple[list[Position], MarketView]) -> None:
    rows, view = demo
    s = summarize(rows, view, MAX_JSON_BYTES)
    text = s.model_dump_json()
    assert len(text.encode()) <= MAX_JSON_BYTES
    assert s == summarize(rows, view, None)  # nothing cut: every section, every row, every note
    assert s.by_type is not None and len(s.by_type) == 2 and s.largest is not None and len(s.largest.rows) == 10
    assert len(s.notes) == 5
    assert s.delta is not None and s.expiring is not None and s.expiring.at_expiry is not None
    # every underlier (AAPL, TSLA, GOOG, MSFT, NVDA, AMZN, BRK.B, SPY, SPX) and every expiring option
    assert len(delta_table(s.delta).rows) == s.delta.underliers == 9
    assert {row.underlier for row in delta_table(s.delta).rows} == {
        "AAPL",
        "TSLA",
        "GOOG",
        "MSFT",
        "NVDA",
        "AMZN",
        "BRK.B",
        "SPY",
        "SPX",
    }
    assert len(s.expiring.options.rows) == s.expiring.count == 4
    assert len(s.expiring.at_expiry.shares) == 3
    assert (s.long_positions, s.short_positions) == (12, 4)  # counts are never cut
    assert s.concentration.largest == "MSFT"  # named even where the largest list is shortened
    assert s.notes[0].startswith("unrealized_pnl, daily_unrealized_pnl missing on 1 position")  # kept first
    data = json.loads(text)
    # the SPY puts deliver 200 shares not held: 2 × 100 × 565.00 = 113,000.00 is a short sale's
    # proceeds, not cash; the cash after counts without them: 25,000.00 − 207,500.00 = −182,500.00
    assert data["expiring"]["at_expiry"]["warning"].startswith(
        "cash short by $182,500.00 at expiry, not counting the $113,000.00 of short-sale proceeds"
    )
    assert data["expiring"]["at_expiry"]["short_sale_proceeds"] == "113000.00"


def test_a_tighter_budget_cuts_rows_never_a_section(demo: tuple[list[Position], MarketView]) -> None:
    """Below the demo book's whole size, rows go (the largest positions first), never a section a
    person asked about, nor a note; what was shortened is said."""
    rows, view = demo
    whole = summarize(rows, view, None)
    s = summarize(rows, view, 3500)
    assert len(s.model_dump_json().encode()) <= 3500
    assert s.by_type == whole.by_type and s.expiring == whole.expiring
    assert s.largest is not None and [r[0] for r in s.largest.rows] == ["MSFT"]
    assert s.delta is not None and delta_table(s.delta).rows == delta_table(whole.delta).rows
    assert s.notes[:-1] == whole.notes
    assert s.notes[-1] == "lists cut to fit 3500 bytes; count fields and totals are complete"


def test_the_demo_book_without_market_data_still_fits_and_says_so(demo: tuple[list[Position], MarketView]) -> None:
    rows, _ = demo
    s = summarize(rows, None, MAX_JSON_BYTES)
    assert len(s.model_dump_json().encode()) <= MAX_JSON_BYTES
    assert s.notes[1].startswith("no market data")
    assert s.delta is not None and len(delta_table(s.delta).rows) == 9
