"""Configuration and its fail-closed rules.

Every setting is declared once, as a field of ``Settings``: its environment variable, how its
text is read (a reader of ``settings.parse``), its default, an example value and its help text. The command-line flag (``--`` and the field's name
in kebab case), the ``--help`` line, the parsing and the check for unknown variables all come from
that declaration (``OPTIONS``), so adding a setting is adding one field. A flag wins over its
variable. A value that cannot be trusted stops start-up with one clear ``ConfigError`` line;
nothing here guesses.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..clearstreet.config import ENVIRONMENT_URLS
from ..secret import Secret
from . import parse
from .parse import LOG_LEVELS, ConfigError, ConfirmationMode, Environment, Parse, RedisURL

__all__ = [
    "ACCEPTED_ELSEWHERE",
    "DEFAULT_HTTP_PORT",
    "LOG_LEVELS",
    "OPTIONS",
    "ConfigError",
    "ConfirmationMode",
    "Environment",
    "Option",
    "RedisURL",
    "Settings",
    "check_http_transport",
    "check_known_variables",
    "check_oauth",
    "http_backlog",
    "is_loopback",
    "load_settings",
    "setting",
]

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
DEFAULT_HTTP_MAX_CONNECTIONS = 200
DEFAULT_GROUPS_CLAIM = "groups"
MIN_SECRET_BYTES = 32
"""A shared secret that strangers may guess at (a bearer token on a reachable address, the key
every replica signs confirmations with) is at least this long: 256 bits, the output size of the
HMAC-SHA256 it keys (RFC 2104 section 3 advises keys no shorter than that)."""
HTTP_BACKLOG = 2048
"""Connections the kernel may queue before the server accepts them (uvicorn's default)."""
MIN_BACKLOG = 16
DESCRIPTORS_RESERVED = 64
"""File descriptors kept for everything but client connections: the listening socket, the
upstream's and the ledger's connections, the audit log, the interpreter's own files, and the few
refused connections closing (``surface.slow_clients.LINGERING_MAX``)."""
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}

OUR_PREFIXES = ("POSITIONS_MCP_", "CLEAR_STREET_")
"""A variable under one of these prefixes that no setting declares stops start-up: a misspelt
``POSITIONS_MCP_READONLY=true`` must not start with every state-changing tool offered."""
ACCEPTED_ELSEWHERE = frozenset(
    {
        # Read by the official ``clearstreet`` SDK (0.11.0, ``clearstreet/_client.py``): extra
        # request headers. This server does not read it; a shell that also runs SDK scripts may
        # have it set, and that is no misspelling of ours.
        "CLEAR_STREET_CUSTOM_HEADERS",
        # Read by the official ``clearstreet`` SDK (``clearstreet/_utils/_logs.py``): its log
        # level. Not read here either, accepted for the same reason.
        "CLEAR_STREET_LOG",
    }
)
"""Variables under our prefixes that are someone else's, accepted and ignored. (The SDK's third,
``CLEAR_STREET_BASE_URL``, is a setting of ours of the same meaning.)"""

T = TypeVar("T")


# --- the declaration ------------------------------------------------------------------------------

_OPTION = "option"


@dataclass(frozen=True)
class Option:
    """One setting as the outside sees it: its variable, its flag and how their text is read."""

    name: str
    env: str
    help: str
    parse: Parse[Any]
    example: str
    """A value the setting accepts on its own, so that a test can set each variable and its flag."""
    switch: bool
    """A true-or-false setting: its flag takes no value (``--read-only``)."""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def setting(env: str, parse: Parse[Any], *, default: T, example: str, help: str) -> T:
    """Declare a field of ``Settings`` as a setting: read from the variable ``env`` and from the
    flag named after the field, by ``parse``; ``default`` when neither is set; ``example`` is a
    value it accepts on its own, ``help`` its ``--help`` line."""
    spec = {"env": env, "help": help, "parse": parse, "example": example, "switch": isinstance(default, bool)}
    return field(default=default, metadata={_OPTION: spec})


