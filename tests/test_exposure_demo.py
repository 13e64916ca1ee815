"""summarize_exposure on the demo book, checked against figures computed by hand.

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
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client


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
    assert summary["gross_exposure"] == "152028.93"
    assert summary["net_exposure"] == "120649.93"
    assert summary["cash"] == "25000.00"
    assert summary["unrealized_pnl"] == "14352.13"
    assert summary["daily_unrealized_pnl"] == "1129.37"
    assert summary["daily_realized_pnl"] == "0.00"
    assert summary["largest"][0] == {
        "symbol": "MSFT",
        "quantity": "200",
        "market_value": "83560.00",
        "gross_pct": "54.96",
    }
    assert any("BRK.B" in note for note in summary["notes"])
    assert len(result.content[0].text.encode()) <= 3000  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_demo_book_expiring_options_and_what_expiry_does(client: Client) -> None:
    result = await client.call_tool("summarize_exposure", {})
    expiring = {o["symbol"]: o for o in (result.structured_content or {})["expiring"]["options"]}
    itm_call = expiring["AAPL261127C00145000"]
    assert (itm_call["moneyness"], itm_call["distance_pct"], itm_call["intrinsic"]) == ("ITM", "4.14", "600.00")
    assert itm_call["default_at_expiry"] == "AUTO_EXERCISE"
    otm_call = expiring["AAPL261127C00160000"]
    assert (otm_call["moneyness"], otm_call["distance_pct"]) == ("OTM", "-5.62")
    assert otm_call["default_at_expiry"] == "LAPSE"
    short_put = expiring["NVDA261127P00125000"]
    assert (short_put["moneyness"], short_put["distance_pct"]) == ("ITM", "1.48")
    assert short_put["default_at_expiry"] == "ASSIGNMENT_LIKELY"
    assert expiring["SPY261127P00565000"]["default_at_expiry"] == "UNKNOWN"  # SPY is not held
