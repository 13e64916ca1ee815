"""``GET /v1/instruments/{instrument_id}`` and ``GET /v1/instruments/options/contracts`` (Clear
Street's API documentation), rows as ``market`` builds them.

Contracts are looked up by ``contract_ids`` (up to 100), or by ``underlying_instrument_id`` and/or
``root`` (``underlier`` is its deprecated alias), then filtered by ``expiry``, ``contract_type``
and ``is_settle_on_open``; paged as ``pages`` says. Simulator choices where the API says nothing:
ids that resolve only in part answer the contracts that resolve (first-seen order, one per
instrument), and 404 when none does; both lookups or neither is a 400; contracts come in expiry,
root, type, strike order.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .access import Access
from .envelope import envelope
from .instrument_registry import InstrumentRegistry, SimInstrument
from .market import contract_row, contract_sort_key, instrument_row, root_matches
from .pages import page_of, page_window
from .queries import bool_query, date_query, id_list_query, optional_query
from .wire import ApiError


@dataclass(frozen=True, slots=True)
class InstrumentRoutes:
    access: Access

    async def instrument(self, request: Request) -> Response:
        state = self.access.state
        with self.access.key(request):
            instrument = state.instruments.require(request.path_params["instrument_id"])
            include = bool(bool_query(request, "include_options_expiry_dates"))
            data = instrument_row(state, instrument, state.now(), include_expiry_dates=include)
        return envelope(request, data)

    async def option_contracts(self, request: Request) -> Response:
        state = self.access.state
        with self.access.key(request):
            now = state.now()
            selected = _filtered(request, _looked_up(request, state.instruments))
            offset, limit = page_window(request)
            page = page_of(selected, offset, limit, lambda contracts: [contract_row(c, now) for c in contracts])
        return envelope(request, page.rows, metadata=page.metadata)


def _looked_up(request: Request, instruments: InstrumentRegistry) -> list[SimInstrument]:
    """The contracts ``contract_ids`` name, or those on the underlier and/or root, sorted."""
    by_ids = "contract_ids" in request.query_params
    root, alias = optional_query(request, "root"), optional_query(request, "underlier")
    if root is not None and alias is not None and root.strip().upper() != alias.strip().upper():
        raise ApiError(400, "root and underlier (its deprecated alias) must be equal when both are sent")
    root = root if root is not None else alias
    underlying_ref = optional_query(request, "underlying_instrument_id")
    if by_ids == (root is not None or underlying_ref is not None):
        raise ApiError(400, "Exactly one identifier must be provided: contract_ids, or underlying_instrument_id / root")
    if by_ids:
        ids = id_list_query(request, "contract_ids", missing="At least one contract id is required")
        resolved = (instruments.resolve(ref) for ref in ids)
        contracts = list({i.instrument_id: i for i in resolved if i is not None and i.is_option}.values())
        if not contracts:
            raise ApiError(404, f"Instrument not found: {ids[0]}")
        return contracts
    if underlying_ref is not None:
        pool = instruments.options_on(instruments.require(underlying_ref))
    else:
        pool = [i for i in instruments.all() if i.is_option]
    if root is not None:
        pool = [c for c in pool if root_matches(c, root)]
        if not pool and underlying_ref is None and instruments.resolve(root) is None:
            raise ApiError(404, f"Instrument not found: {root}")
    return sorted(pool, key=contract_sort_key)


def _filtered(request: Request, contracts: list[SimInstrument]) -> list[SimInstrument]:
    """``contracts`` of the ``expiry``, ``contract_type`` and ``is_settle_on_open`` asked for."""
    expiry = date_query(request, "expiry")
    kind = optional_query(request, "contract_type")
    if kind is not None and kind.strip().upper() not in ("CALL", "PUT"):
        raise ApiError(400, f"contract_type must be CALL or PUT, got {kind[:20]!r}")
    settle_on_open = bool_query(request, "is_settle_on_open")
    return [
        c
        for c in contracts
        if c.option is not None
        and (expiry is None or c.option.expiry == expiry)
        and (kind is None or c.option.right.value == kind.strip().upper())
        and (settle_on_open is None or c.settles_on_open is settle_on_open)
    ]
