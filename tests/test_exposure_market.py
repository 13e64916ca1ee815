"""The exposure summary with market data (domain.market_view.MarketView): delta and greeks in dollars,
premium vs notional, what expiry settles against the account's cash, pin risk, and how every part
degrades when the data is missing. Small books with hand-written quotes; every expected figure is
computed by hand in the comments (or, where stated, from the greeks the test feeds).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from exposure_views import delta_table, greeks, quote, row_dicts, types_of
from positions_mcp.clearstreet.models import Position
from positions_mcp.domain.contracts import ContractTerms, terms_for
from positions_mcp.domain.exposure import (
    MAX_JSON_BYTES,
    DefaultAtExpiry,
    ExposureBuilder,
    ExposureSummary,
    summarize_exposure,
)
from positions_mcp.domain.market_view import Funds, MarketView
from positions_mcp.domain.osi import parse_osi
from positions_mcp.domain.resolve import underlier_key
from positions_mcp.domain.settlement import PIN_RISK_MIN, PIN_RISK_PCT, is_pinned, pin_threshold

ACCOUNT = 19816
AS_OF = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 ET; Friday 2026-11-27 is an expiry
GREEKS_AT = datetime(2026, 11, 23, 14, 59, tzinfo=UTC)

XYZ, ABC, DEF, GHI, SPX = "xyz-id", "abc-id", "def-id", "ghi-id", "spx-id"


def pos(symbol: str, quantity: str, market_value: str, **fields: Any) -> Position:
    wire: dict[str, Any] = {
        "account_id": ACCOUNT,
        "instrument_id": f"id-{symbol.replace(' ', '')}",
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
    fields.setdefault("instrument_type", "OPTION")
    return pos(
        symbol,
        quantity,
        market_value,
        underlying_instrument_id=underlying,
        underlying_instrument_type=fields.pop("underlying_instrument_type", "COMMON_STOCK"),
        **fields,
    )


def summarize(rows: list[Position], market: MarketView | None, **overrides: Any) -> ExposureSummary:
    options: dict[str, Any] = {
        "account_id": ACCOUNT,
        "environment": "simulator",
        "as_of": AS_OF,
        "max_json_bytes": None,
        "market": market,
    }
    return summarize_exposure(rows, **(options | overrides))


def endpoint_terms(position: Position, multiplier: str = "100", **fields: Any) -> ContractTerms:
    """Terms as the option-contracts endpoint gives them (``terms_for`` with a contract row)."""
    return terms_for(position, {"multiplier": multiplier, "exercise_style": "AMERICAN", **fields})


# -- delta, greeks, premium and notional -------------------------------------------------------

STOCK = pos("XYZ", "100", "4900.00", instrument_id=XYZ, instrument_price="49.00")
CALL = option("XYZ 270115C00055000", "2", "300.00", XYZ, instrument_price="1.50")
PUT = option("XYZ 270115P00045000", "-1", "-120.00", XYZ, instrument_price="1.20")


def xyz_view() -> MarketView:
    return MarketView(
        quotes={
            XYZ: quote(XYZ, "XYZ", "50.00"),  # the snapshot (50.00) beats the position's 49.00
            CALL.instrument_id: quote(
                CALL.instrument_id, CALL.symbol, "1.50", greeks=greeks("0.25", "0.04", "-0.05", "0.08", GREEKS_AT)
            ),
            PUT.instrument_id: quote(
                PUT.instrument_id, PUT.symbol, "1.20", greeks=greeks("-0.20", "0.03", "-0.04", "0.07", GREEKS_AT)
            ),
        },
        terms={p.instrument_id: endpoint_terms(p) for p in (CALL, PUT)},
        funds=Funds(
            currency="USD",
            trade_cash=Decimal("1000.00"),
            settled_cash=Decimal("900.00"),
            withdrawable_cash=Decimal("800.00"),
            buying_power=Decimal("4000.00"),
            overnight_buying_power=Decimal("2000.00"),
        ),
    )


def test_delta_and_the_greeks_in_dollars() -> None:
    s = summarize([STOCK, CALL, PUT], xyz_view())
    assert s.delta is not None
    # delta shares = 100 + 2 × 100 × 0.25 + (−1) × 100 × (−0.20) = 100 + 50 + 20 = 170
    # delta dollars = 170 × 50.00 (the snapshot's last trade) = 8500.00
    assert delta_table(s.delta).rows == [
        ("XYZ", Decimal("50.00"), Decimal("170.00"), Decimal("8500.00"), Decimal("100.00"))
    ]
    assert (s.delta.net_dollars, s.delta.gross_dollars) == (Decimal("8500.00"), Decimal("8500.00"))
    # dollar gamma per 1 %: (200 × 0.04 + (−100) × 0.03) × 50² / 100 = 5 × 25 = 125.00
    assert s.delta.gamma_dollars_per_1pct == Decimal("125.00")
    # vega: 200 × 0.08 − 100 × 0.07 = 9.00 per vol point; theta: 200 × (−0.05) − 100 × (−0.04) = −6.00 a day
    assert s.delta.vega_dollars_per_vol_point == Decimal("9.00")
    assert s.delta.theta_dollars_per_day == Decimal("-6.00")
    assert s.delta.greeks_as_of == GREEKS_AT
    assert s.delta.contracts_without_greeks is None


def test_premium_delta_and_underlier_notional_are_named_apart() -> None:
    options = summarize([STOCK, CALL, PUT], xyz_view()).options
    assert options is not None
    assert options.premium == Decimal("180.00")  # 300.00 − 120.00: what the contracts are worth
    assert options.underlier_notional == Decimal("15000.00")  # (2 + 1) × 100 × 50.00: what they control
    assert options.delta_dollars == Decimal("3500.00")  # (50 + 20) × 50.00: how they move
    assert options.contracts_without_greeks is None


def test_funds_come_from_the_balances() -> None:
    funds = summarize([STOCK], xyz_view()).funds
    assert funds is not None
    assert (funds.currency, funds.trade_cash, funds.buying_power, funds.overnight_buying_power) == (
        "USD",
        Decimal("1000.00"),
        Decimal("4000.00"),
        Decimal("2000.00"),
    )


def test_the_multiplier_comes_from_the_contract_terms() -> None:
    # the same call with a multiplier of 150 (an adjusted contract): 2 × 150 × 0.25 = 75 shares
    view = xyz_view()
    terms = dict(view.terms) | {CALL.instrument_id: endpoint_terms(CALL, "150")}
    s = summarize([STOCK, CALL], MarketView(quotes=view.quotes, terms=terms))
    assert s.delta is not None and s.options is not None
    assert delta_table(s.delta).rows[0].delta_shares == Decimal("175.00")  # 100 + 75
    assert s.options.underlier_notional == Decimal("15000.00")  # 2 × 150 × 50.00


def test_a_contract_without_greeks_is_left_out_never_guessed() -> None:
    view = xyz_view()
    quotes = dict(view.quotes) | {PUT.instrument_id: quote(PUT.instrument_id, PUT.symbol, "1.20")}  # greeks null
    s = summarize([STOCK, CALL, PUT], MarketView(quotes=quotes, terms=view.terms, funds=view.funds))
    assert s.delta is not None and s.options is not None
    # 100 + 2 × 100 × 0.25 = 150: the put's delta is not estimated
    assert delta_table(s.delta).rows[0].delta_shares == Decimal("150.00")
    assert s.delta.contracts_without_greeks == {"XYZ": Decimal("1")}
    assert s.options.contracts_without_greeks == Decimal("1")
    # its gamma, vega and theta are left out too: (200 × 0.04) × 25 = 200.00; 16.00; −10.00
    assert (s.delta.gamma_dollars_per_1pct, s.delta.vega_dollars_per_vol_point, s.delta.theta_dollars_per_day) == (
        Decimal("200.00"),
        Decimal("16.00"),
        Decimal("-10.00"),
    )
    # its notional still counts: it is not a greek
    assert s.options.underlier_notional == Decimal("15000.00")
    assert s.notes[1] == "no greeks for 1 option (e.g. XYZ 270115P00045000): left out of delta and greeks"


def test_options_added_with_their_page_view_sum_up_the_same() -> None:
    # The use-case layer may read each page's market data and pass it to add(): the options are
    # folded there and then; or pass one view to build(). Same summary either way.
    view = xyz_view()
    rows = [CALL, PUT, STOCK]  # options before their underlier
    at_build = summarize(rows, view)
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF, max_json_bytes=None)
    builder.add(rows[:2], MarketView(quotes={k: v for k, v in view.quotes.items() if k != XYZ}, terms=view.terms))
    builder.add(rows[2:])
    # nothing left for build's view but prices and funds
    assert builder.build(MarketView(quotes={XYZ: view.quotes[XYZ]}, funds=view.funds)) == at_build


def test_the_ids_build_needs_market_data_for() -> None:
    # rows added without a view: build's view needs the underliers' quotes and the options' quotes
    # and terms, nothing else, and each of them counts
    rows = [STOCK, CALL, PUT, pos("AAPL", "1", "151.00", instrument_id="aapl-id")]
    full = xyz_view()
    quotes = dict(full.quotes) | {
        "aapl-id": quote("aapl-id", "AAPL", "152.00"),
        "other-id": quote("other-id", "O", "1"),
    }
    needed = [XYZ, "aapl-id", CALL.instrument_id, PUT.instrument_id]

    def built(ids: list[str]) -> ExposureSummary:
        view = MarketView(
            quotes={i: q for i, q in quotes.items() if i in ids},
            terms={i: t for i, t in full.terms.items() if i in ids},
        )
        return ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF).add(rows).build(view)

    assert built(needed) == built([*quotes, *full.terms])
    for missing in needed:
        assert built([i for i in needed if i != missing]) != built(needed), missing


def test_an_underlier_not_held_is_priced_by_the_snapshot() -> None:
    spy = "spy-id"
    put = option("SPY   261127P00565000", "2", "1020.00", spy, instrument_price="5.10")
    view = MarketView(
        quotes={
            spy: quote(spy, "SPY", "560.25"),
            put.instrument_id: quote(put.instrument_id, put.symbol, "5.10", greeks=greeks("-0.6777")),
        }
    )
    s = summarize([put], view)
    assert s.delta is not None and s.expiring is not None
    # 2 × 100 × (−0.6777) = −135.54 shares × 560.25 = −75936.285 → −75936.28 (half-even)
    assert delta_table(s.delta).rows == [
        ("SPY", Decimal("560.25"), Decimal("-135.54"), Decimal("-75936.28"), Decimal("100.00"))
    ]
    (row,) = s.expiring.options.rows
    # (565 − 560.25) / 565 = 0.8407 % in the money; 4.75 × 100 = 475.00 a contract; within 1 % (5.65)
    assert (row.moneyness, row.distance_pct, row.intrinsic_per_contract, row.pin_risk) == (
        "ITM",
        Decimal("0.84"),
        Decimal("475.00"),
        True,
    )
    assert row.default_at_expiry is DefaultAtExpiry.AUTO_EXERCISE
    # without the snapshot, nothing prices SPY
    (unknown,) = summarize([put], None).expiring.options.rows  # type: ignore[union-attr]
    assert (unknown.moneyness, unknown.default_at_expiry) == (None, DefaultAtExpiry.UNKNOWN)


def test_price_sources_in_order() -> None:
    held = pos("XYZ", "10", "490.00", instrument_id=XYZ, instrument_price="49.00", closing_price="48.00")
    rows = [held]

    def price(view: MarketView | None) -> Decimal | None:
        delta = summarize(rows, view).delta
        assert delta is not None
        return delta_table(delta).rows[0].price

    assert price(MarketView(quotes={XYZ: quote(XYZ, "XYZ", "50.00")})) == Decimal("50.00")  # last trade
    midpoint = quote(XYZ, "XYZ", None, midpoint=Decimal("50.10"), close="47.00")
    assert price(MarketView(quotes={XYZ: midpoint})) == Decimal("50.10")  # midpoint
    assert price(MarketView(quotes={XYZ: quote(XYZ, "XYZ", close="47.00")})) == Decimal("49.00")  # position
    assert price(None) == Decimal("49.00")
    unpriced = pos("XYZ", "10", "490.00", instrument_id=XYZ, closing_price="48.00")
    rows = [unpriced]
    assert price(MarketView(quotes={XYZ: quote(XYZ, "XYZ", close="47.00")})) == Decimal("47.00")  # snapshot close
    assert price(None) == Decimal("48.00")  # the position's closing price
    assert "1 underlier priced at a previous close (e.g. XYZ)" in summarize(rows, None).notes


# -- what expiry settles, against the account's cash -------------------------------------------


def settlement_book() -> tuple[list[Position], MarketView]:
    rows = [
        option("ABC   261127C00095000", "3", "1530.00", ABC),  # ITM long call: exercised
        option("ABC   261127P00110000", "2", "2010.00", ABC),  # ITM long put: exercised
        option("ABC   261127C00090000", "-1", "-1010.00", ABC),  # ITM short call: assigned
        option("ABC   261127P00105000", "-4", "-2040.00", ABC),  # ITM short put: assigned
        option("ABC   261127C00100300", "1", "40.00", ABC),  # OTM by 0.30: lapses, pinned
        option("SPX   261127C05600000", "1", "5010.00", SPX, underlying_instrument_type="INDEX"),  # cash
        option("DEF1  261127C00040000", "2", "1010.00", DEF),  # adjusted: 150 shares, multiplier 100
        option("GHI   261127P00050000", "1", "510.00", GHI),  # ITM long put on shares not held
    ]
    quotes = {
        ABC: quote(ABC, "ABC", "100.00"),
        SPX: quote(SPX, "SPX", "5650.00"),
        DEF: quote(DEF, "DEF", "30.00"),
        GHI: quote(GHI, "GHI", "45.00"),
    }
    terms = {p.instrument_id: terms_for(p, {"multiplier": "100"}) for p in rows}
    terms[rows[6].instrument_id] = terms_for(rows[6], {"multiplier": "100", "deliverable_shares": "150"})
    funds = Funds("USD", Decimal("30000.00"), Decimal("30000.00"), Decimal("30000.00"), Decimal("60000.00"))
    return rows, MarketView(quotes=quotes, terms=terms, funds=funds)


def test_cash_and_shares_the_defaults_would_move() -> None:
    rows, view = settlement_book()
    s = summarize(rows, view)
    assert s.expiring is not None
    settlement = s.expiring.at_expiry
    assert settlement is not None
    # paid: ABC 95 call exercised 3 × 100 × 95 = 28500; ABC 105 put assigned 4 × 100 × 105 = 42000;
    #       DEF1 40 call exercised 2 × 100 × 40 = 8000 (the multiplier, not the 150-share deliverable)
    assert settlement.cash_out == Decimal("78500.00")
    # received: ABC 110 put exercised 2 × 100 × 110 = 22000; ABC 90 call assigned 1 × 100 × 90 = 9000;
    #           GHI 50 put exercised 1 × 100 × 50 = 5000
    assert settlement.cash_in == Decimal("36000.00")
    # SPX: cash-settled, (5650 − 5600) × 100 = 5000 received, an estimate at today's level
    assert settlement.cash_settled == Decimal("5000.00")
    # GHI's 5,000.00 is a short sale's proceeds (no GHI held), not ABC's (ABC's 300 delivered are
    # covered by the 700 received): neither it nor the SPX estimate is counted
    assert settlement.short_sale_proceeds == Decimal("5000.00")
    assert settlement.net_cash == Decimal("-47500.00")  # 36000 − 5000 − 78500
    assert settlement.cash_after == Decimal("-17500.00")  # 30000 + (−47500)
    # shares: ABC +300 − 200 − 100 + 400 = +400; DEF1 2 × 150 = +300; GHI −100 (not held: goes short)
    assert settlement.shares == {"ABC": Decimal("400"), "DEF": Decimal("300"), "GHI": Decimal("-100")}
    assert settlement.not_counted is None
    assert settlement.warning == (
        "cash short by $17,500.00 at expiry, not counting the $5,000.00 of short-sale proceeds from delivering "
        "shares not held free nor the $5,000.00 cash-settled estimate; GHI would go short 100 shares: add funds, "
        "or act as each row's suggestion says"
    )
    by_symbol = {row.symbol: row for row in s.expiring.options.rows}
    assert by_symbol["ABC   261127C00100300"].default_at_expiry is DefaultAtExpiry.LAPSE
    assert [row.symbol for row in s.expiring.options.rows if row.pin_risk] == ["ABC   261127C00100300"]
    assert s.expiring.pin_risk == 1
    # the adjusted contract: 150 × 30 − 100 × 40 = 500 a contract; its distance on the aggregate strike
    assert by_symbol["DEF1  261127C00040000"].intrinsic_per_contract == Decimal("500")
    assert by_symbol["DEF1  261127C00040000"].distance_pct == Decimal("12.50")  # 500 / 4000
    # SPX: intrinsic (5650 − 5600) × 100 a contract
    assert by_symbol["SPX   261127C05600000"].intrinsic_per_contract == Decimal("5000.00")


def test_the_terms_of_an_expiring_option_come_from_either_view() -> None:
    rows, view = settlement_book()
    call = rows[0]  # ABC 95 call × 3
    adjusted = terms_for(call, {"multiplier": "150"})  # 150 shares a contract

    def settled(page: MarketView, at_build: MarketView | None) -> tuple[Decimal, dict[str, Decimal]]:
        builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF)
        watch = builder.add([call], page).build(at_build).expiring
        assert watch is not None and watch.at_expiry is not None
        return watch.at_expiry.cash_out, watch.at_expiry.shares

    quotes = {ABC: view.quotes[ABC]}
    # 3 × 150 × 95 = 42750 for 3 × 150 = 450 shares, whichever view had the contract's terms
    expected = (Decimal("42750.00"), {"ABC": Decimal("450")})
    assert settled(MarketView(quotes=quotes), MarketView(terms={call.instrument_id: adjusted})) == expected
    assert settled(MarketView(quotes=quotes, terms={call.instrument_id: adjusted}), None) == expected
    # neither: the standard default, 3 × 100 × 95
    assert settled(MarketView(quotes=quotes), None) == (Decimal("28500.00"), {"ABC": Decimal("300")})


def test_enough_cash_no_warning_and_no_balances_no_comparison() -> None:
    rows, view = settlement_book()
    rich = Funds("USD", Decimal("100000.00"), Decimal("100000.00"), Decimal("100000.00"), Decimal("200000.00"))
    settlement = summarize(rows[:2], MarketView(quotes=view.quotes, terms=view.terms, funds=rich)).expiring
    assert settlement is not None and settlement.at_expiry is not None
    # 22000 − 28500 = −6500 against 100000 of cash
    assert (settlement.at_expiry.cash_after, settlement.at_expiry.warning) == (Decimal("93500.00"), None)
    blind = summarize(rows[:2], MarketView(quotes=view.quotes, terms=view.terms))
    assert blind.expiring is not None and blind.expiring.at_expiry is not None
    assert (blind.expiring.at_expiry.cash_after, blind.expiring.at_expiry.warning) == (None, None)
    assert "no balances: cash and buying power unknown" in blind.notes


def test_uncertain_outcomes_are_counted_apart() -> None:
    abc = quote(ABC, "ABC", "100.00")
    rows = [
        option("ABC   261127P00100000", "-1", "-50.00", ABC),  # at the money: assignment possible
        option("ZZZ   261127C00010000", "1", "50.00", "zzz-id"),  # no price: unknown
    ]
    s = summarize(rows, MarketView(quotes={ABC: abc}))
    assert s.expiring is not None and s.expiring.at_expiry is not None
    assert s.expiring.at_expiry.not_counted == 2
    assert (s.expiring.at_expiry.cash_out, s.expiring.at_expiry.cash_in) == (Decimal(0), Decimal(0))


@pytest.mark.parametrize(
    ("strike", "spot", "pinned"),
    [
        ("100", "101.00", True),  # 1.00 = 1 % of 100
        ("100", "101.01", False),
        ("100", "99.00", True),
        ("20", "20.50", True),  # 1 % of 20 is 0.20: the $0.50 floor
        ("20", "20.51", False),
        ("5700", "5643.00", True),  # 1 % of 5700 = 57
    ],
)
def test_pin_risk_threshold(strike: str, spot: str, pinned: bool) -> None:
    symbol = parse_osi(f"XYZ   261127C{int(Decimal(strike) * 1000):08d}")
    assert is_pinned(symbol, Decimal(spot)) is pinned
    assert pin_threshold(symbol) == max(Decimal(strike) * PIN_RISK_PCT / 100, PIN_RISK_MIN)


def test_a_cash_settled_option_is_never_pinned() -> None:
    symbol = parse_osi("SPX   261127C05600000")
    assert not is_pinned(symbol, Decimal("5600"), terms_for(symbol))


# -- odd rows and degraded market data ----------------------------------------------------------


def test_an_unknown_instrument_type_with_an_osi_symbol_counts_as_an_option() -> None:
    rows = [
        STOCK,
        option("XYZ 270115C00055000", "2", "300.00", XYZ, instrument_type="EQUITY_OPTION"),
        pos("XYZ.WS", "10", "5.00", instrument_type="WARRANT", position_type="LONG_SPREAD"),  # unknown enums
    ]
    view = xyz_view()
    quotes = dict(view.quotes) | {"id-XYZ270115C00055000": view.quotes[CALL.instrument_id]}
    s = summarize(rows, MarketView(quotes=quotes))
    assert s.options is not None and s.options.positions == 1
    assert s.delta is not None
    # no contract terms: the standard default's multiplier (noted); 100 + 2 × 100 × 0.25 = 150
    assert row_dicts(delta_table(s.delta))[0]["delta_shares"] == Decimal("150.00")
    assert "1 position has an unknown instrument_type 'EQUITY_OPTION': counted as options (OSI symbol)" in s.notes
    assert "1 position has an unknown instrument_type 'WARRANT': counted as non-option exposure" in s.notes
    assert any(note.startswith("no contract terms for 1 option") for note in s.notes)
    assert [t.type for t in types_of(s)] == ["COMMON_STOCK", "EQUITY_OPTION", "WARRANT"]


def test_the_keys_are_the_underlier_keys_of_domain_resolve() -> None:
    rows = [
        STOCK,
        CALL,
        option("QQQ   261127C00500000", "1", "10.00", None),  # grouped by root
        pos("MiXeD", "1", "1.00", instrument_id=" MiXeD-Id "),
    ]
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF)
    builder.add(rows)
    assert set(builder._underliers.in_order()) == {underlier_key(p) for p in rows}


def test_without_market_data_the_summary_is_still_right_about_the_rest() -> None:
    rows, view = settlement_book()
    rows = [*rows, STOCK, CALL, PUT]
    full = summarize(rows, view)
    for degraded in (None, MarketView(), MarketView(notes=("snapshot: 403 Forbidden: no quotes or greeks",))):
        s = summarize(rows, degraded)
        # the positions' own figures do not depend on market data
        for field in ("positions", "long_market_value", "short_market_value", "gross_market_value", "cash"):
            assert getattr(s, field) == getattr(full, field), field
        assert s.by_type == full.by_type and s.largest == full.largest
        assert s.options is not None and s.options.premium == full.options.premium  # type: ignore[union-attr]
        assert s.options.delta_dollars is None and s.funds is None
        assert s.delta is not None and s.delta.gamma_dollars_per_1pct is None
        # the stock still has its delta: 100 shares at the position's 49.00
        assert ("XYZ", Decimal("49.00"), Decimal("100.00"), Decimal("4900.00"), Decimal("100.00")) in (
            delta_table(s.delta).rows
        )
        assert s.expiring is not None and s.expiring.count == full.expiring.count  # type: ignore[union-attr]
    notes = summarize(rows, MarketView(notes=("snapshot: 403 Forbidden: no quotes or greeks",))).notes
    assert notes[1:3] == [
        "snapshot: 403 Forbidden: no quotes or greeks",
        # the options kept for build first (XYZ, expiring 2027), then the expiring ones
        "no greeks for 9 options (e.g. XYZ 270115C00055000, XYZ 270115P00045000, ABC   261127C00095000): "
        "left out of delta and greeks",
    ]
    # the adjusted DEF1 contract has no terms here: never valued as 100 shares, said apart
    assert (
        "no contract terms for 1 adjusted option (root ending in a digit): deliverable unknown, left out of "
        "delta, notional and expiry cash (e.g. DEF1  261127C00040000)"
    ) in notes
    assert "no balances: cash and buying power unknown" in notes
    assert summarize(rows, None).notes[1].startswith("no market data: prices from the positions")


def test_the_view_notes_are_carried_once() -> None:
    view = MarketView(notes=("contracts: 500 Internal Server Error",))
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF, market=view)
    builder.add([STOCK], view).add([CALL], view)
    notes = builder.build(view).notes
    assert notes.count("contracts: 500 Internal Server Error") == 1


# -- bounded with market data --------------------------------------------------------------------


def generated(n: int) -> tuple[list[Position], MarketView]:
    """n positions: 60 % equities, 40 % options on them expiring Friday, every one with greeks."""
    rnd = random.Random(11)
    rows: list[Position] = []
    quotes = {}
    equities = []
    for i in range(n * 3 // 5):
        iid, price = f"eq-{i}", Decimal(rnd.randint(1_000, 50_000)).scaleb(-2)
        # letters only: an OSI root ending in a digit names an adjusted contract
        ticker = "T" + "".join(chr(65 + (i // 26**k) % 26) for k in range(4))
        equities.append((iid, ticker, price))
        rows.append(pos(ticker, str(rnd.randint(1, 900)), "1.00", instrument_id=iid, instrument_price=str(price)))
        quotes[iid] = quote(iid, ticker, str(price))
    for j in range(n - len(rows)):
        iid, symbol, price = equities[j % len(equities)]
        strike = price.quantize(Decimal("1"))
        row = option(f"{symbol} 261127C{int(strike * 1000):08d}", str(rnd.choice((-3, 1, 2))), "10.00", iid)
        rows.append(row)
        quotes[row.instrument_id] = quote(row.instrument_id, row.symbol, "0.10", greeks=greeks("0.5", "0.01"))
    return rows, MarketView(quotes=quotes, funds=Funds("USD", *(Decimal("1000000.00"),) * 4))


def test_ten_thousand_positions_with_greeks_fit_in_4_kb_with_exact_totals() -> None:
    rows, view = generated(10_000)
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF, expiry_window_business_days=5)
    for start in range(0, len(rows), 1000):
        builder.add(rows[start : start + 1000])
    s = builder.build(view)
    text = s.model_dump_json()
    assert len(text.encode()) <= MAX_JSON_BYTES
    assert json.loads(text)["positions"] == 10_000
    assert s.delta is not None and s.options is not None and s.expiring is not None
    assert s.delta.underliers == 6_000 > len(delta_table(s.delta).rows)
    assert s.options.positions == 4_000 and s.options.contracts_without_greeks is None
    assert s.expiring.count == 4_000 and sum(s.expiring.by_default.values()) == 4_000  # type: ignore[union-attr]
    # exact: every underlier's delta (shares + contracts × 100 × 0.5) at its price, to the cent
    shares: dict[str, Decimal] = {}
    for p in rows:
        key = p.underlying_instrument_id or p.instrument_id
        amount = p.quantity if p.underlying_instrument_id is None else p.quantity * 100 * Decimal("0.5")
        shares[key] = shares.get(key, Decimal(0)) + amount
    dollars = [(shares[key] * view.quotes[key].last).quantize(Decimal("0.01")) for key in shares]  # type: ignore[operator]
    assert s.delta.net_dollars == sum(dollars, Decimal(0))
    assert s.delta.gross_dollars == sum(map(abs, dollars), Decimal(0))
    assert delta_table(s.delta).rows[0].delta_dollars == max(dollars, key=abs)


def test_a_small_book_is_shown_whole() -> None:
    rows, view = settlement_book()
    rows = [*rows, STOCK, CALL, PUT]
    assert len(rows) <= 25
    s = summarize(
        rows,
        MarketView(quotes={**view.quotes, **xyz_view().quotes}, terms=view.terms, funds=view.funds),
        max_json_bytes=MAX_JSON_BYTES,
    )
    assert len(s.model_dump_json().encode()) <= MAX_JSON_BYTES
    assert s.delta is not None and s.expiring is not None
    assert len(delta_table(s.delta).rows) == s.delta.underliers == 5  # ABC, SPX, DEF, GHI, XYZ
    assert len(s.expiring.options.rows) == s.expiring.count == 8
    assert s.expiring.at_expiry is not None and len(s.expiring.at_expiry.shares) == 3


def test_twenty_five_holdings_are_shown_whole() -> None:
    rows = [
        pos(
            f"TICK{i}",
            "1234",
            "123456.78",
            instrument_id=f"{i:08d}-aaaa-bbbb-cccc-dddddddddddd",
            instrument_price="100.05",
        )
        for i in range(25)
    ]
    s = summarize(rows, None, max_json_bytes=MAX_JSON_BYTES)
    assert len(s.model_dump_json().encode()) <= MAX_JSON_BYTES
    assert s.delta is not None and len(delta_table(s.delta).rows) == s.delta.underliers == 25
    # 25 × 1234 × 100.05 = 3,086,542.50
    assert s.delta.net_dollars == Decimal("3086542.50")


def test_dates() -> None:
    # the settlement book's contracts expire on Friday 2026-11-27, inside the default window
    builder = ExposureBuilder(account_id=ACCOUNT, environment="simulator", as_of=AS_OF)
    assert (builder.today, builder.through) == (date(2026, 11, 23), date(2026, 11, 27))


def test_short_sale_proceeds_when_the_account_is_short_already() -> None:
    """Short 100 GHI and long 2 GHI 50 puts in the money: exercising them delivers 200 more shares
    the account does not hold, so all 2 × 100 × 50 = 10,000 received is a short sale's proceeds."""
    rows = [
        pos("GHI", "-100", "-4500.00", instrument_id=GHI, instrument_price="45.00"),
        option("GHI   261127P00050000", "2", "1020.00", GHI),
    ]
    terms = {rows[1].instrument_id: terms_for(rows[1], {"multiplier": "100"})}
    funds = Funds("USD", Decimal("1000.00"), Decimal("1000.00"), Decimal("1000.00"), Decimal("1000.00"))
    s = summarize(rows, MarketView(quotes={GHI: quote(GHI, "GHI", "45.00")}, terms=terms, funds=funds))
    assert s.expiring is not None and s.expiring.at_expiry is not None
    settlement = s.expiring.at_expiry
    assert (settlement.cash_in, settlement.short_sale_proceeds) == (Decimal("10000.00"), Decimal("10000.00"))
    # nothing is paid at expiry and the proceeds are not cash: the cash stays 1,000.00, no warning
    assert (settlement.net_cash, settlement.cash_after, settlement.warning) == (
        Decimal("0.00"),
        Decimal("1000.00"),
        None,
    )


