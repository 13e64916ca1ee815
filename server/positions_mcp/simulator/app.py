"""The simulated API over HTTP as an ASGI app: the six positions endpoints (positions reference
section 0) and the read-only balances, market-data, instrument, calendar and orders endpoints
(Clear Street's market-data API documentation).

Every response is the ``{data, error, metadata}`` envelope with a fresh ``metadata.request_id``
(also sent as ``x-request-id``); every failure, including unknown routes (404) and wrong methods
(405), is the API's error envelope. Checks run in this order: route, bearer key (401), account id
syntax (400), key's access to the account (403), account exists (404), then the request itself.
Market-data, instrument and calendar routes need only a valid bearer key.

Simulator choices where the API says nothing: a snapshot or contract lookup whose ids resolve only
in part answers the rows that resolve (first-seen order, one per instrument) and 404 when none
does; mode errors (both snapshot modes, neither, half of the chain mode, more than 100 ids, both
``contract_ids`` and an underlier) are 400s; chain rows and contract listings come in expiry, root,
type, strike order.

``GET /v1/version`` answers without a key (a health check, as the real API's version endpoint).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ..clearstreet.models import SortBy, SortDirection
from ..domain.calendar import new_york
from .balances import account_balances
from .faults import ConnectionDropped, FaultKind, FaultRule, Faults
from .hours import SIMULATED_MARKETS, clock_row, market_hours_row
from .instructions import fail_batch, list_instructions, parse_batch, submit_batch
from .instruments import SimInstrument
from .market_data import contract_row, contract_sort_key, instrument_row, root_matches, snapshot_rows
from .orders import (
    RANGE_KEYS,
    OrderFilter,
    find_order,
    list_orders,
    parse_instant,
    parse_instrument_type,
    parse_statuses,
)
from .positions import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_page_token, list_positions, page_metadata
from .state import Account, SimOrder, SimulatorState
from .wire import ApiError, error_body

logger = logging.getLogger(__name__)

API_VERSION = "2025-10-31"
FORBIDDEN_MESSAGE = "The caller does not have permission to execute the specified operation"
_ACCOUNT_ID = re.compile(r"[0-9]{1,19}")
_MAX_ACCOUNT_ID = (1 << 63) - 1
_SUBMIT_PATH = re.compile(r"/v1/accounts/[^/]+/positions/instructions")
_NO_BODY = object()
_BATCH_FAILURE_STATUSES = frozenset({500, 503})  # the service itself answers the rows
MAX_IDS = 100
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _request_id(request: Request) -> str:
    return str(request.scope["state"]["request_id"])


def _envelope(
    request: Request,
    data: Any,
    *,
    status: int = 200,
    error: dict[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> JSONResponse:
    request_id = _request_id(request)
    body = {"data": data, "error": error, "metadata": {"request_id": request_id, **(metadata or {})}}
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id})


def _error_response(
    request_id: str, status: int, message: str, headers: Mapping[str, str] | None = None, data: Any = None
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, request_id, data),
        status_code=status,
        headers={**(headers or {}), "x-request-id": request_id},
    )


def _parse_json(raw: bytes) -> Any:
    """The JSON value of a body, or ``_NO_BODY`` when the body is empty or only whitespace."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"Failed to parse the request body as JSON: invalid UTF-8 at byte {exc.start}") from exc
    if not text.strip():
        return _NO_BODY

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"Failed to parse the request body as JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"Failed to parse the request body as JSON: {exc}") from exc


def _optional_query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value is not None and value.strip() else None


def _list_query(request: Request, name: str) -> list[str]:
    """A comma-list parameter (``a,b``), tolerating repeated keys; blanks dropped."""
    return [part.strip() for value in request.query_params.getlist(name) for part in value.split(",") if part.strip()]


def _bool_query(request: Request, name: str) -> bool | None:
    value = _optional_query(request, name)
    if value is None:
        return None
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false, got {value[:40]!r}")
    return text == "true"


def _date_query(request: Request, name: str) -> date | None:
    value = _optional_query(request, name)
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value.strip()):
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(400, f"{name} must be a date in the form YYYY-MM-DD, got {value[:40]!r}") from None


def _enum_query(request: Request, name: str, enum: type[SortBy] | type[SortDirection], default: Any) -> Any:
    value = _optional_query(request, name)
    if value is None:
        return default
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ApiError(400, f"{name} {value!r} is not one of {allowed}") from None


