"""The read-only endpoints beyond positions: balances, market-data snapshots, option contracts,
instruments, clock, market hours and orders (``clearstreet-market-data-and-accounts.md``).

:class:`MarketDataEndpoints` is a mixin of :class:`~.client.ClearStreetClient`: it only needs the
client's ``_exchange``. Every request is a ``Kind.READ`` (retried on 429, 5xx, timeouts and lost
connections, within the caller's deadline); a non-2xx answer raises :class:`~.errors.APIStatusError`
with the status, the API's message and the request id. Arguments are checked before anything is
sent (``TypeError`` for a wrong type, ``ValueError`` for a wrong value); arrays travel comma-joined
in one query key, booleans as ``true``/``false``, dates as ``YYYY-MM-DD``, keys in the order the
official SDK sends them (reference 1.1).
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, Final, TypeVar

import anyio

from ._exchange import Exchange, Kind
from ._requests import account_path, comma_list, enum_text, page_size_text, path_segment, query_text
from ._responses import ORDERS, required, success_envelope
from .errors import PaginationLoopError
from .market import (
    AccountBalances,
    ClockDetail,
    ContractType,
    Instrument,
    MarketDataSnapshot,
    MarketHoursDetail,
    MarketType,
    OptionsContract,
)
from .models import Envelope, Order, OrderStatus, SecurityType
from .results import (
    BalancesResult,
    ClockResult,
    ContractBatchResult,
    InstrumentResult,
    MarketHoursResult,
    OptionContractsPage,
    OrderResult,
    OrdersPage,
    SnapshotBatchResult,
    SnapshotsResult,
)

__all__ = ["MAX_IDS_PER_REQUEST", "MarketDataEndpoints"]

MAX_IDS_PER_REQUEST: Final = 100
"""At most this many ids per snapshot request and per option-contracts lookup (reference 3, 4)."""
DEFAULT_CONCURRENCY: Final = 4

BALANCES: Final = Envelope[AccountBalances]
SNAPSHOTS: Final = Envelope[list[MarketDataSnapshot]]
CONTRACTS: Final = Envelope[list[OptionsContract]]
INSTRUMENT: Final = Envelope[Instrument]
CLOCK: Final = Envelope[ClockDetail]
MARKET_HOURS: Final = Envelope[list[MarketHoursDetail]]
ORDER: Final = Envelope[Order]

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RANGE_KEYS: Final = ("gt", "gte", "lt", "lte")
_T = TypeVar("_T")
_P = TypeVar("_P", OptionContractsPage, OrdersPage)

Params = list[tuple[str, str]]


# -- argument checks -----------------------------------------------------------------------------


def flag_text(value: bool, name: str) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None")
    return "true" if value else "false"


def date_text(value: date | str, name: str) -> str:
    """``YYYY-MM-DD`` from a ``date`` or a string already in that form (a datetime is refused)."""
    if isinstance(value, datetime):
        raise TypeError(f"{name} must be a date or a 'YYYY-MM-DD' string, not a datetime")
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a date or a 'YYYY-MM-DD' string")
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date in the form YYYY-MM-DD, got {value[:40]!r}") from None
    return value


def timestamp_text(value: datetime | date | str, name: str) -> str:
    """A timestamp as the SDK sends it: ``isoformat()`` of an aware datetime (``+00:00``), a date as
    ``YYYY-MM-DD``, or a string passed through untouched."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return query_text(value, name)


