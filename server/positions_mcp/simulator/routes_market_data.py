"""``GET /v1/market-data/snapshot`` (Clear Street's API documentation), rows as ``market``
builds them, in one of two modes: ``instrument_ids`` (up to 100), or an option chain
(``underlying_instrument_id`` and ``expiry`` together).

Simulator choices where the API says nothing: ids that resolve only in part answer the rows that
resolve, and 404 when none does; both modes, neither, or half of the chain mode are 400s; chain
rows come in expiry, root, type, strike order.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .access import Access
from .envelope import envelope
from .market import contract_sort_key, snapshot_rows
from .queries import date_query, id_list_query, optional_query
from .wire import ApiError


@dataclass(frozen=True, slots=True)
class MarketDataRoutes:
    access: Access

    async def snapshot(self, request: Request) -> Response:
        state = self.access.state
        with self.access.key(request):
            now = state.now()
            by_ids = "instrument_ids" in request.query_params
            underlying_ref = optional_query(request, "underlying_instrument_id")
            chain = underlying_ref is not None or optional_query(request, "expiry") is not None
            if by_ids and chain:
                raise ApiError(400, "instrument_ids cannot be combined with underlying_instrument_id and expiry")
            if chain:
                expiry = date_query(request, "expiry")
                if underlying_ref is None or expiry is None:
                    raise ApiError(400, "underlying_instrument_id and expiry must be provided together")
                underlier = state.instruments.require(underlying_ref)
                contracts = [
                    c for c in state.instruments.options_on(underlier) if c.option and c.option.expiry == expiry
                ]
                data = snapshot_rows(sorted(contracts, key=contract_sort_key), now)
            else:
                ids = id_list_query(request, "instrument_ids", missing="At least one instrument_id is required")
                found = [i for i in (state.instruments.resolve(ref) for ref in ids) if i is not None]
                if not found:
                    raise ApiError(404, f"Instrument not found for id `{ids[0]}`")
                data = snapshot_rows(found, now)
        return envelope(request, data)