@dataclass(frozen=True)
class Settings:
    """The server's configuration. A new setting is one field here, declared with ``setting``; its
    flag, ``--help`` line, parsing and place among the known variables follow (the README's
    configuration table lists it too, which a test holds to these fields). A rule between settings
    goes beside ``_chosen_api`` and ``_default_account``, called from ``load_settings``."""

    api_key: Secret | None = setting(
        "CLEAR_STREET_API_KEY",
        parse.api_key,
        default=None,
        example="sk-1",
        help="bearer key for the real API",
    )
    environment: Environment = setting(
        "CLEAR_STREET_ENVIRONMENT",
        parse.environment,
        default=Environment.SIMULATOR,
        example="production",
        help="simulator, dev or production",
    )
    base_url: str = setting(
        "CLEAR_STREET_BASE_URL",
        parse.base_url,
        default=SIMULATOR_BASE_URL,
        example="http://127.0.0.1:8765",
        help="explicit API base URL (overrides the environment's)",
    )
    allowed_accounts: frozenset[int] | None = setting(
        "POSITIONS_MCP_ALLOWED_ACCOUNTS",
        parse.accounts,
        default=None,
        example="19816,19817",
        help="comma-separated account ids the server may touch",
    )
    default_account: int | None = setting(
        "POSITIONS_MCP_DEFAULT_ACCOUNT",
        parse.account,
        default=None,
        example="19817",
        help="account used when a call omits account_id",
    )
    read_only: bool = setting(
        "POSITIONS_MCP_READ_ONLY",
        parse.boolean,
        default=False,
        example="true",
        help="true: register no state-changing tool",
    )
    confirmation: ConfirmationMode = setting(
        "POSITIONS_MCP_CONFIRMATION",
        parse.one_of(ConfirmationMode),
        default=ConfirmationMode.AUTO,
        example="token",
        help="auto, token or elicitation",
    )
    confirm_ttl: int = setting(
        "POSITIONS_MCP_CONFIRM_TTL",
        parse.whole(5, 3600, "seconds"),
        default=DEFAULT_CONFIRM_TTL,
        example="60",
        help=f"seconds a confirmation token lives (default {DEFAULT_CONFIRM_TTL})",
    )
    token_secret: Secret | None = setting(
        "POSITIONS_MCP_TOKEN_SECRET",
        parse.secret,
        default=None,  # a random key kept beside the ledger (safety.tokens)
        example="an-hmac-key",
        help="HMAC key for confirmation tokens (default: a random key kept beside the ledger, mode 0600)",
    )
    max_close_notional: Decimal | None = setting(
        "POSITIONS_MCP_MAX_CLOSE_NOTIONAL",
        parse.usd,
        default=None,
        example="25,000.50",
        help="cap (USD) on the estimated notional of one close",
    )
    audit_log: Path | None = setting(
        "POSITIONS_MCP_AUDIT_LOG",
        parse.path,
        default=None,  # the per-user default, resolved by the audit module
        example="~/audit.jsonl",
        help="path of the JSON-lines audit log",
    )
    http_token: Secret | None = setting(
        "POSITIONS_MCP_HTTP_TOKEN",
        parse.secret,
        default=None,
        example="a-bearer-token",
        help="bearer token required by the HTTP transport",
    )
    log_level: str = setting(
        "POSITIONS_MCP_LOG_LEVEL",
        parse.log_level,
        default="WARNING",
        example="info",
        help="DEBUG, INFO, WARNING or ERROR (logs go to stderr)",
    )
    ledger: Path | RedisURL | None = setting(
        "POSITIONS_MCP_LEDGER",
        parse.ledger,
        default=None,
        example="/var/lib/positions/ledger.sqlite3",
        help="the single-use ledger: a SQLite path (default: ledger.sqlite3 beside the audit log) "
        "or redis://[user:password@]host:port/db (rediss:// for TLS), shared by every replica",
    )
    call_timeout: int = setting(
        "POSITIONS_MCP_CALL_TIMEOUT",
        parse.whole(*CALL_TIMEOUT_RANGE, "seconds"),
        default=DEFAULT_CALL_TIMEOUT,
        example="90",
        help=f"seconds one tool call may take end to end, retries included (default {DEFAULT_CALL_TIMEOUT})",
    )
    http_max_sessions: int = setting(
        "POSITIONS_MCP_HTTP_MAX_SESSIONS",
        parse.whole(1, 100_000, "sessions"),
        default=DEFAULT_HTTP_MAX_SESSIONS,
        example="10",
        help=f"most concurrent HTTP sessions (default {DEFAULT_HTTP_MAX_SESSIONS})",
    )
    http_session_idle: int = setting(
        "POSITIONS_MCP_HTTP_SESSION_IDLE",
        parse.whole(10, 86_400, "seconds"),
        default=DEFAULT_HTTP_SESSION_IDLE,
        example="60",
        help=f"seconds before an idle HTTP session is closed (default {DEFAULT_HTTP_SESSION_IDLE})",
    )
    http_stateless: bool = setting(
        "POSITIONS_MCP_HTTP_STATELESS",
        parse.boolean,
        default=False,
        example="true",
        help="true: no HTTP sessions (2025-era clients too), so any replica answers any request",
    )
    http_max_connections: int = setting(
        "POSITIONS_MCP_HTTP_MAX_CONNECTIONS",
        parse.whole(1, 100_000, "connections"),
        default=DEFAULT_HTTP_MAX_CONNECTIONS,
        example="50",
        help=f"most open HTTP connections; beyond it new ones are refused (default {DEFAULT_HTTP_MAX_CONNECTIONS})",
    )
    oauth_issuer: str | None = setting(
        "POSITIONS_MCP_OAUTH_ISSUER",
        parse.http_url,
        default=None,
        example="https://login.desk.example/realms/desk",
        help="OAuth 2.1 resource-server mode: the authorization server's issuer URL (its RFC 8414 "
        "or OpenID metadata gives the jwks_uri)",
    )
    oauth_audience: str | None = setting(
        "POSITIONS_MCP_OAUTH_AUDIENCE",
        parse.http_url,
        default=None,
        example="https://mcp.desk.example/mcp",
        help="this server's resource URL: an access token must name it in aud (RFC 8707)",
    )
    oauth_jwks_url: str | None = setting(
        "POSITIONS_MCP_OAUTH_JWKS_URL",
        parse.http_url,
        default=None,
        example="https://login.desk.example/keys",
        help="the issuer's JWKS URL, when it publishes no metadata",
    )
    oauth_groups_claim: str = setting(
        "POSITIONS_MCP_OAUTH_GROUPS_CLAIM",
        parse.claim_name,
        default=DEFAULT_GROUPS_CLAIM,
        example="roles",
        help=f"the access token's claim listing the person's groups (default {DEFAULT_GROUPS_CLAIM})",
    )
    account_grants: Path | None = setting(
        "POSITIONS_MCP_ACCOUNT_GRANTS",
        parse.path,
        default=None,
        example="/etc/positions/grants.toml",
        help="TOML file: [subjects] and [groups] map a token's sub or group to the account ids it may touch",
    )

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
    def oauth(self) -> bool:
        """OAuth 2.1 resource-server mode: every HTTP request carries a person's access token."""
        return self.oauth_issuer is not None

    @property
    def redis_ledger(self) -> RedisURL | None:
        """The Redis ledger every replica shares, when ``POSITIONS_MCP_LEDGER`` names one."""
        return self.ledger if isinstance(self.ledger, RedisURL) else None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so that redaction can recognise them wherever they turn up: the API
        key, the HTTP token, the token secret, and the Redis ledger's URL and password."""
        redis = self.redis_ledger
        held = (self.token_secret, self.api_key, self.http_token, redis.url if redis else None)
        values = [s.reveal() for s in held if s is not None]
        return tuple(v for v in [*values, redis.password if redis else None] if v)


