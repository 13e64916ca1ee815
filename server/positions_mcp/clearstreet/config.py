"""Where the API is and what a usable key looks like. No HTTP here: settings import this at start-up.

The base URLs are the official SDK's (Clear Street's API documentation); a base URL with a path prefix is honoured.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

__all__ = ["ENVIRONMENT_URLS", "check_api_key", "checked_base_url"]

ENVIRONMENT_URLS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "production": "https://api.clearstreet.com",
        "dev": "https://api-dev.clearstreet.com",
    }
)


def check_api_key(api_key: str) -> None:
    """ValueError unless ``api_key`` can travel in an Authorization header. Never quotes it."""
    if not isinstance(api_key, str) or not api_key:
        raise ValueError("the API key is empty")
    if not api_key.isascii() or not api_key.isprintable() or any(char.isspace() for char in api_key):
        raise ValueError("the API key must be printable ASCII without spaces (was it pasted with extra characters?)")


def checked_base_url(base_url: str) -> str:
    """The base URL with a trailing ``/``; ValueError if it is not absolute http(s) or carries
    credentials, a query or a fragment (which would then show wherever the URL is shown).
    The message never repeats the URL: it may carry a credential."""
    if not isinstance(base_url, str):
        raise ValueError("base_url must be a string")
    try:
        parts = urlsplit(base_url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"base_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("base_url must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("base_url must not contain credentials; the API key is passed separately")
    if parts.query or parts.fragment or base_url.strip().endswith(("?", "#")):
        raise ValueError("base_url must not have a query string or fragment")
    text = base_url.strip()
    return text if text.endswith("/") else text + "/"
