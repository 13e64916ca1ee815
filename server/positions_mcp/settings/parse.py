"""How one setting's text is read: each reader takes the text and the name of the variable it
came from, and returns the value or raises ``ConfigError`` naming that variable, in one line."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from ..clearstreet.config import check_api_key, checked_base_url
from ..secret import Secret

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

T = TypeVar("T")
Parse = Callable[[str, str], T]
"""Reads one setting's text; the second argument names the variable, for the error message."""


class ConfigError(Exception):
    """A configuration that must not start. The message is one line, fit for stderr."""


class Environment(StrEnum):
    SIMULATOR = "simulator"
    DEV = "dev"
    PRODUCTION = "production"
    CUSTOM = "custom"


class ConfirmationMode(StrEnum):
    AUTO = "auto"
    TOKEN = "token"
    ELICITATION = "elicitation"


def account(value: str, what: str) -> int:
    text = value.strip()
    if not text.isdecimal() or int(text) <= 0:
        raise ConfigError(f"{what}: {value!r} is not an account id (a positive whole number)")
    return int(text)


def accounts(value: str, what: str) -> frozenset[int] | None:
    parts = [p for p in value.split(",") if p.strip()]
    return frozenset(account(p, what) for p in parts) or None


def boolean(value: str, what: str) -> bool:
    text = value.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{what}: {value!r} is not true or false")


def one_of(enum: type[StrEnum]) -> Parse[Any]:
    def parse(value: str, what: str) -> Any:
        try:
            return enum(value.strip().lower())
        except ValueError:
            choices = ", ".join(e.value for e in enum if e is not Environment.CUSTOM)
            raise ConfigError(f"{what}: {value!r} is not one of {choices}") from None

    return parse


def environment(value: str, what: str) -> Environment:
    chosen: Environment = one_of(Environment)(value, what)
    if chosen is Environment.CUSTOM:
        raise ConfigError(f"{what}: 'custom' is not set directly; set CLEAR_STREET_BASE_URL instead")
    return chosen


def api_key(value: str, what: str) -> Secret | None:
    if not value:  # an empty --api-key is no key, like an empty variable
        return None
    if "${" in value:
        raise ConfigError(
            f"{what} holds an unexpanded placeholder: this MCP host does not expand "
            "variables; put the key itself in the configuration (or in the environment)"
        )
    try:
        check_api_key(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None
    return Secret(value)


def base_url(value: str, what: str) -> str:
    try:
        checked_base_url(value)
    except ValueError as exc:
        # the message never repeats the URL: it may carry a credential
        raise ConfigError(f"{what}: {exc}") from None
    return value


def whole(low: int, high: int, unit: str) -> Parse[int]:
    def parse(value: str, what: str) -> int:
        if not value.isdecimal() or not low <= int(value) <= high:
            raise ConfigError(f"{what}: {value!r} is not a number of {unit} from {low} to {high}")
        return int(value)

    return parse


def usd(value: str, what: str) -> Decimal:
    amount: Decimal | None
    try:
        amount = Decimal(value.replace(",", "").replace("_", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise ConfigError(f"{what}: {value!r} is not a positive amount in USD")
    return amount


def log_level(value: str, what: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{what}: {value!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def http_url(value: str, what: str) -> str:
    """An ``http(s)://host[:port][/path]`` URL, kept as written: an issuer is compared with a
    token's ``iss`` as an exact string (RFC 8414 section 3.3). No query, fragment or userinfo
    (RFC 8414 section 2 forbids them in an issuer). Whether plain http is allowed depends on the
    host (``settings.check_oauth``)."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ConfigError(f"{what}: {value!r} has a port that is not a number") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {value!r} is not an https:// URL")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"{what}: {value!r} must not carry a query, a fragment or a user name")
    return value


CLAIM_NAME = re.compile(r"[A-Za-z0-9_:./-]{1,100}")


def claim_name(value: str, what: str) -> str:
    if CLAIM_NAME.fullmatch(value) is None:
        raise ConfigError(f"{what}: {value!r} is not a claim name (letters, digits, '_', ':', '.', '/', '-')")
    return value


def secret(value: str, what: str) -> Secret:
    return Secret(value)


def path(value: str, what: str) -> Path:
    return Path(value).expanduser()


REDIS_SCHEMES = ("redis", "rediss")


@dataclass(frozen=True)
class RedisURL:
    """A Redis ledger's address: ``redis://[user:password@]host:port/db`` or ``rediss://…`` (TLS),
    with the query options the ``redis`` client reads (``ssl_ca_certs=…``, ``ssl_cert_reqs=…``).
    The URL may carry a password, so it is kept as a ``Secret``; ``where`` names it without one."""

    url: Secret
    where: str
    """Scheme, host, port and database: what messages may show."""

    @property
    def password(self) -> str | None:
        """The password, in the URL's userinfo or (as the client also reads it) its query."""
        parts = urlsplit(self.url.reveal())
        if parts.password:
            return unquote(parts.password)
        given = parse_qs(parts.query).get("password")
        return given[0] if given else None


def ledger(value: str, what: str) -> Path | RedisURL:
    """A path (SQLite, one machine) or a ``redis://`` / ``rediss://`` URL (every replica's)."""
    scheme, separator, _ = value.partition("://")
    if not separator:
        return path(value, what)
    if scheme.lower() not in REDIS_SCHEMES:
        raise ConfigError(f"{what}: {scheme}:// is not a ledger; give a path (SQLite) or a redis:// or rediss:// URL")
    return redis_url(value, what)


def redis_url(value: str, what: str) -> RedisURL:
    """The URL checked as far as it can be without connecting; errors never repeat it (it may
    carry a password)."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    try:
        port = 6379 if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"{what}: the Redis URL's port is not a number from 1 to 65535")
    if not parts.hostname:
        raise ConfigError(f"{what}: the Redis URL names no host (redis://[user:password@]host:port/db)")
    database = parts.path.strip("/") or "0"
    if not database.isdecimal():
        raise ConfigError(f"{what}: the Redis URL's path must be a database number (…:6379/0)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return RedisURL(url=Secret(value), where=f"{scheme}://{host}:{port}/{int(database)}")
