"""Test support: a ``MarketView`` filled from what the simulator serves (snapshots, option contracts,
balances), read through the typed client over the in-process transport and made quotes and funds by the
use-case layer's own ``quote_of``/``funds_of``; and hand-written quotes for small books."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import anyio
from positions_mcp.actions.enrichment import funds_of, quote_of
from positions_mcp.clearstreet import ClearStreetClient
from positions_mcp.clearstreet.models import Position, SecurityType
from positions_mcp.domain.contracts import terms_for_positions
from positions_mcp.domain.exposure import (
    DeltaExposure,
    ExpiringTable,
    ExposureSummary,
    TypeExposure,
    UnderlierTable,
)
from positions_mcp.domain.market_view import Greeks, MarketView, Quote
from positions_mcp.simulator import Simulator


async def served_view(simulator: Simulator, account_id: int, positions: Iterable[Position]) -> MarketView:
    rows = list(positions)
    ids = list(
        dict.fromkeys(
            [p.instrument_id for p in rows] + [p.underlying_instrument_id for p in rows if p.underlying_instrument_id]
        )
    )
    options = [p.instrument_id for p in rows if p.instrument_type == SecurityType.OPTION]
    async with ClearStreetClient(api_key="k", base_url="http://simulator", transport=simulator.transport()) as client:
        snapshots = (await client.market_data.snapshots_batched(ids)).snapshots
        contracts = (await client.instruments.option_contracts_batched(options)).contracts
        balances = (await client.balances.get(account_id)).balances
    return MarketView(
        quotes={row.instrument_id: quote_of(row) for row in snapshots},
        terms=terms_for_positions(rows, contracts),
        funds=funds_of(balances),
    )


def demo_book_and_view(simulator: Simulator, account_id: int) -> tuple[list[Position], MarketView]:
    """The account's positions (as parsed wire rows) and the market view the simulator serves for them."""
    positions = [Position.model_validate(row) for row in simulator.positions(account_id)]
    return positions, anyio.run(served_view, simulator, account_id, positions)


def greeks(delta: str, gamma: str = "0", theta: str = "0", vega: str = "0", at: datetime | None = None) -> Greeks:
    return Greeks(Decimal(delta), Decimal(gamma), Decimal(theta), Decimal(vega), Decimal(0), Decimal(0), at)


def quote(instrument_id: str, symbol: str, last: str | None = None, *, close: str | None = None, **kw: object) -> Quote:
    return Quote(
        instrument_id=instrument_id,
        symbol=symbol,
        last=None if last is None else Decimal(last),
        previous_close=None if close is None else Decimal(close),
        **kw,  # type: ignore[arg-type]
    )


def delta_table(delta: DeltaExposure | None) -> UnderlierTable:
    """A summary's delta by underlier, which must be there (one cut to fit may leave it out)."""
    assert delta is not None and delta.by_underlier is not None, "the delta by underlier was left out"
    return delta.by_underlier


def types_of(summary: ExposureSummary) -> list[TypeExposure]:
    """A summary's exposure by instrument type, which must be there (one cut to fit may leave it out)."""
    assert summary.by_type is not None, "the exposure by type was left out"
    return summary.by_type


def row_dicts(table: UnderlierTable | ExpiringTable) -> list[dict[str, Any]]:
    """A table's rows as ``{column: value}``."""
    return [row._asdict() for row in table.rows]
