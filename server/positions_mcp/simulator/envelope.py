"""The response envelope: ``{data, error, metadata}`` with a fresh ``metadata.request_id``, also sent
as ``x-request-id``; failures carry the API's error body (``wire.error_body``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .wire import error_body


def request_id(request: Request) -> str:
    """The id ``SimulatedApi`` gave this request."""
    return str(request.scope["state"]["request_id"])


def envelope(
    request: Request,
    data: Any,
    *,
    status: int = 200,
    error: dict[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> JSONResponse:
    identifier = request_id(request)
    body = {"data": data, "error": error, "metadata": {"request_id": identifier, **(metadata or {})}}
    return JSONResponse(body, status_code=status, headers={"x-request-id": identifier})


def error_response(
    identifier: str, status: int, message: str, headers: Mapping[str, str] | None = None, data: Any = None
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, identifier, data),
        status_code=status,
        headers={**(headers or {}), "x-request-id": identifier},
    )
