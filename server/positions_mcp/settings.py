"""Configuration (DESIGN section 3) and its fail-closed rules.

Every setting comes from an environment variable and may be overridden by a command-line flag of the
same meaning. A value that cannot be trusted stops start-up with one clear ``ConfigError`` line;
nothing here guesses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from .clearstreet.config import ENVIRONMENT_URLS, check_api_key, checked_base_url
from .secret import Secret

SIMULATOR_PRIMARY_ACCOUNT = 19816
"""The demo book's primary account (``simulator.book.DEMO_PRIMARY_ACCOUNT``; a test keeps them
equal), named here so that knowing the default account imports nothing of the simulator."""
SIMULATOR_BASE_URL = "http://simulator.invalid"
"""Base URL of the in-process simulator: requests never leave the process (ASGI transport)."""

DEFAULT_CONFIRM_TTL = 120
DEFAULT_HTTP_PORT = 8000
DEFAULT_CALL_TIMEOUT = 45
CALL_TIMEOUT_RANGE = (20, 600)
"""A close or a submit needs 15 s of the deadline left to be sent (clearstreet._requester), so a
deadline under 20 s would refuse every state change."""
DEFAULT_HTTP_MAX_SESSIONS = 100
DEFAULT_HTTP_SESSION_IDLE = 300


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


# (setting, environment variable, command-line flag, help text)
OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("api_key", "CLEAR_STREET_API_KEY", "--api-key", "bearer key for the real API"),
    ("environment", "CLEAR_STREET_ENVIRONMENT", "--environment", "simulator, dev or production"),
    ("base_url", "CLEAR_STREET_BASE_URL", "--base-url", "explicit API base URL (overrides the environment's)"),
    (
        "allowed_accounts",
        "POSITIONS_MCP_ALLOWED_ACCOUNTS",
        "--allowed-accounts",
        "comma-separated account ids the server may touch",
    ),
    (
        "default_account",
        "POSITIONS_MCP_DEFAULT_ACCOUNT",
        "--default-account",
        "account used when a call omits account_id",
    ),
    ("read_only", "POSITIONS_MCP_READ_ONLY", "--read-only", "true: register no state-changing tool"),
    ("confirmation", "POSITIONS_MCP_CONFIRMATION", "--confirmation", "auto, token or elicitation"),
    ("confirm_ttl", "POSITIONS_MCP_CONFIRM_TTL", "--confirm-ttl", "seconds a confirmation token lives (default 120)"),
    (
        "token_secret",
        "POSITIONS_MCP_TOKEN_SECRET",
        "--token-secret",
        "HMAC key for confirmation tokens (default: a random key kept beside the ledger, mode 0600)",
    ),
    (
        "max_close_notional",
        "POSITIONS_MCP_MAX_CLOSE_NOTIONAL",
        "--max-close-notional",
        "cap (USD) on the estimated notional of one close",
    ),
    ("audit_log", "POSITIONS_MCP_AUDIT_LOG", "--audit-log", "path of the JSON-lines audit log"),
    ("http_token", "POSITIONS_MCP_HTTP_TOKEN", "--http-token", "bearer token required by the HTTP transport"),
    (
        "ledger",
        "POSITIONS_MCP_LEDGER",
        "--ledger",
        "path of the single-use ledger (default: ledger.sqlite3 beside the audit log)",
    ),
    (
        "call_timeout",
        "POSITIONS_MCP_CALL_TIMEOUT",
        "--call-timeout",
        "seconds one tool call may take end to end, retries included (default 45)",
    ),
    (
        "http_max_sessions",
        "POSITIONS_MCP_HTTP_MAX_SESSIONS",
        "--http-max-sessions",
        "most concurrent HTTP sessions (default 100)",
    ),
    (
        "http_session_idle",
        "POSITIONS_MCP_HTTP_SESSION_IDLE",
        "--http-session-idle",
        "seconds before an idle HTTP session is closed (default 300)",
    ),
    ("log_level", "POSITIONS_MCP_LOG_LEVEL", "--log-level", "DEBUG, INFO, WARNING or ERROR (logs go to stderr)"),
)
ENV_VARS = {name: env for name, env, _, _ in OPTIONS}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


@dataclass(frozen=True)
class Settings:
    environment: Environment = Environment.SIMULATOR
    base_url: str = SIMULATOR_BASE_URL
    api_key: Secret | None = None
    allowed_accounts: frozenset[int] | None = None
    default_account: int | None = None
    read_only: bool = False
    confirmation: ConfirmationMode = ConfirmationMode.AUTO
    confirm_ttl: int = DEFAULT_CONFIRM_TTL
    token_secret: Secret | None = None  # None: a random key kept beside the ledger (safety.tokens)
    max_close_notional: Decimal | None = None
    audit_log: Path | None = None  # None: the per-user default, resolved by the audit module
    http_token: Secret | None = None
    log_level: str = "WARNING"
    ledger: Path | None = None  # None: ledger.sqlite3 beside the audit log
    call_timeout: int = DEFAULT_CALL_TIMEOUT
    http_max_sessions: int = DEFAULT_HTTP_MAX_SESSIONS
    http_session_idle: int = DEFAULT_HTTP_SESSION_IDLE

    @property
    def is_simulator(self) -> bool:
        return self.environment is Environment.SIMULATOR

    @property
    def environment_label(self) -> str:
        """How results name where they come from; a custom URL is spelled out."""
        if self.environment is Environment.CUSTOM:
            return f"custom ({self.base_url})"
        return self.environment.value

    @property
    def effective_default_account(self) -> int | None:
        """The account a call that omits ``account_id`` acts on: the configured default, else (for
        the simulator) the demo book's primary account."""
        if self.default_account is not None:
            return self.default_account
        return SIMULATOR_PRIMARY_ACCOUNT if self.is_simulator else None

    @property
    def state_changing_enabled(self) -> bool:
        """Fail closed: read-only wins; against anything but the simulator an allowlist is required."""
        if self.read_only:
            return False
        return self.is_simulator or bool(self.allowed_accounts)

    @property
    def withheld(self) -> list[str]:
        """What start-up leaves out and how to enable it, one line each (for stderr)."""
        if self.read_only:
            return [
                "read-only: the close, exercise and cancel tools are not offered "
                "(POSITIONS_MCP_READ_ONLY=true); unset it to offer them"
            ]
        if not self.state_changing_enabled:
            return [
                f"the close, exercise and cancel tools are not offered against the {self.environment_label} "
                "API without an allowlist: set POSITIONS_MCP_ALLOWED_ACCOUNTS to the account ids they may touch"
            ]
        return []

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so that redaction can recognise them wherever they turn up."""
        values = [s.reveal() for s in (self.token_secret, self.api_key, self.http_token) if s is not None]
        return tuple(v for v in values if v)


def _account(value: str, what: str) -> int:
    text = value.strip()
    if not text.isdecimal() or int(text) <= 0:
        raise ConfigError(f"{what}: {value!r} is not an account id (a positive whole number)")
    return int(text)


def _bool(value: str, what: str) -> bool:
    text = value.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{what}: {value!r} is not true or false")


def _choice(enum: type[StrEnum], value: str, what: str) -> Any:
    try:
        return enum(value.strip().lower())
    except ValueError:
        choices = ", ".join(e.value for e in enum if e is not Environment.CUSTOM)
        raise ConfigError(f"{what}: {value!r} is not one of {choices}") from None


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the configuration from ``environ`` (``os.environ``) and command-line ``overrides``.

    ``overrides`` maps setting names (``api_key``, ``read_only`` ...) to flag values; a flag that was
    not given is absent or None. Raises ConfigError with one line saying what is wrong and what to do.
    """
    raw: dict[str, str] = {}
    for name, env, _, _ in OPTIONS:
        value = environ.get(env)
        if value is not None and value.strip() != "":
            raw[name] = value.strip()
    for name, value in (overrides or {}).items():
        if value is None or value is False:
            continue
        raw[name] = "true" if value is True else str(value).strip()

    def where(name: str) -> str:
        return ENV_VARS[name]

    api_key = Secret(raw["api_key"]) if raw.get("api_key") else None
    if api_key is not None:
        if "${" in api_key.reveal():
            raise ConfigError(
                f"{where('api_key')} holds an unexpanded placeholder: this MCP host does not expand "
                "variables; put the key itself in the configuration (or in the environment)"
            )
        try:
            check_api_key(api_key.reveal())
        except ValueError as exc:
            raise ConfigError(f"{where('api_key')}: {exc}") from None
    environment = _choice(Environment, raw["environment"], where("environment")) if "environment" in raw else None
    if environment is Environment.CUSTOM:
        raise ConfigError(f"{where('environment')}: 'custom' is not set directly; set CLEAR_STREET_BASE_URL instead")
    base_url = raw.get("base_url")
    if base_url is not None:
        try:
            checked_base_url(base_url)
        except ValueError as exc:
            # the message never repeats the URL: it may carry a credential
            raise ConfigError(f"{where('base_url')}: {exc}") from None

    if environment is None and base_url is None:
        if api_key is not None:
            raise ConfigError(
                "CLEAR_STREET_API_KEY is set but no API is chosen: set CLEAR_STREET_ENVIRONMENT to "
                "dev or production (or CLEAR_STREET_BASE_URL), or unset the key to use the simulator"
            )
        environment = Environment.SIMULATOR
    if base_url is not None:
        known = {url: env for env, url in ENVIRONMENT_URLS.items()}
        resolved = known.get(base_url.rstrip("/"))
        chosen = environment
        environment = Environment(resolved) if resolved else Environment.CUSTOM
        if chosen is not None and (chosen is Environment.SIMULATOR or (resolved and chosen.value != resolved)):
            raise ConfigError(
                f"CLEAR_STREET_ENVIRONMENT is {chosen.value} but CLEAR_STREET_BASE_URL points at "
                f"{base_url}: unset one of them"
            )
    elif environment is None or environment is Environment.SIMULATOR:
        environment = Environment.SIMULATOR
        base_url = SIMULATOR_BASE_URL
    else:
        base_url = ENVIRONMENT_URLS[environment.value]
    if environment is not Environment.SIMULATOR and api_key is None:
        raise ConfigError(
            f"CLEAR_STREET_API_KEY is required for the {environment.value} API at {base_url}; "
            "set it, or unset CLEAR_STREET_ENVIRONMENT and CLEAR_STREET_BASE_URL to use the simulator"
        )

    allowed = None
    if "allowed_accounts" in raw:
        parts = [p for p in raw["allowed_accounts"].split(",") if p.strip()]
        allowed = frozenset(_account(p, where("allowed_accounts")) for p in parts) or None
    default_account = _account(raw["default_account"], where("default_account")) if "default_account" in raw else None
    if default_account is not None and allowed is not None and default_account not in allowed:
        raise ConfigError(
            f"{where('default_account')}: account {default_account} is not in "
            f"{where('allowed_accounts')}; add it there or choose an allowed account"
        )
    if default_account is None and allowed is not None and len(allowed) == 1:
        (default_account,) = allowed

    confirm_ttl = DEFAULT_CONFIRM_TTL
    if "confirm_ttl" in raw:
        text = raw["confirm_ttl"]
        if not text.isdecimal() or not 5 <= int(text) <= 3600:
            raise ConfigError(f"{where('confirm_ttl')}: {text!r} is not a number of seconds from 5 to 3600")
        confirm_ttl = int(text)

    max_notional = None
    if "max_close_notional" in raw:
        try:
            max_notional = Decimal(raw["max_close_notional"].replace(",", "").replace("_", ""))
        except InvalidOperation:
            max_notional = None
        if max_notional is None or not max_notional.is_finite() or max_notional <= 0:
            raise ConfigError(
                f"{where('max_close_notional')}: {raw['max_close_notional']!r} is not a positive amount in USD"
            )

    def whole(name: str, default: int, low: int, high: int, unit: str) -> int:
        if name not in raw:
            return default
        text = raw[name]
        if not text.isdecimal() or not low <= int(text) <= high:
            raise ConfigError(f"{where(name)}: {text!r} is not a number of {unit} from {low} to {high}")
        return int(text)

    call_timeout = whole("call_timeout", DEFAULT_CALL_TIMEOUT, *CALL_TIMEOUT_RANGE, "seconds")
    http_max_sessions = whole("http_max_sessions", DEFAULT_HTTP_MAX_SESSIONS, 1, 100_000, "sessions")
    http_session_idle = whole("http_session_idle", DEFAULT_HTTP_SESSION_IDLE, 10, 86_400, "seconds")

    log_level = raw.get("log_level", "WARNING").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"{where('log_level')}: {raw['log_level']!r} is not one of {', '.join(LOG_LEVELS)}")

    return Settings(
        environment=environment,
        base_url=base_url,
        api_key=api_key,
        allowed_accounts=allowed,
        default_account=default_account,
        read_only=_bool(raw["read_only"], where("read_only")) if "read_only" in raw else False,
        confirmation=(
            _choice(ConfirmationMode, raw["confirmation"], where("confirmation"))
            if "confirmation" in raw
            else ConfirmationMode.AUTO
        ),
        confirm_ttl=confirm_ttl,
        token_secret=Secret(raw["token_secret"]) if "token_secret" in raw else None,
        max_close_notional=max_notional,
        audit_log=Path(raw["audit_log"]).expanduser() if "audit_log" in raw else None,
        http_token=Secret(raw["http_token"]) if "http_token" in raw else None,
        log_level=log_level,
        ledger=Path(raw["ledger"]).expanduser() if "ledger" in raw else None,
        call_timeout=call_timeout,
        http_max_sessions=http_max_sessions,
        http_session_idle=http_session_idle,
    )


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_transport(settings: Settings, host: str) -> None:
    """The HTTP transport on a non-loopback address needs a bearer token."""
    if not is_loopback(host) and settings.http_token is None:
        raise ConfigError(
            f"refusing to serve MCP over HTTP on {host} without POSITIONS_MCP_HTTP_TOKEN: set a "
            "token (clients send it as 'Authorization: Bearer <token>') or bind to 127.0.0.1"
        )
