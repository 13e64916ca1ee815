"""Start-up and configuration rules: fail closed, one line, no traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from positions_mcp import cli
from positions_mcp.settings import (
    ACCEPTED_ELSEWHERE,
    OPTIONS,
    ConfigError,
    ConfirmationMode,
    Environment,
    Option,
    check_http_transport,
    load_settings,
)

SCRIPT = Path(sys.executable).with_name("clearstreet-positions-mcp")


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLEAR_STREET_", "POSITIONS_MCP_"))}
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_nothing_set_means_the_simulator() -> None:
    settings = load_settings({})
    assert settings.environment is Environment.SIMULATOR
    assert settings.environment_label == "simulator"
    assert settings.state_changing_enabled
    assert settings.confirmation is ConfirmationMode.AUTO
    assert settings.confirm_ttl == 120


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CLEAR_STREET_API_KEY": "k"}, "no API is chosen"),
        ({"CLEAR_STREET_ENVIRONMENT": "staging"}, "'staging' is not one of simulator, dev, production"),
        ({"CLEAR_STREET_ENVIRONMENT": "production"}, "CLEAR_STREET_API_KEY is required"),
        (
            {"CLEAR_STREET_API_KEY": "${env:CLEAR_STREET_API_KEY}", "CLEAR_STREET_ENVIRONMENT": "dev"},
            "unexpanded placeholder",
        ),
        ({"CLEAR_STREET_API_KEY": "…", "CLEAR_STREET_ENVIRONMENT": "dev"}, "printable ASCII without spaces"),
        ({"CLEAR_STREET_API_KEY": "sk live", "CLEAR_STREET_ENVIRONMENT": "dev"}, "printable ASCII without spaces"),
        ({"CLEAR_STREET_BASE_URL": "ftp://x"}, "must be an absolute http:// or https:// URL"),
        ({"CLEAR_STREET_BASE_URL": "https://user:pw@api.example"}, "must not contain credentials"),
        ({"CLEAR_STREET_BASE_URL": "https://api.example/?apikey=sk-1"}, "must not have a query string"),
        (
            {"CLEAR_STREET_ENVIRONMENT": "simulator", "CLEAR_STREET_BASE_URL": "https://api.clearstreet.com"},
            "CLEAR_STREET_ENVIRONMENT is simulator but CLEAR_STREET_BASE_URL points at",
        ),
        (
            {"CLEAR_STREET_ENVIRONMENT": "dev", "CLEAR_STREET_BASE_URL": "https://api.clearstreet.com"},
            "CLEAR_STREET_ENVIRONMENT is dev but",
        ),
        ({"POSITIONS_MCP_ALLOWED_ACCOUNTS": "19816,abc"}, "'abc' is not an account id"),
        ({"POSITIONS_MCP_DEFAULT_ACCOUNT": "-4"}, "'-4' is not an account id"),
        (
            {"POSITIONS_MCP_ALLOWED_ACCOUNTS": "1", "POSITIONS_MCP_DEFAULT_ACCOUNT": "2"},
            "is not in POSITIONS_MCP_ALLOWED_ACCOUNTS",
        ),
        ({"POSITIONS_MCP_READ_ONLY": "maybe"}, "'maybe' is not true or false"),
        ({"POSITIONS_MCP_CONFIRMATION": "never"}, "is not one of auto, token, elicitation"),
        ({"POSITIONS_MCP_CONFIRM_TTL": "0"}, "is not a number of seconds from 5 to 3600"),
        ({"POSITIONS_MCP_MAX_CLOSE_NOTIONAL": "lots"}, "is not a positive amount in USD"),
        ({"POSITIONS_MCP_MAX_CLOSE_NOTIONAL": "-5"}, "is not a positive amount in USD"),
        ({"POSITIONS_MCP_LOG_LEVEL": "loud"}, "is not one of DEBUG"),
    ],
)
def test_bad_configuration_is_refused(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    assert "pw@" not in str(info.value) and "sk-1" not in str(info.value)


def test_live_environment_without_allowlist_has_no_state_changing_tools() -> None:
    live = load_settings({"CLEAR_STREET_API_KEY": "k", "CLEAR_STREET_ENVIRONMENT": "production"})
    assert live.environment_label == "production"
    assert not live.state_changing_enabled
    allowed = load_settings(
        {"CLEAR_STREET_API_KEY": "k", "CLEAR_STREET_ENVIRONMENT": "dev", "POSITIONS_MCP_ALLOWED_ACCOUNTS": "19816"}
    )
    assert allowed.state_changing_enabled
    assert allowed.default_account == 19816  # the only allowed account is the default


def test_read_only_wins_everywhere() -> None:
    assert not load_settings({"POSITIONS_MCP_READ_ONLY": "true"}).state_changing_enabled


def test_base_url_names_a_custom_environment_and_flags_override_env() -> None:
    custom = load_settings({"CLEAR_STREET_API_KEY": "k", "CLEAR_STREET_BASE_URL": "http://127.0.0.1:8765"})
    assert custom.environment is Environment.CUSTOM
    assert custom.environment_label == "custom (http://127.0.0.1:8765)"
    known = load_settings({"CLEAR_STREET_API_KEY": "k", "CLEAR_STREET_BASE_URL": "https://api-dev.clearstreet.com/"})
    assert known.environment is Environment.DEV
    flagged = load_settings(
        {"POSITIONS_MCP_CONFIRM_TTL": "60"}, {"confirm_ttl": "30", "max_close_notional": "1,000.50"}
    )
    assert flagged.confirm_ttl == 30
    assert flagged.max_close_notional == Decimal("1000.50")


def test_secrets_never_show() -> None:
    settings = load_settings({"CLEAR_STREET_API_KEY": "sk-live-123", "CLEAR_STREET_ENVIRONMENT": "dev"})
    assert "sk-live-123" not in repr(settings)
    assert "sk-live-123" in settings.secrets


def test_http_on_a_public_address_needs_a_token() -> None:
    settings = load_settings({})
    check_http_transport(settings, "127.0.0.1")
    check_http_transport(settings, "::1")
    with pytest.raises(ConfigError, match="without POSITIONS_MCP_HTTP_TOKEN"):
        check_http_transport(settings, "0.0.0.0")
    check_http_transport(load_settings({"POSITIONS_MCP_HTTP_TOKEN": "t" * 32}), "0.0.0.0")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_a_short_secret_is_refused_on_a_reachable_address(host: str) -> None:
    """A stranger on the network may guess at the bearer token and at the key tokens are signed
    with: under 32 bytes, either stops start-up there; on loopback both still serve."""
    short_token = load_settings({"POSITIONS_MCP_HTTP_TOKEN": "t" * 31})
    with pytest.raises(ConfigError, match=f"POSITIONS_MCP_HTTP_TOKEN is 31 bytes, too short to serve on {host}"):
        check_http_transport(short_token, host)
    short_key = load_settings({"POSITIONS_MCP_HTTP_TOKEN": "t" * 32, "POSITIONS_MCP_TOKEN_SECRET": "ключ" * 3})
    with pytest.raises(ConfigError, match="POSITIONS_MCP_TOKEN_SECRET is 24 bytes, too short"):
        check_http_transport(short_key, host)  # bytes, not characters: 12 Cyrillic letters
    check_http_transport(short_token, "127.0.0.1")
    check_http_transport(short_key, "::1")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {"CLEAR_STREET_API_KEY": "sk-secret-9"}, "no API is chosen"),
        ((), {"CLEAR_STREET_ENVIRONMENT": "prod"}, "is not one of simulator, dev, production"),
        (("--default-account", "x19816"), {}, "is not an account id"),
        (("--transport", "streamable-http", "--host", "0.0.0.0"), {}, "without POSITIONS_MCP_HTTP_TOKEN"),
        (("--port", "8000"), {}, "--port only apply to the HTTP transport: add --transport streamable-http"),
        (("--host", "0.0.0.0", "--port", "8000"), {}, "--host and --port only apply to the HTTP transport"),
        ((), {"POSITIONS_MCP_CALL_TIMEOUT": "5"}, "is not a number of seconds from 20 to 600"),
        ((), {"POSITIONS_MCP_HTTP_MAX_SESSIONS": "0"}, "is not a number of sessions from 1 to 100000"),
        ((), {"POSITIONS_MCP_HTTP_SESSION_IDLE": "soon"}, "is not a number of seconds from 10 to 86400"),
    ],
)
def test_console_script_fails_closed_with_one_line(args: tuple[str, ...], env: dict[str, str], expected: str) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert "sk-secret-9" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("POSITIONS_MCP_READONLY", "unknown setting POSITIONS_MCP_READONLY (did you mean POSITIONS_MCP_READ_ONLY?)"),
        ("CLEAR_STREET_APIKEY", "unknown setting CLEAR_STREET_APIKEY (did you mean CLEAR_STREET_API_KEY?)"),
        (
            "CLEAR_STREET_ENVIROMENT",
            "unknown setting CLEAR_STREET_ENVIROMENT (did you mean CLEAR_STREET_ENVIRONMENT?)",
        ),
        (
            "positions_mcp_read_only",
            "unknown setting positions_mcp_read_only (did you mean POSITIONS_MCP_READ_ONLY?)",
        ),
        ("CLEAR_STREET_READ_ONLY", "unknown setting CLEAR_STREET_READ_ONLY (did you mean POSITIONS_MCP_READ_ONLY?)"),
        ("POSITIONS_MCP_X", "unknown setting POSITIONS_MCP_X (--help lists every setting and its variable)"),
    ],
)
def test_an_unknown_setting_stops_start_up_naming_the_closest(variable: str, expected: str) -> None:
    result = run_cli(env={variable: "true"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"clearstreet-positions-mcp: {expected}"]


def test_an_unknown_setting_is_named_before_any_other_mistake() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"CLEAR_STREET_API_KEY": "k", "POSITIONS_MCP_READONLY": ""})
    assert str(info.value) == "unknown setting POSITIONS_MCP_READONLY (did you mean POSITIONS_MCP_READ_ONLY?)"


def test_the_official_sdk_variables_are_accepted() -> None:
    """Every CLEAR_STREET_* variable the installed official SDK reads is known: a setting of ours
    of the same meaning (CLEAR_STREET_BASE_URL) or accepted and ignored."""
    import clearstreet

    source = "\n".join(path.read_text() for path in Path(clearstreet.__file__).parent.rglob("*.py"))
    read_by_sdk = set(re.findall(r"\bCLEAR_STREET_[A-Z_]+\b", source))
    ours = {option.env for option in OPTIONS}
    assert read_by_sdk == (ours & read_by_sdk) | ACCEPTED_ELSEWHERE
    assert read_by_sdk & ours == {"CLEAR_STREET_BASE_URL"}
    settings = load_settings({"CLEAR_STREET_LOG": "debug", "CLEAR_STREET_CUSTOM_HEADERS": "X-Trace: 1"})
    assert settings == load_settings({})


LIVE = {"CLEAR_STREET_API_KEY": "sk-base", "CLEAR_STREET_ENVIRONMENT": "dev"}


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.env)
def test_each_variable_and_its_flag_mean_the_same(option: Option) -> None:
    """For every declared setting: the flag is the variable's name in kebab case, and the example
    value set by the variable or by the flag (over a variable saying otherwise) makes the same,
    different, settings."""
    prefix = next(p for p in ("CLEAR_STREET_", "POSITIONS_MCP_") if option.env.startswith(p))
    assert option.flag == "--" + option.env.removeprefix(prefix).lower().replace("_", "-")
    by_variable = load_settings({**LIVE, option.env: option.example})
    argv = [option.flag] if option.switch else [option.flag, option.example]
    _, by_flag = cli.load(argv, LIVE)
    assert by_flag == by_variable
    assert by_variable != load_settings(LIVE)


def test_the_readme_table_lists_exactly_the_settings() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert documented == [option.env for option in OPTIONS]


def test_an_unwritable_audit_log_stops_start_up(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli(env={"POSITIONS_MCP_AUDIT_LOG": str(blocker / "audit.jsonl")})
    assert result.returncode == 2
    assert "POSITIONS_MCP_AUDIT_LOG: cannot write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # read-only: nothing to audit, so the same path does not matter
    read_only = run_cli("--read-only", env={"POSITIONS_MCP_AUDIT_LOG": str(blocker / "audit.jsonl")})
    assert read_only.returncode == 0, read_only.stderr  # served stdio until stdin closed
    assert "cannot write" not in read_only.stderr


def test_an_unwritable_ledger_stops_start_up(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "POSITIONS_MCP_LEDGER": str(blocker / "l.db")}
    result = run_cli(env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("clearstreet-positions-mcp: POSITIONS_MCP_LEDGER: the ledger")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "env", "withheld"),
    [
        (
            ("--read-only",),
            {},
            "read-only: the close, exercise and cancel tools are not offered (POSITIONS_MCP_READ_ONLY=true); "
            "unset it to offer them",
        ),
        (
            (),
            {"CLEAR_STREET_ENVIRONMENT": "production", "CLEAR_STREET_API_KEY": "sk-live-key"},
            "the close, exercise and cancel tools are not offered against the production API without an "
            "allowlist: set POSITIONS_MCP_ALLOWED_ACCOUNTS to the account ids they may touch",
        ),
    ],
)
def test_start_up_says_what_it_withholds_and_how_to_enable_it(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], withheld: str
) -> None:
    result = run_cli(*args, env={"POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **env})
    assert result.returncode == 0, result.stderr  # it serves (stdio, until stdin closes)
    assert result.stderr.splitlines()[0] == f"clearstreet-positions-mcp: {withheld}"
    assert "sk-live-key" not in result.stderr


def test_nothing_is_withheld_by_default(tmp_path: Path) -> None:
    result = run_cli(env={"POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")})
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--generate", "777"), "expected ACCOUNT=POSITIONS"),
        (("--generate", "x=10"), "expected ACCOUNT=POSITIONS"),
        (("--port", "70000"), "is not a TCP port"),
        (("--latency", "-1"), "must not be negative"),
    ],
)
def test_simulator_command_refuses_bad_options(args: tuple[str, ...], expected: str) -> None:
    result = run_cli("simulator", *args)
    assert result.returncode == 2
    assert [expected in line for line in result.stderr.strip().splitlines()] == [True]
