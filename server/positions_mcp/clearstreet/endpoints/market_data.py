"""``client.market_data``: snapshots (latest quote, trade, session figures and, for options, greeks),
by ids or by option chain, and for any number of ids in batches."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

from .._paging import DEFAULT_CONCURRENCY, MAX_IDS_PER_REQUEST, batches, bounded, concurrency_limit
from .._requester import Requester
from .._requests import Params, comma_list, date_text, id_list, query_text
from ..market_models import MarketDataSnapshot
from ..models import Envelope
from ..results import SnapshotBatchResult, SnapshotsResult

__all__ = ["MarketData", "snapshot_query"]

SNAPSHOTS: Final = Envelope[list[MarketDataSnapshot]]


def snapshot_query(
    instrument_ids: Sequence[str] | None,
    underlying_instrument_id: str | None,
    expiry: date | str | None,
) -> Params:
    """The query of one snapshot request: mode A (1..100 ids) or mode B (underlier and expiry)."""
    chain = underlying_instrument_id is not None or expiry is not None
    if instrument_ids is not None and chain:
        raise ValueError(
            "pass either instrument_ids or underlying_instrument_id with expiry, not both (the modes are exclusive)"
        )
    if instrument_ids is not None:
        ids = id_list(instrument_ids, "instrument_ids")
        if not ids:
            raise ValueError("instrument_ids is empty; pass 1 to 100 ids (snapshots_batched takes any number)")
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError(
                f"instrument_ids takes at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}; "
                "use snapshots_batched"
            )
        return [("instrument_ids", comma_list(ids, "instrument_ids"))]
    if not chain:
        raise ValueError("pass instrument_ids (1 to 100), or underlying_instrument_id together with expiry")
    if underlying_instrument_id is None or expiry is None:
        raise ValueError("underlying_instrument_id and expiry go together: pass both for an option chain")
    return [
        ("expiry", date_text(expiry, "expiry")),
        ("underlying_instrument_id", query_text(underlying_instrument_id, "underlying_instrument_id")),
    ]


class MarketData:
    """``GET /v1/market-data/snapshot``."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def snapshots(
        self,
        instrument_ids: Sequence[str] | None = None,
        *,
        underlying_instrument_id: str | None = None,
        expiry: date | str | None = None,
    ) -> SnapshotsResult:
        """Either ``instrument_ids`` (1 to 100 UUIDs, tickers or OSI symbols; ids naming the same
        instrument collapse into one row) or ``underlying_instrument_id`` with ``expiry`` (every
        contract of that chain expiry). For more than 100 ids use :meth:`snapshots_batched`."""
        params = snapshot_query(instrument_ids, underlying_instrument_id, expiry)
        envelope = await self._requester.read("v1/market-data/snapshot", params, SNAPSHOTS)
        return SnapshotsResult(snapshots=list(envelope.data or []), request_id=envelope.metadata.request_id)

    async def snapshots_batched(
        self, instrument_ids: Iterable[str], *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> SnapshotBatchResult:
        """Snapshots of any number of ids: repeated ids are dropped, the rest split into requests of
        100 sent at most ``concurrency`` at a time. Rows come in batch order, one per instrument (a
        row whose ``instrument_id`` an earlier batch already returned is dropped). No ids, no request.
        The first failing request cancels the others and its error is raised."""
        groups = batches(id_list(instrument_ids, "instrument_ids"))
        limit = concurrency_limit(concurrency)
        results = await bounded([functools.partial(self.snapshots, batch) for batch in groups], limit)
        seen: set[str] = set()
        rows: list[MarketDataSnapshot] = []
        for result in results:
            for row in result.snapshots:
                if row.instrument_id not in seen:
                    seen.add(row.instrument_id)
                    rows.append(row)
        return SnapshotBatchResult(snapshots=rows, request_ids=tuple(result.request_id for result in results))