class SimulatedApi:
    """ASGI app of the simulated API. Faults and latency apply around the routes."""

    def __init__(
        self,
        state: SimulatorState,
        faults: Faults,
        *,
        api_keys: Mapping[str, frozenset[int]] | None,
        latency: Callable[[], float],
    ) -> None:
        self.state = state
        self.faults = faults
        self.api_keys = api_keys
        self._latency = latency
        prefix = "/v1/accounts/{account_id}/positions"
        self._routes = Starlette(
            routes=[
                Route("/v1/version", self._version, methods=["GET"]),
                Route(prefix, self._positions, methods=["GET", "DELETE"]),
                Route(prefix + "/instructions", self._instructions, methods=["GET", "POST"]),
                Route(prefix + "/instructions/{instruction_id}", self._cancel_instruction, methods=["DELETE"]),
                Route(prefix + "/{instrument_id}", self._close_position, methods=["DELETE"]),
                Route("/v1/accounts/{account_id}/balances", self._balances, methods=["GET"]),
                Route("/v1/accounts/{account_id}/orders", self._orders, methods=["GET"]),
                Route("/v1/accounts/{account_id}/orders/{order_id}", self._order, methods=["GET"]),
                Route("/v1/market-data/snapshot", self._snapshot, methods=["GET"]),
                Route("/v1/instruments/options/contracts", self._option_contracts, methods=["GET"]),
                Route("/v1/instruments/{instrument_id}", self._instrument, methods=["GET"]),
                Route("/v1/clock", self._clock, methods=["GET"]),
                Route("/v1/calendars/market-hours", self._market_hours, methods=["GET"]),
            ],
            exception_handlers={
                ApiError: self._api_error,
                HTTPException: self._http_error,
                Exception: self._internal_error,
            },
        )
        self._routes.router.redirect_slashes = False

    # ------------------------------------------------------------ ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._routes(scope, receive, send)
            return
        request_id = self.state.ids.request_id()
        scope = {**scope, "state": {**(scope.get("state") or {}), "request_id": request_id}}
        latency = self._latency()
        if latency > 0:
            await anyio.sleep(latency)
        method, path = scope["method"], scope["path"]
        fault = self.faults.take(method, path)
        if fault is None:
            await self._handle(scope, receive, send)
            return
        logger.warning("injected fault %s on %s %s", fault.status or fault.kind.value, method, path)
        if fault.after_processing:
            await self._handle(scope, receive, _discard)  # the request takes effect, its answer is lost
        elif _fails_batch_rows(fault, method, path):
            scope["state"]["fault_status"] = fault.status  # a failed batch still answers every row
            await self._handle(scope, receive, send)
            return
        if fault.kind is FaultKind.DROP:
            raise ConnectionDropped()
        assert fault.status is not None
        response = _error_response(request_id, fault.status, fault.error_message(), fault.headers())
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the routes; a bug still answers the 500 envelope (and is logged), never a traceback."""
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._routes(scope, receive, tracking_send)
        except Exception:
            logger.exception("simulator failed on %s %s", scope["method"], scope["path"])
            if not started:
                request_id = scope["state"]["request_id"]
                await _error_response(request_id, 500, "Internal server error")(scope, receive, send)

    # ------------------------------------------------------ error rendering

    async def _api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error_response(_request_id(request), exc.status, exc.message, exc.headers, exc.data)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = ", ".join(sorted(m.strip() for m in headers.get("Allow", "").split(",") if m.strip()))
            headers["Allow"] = allowed
            message = f"Method {request.method} is not allowed on {request.url.path} (allowed: {allowed})"
        elif exc.status_code == 404:
            message = f"No route for {request.method} {request.url.path}"
        else:
            message = exc.detail
        return _error_response(_request_id(request), exc.status_code, message, headers)

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        return _error_response(_request_id(request), 500, "Internal server error")

    # ------------------------------------------------------- request pieces

    def _authorize(self, request: Request) -> Account:
        """The account of the path, once the key is valid (401) and may use it (403)."""
        allowed = self._authenticate(request)
        text = request.path_params["account_id"]
        if not _ACCOUNT_ID.fullmatch(text) or int(text) > _MAX_ACCOUNT_ID:
            raise ApiError(400, f"account_id must be a non-negative 64-bit integer, got {text!r}")
        account_id = int(text)
        if allowed is not None and account_id not in allowed:
            raise ApiError(403, FORBIDDEN_MESSAGE)
        account = self.state.accounts.get(account_id)
        if account is None:
            raise ApiError(404, f"Account {account_id} not found")
        return account

    def _authenticate(self, request: Request) -> frozenset[int] | None:
        """The accounts the bearer key may use (None: any); 401 without a valid key."""
        header = request.headers.get("authorization")
        challenge = {"WWW-Authenticate": "Bearer"}
        if not header:
            raise ApiError(
                401, "Missing Authorization header: send 'Authorization: Bearer <api key>'", headers=challenge
            )
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "The Authorization header must be 'Bearer <api key>'", headers=challenge)
        allowed: frozenset[int] | None = None
        if self.api_keys is not None:
            allowed = self.api_keys.get(key)
            if allowed is None:
                raise ApiError(401, "Invalid API key", headers=challenge)
        return allowed

    def _resolve(self, identifier: str) -> SimInstrument:
        instrument = self.state.instruments.resolve(identifier)
        if instrument is None:
            raise ApiError(404, f"Instrument not found: {identifier}")
        return instrument

    # ------------------------------------------------------------ endpoints

    async def _positions(self, request: Request) -> Response:
        if request.method == "DELETE":
            return await self._close_positions(request)
        return await self._get_positions(request)

    async def _instructions(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._submit_instructions(request)
        return await self._get_instructions(request)

    async def _version(self, request: Request) -> Response:
        return _envelope(request, {"version": API_VERSION})

    async def _get_positions(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            identifiers = [
                part.strip()
                for value in request.query_params.getlist("instrument_ids")
                for part in value.split(",")
                if part.strip()
            ]
            instrument_ids = {self._resolve(part).instrument_id for part in identifiers} if identifiers else None
            sort_by = _enum_query(request, "sort_by", SortBy, SortBy.SYMBOL)
            direction = _enum_query(request, "sort_direction", SortDirection, SortDirection.ASC)
            offset, limit = _page_window(request)
            page = list_positions(
                self.state,
                account,
                instrument_ids=instrument_ids,
                sort_by=sort_by,
                direction=direction,
                offset=offset,
                limit=limit,
            )
        return _envelope(request, page.rows, metadata=page.metadata)

    async def _close_positions(self, request: Request) -> Response:
        raw = await request.body()
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            orders = self.state.close_all(account, cancel_orders=_cancel_orders_flag(raw))
            data = [order.to_wire() for order in orders]
        _log_orders(account, orders)
        return _envelope(request, data)

    async def _close_position(self, request: Request) -> Response:
        raw = await request.body()
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            instrument = self._resolve(request.path_params["instrument_id"])
            orders = self.state.close_position(account, instrument, cancel_orders=_cancel_orders_flag(raw))
            data = [order.to_wire() for order in orders]
        _log_orders(account, orders)
        return _envelope(request, data)

    async def _get_instructions(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            contract_ref = _optional_query(request, "instrument_id")
            underlying_ref = _optional_query(request, "underlying_instrument_id")
            data = list_instructions(
                account,
                instrument=self._resolve(contract_ref) if contract_ref else None,
                underlying=self._resolve(underlying_ref) if underlying_ref else None,
            )
        return _envelope(request, data)

    async def _submit_instructions(self, request: Request) -> Response:
        raw = await request.body()
        fault_status = request.scope["state"].get("fault_status")
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            body = _parse_json(raw)
            rows = parse_batch(None if body is _NO_BODY else body)
            if fault_status is not None:
                outcome = fail_batch(self.state, account, rows, fault_status)
            else:
                outcome = submit_batch(self.state, account, rows)
        logger.info("account %s: batch of %d instructions answered %d", account.account_id, len(rows), outcome.status)
        if outcome.status >= 400:
            assert outcome.error is not None
            return _error_response(_request_id(request), outcome.status, outcome.error["message"], data=outcome.rows)
        return _envelope(request, outcome.rows, status=outcome.status, error=outcome.error)

    async def _cancel_instruction(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            instruction = self.state.request_cancel(account, request.path_params["instruction_id"])
            data = instruction.to_wire()
        logger.info("account %s: instruction %s is %s", account.account_id, instruction.id, data["status"])
        return _envelope(request, data)

    # ---------------------------------------- balances, market data, instruments, calendar, orders

    async def _balances(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            limit = _optional_query(request, "top_margin_contributors_limit")
            top: int | None = None
            if limit is not None:
                text = limit.strip()
                if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
                    raise ApiError(400, f"top_margin_contributors_limit must be a positive integer, got {text[:20]!r}")
                top = int(text)
            data = account_balances(self.state, account, top_contributors=top)
        return _envelope(request, data)

    async def _snapshot(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            self._authenticate(request)
            now = self.state.now()
            by_ids = "instrument_ids" in request.query_params
            underlying_ref = _optional_query(request, "underlying_instrument_id")
            expiry_text = _optional_query(request, "expiry")
            chain = underlying_ref is not None or expiry_text is not None
            if by_ids and chain:
                raise ApiError(400, "instrument_ids cannot be combined with underlying_instrument_id and expiry")
            if chain:
                expiry = _date_query(request, "expiry")
                if underlying_ref is None or expiry is None:
                    raise ApiError(400, "underlying_instrument_id and expiry must be provided together")
                underlier = self._resolve(underlying_ref)
                contracts = [
                    c for c in self.state.instruments.options_on(underlier) if c.option and c.option.expiry == expiry
                ]
                data = snapshot_rows(sorted(contracts, key=contract_sort_key), now)
            else:
                ids = _list_query(request, "instrument_ids")
                if not ids:
                    raise ApiError(400, "At least one instrument_id is required")
                if len(ids) > MAX_IDS:
                    raise ApiError(400, f"At most {MAX_IDS} instrument_ids are allowed, got {len(ids)}")
                found = [i for i in (self.state.instruments.resolve(ref) for ref in ids) if i is not None]
                if not found:
                    raise ApiError(404, f"Instrument not found for id `{ids[0]}`")
                data = snapshot_rows(found, now)
        return _envelope(request, data)

    async def _option_contracts(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            self._authenticate(request)
            now = self.state.now()
            by_ids = "contract_ids" in request.query_params
            root, alias = _optional_query(request, "root"), _optional_query(request, "underlier")
            if root is not None and alias is not None and root.strip().upper() != alias.strip().upper():
                raise ApiError(400, "root and underlier (its deprecated alias) must be equal when both are sent")
            root = root if root is not None else alias
            underlying_ref = _optional_query(request, "underlying_instrument_id")
            if by_ids == (root is not None or underlying_ref is not None):
                raise ApiError(
                    400, "Exactly one identifier must be provided: contract_ids, or underlying_instrument_id / root"
                )
            if by_ids:
                ids = _list_query(request, "contract_ids")
                if not ids:
                    raise ApiError(400, "At least one contract id is required")
                if len(ids) > MAX_IDS:
                    raise ApiError(400, f"At most {MAX_IDS} contract_ids are allowed, got {len(ids)}")
                resolved = (self.state.instruments.resolve(ref) for ref in ids)
                contracts = list({i.instrument_id: i for i in resolved if i is not None and i.is_option}.values())
                if not contracts:
                    raise ApiError(404, f"Instrument not found: {ids[0]}")
            else:
                if underlying_ref is not None:
                    pool = self.state.instruments.options_on(self._resolve(underlying_ref))
                else:
                    pool = [i for i in self.state.instruments.all() if i.is_option]
                if root is not None:
                    pool = [c for c in pool if root_matches(c, root)]
                    if not pool and underlying_ref is None and self.state.instruments.resolve(root) is None:
                        raise ApiError(404, f"Instrument not found: {root}")
                contracts = sorted(pool, key=contract_sort_key)
            expiry = _date_query(request, "expiry")
            kind = _optional_query(request, "contract_type")
            if kind is not None and kind.strip().upper() not in ("CALL", "PUT"):
                raise ApiError(400, f"contract_type must be CALL or PUT, got {kind[:20]!r}")
            settle_on_open = _bool_query(request, "is_settle_on_open")
            selected = [
                c
                for c in contracts
                if c.option is not None
                and (expiry is None or c.option.expiry == expiry)
                and (kind is None or c.option.right.value == kind.strip().upper())
                and (settle_on_open is None or c.settles_on_open is settle_on_open)
            ]
            offset, limit = _page_window(request)
            data = [contract_row(c, now) for c in selected[offset : offset + limit]]
            metadata = page_metadata(offset, limit, len(selected))
        return _envelope(request, data, metadata=metadata)

    async def _instrument(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            self._authenticate(request)
            instrument = self._resolve(request.path_params["instrument_id"])
            include = bool(_bool_query(request, "include_options_expiry_dates"))
            data = instrument_row(self.state, instrument, self.state.now(), include_expiry_dates=include)
        return _envelope(request, data)

    async def _clock(self, request: Request) -> Response:
        with self.state.lock:
            self._authenticate(request)
            data = clock_row(self.state.now())
        return _envelope(request, data)

    async def _market_hours(self, request: Request) -> Response:
        with self.state.lock:
            self._authenticate(request)
            now = self.state.now()
            day = _date_query(request, "date") or new_york(now).date()
            market = _optional_query(request, "market")
            if market is None:
                markets = list(SIMULATED_MARKETS)
            else:
                wanted = market.strip().lower()
                matching = [m for m in SIMULATED_MARKETS if m.value == wanted]
                if not matching:
                    known = ", ".join(m.value for m in SIMULATED_MARKETS)
                    raise ApiError(400, f"market {market[:40]!r} is not one the simulator serves ({known})")
                markets = matching
            data = [market_hours_row(m, day, now) for m in markets]
        return _envelope(request, data)

    async def _orders(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            statuses = _list_query(request, "status")
            instrument_refs = _list_query(request, "instrument_ids")
            underlying_refs = _list_query(request, "underlying_instrument_ids")
            order_ids = _list_query(request, "order_ids")
            kind = _optional_query(request, "instrument_type")
            created_from, created_to = _optional_query(request, "from"), _optional_query(request, "to")
            updated = tuple(
                (op, parse_instant(text, f"updated_at[{op}]", end_of_day=op in ("gt", "lte")))
                for op in RANGE_KEYS
                if (text := _optional_query(request, f"updated_at[{op}]")) is not None
            )
            lows = [bound for op, bound in updated if op in ("gt", "gte")]
            highs = [bound for op, bound in updated if op in ("lt", "lte")]
            if any(low > high for low in lows for high in highs):
                raise ApiError(400, "updated_at: the lower bound is after the upper bound")
            selection = OrderFilter(
                statuses=parse_statuses(statuses) if statuses else None,
                instrument_ids={self._resolve(ref).instrument_id for ref in instrument_refs} or None,
                underlying_ids={self._resolve(ref).instrument_id for ref in underlying_refs} or None,
                instrument_type=parse_instrument_type(kind) if kind is not None else None,
                order_ids=set(order_ids) or None,
                symbol=_optional_query(request, "symbol"),
                created_from=parse_instant(created_from, "from", end_of_day=False) if created_from else None,
                created_to=parse_instant(created_to, "to", end_of_day=True) if created_to else None,
                updated=updated,
            )
            offset, limit = _page_window(request)
            page = list_orders(account, selection, offset=offset, limit=limit)
        return _envelope(request, page.rows, metadata=page.metadata)

    async def _order(self, request: Request) -> Response:
        with self.state.lock:
            self.state.catch_up()
            account = self._authorize(request)
            data = find_order(account, request.path_params["order_id"]).to_wire()
        return _envelope(request, data)


def _fails_batch_rows(fault: FaultRule, method: str, path: str) -> bool:
    """A 500 or 503 on submit answers every row REJECTED (Clear Street's API documentation) instead of a bare
    envelope. 502 and 504 come from a gateway in front of the service: no rows, like any route."""
    return (
        fault.kind is FaultKind.STATUS
        and fault.status in _BATCH_FAILURE_STATUSES
        and method == "POST"
        and _SUBMIT_PATH.fullmatch(path) is not None
    )


def _page_window(request: Request) -> tuple[int, int]:
    """``(offset, limit)``: from ``page_token`` when given (``page_size`` is then ignored)."""
    token = _optional_query(request, "page_token")
    if token is not None:
        try:
            return decode_page_token(token)
        except ValueError:
            raise ApiError(400, f"page_token {token!r} is not a valid page token") from None
    text = _optional_query(request, "page_size")
    if text is None:
        return 0, DEFAULT_PAGE_SIZE
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ApiError(400, f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {text!r}")
    if len(text.lstrip("0")) > len(str(MAX_PAGE_SIZE)) or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ApiError(400, f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {text[:20]}")
    return 0, int(text)


def _cancel_orders_flag(raw: bytes) -> bool:
    """``cancel_orders`` from a close body: none, empty, ``null``, ``{}`` or ``{"cancel_orders":
    true|false|null}`` (unknown keys ignored); absent or null means false."""
    body = _parse_json(raw)
    if body is _NO_BODY or body is None:
        return False
    if not isinstance(body, dict):
        raise ApiError(400, 'The request body must be a JSON object such as {"cancel_orders": true}, or null')
    flag = body.get("cancel_orders")
    if flag is not None and not isinstance(flag, bool):
        raise ApiError(400, f"cancel_orders must be true, false or null, got {json.dumps(flag, default=str)}")
    return bool(flag)


def _log_orders(account: Account, orders: list[SimOrder]) -> None:
    for order in orders:
        logger.info(
            "account %s: %s sent %s %s %s",
            account.account_id,
            order.client_order_id,
            order.side.value,
            order.quantity,
            order.instrument.symbol,
        )


async def _discard(message: Message) -> None:
    """Swallows a response whose answer an injected fault replaces."""
