"""The simulated API over HTTP: the six positions endpoints (reference section 0) as an ASGI app.

Every response is the ``{data, error, metadata}`` envelope with a fresh ``metadata.request_id``
(also sent as ``x-request-id``); every failure, including unknown routes (404) and wrong methods
(405), is the API's error envelope. Checks run in this order: route, bearer key (401), account id
syntax (400), key's access to the account (403), account exists (404), then the request itself.

``GET /v1/version`` answers without a key (a health check, as the real API's version endpoint).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
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
from .faults import ConnectionDropped, FaultKind, FaultRule, Faults
from .instructions import fail_batch, list_instructions, parse_batch, submit_batch
from .instruments import SimInstrument
from .positions import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_page_token, list_positions
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


def _fails_batch_rows(fault: FaultRule, method: str, path: str) -> bool:
    """A 500 or 503 on submit answers every row REJECTED (reference 6.2) instead of a bare
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
