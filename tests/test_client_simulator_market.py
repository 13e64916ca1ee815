"""The typed client against the simulator (in process) for the balances, market-data, instrument,
calendar and orders reads: every response parses, decimals survive exactly, and the figures agree
with the positions of the same book."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from positions_mcp.clearstreet import (
    APIStatusError,
    ClearStreetClient,
    DayType,
    ExerciseStyle,
    MarginType,
    MarketSessionType,
    OrderStatus,
    SecurityType,
)
from positions_mcp.simulator import DEMO_PRIMARY_ACCOUNT, Simulator

GENERATED = 777
AAPL1_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e11"
SPX_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e21"


@pytest.fixture
def simulator(simulator: Simulator) -> Simulator:
    """conftest's simulator, with a generated account of 400 positions besides the demo book."""
    simulator.add_generated_account(GENERATED, positions=400, seed=3)
    return simulator


@pytest.fixture
async def cs(simulator: Simulator) -> AsyncIterator[ClearStreetClient]:
    async with ClearStreetClient(api_key="k", base_url="http://simulator", transport=simulator.transport()) as client:
        yield client


@pytest.mark.anyio
async def test_balances_agree_with_the_positions(cs: ClearStreetClient) -> None:
    result = await cs.balances.get(DEMO_PRIMARY_ACCOUNT, top_margin_contributors_limit=5)
    positions = await cs.positions.all(DEMO_PRIMARY_ACCOUNT)
    b = result.balances
    cash = sum(p.market_value for p in positions if p.instrument_type is SecurityType.CASH)
    risky = [p.market_value for p in positions if p.instrument_type is not SecurityType.CASH]
    assert b.trade_cash == cash == Decimal("25000.00")
    assert b.long_market_value == sum(v for v in risky if v > 0)
    assert b.short_market_value == sum(v for v in risky if v < 0)
    assert b.equity == b.trade_cash + b.long_market_value + (b.short_market_value or 0)
    assert b.margin_type is MarginType.REG_T and b.multiplier == 4
    margin = b.margin_details
    assert margin is not None and margin.top_contributors is not None and len(margin.top_contributors) == 5
    assert b.buying_power == margin.maintenance_margin_excess * 4 == margin.intraday_details.buying_power
    assert result.request_id


@pytest.mark.anyio
async def test_batched_snapshots_of_a_whole_book(cs: ClearStreetClient, simulator: Simulator) -> None:
    rows = simulator.positions(GENERATED)
    ids = [r["instrument_id"] for r in rows] + [r["symbol"] for r in rows[:50]]  # 50 repeats, by symbol
    result = await cs.market_data.snapshots_batched(ids, concurrency=2)
    assert len(result.request_ids) == 5  # 450 distinct strings → 5 requests of ≤ 100
    assert [s.instrument_id for s in result.snapshots] == [r["instrument_id"] for r in rows]
    by_id = {s.instrument_id: s for s in result.snapshots}
    for row in rows:
        snapshot = by_id[row["instrument_id"]]
        assert snapshot.last_trade is not None
        assert str(snapshot.last_trade.price) == row["instrument_price"]  # one price per instrument
        if row["instrument_type"] == "OPTION":
            assert snapshot.greeks is not None and snapshot.greeks.iv == 0 and snapshot.open_interest


@pytest.mark.anyio
async def test_contracts_pages_and_batches(cs: ClearStreetClient, simulator: Simulator) -> None:
    paged = await cs.instruments.all_option_contracts(underlying_instrument_id="AAPL", page_size=1)
    assert [c.symbol for c in paged] == [
        "AAPL  261127C00145000", "AAPL  261127C00160000", "AAPL1 270115C00140000", "AAPL  280121C00195000",
    ]  # fmt: skip
    assert paged[2].multiplier == Decimal("150")
    option_ids = [r["instrument_id"] for r in simulator.positions(GENERATED) if r["instrument_type"] == "OPTION"]
    batched = await cs.instruments.option_contracts_batched(option_ids)
    assert sorted(c.id for c in batched.contracts) == sorted(option_ids)
    assert len(batched.request_ids) == -(-len(option_ids) // 100)
    [spx] = (await cs.instruments.option_contracts(contract_ids=[SPX_CALL_ID])).contracts
    assert (spx.exercise_style, spx.is_settle_on_open) == (ExerciseStyle.EUROPEAN, True)


@pytest.mark.anyio
async def test_instrument_clock_hours_and_orders(cs: ClearStreetClient, simulator: Simulator) -> None:
    aapl = (await cs.instruments.get("AAPL", include_options_expiry_dates=True)).instrument
    assert aapl.options_expiry_dates is not None and len(aapl.options_expiry_dates) == 3
    option = (await cs.instruments.get("AAPL1 270115C00140000")).instrument
    assert (option.id, option.instrument_type) == (AAPL1_CALL_ID, SecurityType.OPTION)
    assert (await cs.clock.now()).clock == simulator.now()
    equities, options = (await cs.clock.market_hours()).markets
    assert equities.status.day_type is DayType.TRADING_DAY
    assert options.status.current_session is MarketSessionType.REGULAR
    [resting] = await cs.orders.all(DEMO_PRIMARY_ACCOUNT, status=[OrderStatus.NEW])
    assert (resting.symbol, resting.limit_price) == ("MSFT", Decimal("450.00"))
    assert (await cs.orders.get(DEMO_PRIMARY_ACCOUNT, resting.id)).order == resting
    with pytest.raises(APIStatusError) as missing:
        await cs.instruments.get("AAP")
    assert missing.value.status_code == 404 and missing.value.message == "Instrument not found: AAP"
    assert missing.value.request_id
