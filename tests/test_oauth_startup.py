"""OAuth mode's settings and start-up (one line, exit 2), the verifier's key handling against a
local authorization server, and the grants file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from authorization_server import AUDIENCE, AuthorizationServer, SigningKey, new_keys, serving
from positions_mcp.safety.grants import load_grants
from positions_mcp.safety.identity import Caller
from positions_mcp.safety.policy import PolicyError, resolve_account
from positions_mcp.settings import ConfigError, Settings, check_http_transport, check_oauth, load_settings
from positions_mcp.surface.oauth import JwtVerifier, metadata_urls
from test_startup import run_cli

ISSUER = "https://login.desk.example/realms/desk"
OAUTH = {"POSITIONS_MCP_OAUTH_ISSUER": ISSUER, "POSITIONS_MCP_OAUTH_AUDIENCE": AUDIENCE}


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, SigningKey]:
    return new_keys()


@pytest.fixture
def issuer(signing_keys: dict[str, SigningKey]) -> Iterator[AuthorizationServer]:
    with serving(signing_keys) as server:
        yield server


def oauth_settings(issuer: AuthorizationServer, **env: str) -> Settings:
    return load_settings({"POSITIONS_MCP_OAUTH_ISSUER": issuer.issuer, "POSITIONS_MCP_OAUTH_AUDIENCE": AUDIENCE, **env})


# -- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"POSITIONS_MCP_OAUTH_ISSUER": ISSUER},
            "POSITIONS_MCP_OAUTH_ISSUER needs POSITIONS_MCP_OAUTH_AUDIENCE: this server's resource URL "
            "(e.g. https://mcp.desk.example/mcp), which every access token must name in aud",
        ),
        (
            {**OAUTH, "POSITIONS_MCP_HTTP_TOKEN": "t" * 40},
            "POSITIONS_MCP_OAUTH_ISSUER and POSITIONS_MCP_HTTP_TOKEN are both set: a server takes OAuth access "
            "tokens or one shared token, not both; unset one",
        ),
        (
            {"POSITIONS_MCP_OAUTH_AUDIENCE": AUDIENCE},
            "POSITIONS_MCP_OAUTH_AUDIENCE needs POSITIONS_MCP_OAUTH_ISSUER: set the authorization server's "
            "issuer URL (OAuth resource-server mode), or unset it",
        ),
        (
            {"POSITIONS_MCP_ACCOUNT_GRANTS": "/etc/grants.toml"},
            "POSITIONS_MCP_ACCOUNT_GRANTS needs POSITIONS_MCP_OAUTH_ISSUER: set the authorization server's "
            "issuer URL (OAuth resource-server mode), or unset it",
        ),
        (
            {**OAUTH, "POSITIONS_MCP_OAUTH_JWKS_URL": "http://keys.desk.example/jwks"},
            "POSITIONS_MCP_OAUTH_JWKS_URL: 'http://keys.desk.example/jwks' is plain http on a host other than "
            "this one; use https:// (keys and tokens fetched over http could be forged on the way)",
        ),
    ],
)
def test_oauth_settings_that_do_not_fit_stop_start_up(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_http_transport(load_settings(environ), "0.0.0.0")
    assert str(info.value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ftp://login.desk.example", "is not an https:// URL"),
        ("https://login.desk.example/?realm=desk", "must not carry a query, a fragment or a user name"),
        ("https://admin@login.desk.example", "must not carry a query, a fragment or a user name"),
    ],
)
def test_an_issuer_that_is_no_url_is_refused(value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings({"POSITIONS_MCP_OAUTH_ISSUER": value})


def test_oauth_replaces_the_shared_token_on_a_public_address_and_not_on_stdio() -> None:
    check_http_transport(load_settings(OAUTH), "0.0.0.0")  # no HTTP token needed: each person has one
    with pytest.raises(ConfigError, match="only applies to the HTTP transport"):
        check_oauth(load_settings(OAUTH), http=False)
    check_oauth(load_settings({}), http=False)


def test_start_up_stops_when_the_issuer_publishes_no_metadata(tmp_path: Path) -> None:
    env = {
        "POSITIONS_MCP_OAUTH_ISSUER": "http://127.0.0.1:9/nobody",
        "POSITIONS_MCP_OAUTH_AUDIENCE": AUDIENCE,
        "POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    result = run_cli("--transport", "streamable-http", "--port", "1", env=env)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "POSITIONS_MCP_OAUTH_ISSUER: no authorization server metadata at" in line
    assert "http://127.0.0.1:9/.well-known/oauth-authorization-server/nobody" in line
    assert "set POSITIONS_MCP_OAUTH_JWKS_URL" in line


def test_start_up_stops_on_a_wrong_grants_file(tmp_path: Path, issuer: AuthorizationServer) -> None:
    grants = tmp_path / "grants.toml"
    grants.write_text('[subjects]\nalice = ["19816"]\n')
    env = {
        "POSITIONS_MCP_OAUTH_ISSUER": issuer.issuer,
        "POSITIONS_MCP_OAUTH_AUDIENCE": AUDIENCE,
        "POSITIONS_MCP_ACCOUNT_GRANTS": str(grants),
        "POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    result = run_cli("--transport", "streamable-http", "--port", "1", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"clearstreet-positions-mcp: POSITIONS_MCP_ACCOUNT_GRANTS: {grants}: [subjects] 'alice' must be a list "
        "of account ids (positive whole numbers), e.g. 'alice' = [19816, 19817]"
    )


# -- the verifier ----------------------------------------------------------------------------------


def test_the_metadata_is_looked_for_where_rfc_8414_and_openid_put_it() -> None:
    assert metadata_urls("https://login.desk.example/realms/desk") == [
        "https://login.desk.example/.well-known/oauth-authorization-server/realms/desk",
        "https://login.desk.example/realms/desk/.well-known/openid-configuration",
        "https://login.desk.example/.well-known/openid-configuration/realms/desk",
    ]
    assert metadata_urls("https://login.desk.example") == [
        "https://login.desk.example/.well-known/oauth-authorization-server",
        "https://login.desk.example/.well-known/openid-configuration",
    ]


def test_the_keys_are_cached_and_refreshed_once_for_an_unknown_kid(issuer: AuthorizationServer) -> None:
    verifier = JwtVerifier(oauth_settings(issuer), cooldown=0)
    verifier.check()
    assert issuer.jwks_fetches == 1
    verified = verifier.verify(issuer.token("alice", groups=["traders"]))
    assert (verified.subject, verified.client_id, verified.resource) == ("alice", "desk-agent", AUDIENCE)
    assert verified.scopes == ["positions:act", "positions:read"]
    verifier.verify(issuer.token(key="ec"))
    assert issuer.jwks_fetches == 1  # cached
    with pytest.raises(jwt.PyJWKClientError):
        verifier.verify(issuer.token(key="next"))  # not published yet: one refresh, still unknown
    assert issuer.jwks_fetches == 2
    issuer.published.append("next")  # the issuer rotates its keys
    assert verifier.verify(issuer.token(key="next")).subject == "alice"
    assert issuer.jwks_fetches == 3


def test_made_up_kids_do_not_make_it_fetch_per_request(issuer: AuthorizationServer) -> None:
    verifier = JwtVerifier(oauth_settings(issuer))  # the served cooldown
    verifier.check()
    for _ in range(5):
        with pytest.raises(jwt.PyJWKClientError):
            verifier.verify(issuer.token(key="next"))
    assert issuer.jwks_fetches == 1


def test_scopes_are_read_from_scope_or_scp(issuer: AuthorizationServer) -> None:
    verifier = JwtVerifier(oauth_settings(issuer))
    assert verifier.verify(issuer.token(scope=None, scp=["positions:read"])).scopes == ["positions:read"]
    assert verifier.verify(issuer.token(scope="", scp="positions:act openid")).scopes == ["openid", "positions:act"]
    by_azp = verifier.verify(issuer.token(client_id=None, azp="inspector"))
    assert by_azp.client_id == "inspector"


# -- grants ----------------------------------------------------------------------------------------


def test_a_person_touches_the_union_of_their_grants_within_the_allowlist(tmp_path: Path) -> None:
    grants_file = tmp_path / "grants.toml"
    grants_file.write_text(
        '[subjects]\n"alice@desk.example" = [19817, 19816]\n\n[groups]\ntraders = [19816, 30000]\nops = [40000]\n'
    )
    grants = load_grants(grants_file)
    settings = load_settings({**OAUTH, "POSITIONS_MCP_ALLOWED_ACCOUNTS": "19816,19817,30000"})
    alice = Caller("alice@desk.example", "cli", frozenset({"positions:read"}), ("traders", "ops"))

    def resolve(account: int | None) -> int:
        return resolve_account(settings, account, default=None, caller=alice, grants=grants)

    assert grants.granted(alice.subject, alice.groups) == (19817, 19816, 30000, 40000)
    assert resolve(None) == 19817  # the first granted: no default configured
    assert resolve(30000) == 30000
    with pytest.raises(PolicyError, match=r"account 40000 is unknown: your accounts are 19817, 19816, 30000;"):
        resolve(40000)  # granted, but not in the allowlist
    assert resolve_account(settings, None, default=19816, caller=alice, grants=grants) == 19816
    with pytest.raises(PolicyError, match="no verified access token"):
        resolve_account(settings, 19816, default=None, caller=Caller(), grants=grants)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[people]\nalice = [1]\n", "has [people]; only [subjects] and [groups] map names to account ids"),
        ("subjects = 3\n", "subjects must be a table ([subjects]), not a value"),
        ("[groups]\ntraders = [0]\n", "[groups] 'traders' must be a list of account ids"),
        ("[groups]\ntraders = [true]\n", "[groups] 'traders' must be a list of account ids"),
        ("[groups\n", "is not TOML"),
    ],
)
def test_a_wrong_grants_file_is_named_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "grants.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_grants(path)
    assert expected in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_grants(tmp_path / "missing.toml")
