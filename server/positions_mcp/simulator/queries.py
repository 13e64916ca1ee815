"""What a request sends: query parameters and JSON bodies, read as the API reads them, every
malformed one a 400 saying what was wrong (Clear Street's API documentation).

Blank query values count as absent; comma-list parameters (``a,b``) tolerate repeated keys.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from ..clearstreet.models import SortBy, SortDirection
from .wire import ApiError

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NO_BODY = object()
"""``parse_json`` of an empty (or whitespace) body."""


def parse_json(raw: bytes) -> Any:
    """The JSON value of a body, or ``NO_BODY`` when the body is empty or only whitespace."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"Failed to parse the request body as JSON: invalid UTF-8 at byte {exc.start}") from exc
    if not text.strip():
        return NO_BODY

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


def optional_query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value is not None and value.strip() else None


def list_query(request: Request, name: str) -> list[str]:
    """A comma-list parameter (``a,b``), tolerating repeated keys; blanks dropped."""
    return [part.strip() for value in request.query_params.getlist(name) for part in value.split(",") if part.strip()]


def bool_query(request: Request, name: str) -> bool | None:
    value = optional_query(request, name)
    if value is None:
        return None
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false, got {value[:40]!r}")
    return text == "true"


def date_query(request: Request, name: str) -> date | None:
    value = optional_query(request, name)
    if value is None:
        return None
    try:
        if not ISO_DATE.fullmatch(value.strip()):
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(400, f"{name} must be a date in the form YYYY-MM-DD, got {value[:40]!r}") from None


def enum_query(request: Request, name: str, enum: type[SortBy] | type[SortDirection], default: Any) -> Any:
    value = optional_query(request, name)
    if value is None:
        return default
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ApiError(400, f"{name} {value!r} is not one of {allowed}") from None


def positive_int_query(request: Request, name: str) -> int | None:
    """A positive whole number of at most nine digits (a limit), or None when absent."""
    value = optional_query(request, name)
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise ApiError(400, f"{name} must be a positive integer, got {text[:20]!r}")
    return int(text)


MAX_IDS = 100
"""Ids one snapshot or contract lookup takes."""


def id_list_query(request: Request, name: str, *, missing: str) -> list[str]:
    """A comma-list of 1 to ``MAX_IDS`` ids; ``missing`` is the 400's message when there is none."""
    ids = list_query(request, name)
    if not ids:
        raise ApiError(400, missing)
    if len(ids) > MAX_IDS:
        raise ApiError(400, f"At most {MAX_IDS} {name} are allowed, got {len(ids)}")
    return ids