def positive_int_text(value: int, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return str(value)


def _id_list(values: Iterable[str], name: str) -> list[str]:
    """The ids as a list (a lone string is refused: it would be read as its characters)."""
    if isinstance(values, str | bytes):
        raise TypeError(f"{name} must be a sequence of strings, not one string")
    items = list(values)
    for item in items:
        query_text(item, f"each of {name}")
        if "," in item:
            raise ValueError(f"{name}: {item!r} contains a comma")
    return items


def _enum_list(values: Sequence[Enum | str], name: str) -> str:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence, not one string")
    return comma_list([enum_text(value, name) for value in values], name)


def _concurrency(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("concurrency must be an int")
    if value < 1:
        raise ValueError(f"concurrency must be at least 1, got {value}")
    return value


def _batches(items: list[str]) -> list[list[str]]:
    return [items[start : start + MAX_IDS_PER_REQUEST] for start in range(0, len(items), MAX_IDS_PER_REQUEST)]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


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
        ids = _id_list(instrument_ids, "instrument_ids")
        if not ids:
            raise ValueError("instrument_ids is empty; pass 1 to 100 ids (get_snapshots_batched takes any number)")
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError(
                f"instrument_ids takes at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}; "
                "use get_snapshots_batched"
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


def option_contracts_query(
    *,
    contract_ids: Sequence[str] | None,
    underlying_instrument_id: str | None,
    root: str | None,
    expiry: date | str | None,
    contract_type: ContractType | str | None,
    is_settle_on_open: bool | None,
    page_size: int | None,
    page_token: str | None,
) -> Params:
    """The query of one option-contracts request. Exactly one identifier: ``contract_ids`` (1..100)
    or the underlier (``underlying_instrument_id`` and/or ``root``, sent as given)."""
    underlier = underlying_instrument_id is not None or root is not None
    if contract_ids is not None and underlier:
        raise ValueError("pass either contract_ids or an underlier (underlying_instrument_id / root), not both")
    if contract_ids is None and not underlier:
        raise ValueError("pass contract_ids (1 to 100), or underlying_instrument_id or root")
    params: Params = []
    if contract_ids is not None:
        ids = _id_list(contract_ids, "contract_ids")
        if not ids:
            raise ValueError("contract_ids is empty; pass 1 to 100 ids (get_option_contracts_batched takes any number)")
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError(
                f"contract_ids takes at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}; "
                "use get_option_contracts_batched"
            )
        params.append(("contract_ids", comma_list(ids, "contract_ids")))
    if contract_type is not None:
        params.append(("contract_type", enum_text(contract_type, "contract_type")))
    if expiry is not None:
        params.append(("expiry", date_text(expiry, "expiry")))
    if is_settle_on_open is not None:
        params.append(("is_settle_on_open", flag_text(is_settle_on_open, "is_settle_on_open")))
    if page_size is not None:
        params.append(("page_size", page_size_text(page_size)))
    if page_token is not None:
        params.append(("page_token", query_text(page_token, "page_token")))
    if root is not None:
        params.append(("root", query_text(root, "root")))
    if underlying_instrument_id is not None:
        params.append(("underlying_instrument_id", query_text(underlying_instrument_id, "underlying_instrument_id")))
    return params


def orders_query(
    *,
    from_: datetime | date | str | None,
    instrument_ids: Sequence[str] | None,
    instrument_type: SecurityType | str | None,
    order_ids: Sequence[str] | None,
    page_size: int | None,
    page_token: str | None,
    status: Sequence[OrderStatus | str] | None,
    symbol: str | None,
    to: datetime | date | str | None,
    underlying_instrument_ids: Sequence[str] | None,
    updated_at: Mapping[str, datetime | date | str] | None,
) -> Params:
    """The query of one orders request, keys in the SDK's (alphabetical) order; ``from_`` travels as
    ``from`` and ``updated_at={"gte": ...}`` as ``updated_at[gte]``."""
    params: Params = []
    if from_ is not None:
        params.append(("from", timestamp_text(from_, "from_")))
    if instrument_ids is not None:
        params.append(("instrument_ids", comma_list(_id_list(instrument_ids, "instrument_ids"), "instrument_ids")))
    if instrument_type is not None:
        params.append(("instrument_type", enum_text(instrument_type, "instrument_type")))
    if order_ids is not None:
        params.append(("order_ids", comma_list(_id_list(order_ids, "order_ids"), "order_ids")))
    if page_size is not None:
        params.append(("page_size", page_size_text(page_size)))
    if page_token is not None:
        params.append(("page_token", query_text(page_token, "page_token")))
    if status is not None:
        params.append(("status", _enum_list(status, "status")))
    if symbol is not None:
        params.append(("symbol", query_text(symbol, "symbol")))
    if to is not None:
        params.append(("to", timestamp_text(to, "to")))
    if underlying_instrument_ids is not None:
        ids = _id_list(underlying_instrument_ids, "underlying_instrument_ids")
        params.append(("underlying_instrument_ids", comma_list(ids, "underlying_instrument_ids")))
    if updated_at is not None:
        if not isinstance(updated_at, Mapping):
            raise TypeError("updated_at must be a mapping such as {'gte': '2025-10-31'}")
        unknown = sorted(set(updated_at) - set(_RANGE_KEYS))
        if unknown or not updated_at:
            raise ValueError(f"updated_at takes the keys {', '.join(_RANGE_KEYS)}, got {unknown or 'none'}")
        for key, value in updated_at.items():
            params.append((f"updated_at[{key}]", timestamp_text(value, f"updated_at[{key}]")))
    return params


async def _follow_pages(fetch: Callable[[str | None], Awaitable[_P]]) -> AsyncIterator[_P]:
    """Every page in turn (``fetch(None)`` first, then each ``next_page_token``); a token already
    followed raises :class:`PaginationLoopError` instead of looping forever."""
    followed: set[str] = set()
    token: str | None = None
    while True:
        page = await fetch(token)
        yield page
        token = page.next_page_token
        if token is None:
            return
        if token in followed:
            raise PaginationLoopError(
                f"the API returned page token {token[:40]!r} again after following it "
                f"(request_id {page.request_id}); stopping instead of looping"
            )
        followed.add(token)


async def _bounded(jobs: Sequence[Callable[[], Awaitable[_T]]], concurrency: int) -> list[_T]:
    """Run ``jobs`` at most ``concurrency`` at a time; results in job order. The first failure
    cancels the jobs still running and is raised as itself (not wrapped in an exception group)."""
    results: list[_T | None] = [None] * len(jobs)
    failure: Exception | None = None
    limiter = anyio.CapacityLimiter(concurrency)

    async with anyio.create_task_group() as group:

        async def run(index: int, job: Callable[[], Awaitable[_T]]) -> None:
            nonlocal failure
            async with limiter:
                try:
                    results[index] = await job()
                except Exception as exc:
                    if failure is None:
                        failure = exc
                    group.cancel_scope.cancel()

        for index, job in enumerate(jobs):
            group.start_soon(run, index, job)
    if failure is not None:
        raise failure
    return [required(result) for result in results]


class MarketDataEndpoints:
    """Balances, market data, instruments, calendar and orders: the mixin part of the client."""

    _exchange: Exchange

    async def _market_read(self, path: str, params: Params, model: type[Envelope[Any]]) -> Envelope[Any]:
        outcome = await self._exchange.send(Kind.READ, "GET", path, params=params)
        if outcome.failure is not None:
            raise self._exchange.connection_error(outcome, outcome.failure) from outcome.failure
        response = required(outcome.response)
        return success_envelope(response, model, self._exchange.redact, self._exchange.retry.clock())

    # -- balances ----------------------------------------------------------------------------------

    async def get_account_balances(
        self, account_id: int | str, *, top_margin_contributors_limit: int | None = None
    ) -> BalancesResult:
        """Balances, P&L and margin figures (``GET /v1/accounts/{account_id}/balances``).
        ``margin_details.top_contributors`` is only filled when ``top_margin_contributors_limit`` is
        sent."""
        path = f"{account_path(account_id)}/balances"
        params: Params = []
        if top_margin_contributors_limit is not None:
            limit = positive_int_text(top_margin_contributors_limit, "top_margin_contributors_limit")
            params.append(("top_margin_contributors_limit", limit))
        envelope = await self._market_read(path, params, BALANCES)
        return BalancesResult(balances=required(envelope.data), request_id=envelope.metadata.request_id)

    # -- market data -------------------------------------------------------------------------------

    async def get_snapshots(
        self,
        instrument_ids: Sequence[str] | None = None,
        *,
        underlying_instrument_id: str | None = None,
        expiry: date | str | None = None,
    ) -> SnapshotsResult:
        """Latest quote, trade, session figures and (options) greeks (``GET /v1/market-data/snapshot``).

        Either ``instrument_ids`` (1 to 100 UUIDs, tickers or OSI symbols; ids naming the same
        instrument collapse into one row) or ``underlying_instrument_id`` with ``expiry`` (every
        contract of that chain expiry). For more than 100 ids use :meth:`get_snapshots_batched`.
        """
        params = snapshot_query(instrument_ids, underlying_instrument_id, expiry)
        envelope = await self._market_read("v1/market-data/snapshot", params, SNAPSHOTS)
        return SnapshotsResult(snapshots=list(envelope.data or []), request_id=envelope.metadata.request_id)

    async def get_snapshots_batched(
        self, instrument_ids: Iterable[str], *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> SnapshotBatchResult:
        """Snapshots of any number of ids: repeated ids are dropped, the rest split into requests of
        100 sent at most ``concurrency`` at a time. Rows come in batch order, one per instrument (a
        row whose ``instrument_id`` an earlier batch already returned is dropped). No ids, no request.
        The first failing request cancels the others and its error is raised."""
        ids = _unique(_id_list(instrument_ids, "instrument_ids"))
        limit = _concurrency(concurrency)
        jobs = [functools.partial(self.get_snapshots, batch) for batch in _batches(ids)]
        results = await _bounded(jobs, limit)
        seen: set[str] = set()
        rows: list[MarketDataSnapshot] = []
        for result in results:
            for row in result.snapshots:
                if row.instrument_id not in seen:
                    seen.add(row.instrument_id)
                    rows.append(row)
        return SnapshotBatchResult(snapshots=rows, request_ids=tuple(result.request_id for result in results))

    # -- option contracts --------------------------------------------------------------------------

    async def get_option_contracts(
        self,
        *,
        contract_ids: Sequence[str] | None = None,
        underlying_instrument_id: str | None = None,
        root: str | None = None,
        expiry: date | str | None = None,
        contract_type: ContractType | str | None = None,
        is_settle_on_open: bool | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> OptionContractsPage:
        """One page of option contracts (``GET /v1/instruments/options/contracts``): by
        ``contract_ids`` (1 to 100 UUIDs or OSI symbols) or by underlier (``underlying_instrument_id``
        or OSI ``root``), narrowed by ``expiry``, ``contract_type`` and ``is_settle_on_open``. Filters
        are not carried by ``page_token``: pass them again, or use :meth:`iter_option_contract_pages`."""
        params = option_contracts_query(
            contract_ids=contract_ids,
            underlying_instrument_id=underlying_instrument_id,
            root=root,
            expiry=expiry,
            contract_type=contract_type,
            is_settle_on_open=is_settle_on_open,
            page_size=page_size,
            page_token=page_token,
        )
        envelope = await self._market_read("v1/instruments/options/contracts", params, CONTRACTS)
        return OptionContractsPage(
            contracts=list(envelope.data or []), metadata=envelope.metadata, request_id=envelope.metadata.request_id
        )

    def iter_option_contract_pages(
        self,
        *,
        contract_ids: Sequence[str] | None = None,
        underlying_instrument_id: str | None = None,
        root: str | None = None,
        expiry: date | str | None = None,
        contract_type: ContractType | str | None = None,
        is_settle_on_open: bool | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[OptionContractsPage]:
        """Every page in turn, the filters sent again with each token, ``page_size`` only with the
        first request. Arguments are checked here, before iteration starts."""
        filters: dict[str, Any] = {
            "contract_ids": contract_ids,
            "underlying_instrument_id": underlying_instrument_id,
            "root": root,
            "expiry": expiry,
            "contract_type": contract_type,
            "is_settle_on_open": is_settle_on_open,
        }
        option_contracts_query(**filters, page_size=page_size, page_token=None)

        def fetch(token: str | None) -> Awaitable[OptionContractsPage]:
            size = page_size if token is None else None
            return self.get_option_contracts(**filters, page_size=size, page_token=token)

        return _follow_pages(fetch)

    async def get_all_option_contracts(
        self,
        *,
        contract_ids: Sequence[str] | None = None,
        underlying_instrument_id: str | None = None,
        root: str | None = None,
        expiry: date | str | None = None,
        contract_type: ContractType | str | None = None,
        is_settle_on_open: bool | None = None,
        page_size: int | None = None,
    ) -> list[OptionsContract]:
        """Every matching contract, all pages, in the order the API returned them."""
        contracts: list[OptionsContract] = []
        async for page in self.iter_option_contract_pages(
            contract_ids=contract_ids,
            underlying_instrument_id=underlying_instrument_id,
            root=root,
            expiry=expiry,
            contract_type=contract_type,
            is_settle_on_open=is_settle_on_open,
            page_size=page_size,
        ):
            contracts.extend(page.contracts)
        return contracts

    async def get_option_contracts_batched(
        self,
        contract_ids: Iterable[str],
        *,
        expiry: date | str | None = None,
        contract_type: ContractType | str | None = None,
        is_settle_on_open: bool | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> ContractBatchResult:
        """Contracts of any number of ids: repeated ids dropped, the rest looked up 100 at a time, at
        most ``concurrency`` lookups at once, every page of each followed. Rows in batch order, one
        per contract ``id``. No ids, no request. The first failure cancels the rest and is raised."""
        ids = _unique(_id_list(contract_ids, "contract_ids"))
        limit = _concurrency(concurrency)
        filters: dict[str, Any] = {
            "expiry": expiry,
            "contract_type": contract_type,
            "is_settle_on_open": is_settle_on_open,
        }
        if ids:
            option_contracts_query(
                contract_ids=ids[:MAX_IDS_PER_REQUEST],
                underlying_instrument_id=None,
                root=None,
                page_size=None,
                page_token=None,
                **filters,
            )

        async def lookup(batch: list[str]) -> tuple[list[OptionsContract], list[str | None]]:
            contracts: list[OptionsContract] = []
            request_ids: list[str | None] = []
            async for page in self.iter_option_contract_pages(contract_ids=batch, **filters):
                contracts.extend(page.contracts)
                request_ids.append(page.request_id)
            return contracts, request_ids

        results = await _bounded([functools.partial(lookup, batch) for batch in _batches(ids)], limit)
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

    # -- instruments -------------------------------------------------------------------------------

    async def get_instrument_by_id(
        self, instrument_id: str, *, include_options_expiry_dates: bool | None = None
    ) -> InstrumentResult:
        """One instrument by UUID, ticker or OSI symbol (``GET /v1/instruments/{instrument_id}``);
        ``include_options_expiry_dates=True`` adds its option expiry dates."""
        path = f"v1/instruments/{path_segment(instrument_id, 'instrument_id')}"
        params: Params = []
        if include_options_expiry_dates is not None:
            flag = flag_text(include_options_expiry_dates, "include_options_expiry_dates")
            params.append(("include_options_expiry_dates", flag))
        envelope = await self._market_read(path, params, INSTRUMENT)
        return InstrumentResult(instrument=required(envelope.data), request_id=envelope.metadata.request_id)

    # -- calendar ----------------------------------------------------------------------------------

    async def get_clock(self) -> ClockResult:
        """The server's time (``GET /v1/clock``), aware and in UTC."""
        envelope = await self._market_read("v1/clock", [], CLOCK)
        return ClockResult(clock=required(envelope.data).clock, request_id=envelope.metadata.request_id)

    async def get_market_hours_calendar(
        self, *, date: date | str | None = None, market: MarketType | str | None = None
    ) -> MarketHoursResult:
        """Sessions of one day (``GET /v1/calendars/market-hours``): one row per market
        (``us_equities`` and ``us_options`` when ``market`` is omitted), with the next trading day's
        sessions. There is no range query: ask once per date of interest."""
        params: Params = []
        if date is not None:
            params.append(("date", date_text(date, "date")))
        if market is not None:
            params.append(("market", enum_text(market, "market")))
        envelope = await self._market_read("v1/calendars/market-hours", params, MARKET_HOURS)
        return MarketHoursResult(markets=list(envelope.data or []), request_id=envelope.metadata.request_id)

    # -- orders ------------------------------------------------------------------------------------

    async def get_orders(
        self,
        account_id: int | str,
        *,
        status: Sequence[OrderStatus | str] | None = None,
        instrument_ids: Sequence[str] | None = None,
        underlying_instrument_ids: Sequence[str] | None = None,
        instrument_type: SecurityType | str | None = None,
        order_ids: Sequence[str] | None = None,
        symbol: str | None = None,
        from_: datetime | date | str | None = None,
        to: datetime | date | str | None = None,
        updated_at: Mapping[str, datetime | date | str] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> OrdersPage:
        """One page of the account's orders (``GET /v1/accounts/{account_id}/orders``), filtered by
        ``status``, ``instrument_ids``, ``underlying_instrument_ids`` (comma lists), type, ids or
        client order ids, symbol, ``from_``/``to`` and ``updated_at`` (keys ``gt``/``gte``/``lt``/
        ``lte``). Filters are not carried by ``page_token``: see :meth:`iter_order_pages`."""
        path = f"{account_path(account_id)}/orders"
        params = orders_query(
            from_=from_,
            instrument_ids=instrument_ids,
            instrument_type=instrument_type,
            order_ids=order_ids,
            page_size=page_size,
            page_token=page_token,
            status=status,
            symbol=symbol,
            to=to,
            underlying_instrument_ids=underlying_instrument_ids,
            updated_at=updated_at,
        )
        envelope = await self._market_read(path, params, ORDERS)
        return OrdersPage(
            orders=list(envelope.data or []), metadata=envelope.metadata, request_id=envelope.metadata.request_id
        )

    def iter_order_pages(
        self,
        account_id: int | str,
        *,
        status: Sequence[OrderStatus | str] | None = None,
        instrument_ids: Sequence[str] | None = None,
        underlying_instrument_ids: Sequence[str] | None = None,
        instrument_type: SecurityType | str | None = None,
        order_ids: Sequence[str] | None = None,
        symbol: str | None = None,
        from_: datetime | date | str | None = None,
        to: datetime | date | str | None = None,
        updated_at: Mapping[str, datetime | date | str] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[OrdersPage]:
        """Every page in turn, the filters sent again with each token, ``page_size`` only with the
        first request. Arguments are checked here, before iteration starts."""
        filters: dict[str, Any] = {
            "status": status,
            "instrument_ids": instrument_ids,
            "underlying_instrument_ids": underlying_instrument_ids,
            "instrument_type": instrument_type,
            "order_ids": order_ids,
            "symbol": symbol,
            "from_": from_,
            "to": to,
            "updated_at": updated_at,
        }
        account_path(account_id)
        orders_query(**filters, page_size=page_size, page_token=None)

        def fetch(token: str | None) -> Awaitable[OrdersPage]:
            size = page_size if token is None else None
            return self.get_orders(account_id, **filters, page_size=size, page_token=token)

        return _follow_pages(fetch)

    async def get_all_orders(
        self,
        account_id: int | str,
        *,
        status: Sequence[OrderStatus | str] | None = None,
        instrument_ids: Sequence[str] | None = None,
        underlying_instrument_ids: Sequence[str] | None = None,
        instrument_type: SecurityType | str | None = None,
        order_ids: Sequence[str] | None = None,
        symbol: str | None = None,
        from_: datetime | date | str | None = None,
        to: datetime | date | str | None = None,
        updated_at: Mapping[str, datetime | date | str] | None = None,
        page_size: int | None = None,
    ) -> list[Order]:
        """Every matching order, all pages, in the order the API returned them."""
        orders: list[Order] = []
        async for page in self.iter_order_pages(
            account_id,
            status=status,
            instrument_ids=instrument_ids,
            underlying_instrument_ids=underlying_instrument_ids,
            instrument_type=instrument_type,
            order_ids=order_ids,
            symbol=symbol,
            from_=from_,
            to=to,
            updated_at=updated_at,
            page_size=page_size,
        ):
            orders.extend(page.orders)
        return orders

    async def get_order_by_id(self, account_id: int | str, order_id: str) -> OrderResult:
        """One order by its ``id`` (or its ``client_order_id`` while the order is open)."""
        path = f"{account_path(account_id)}/orders/{path_segment(order_id, 'order_id')}"
        envelope = await self._market_read(path, [], ORDER)
        return OrderResult(order=required(envelope.data), request_id=envelope.metadata.request_id)