OPTIONS: tuple[Option, ...] = tuple(Option(name=f.name, **f.metadata[_OPTION]) for f in fields(Settings))
"""Every setting, in the order ``--help`` lists them."""
ENV_VARS = {option.name: option.env for option in OPTIONS}


# --- reading a configuration ----------------------------------------------------------------------


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the configuration from ``environ`` (``os.environ``) and command-line ``overrides``.

    ``overrides`` maps setting names (``api_key``, ``read_only`` ...) to flag values; a flag that was
    not given is absent or None. Raises ConfigError with one line saying what is wrong and what to do:
    an unknown variable under our prefixes first, then each value as read, then how they combine.
    """
    check_known_variables(environ)
    raw = _texts(environ, overrides or {})
    given: dict[str, Any] = {o.name: o.parse(raw[o.name], o.env) for o in OPTIONS if o.name in raw}
    given.update(_chosen_api(given))
    given.update(_default_account(given))
    _check_shared_ledger(given)
    return Settings(**given)


def check_known_variables(environ: Mapping[str, str]) -> None:
    """An environment variable under our prefixes that nothing reads is a misspelling until shown
    otherwise: refuse it, naming the closest known one. Names are compared after their prefix (so
    that the shared prefix does not make every name look alike, and ``CLEAR_STREET_READ_ONLY``
    still finds ``POSITIONS_MCP_READ_ONLY``), and case-blind, since a lower-case
    ``positions_mcp_read_only`` would be ignored just as silently."""
    known = {option.env for option in OPTIONS} | ACCEPTED_ELSEWHERE
    by_rest = {_after_prefix(name): name for name in sorted(known)}
    for name in sorted(environ):
        if not name.upper().startswith(OUR_PREFIXES) or name in known:
            continue
        closest = difflib.get_close_matches(_after_prefix(name.upper()), by_rest, n=1)
        hint = f"did you mean {by_rest[closest[0]]}?" if closest else "--help lists every setting and its variable"
        raise ConfigError(f"unknown setting {name} ({hint})")


def _after_prefix(name: str) -> str:
    return next(name.removeprefix(prefix) for prefix in OUR_PREFIXES if name.startswith(prefix))


def _texts(environ: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, str]:
    """Each setting's text, the flag's over the variable's; an empty variable counts as unset."""
    raw: dict[str, str] = {}
    for option in OPTIONS:
        value = environ.get(option.env)
        if value is not None and value.strip() != "":
            raw[option.name] = value.strip()
    for name, value in overrides.items():
        if value is None or value is False:
            continue
        raw[name] = "true" if value is True else str(value).strip()
    return raw


