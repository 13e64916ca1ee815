"""Pages of a listing (positions, orders, option contracts): page tokens, the window a request asks
for, and the paging part of ``metadata`` (Clear Street's API documentation).

Page tokens are unpadded base64url of 16 bytes, ``offset || limit`` as big-endian u64. A token
carries its own page size, so ``page_size`` is ignored when ``page_token`` is sent. ``page_number``
starts at 1; an empty result has ``total_pages`` 0.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request

from .queries import optional_query
from .wire import ApiError

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 1000
_TOKEN = struct.Struct(">QQ")
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    metadata: dict[str, Any]


def page_of(items: Sequence[_T], offset: int, limit: int, rows: Callable[[Sequence[_T]], list[dict[str, Any]]]) -> Page:
    """The page at ``offset`` of ``limit`` items, ``rows`` making the wire rows of its items."""
    return Page(rows(items[offset : offset + limit]), page_metadata(offset, limit, len(items)))


def encode_page_token(offset: int, limit: int) -> str:
    return base64.urlsafe_b64encode(_TOKEN.pack(offset, limit)).rstrip(b"=").decode("ascii")


def decode_page_token(token: str) -> tuple[int, int]:
    """``(offset, limit)`` from a token; ``ValueError`` when it is not one this server issued."""
    text = token.strip()
    if not _TOKEN_TEXT.fullmatch(text):
        raise ValueError("not base64url")
    text = text.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if len(raw) != _TOKEN.size:
        raise ValueError("wrong length")
    offset, limit = _TOKEN.unpack(raw)
    if not 1 <= limit <= MAX_PAGE_SIZE or offset >= 1 << 63:
        raise ValueError("out of range")
    return offset, limit


def page_metadata(offset: int, limit: int, total: int) -> dict[str, Any]:
    """The paging part of ``metadata`` for the page at ``offset`` of ``limit`` rows out of ``total``."""
    return {
        "page_number": offset // limit + 1,
        "total_items": total,
        "total_pages": -(-total // limit),
        "next_page_token": encode_page_token(offset + limit, limit) if offset + limit < total else None,
        "previous_page_token": encode_page_token(max(0, offset - limit), limit) if offset > 0 else None,
    }


def page_window(request: Request) -> tuple[int, int]:
    """``(offset, limit)``: from ``page_token`` when given (``page_size`` is then ignored)."""
    token = optional_query(request, "page_token")
    if token is not None:
        try:
            return decode_page_token(token)
        except ValueError:
            raise ApiError(400, f"page_token {token!r} is not a valid page token") from None
    text = optional_query(request, "page_size")
    if text is None:
        return 0, DEFAULT_PAGE_SIZE
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ApiError(400, f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {text!r}")
    if len(text.lstrip("0")) > len(str(MAX_PAGE_SIZE)) or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ApiError(400, f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {text[:20]}")
    return 0, int(text)
