"""Building requests: paths, query values and bodies exactly as the official SDK sends them: path
segments percent-encoded, arrays comma-joined in one key, booleans as ``true``/``false``, dates as
``YYYY-MM-DD``. Every check runs before anything is sent (``TypeError`` for a wrong type,
``ValueError`` for a wrong value)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Final
from urllib.parse import quote

from .decimals import plain
from .models import InstructionRequest, new_instruction_key

MAX_PAGE_SIZE: Final = 1000
_MAX_ACCOUNT_ID: Final = 2**63 - 1
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Params = list[tuple[str, str]]


def account_path(account_id: int | str) -> str:
    """``v1/accounts/{account_id}``: relative, so a base URL's path prefix is kept."""
    if isinstance(account_id, bool) or not isinstance(account_id, int | str):
        raise TypeError("account_id must be an int or a string of digits")
    if isinstance(account_id, str):
        if not re.fullmatch(r"[0-9]{1,19}", account_id):
            raise ValueError(f"account_id must be a non-negative integer, got {account_id!r}")
        account_id = int(account_id)
    if not 0 <= account_id <= _MAX_ACCOUNT_ID:
        raise ValueError(f"account_id out of range: {account_id}")
    return f"v1/accounts/{account_id}"


def path_segment(value: str, name: str) -> str:
    """``value`` percent-encoded as one RFC 3986 path segment (space → %20, ``/`` → %2F)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    if value in ("", ".", ".."):
        raise ValueError(f"{name} must not be empty, '.' or '..'")
    return quote(value, safe="!$&'()*+,;=:@")


def query_text(value: str, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def enum_text(value: Enum | str, name: str) -> str:
    return query_text(value.value if isinstance(value, Enum) else value, name)


def comma_list(values: Sequence[str], name: str, *, limit: int | None = None) -> str:
    """One query value for an array parameter: the elements comma-joined, as the official SDK sends
    arrays."""
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of strings, not one string")
    items = list(values)
    if not items:
        raise ValueError(f"{name} is empty")
    if limit is not None and len(items) > limit:
        raise ValueError(f"{name} takes at most {limit} values, got {len(items)}")
    for item in items:
        query_text(item, f"each of {name}")
        if "," in item:
            raise ValueError(f"{name}: {item!r} contains a comma")
    return ",".join(items)


def page_size_text(page_size: int, maximum: int = MAX_PAGE_SIZE) -> str:
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise TypeError("page_size must be an int")
    if not 1 <= page_size <= maximum:
        raise ValueError(f"page_size must be between 1 and {maximum}, got {page_size}")
    return str(page_size)


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


def id_list(values: Iterable[str], name: str) -> list[str]:
    """The ids as a list (a lone string is refused: it would be read as its characters)."""
    if isinstance(values, str | bytes):
        raise TypeError(f"{name} must be a sequence of strings, not one string")
    items = list(values)
    for item in items:
        query_text(item, f"each of {name}")
        if "," in item:
            raise ValueError(f"{name}: {item!r} contains a comma")
    return items


def enum_list(values: Sequence[Enum | str], name: str) -> str:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence, not one string")
    return comma_list([enum_text(value, name) for value in values], name)


def check_filters(filters: Mapping[str, object], known: Collection[str]) -> None:
    """Refuse a filter the endpoint does not take, as Python refuses an unknown keyword argument."""
    unknown = sorted(set(filters) - set(known))
    if unknown:
        raise TypeError(f"unexpected argument {unknown[0]!r}; the filters are: {', '.join(sorted(known))}")


def paging_params(page_size: int | None, page_token: str | None) -> Params:
    params: Params = []
    if page_size is not None:
        params.append(("page_size", page_size_text(page_size)))
    if page_token is not None:
        params.append(("page_token", query_text(page_token, "page_token")))
    return params


def keyed_instructions(
    instructions: Sequence[InstructionRequest],
) -> tuple[list[InstructionRequest], set[str]]:
    """The rows with a ``client_instruction_id`` on each (filled in where missing), and the filled keys."""
    if isinstance(instructions, InstructionRequest):
        raise TypeError("instructions must be a sequence of InstructionRequest, not a single one")
    rows: list[InstructionRequest] = []
    generated: set[str] = set()
    seen: set[str] = set()
    for row in instructions:
        if not isinstance(row, InstructionRequest):
            raise TypeError(f"each instruction must be an InstructionRequest, got {type(row).__name__}")
        if not row.quantity.is_finite() or row.quantity <= 0:
            raise ValueError(f"quantity must be a positive number, got {row.quantity}")
        key = row.client_instruction_id
        if key is None:
            key = new_instruction_key()
            generated.add(key)
            row = row.model_copy(update={"client_instruction_id": key})
        elif not key:
            raise ValueError("client_instruction_id must not be empty; leave it None to have one generated")
        if key in seen:
            raise ValueError(f"client_instruction_id {key!r} appears twice in one batch")
        seen.add(key)
        rows.append(row)
    if not rows:
        raise ValueError("submit at least one instruction")
    return rows, generated


def instruction_row(row: InstructionRequest) -> dict[str, str]:
    key = row.client_instruction_id
    assert key is not None  # keyed_instructions fills every key
    return {
        "instruction_type": row.instruction_type.value,
        "instrument_id": row.instrument_id,
        "quantity": plain(row.quantity),
        "client_instruction_id": key,
    }


def json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