def _chosen_api(given: Mapping[str, Any]) -> dict[str, Any]:
    """The API to talk to (environment and base URL) from the environment, the base URL and the
    key as given: the simulator when none is set, never a guess when they disagree."""
    api_key = given.get("api_key")
    chosen: Environment | None = given.get("environment")
    base_url: str | None = given.get("base_url")
    if base_url is not None:
        environment = _environment_at(base_url, chosen)
    elif chosen is None or chosen is Environment.SIMULATOR:
        if chosen is None and api_key is not None:
            raise ConfigError(
                "CLEAR_STREET_API_KEY is set but no API is chosen: set CLEAR_STREET_ENVIRONMENT to "
                "dev or production (or CLEAR_STREET_BASE_URL), or unset the key to use the simulator"
            )
        environment, base_url = Environment.SIMULATOR, SIMULATOR_BASE_URL
    else:
        environment, base_url = chosen, ENVIRONMENT_URLS[chosen.value]
    if environment is not Environment.SIMULATOR and api_key is None:
        raise ConfigError(
            f"CLEAR_STREET_API_KEY is required for the {environment.value} API at {base_url}; "
            "set it, or unset CLEAR_STREET_ENVIRONMENT and CLEAR_STREET_BASE_URL to use the simulator"
        )
    return {"environment": environment, "base_url": base_url}


def _environment_at(base_url: str, chosen: Environment | None) -> Environment:
    """The environment a base URL names (custom unless it is a known one), checked against the
    environment chosen beside it."""
    known = {url: env for env, url in ENVIRONMENT_URLS.items()}
    resolved = known.get(base_url.rstrip("/"))
    if chosen is not None and (chosen is Environment.SIMULATOR or (resolved and chosen.value != resolved)):
        raise ConfigError(
            f"CLEAR_STREET_ENVIRONMENT is {chosen.value} but CLEAR_STREET_BASE_URL points at "
            f"{base_url}: unset one of them"
        )
    return Environment(resolved) if resolved else Environment.CUSTOM


def _default_account(given: Mapping[str, Any]) -> dict[str, Any]:
    """The default account must be allowed; the only allowed account is the default."""
    allowed, default = given.get("allowed_accounts"), given.get("default_account")
    if default is not None and allowed is not None and default not in allowed:
        raise ConfigError(
            f"{ENV_VARS['default_account']}: account {default} is not in "
            f"{ENV_VARS['allowed_accounts']}; add it there or choose an allowed account"
        )
    if default is None and allowed is not None and len(allowed) == 1:
        (default,) = allowed
    return {"default_account": default}


def _check_shared_ledger(given: Mapping[str, Any]) -> None:
    """Replicas on one Redis ledger must sign confirmation tokens alike, with a key no stranger
    can guess: a token previewed on one is confirmed on another."""
    if not isinstance(given.get("ledger"), RedisURL):
        return
    secret: Secret | None = given.get("token_secret")
    if secret is None:
        raise ConfigError(
            f"{ENV_VARS['ledger']} is a Redis ledger, shared by replicas that must sign alike: set "
            f"{ENV_VARS['token_secret']} to the same key of at least {MIN_SECRET_BYTES} bytes on every replica"
        )
    _check_long_enough(secret, "token_secret", "with a Redis ledger")


