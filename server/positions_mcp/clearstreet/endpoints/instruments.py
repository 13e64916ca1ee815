"""``client.instruments``: one instrument, and option contracts — a page, every page, or any
number of contract ids in batches."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date
from typing import Final, TypedDict, Unpack

from .._paging import (
    DEFAULT_CONCURRENCY,
    MAX_IDS_PER_REQUEST,
    batches,
    bounded,
    concurrency_limit,
    first_page_only,
    follow_pages,
)
from .._requester import Requester
from .._requests import (
    Params,
    check_filters,
    comma_list,
    date_text,
    enum_text,
    flag_text,
    id_list,
    paging_params,
    path_segment,
    query_text,
)
from .._responses import required
from ..market_models import ContractType, Instrument, OptionsContract
from ..models import Envelope
from ..results import ContractBatchResult, InstrumentResult, OptionContractsPage

__all__ = ["ContractFilters", "ContractTerms", "Instruments", "option_contracts_query"]

INSTRUMENT: Final = Envelope[Instrument]
CONTRACTS: Final = Envelope[list[OptionsContract]]


class ContractTerms(TypedDict, total=False):
    """What narrows a lookup of option contracts by id or by underlier."""

    expiry: date | str | None
    contract_type: ContractType | str | None
    is_settle_on_open: bool | None


class ContractFilters(ContractTerms, total=False):
    """Which option contracts to list: exactly one identifier, ``contract_ids`` (1..100 UUIDs or OSI
    symbols) or the underlier (``underlying_instrument_id`` and/or OSI ``root``, sent as given)."""

    contract_ids: Sequence[str] | None
    underlying_instrument_id: str | None
    root: str | None


def option_contracts_query(filters: ContractFilters, page_size: int | None, page_token: str | None) -> Params:
    """The query of one option-contracts request, keys in the SDK's (alphabetical) order."""
    check_filters(filters, ContractFilters.__optional_keys__)
    contract_ids = filters.get("contract_ids")
    underlying = filters.get("underlying_instrument_id")
    root = filters.get("root")
    if contract_ids is not None and (underlying is not None or root is not None):
        raise ValueError("pass either contract_ids or an underlier (underlying_instrument_id / root), not both")
    if contract_ids is None and underlying is None and root is None:
        raise ValueError("pass contract_ids (1 to 100), or underlying_instrument_id or root")
    params: Params = []
    if contract_ids is not None:
        params.append(("contract_ids", _contract_ids(contract_ids)))
    params += _terms(filters)
    params += paging_params(page_size, page_token)
    if root is not None:
        params.append(("root", query_text(root, "root")))
    if underlying is not None:
        params.append(("underlying_instrument_id", query_text(underlying, "underlying_instrument_id")))
    return params


def _contract_ids(contract_ids: Sequence[str]) -> str:
    ids = id_list(contract_ids, "contract_ids")
    if not ids:
        raise ValueError("contract_ids is empty; pass 1 to 100 ids (option_contracts_batched takes any number)")
    if len(ids) > MAX_IDS_PER_REQUEST:
        raise ValueError(
            f"contract_ids takes at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}; "
            "use option_contracts_batched"
        )
    return comma_list(ids, "contract_ids")


def _terms(terms: ContractTerms) -> Params:
    params: Params = []
    if (contract_type := terms.get("contract_type")) is not None:
        params.append(("contract_type", enum_text(contract_type, "contract_type")))
    if (expiry := terms.get("expiry")) is not None:
        params.append(("expiry", date_text(expiry, "expiry")))
    if (settle_on_open := terms.get("is_settle_on_open")) is not None:
        params.append(("is_settle_on_open", flag_text(settle_on_open, "is_settle_on_open")))
    return params


class Instruments:
    """``GET /v1/instruments/{instrument_id}`` and ``GET /v1/instruments/options/contracts``."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def get(self, instrument_id: str, *, include_options_expiry_dates: bool | None = None) -> InstrumentResult:
        """One instrument by UUID, ticker or OSI symbol; ``include_options_expiry_dates=True`` adds
        its option expiry dates."""
        path = f"v1/instruments/{path_segment(instrument_id, 'instrument_id')}"
        params: Params = []
        if include_options_expiry_dates is not None:
            flag = flag_text(include_options_expiry_dates, "include_options_expiry_dates")
            params.append(("include_options_expiry_dates", flag))
        envelope = await self._requester.read(path, params, INSTRUMENT)
        return InstrumentResult(instrument=required(envelope.data), request_id=envelope.metadata.request_id)

    async def option_contracts(
        self, *, page_size: int | None = None, page_token: str | None = None, **filters: Unpack[ContractFilters]
    ) -> OptionContractsPage:
        """One page of option contracts (:class:`ContractFilters`). The filters are not carried by
        ``page_token``: pass them again, or use :meth:`option_contract_pages`."""
        params = option_contracts_query(filters, page_size, page_token)
        envelope = await self._requester.read("v1/instruments/options/contracts", params, CONTRACTS)
        return OptionContractsPage(
            contracts=list(envelope.data or []), metadata=envelope.metadata, request_id=envelope.metadata.request_id
        )

    def option_contract_pages(
        self, *, page_size: int | None = None, **filters: Unpack[ContractFilters]
    ) -> AsyncIterator[OptionContractsPage]:
        """Every page in turn (:func:`~.._paging.follow_pages`). Arguments are checked here, before
        iteration starts."""
        option_contracts_query(filters, page_size, None)
        return follow_pages(
            lambda token: self.option_contracts(
                page_size=first_page_only(page_size, token), page_token=token, **filters
            )
        )

    async def all_option_contracts(
        self, *, page_size: int | None = None, **filters: Unpack[ContractFilters]
    ) -> list[OptionsContract]:
        """Every matching contract, all pages, in the order the API returned them."""
        pages = self.option_contract_pages(page_size=page_size, **filters)
        return [row async for page in pages for row in page.contracts]

    async def option_contracts_batched(
        self,
        contract_ids: Iterable[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        **terms: Unpack[ContractTerms],
    ) -> ContractBatchResult:
        """Contracts of any number of ids: repeated ids dropped, the rest looked up 100 at a time, at
        most ``concurrency`` lookups at once, every page of each followed. Rows in batch order, one
        per contract ``id``. No ids, no request. The first failure cancels the rest and is raised."""
        groups = batches(id_list(contract_ids, "contract_ids"))
        limit = concurrency_limit(concurrency)
        check_filters(terms, ContractTerms.__optional_keys__)
        if groups:
            first = ContractFilters(contract_ids=groups[0], underlying_instrument_id=None, root=None, **terms)
            option_contracts_query(first, None, None)

        async def lookup(batch: list[str]) -> tuple[list[OptionsContract], list[str | None]]:
            contracts: list[OptionsContract] = []
            request_ids: list[str | None] = []
            async for page in self.option_contract_pages(contract_ids=batch, **terms):
                contracts.extend(page.contracts)
                request_ids.append(page.request_id)
            return contracts, request_ids

        results = await bounded([functools.partial(lookup, batch) for batch in groups], limit)
        seen: set[str] = set()
        rows: list[OptionsContract] = []
        request_ids: list[str | None] = []
        for contracts, ids_of_batch in results:
            request_ids.extend(ids_of_batch)
            for row in contracts:
                if row.id not in seen:
                    seen.add(row.id)
                    rows.append(row)
        return ContractBatchResult(contracts=rows, request_ids=tuple(request_ids))