def test_a_small_book_of_odd_names_without_greeks_still_fits() -> None:
    """25 short calls expiring soon, each on its own underlier named by a 30-character snapshot
    symbol, large quantities, no greeks: the list of contracts without greeks is cut like any list
    (the count stays in options), and a table cut whole is left out, never shown empty."""
    rows, quotes = [], {}
    for index in range(25):
        underlier = f"und-{index:02d}"
        rows.append(option(f"Q{index:02d}   261127C00100000", "-123456", "-9876543.21", underlier))
        quotes[underlier] = quote(underlier, f"{index:02d}" + "W" * 28, "101.00")
    s = summarize(rows, MarketView(quotes=quotes), max_json_bytes=3000)
    text = s.model_dump_json()
    assert len(text.encode()) <= 3000
    assert s.options is not None and s.options.contracts_without_greeks == Decimal(123456 * 25)
    assert s.delta is not None and s.delta.underliers == 25
    assert s.delta.by_underlier is None or delta_table(s.delta).rows
    assert '"rows":[]' not in text


def test_short_sale_proceeds_count_the_free_shares_as_the_preview_does() -> None:
    """200 GHI held, 80 of them in a working sell order (available 120), and 2 GHI 50 puts in the
    money: exercising them delivers 200 shares for 2 × 100 × 50 = 10,000. The 120 free shares bring
    10,000 × 120 / 200 = 6,000 of cash; the other 4,000 is a short sale's proceeds (Regulation T):
    settlement.short_sale_proceeds, the function the exercise preview's cash check calls too."""
    from positions_mcp.domain.settlement import short_sale_proceeds

    rows = [
        pos("GHI", "200", "9000.00", instrument_id=GHI, instrument_price="45.00", available_quantity="120"),
        option("GHI   261127P00050000", "2", "1020.00", GHI),
    ]
    terms = {rows[1].instrument_id: terms_for(rows[1], {"multiplier": "100"})}
    funds = Funds("USD", Decimal("1000.00"), Decimal("1000.00"), Decimal("1000.00"), Decimal("1000.00"))
    s = summarize(rows, MarketView(quotes={GHI: quote(GHI, "GHI", "45.00")}, terms=terms, funds=funds))
    assert s.expiring is not None and s.expiring.at_expiry is not None
    settlement = s.expiring.at_expiry
    assert short_sale_proceeds(Decimal(120), Decimal(200), Decimal(10000)) == Decimal("4000.00")
    assert (settlement.cash_in, settlement.short_sale_proceeds, settlement.net_cash) == (
        Decimal("10000.00"),
        Decimal("4000.00"),
        Decimal("6000.00"),
    )
    assert settlement.cash_after == Decimal("7000.00")


def test_an_adjusted_root_names_its_underlier_never_itself() -> None:
    """An XYZ1 call with no underlying_instrument_id and no quote: it counts toward XYZ (OCC appends
    the digit to the underlier's symbol), never toward an 'XYZ1' security. Without a deliverable
    confirmed, its expiry is not settled at all."""
    call = option("XYZ1  261127C00040000", "2", "2010.00", "").model_copy(update={"underlying_instrument_id": None})
    terms = {call.instrument_id: terms_for(call, {"multiplier": "100", "deliverable_shares": "150"})}
    s = summarize([call], MarketView(terms=terms))
    assert s.delta is not None and s.delta.by_underlier is not None
    assert [row.underlier for row in delta_table(s.delta).rows] == ["XYZ"]
    unconfirmed = {call.instrument_id: terms_for(call, {"multiplier": "100"})}
    assert not unconfirmed[call.instrument_id].deliverable_confirmed
    watch = summarize([call], MarketView(terms=unconfirmed)).expiring
    assert watch is not None and watch.at_expiry is not None
    assert (watch.at_expiry.shares, watch.at_expiry.not_counted) == ({}, 1)