def _check_long_enough(secret: Secret, name: str, where: str) -> None:
    length = len(secret.reveal().encode())
    if length < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{ENV_VARS[name]} is {length} bytes, too short {where}: use at least {MIN_SECRET_BYTES} "
            "random bytes (e.g. the output of 'openssl rand -hex 32')"
        )


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_transport(settings: Settings, host: str) -> None:
    """The HTTP transport on a non-loopback address needs a bearer token, and every secret a
    stranger there could guess at is long enough; the process must be able to hold every
    connection it accepts (``http_backlog``)."""
    check_oauth(settings, http=True)
    if not is_loopback(host):
        if settings.http_token is None and not settings.oauth:
            raise ConfigError(
                f"refusing to serve MCP over HTTP on {host} without POSITIONS_MCP_HTTP_TOKEN or "
                "POSITIONS_MCP_OAUTH_ISSUER: set a token (clients send it as 'Authorization: Bearer "
                "<token>'), turn on OAuth, or bind to 127.0.0.1"
            )
        if settings.http_token is not None:
            _check_long_enough(settings.http_token, "http_token", f"to serve on {host}")
        if settings.token_secret is not None:
            _check_long_enough(settings.token_secret, "token_secret", f"to serve on {host}")
    http_backlog(settings.http_max_connections)


_OAUTH_COMPANIONS = ("oauth_audience", "oauth_jwks_url", "account_grants")


def check_oauth(settings: Settings, *, http: bool) -> None:
    """OAuth resource-server mode and per-person accounts fit together, and only over HTTP: on
    stdio the person is whoever started the process, and no token identifies anyone else."""
    given = [name for name in ("oauth_issuer", *_OAUTH_COMPANIONS) if getattr(settings, name) is not None]
    if settings.oauth_groups_claim != DEFAULT_GROUPS_CLAIM:
        given.append("oauth_groups_claim")
    if not given:
        return
    if not http:
        raise ConfigError(
            f"{ENV_VARS[given[0]]} only applies to the HTTP transport, where access tokens identify each "
            "person: add --transport streamable-http, or unset it to serve stdio"
        )
    if settings.oauth_issuer is None:
        raise ConfigError(
            f"{ENV_VARS[given[0]]} needs {ENV_VARS['oauth_issuer']}: set the authorization server's issuer URL "
            "(OAuth resource-server mode), or unset it"
        )
    if settings.oauth_audience is None:
        raise ConfigError(
            f"{ENV_VARS['oauth_issuer']} needs {ENV_VARS['oauth_audience']}: this server's resource URL "
            "(e.g. https://mcp.desk.example/mcp), which every access token must name in aud"
        )
    if settings.http_token is not None:
        raise ConfigError(
            f"{ENV_VARS['oauth_issuer']} and {ENV_VARS['http_token']} are both set: a server takes OAuth "
            "access tokens or one shared token, not both; unset one"
        )
    for name in ("oauth_issuer", "oauth_audience", "oauth_jwks_url"):
        url = getattr(settings, name)
        parts = urlsplit(url) if url is not None else None
        if parts is not None and parts.scheme.lower() == "http" and not is_loopback(parts.hostname or ""):
            raise ConfigError(
                f"{ENV_VARS[name]}: {url!r} is plain http on a host other than this one; use https:// "
                "(keys and tokens fetched over http could be forged on the way)"
            )


def http_backlog(max_connections: int) -> int:
    """How many connections the kernel may queue for the HTTP server, so that the connections held
    (``max_connections``), those accepted in one burst (asyncio accepts up to the backlog at once,
    before any is looked at) and the server's own files fit under the process's file-descriptor
    limit. The soft limit is raised towards the hard one as far as that needs; a hard limit too low
    even for a small backlog stops start-up (else a burst of sockets ends in 'Too many open files')."""
    try:
        import resource
    except ImportError:  # Windows: no descriptor limit of this kind
        return HTTP_BACKLOG
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + HTTP_BACKLOG + DESCRIPTORS_RESERVED
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    limit = HTTP_BACKLOG if soft == resource.RLIM_INFINITY else soft - max_connections - DESCRIPTORS_RESERVED
    if limit < MIN_BACKLOG:
        raise ConfigError(
            f"{ENV_VARS['http_max_connections']} is {max_connections} but this process may open only {soft} "
            f"files (ulimit -n; hard limit {hard}): lower it to {max(soft - DESCRIPTORS_RESERVED - MIN_BACKLOG, 1)} "
            "or raise the limit"
        )
    return min(limit, HTTP_BACKLOG)
