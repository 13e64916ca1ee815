from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from positions_mcp.clearstreet.models import Position
from positions_mcp.domain.moneyness import (
    Moneyness,
    MoneynessState,
    moneyness,
    underlier_prices,
)
from positions_mcp.domain.osi import parse_osi

CALL = parse_osi("AAPL  280121C00195000")
PUT = parse_osi("AAPL 280121P00195000")


def position(**fields: str) -> Position:
    wire = {
        "account_id": 19816,
        "market_value": "0",
        "position_type": "LONG",
        "quantity": "1",
        "available_quantity": "1",
    }
    wire.update(fields)
    return Position.model_validate(wire)


def test_call_in_the_money() -> None:
    m = moneyness(CALL, Decimal("200.50"))
    assert m.state is MoneynessState.ITM
    assert m.intrinsic_per_share == Decimal("5.50")
    assert m.distance_pct == Decimal("2.82")  # 5.50 / 195 = 2.8205 %


def test_call_out_of_the_money() -> None:
    m = moneyness(CALL, Decimal("190"))
    assert m.state is MoneynessState.OTM
    assert m.intrinsic_per_share == 0
    assert m.distance_pct == Decimal("-2.56")  # -5 / 195 = -2.564 %


def test_put_in_the_money_and_out() -> None:
    itm = moneyness(PUT, Decimal("190"))
    assert (itm.state, itm.intrinsic_per_share, itm.distance_pct) == (MoneynessState.ITM, Decimal("5"), Decimal("2.56"))
    otm = moneyness(PUT, Decimal("200.50"))
    assert (otm.state, otm.intrinsic_per_share) == (MoneynessState.OTM, Decimal(0))


def test_at_the_money_exactly() -> None:
    m = moneyness(CALL, Decimal("195.000"))
    assert m.state is MoneynessState.ATM
    assert m.intrinsic_per_share == 0
    assert m.distance_pct == Decimal("0.00")


def test_one_cent_in_the_money_is_itm() -> None:
    assert moneyness(CALL, Decimal("195.01")).state is MoneynessState.ITM
    assert moneyness(PUT, Decimal("194.99")).state is MoneynessState.ITM


def test_serialises_decimals_as_strings() -> None:
    dumped = moneyness(CALL, Decimal("200.50")).model_dump(mode="json")
    assert dumped == {
        "state": "ITM",
        "underlier_price": "200.50",
        "strike": "195",
        "intrinsic_per_share": "5.50",
        "distance_pct": "2.82",
    }


def test_underlier_prices_take_equities_and_indexes_with_a_price() -> None:
    positions = [
        position(instrument_id="aapl", symbol="AAPL", instrument_type="COMMON_STOCK", instrument_price="200.50"),
        position(instrument_id="spx", symbol="SPX", instrument_type="INDEX", instrument_price="5100.25"),
        position(instrument_id="goog", symbol="GOOG", instrument_type="COMMON_STOCK"),
        position(instrument_id="opt", symbol="AAPL280121C00195000", instrument_type="OPTION", instrument_price="9.10"),
        position(instrument_id="usd", symbol="USD", instrument_type="CASH", instrument_price="1"),
    ]
    assert underlier_prices(positions) == {"aapl": Decimal("200.50"), "spx": Decimal("5100.25")}


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000"), places=2)


@given(strike=prices, price=prices)
def test_intrinsic_values_obey_parity(strike: Decimal, price: Decimal) -> None:
    tail = f"{int(strike * 1000):08d}"
    call = moneyness(parse_osi(f"XYZ 280121C{tail}"), price)
    put = moneyness(parse_osi(f"XYZ 280121P{tail}"), price)
    assert call.intrinsic_per_share - put.intrinsic_per_share == price - strike
    for m in (call, put):
        assert isinstance(m, Moneyness)
        assert m.intrinsic_per_share >= 0
        assert (m.state is MoneynessState.ITM) == (m.intrinsic_per_share > 0)
        assert (m.state is MoneynessState.ATM) == (price == strike)
