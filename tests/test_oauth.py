"""OAuth 2.1 resource-server mode and per-person accounts, over real HTTP: a local authorization
server (RFC 8414 metadata and a JWKS, ``authorization_server``), the served app on uvicorn, and real
MCP clients whose access tokens are minted per test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from authorization_server import ACT, AUDIENCE, READ, AuthorizationServer, SigningKey, new_keys, serving
from conftest import TOKEN_SECRET, Recorder, RedisServer, ok, refused, text_of
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from positions_mcp.settings import Settings
from positions_mcp.surface.http import MCP_PATH
from test_http_replicas import Alternating, replicas

pytestmark = pytest.mark.anyio

CLOSE = {"instrument_id": "TSLA"}
GRANTS = """\
[subjects]
alice = [19816]

[groups]
traders = [122503]
desk-leads = [19816, 122503]
"""
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    return new_keys()


@pytest.fixture
def issuer(signing_keys: dict[str, SigningKey]) -> Iterator[AuthorizationServer]:
    with serving(signing_keys) as server:
        yield server


@pytest.fixture
def desk(
    make_settings: Callable[..., Settings], tmp_path: Path, issuer: AuthorizationServer
) -> Callable[..., Settings]:
    """A desk's settings: OAuth against the local issuer, the grants above, stateless HTTP."""
    grants = tmp_path / "grants.toml"
    grants.write_text(GRANTS)

    def make(**env: str) -> Settings:
        return make_settings(
            POSITIONS_MCP_OAUTH_ISSUER=issuer.issuer,
            POSITIONS_MCP_OAUTH_AUDIENCE=AUDIENCE,
            POSITIONS_MCP_ACCOUNT_GRANTS=str(grants),
            POSITIONS_MCP_HTTP_STATELESS="true",
            POSITIONS_MCP_CONFIRMATION="token",
            **env,
        )

    return make


@asynccontextmanager
async def as_person(ports: list[int], token: str, mode: str = "auto") -> AsyncIterator[Client]:
    """A real MCP client over streamable HTTP sending ``token``, each request to the next port."""
    async with (
        httpx2.AsyncClient(transport=Alternating(ports), headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(f"http://127.0.0.1:{ports[0]}{MCP_PATH}", http_client=http), mode=mode) as c,
    ):
        yield c


async def post_initialize(port: int, token: str | None) -> httpx.Response:
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient() as http:
        return await http.post(f"http://127.0.0.1:{port}{MCP_PATH}", json=INITIALIZE, headers=headers)


def audit_lines(settings: Settings) -> list[dict[str, Any]]:
    assert settings.audit_log is not None
    return [json.loads(line) for line in settings.audit_log.read_text().splitlines()]


# -- HTTP: who may connect -------------------------------------------------------------------------


async def test_without_a_token_401_names_the_resource_metadata(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    async with replicas(upstream, [desk()]) as [port]:
        answer = await post_initialize(port, None)
        async with httpx.AsyncClient() as http:
            metadata = (await http.get(f"http://127.0.0.1:{port}{METADATA_PATH}")).json()
            other = await http.get(f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server")
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="https://mcp.desk.example{METADATA_PATH}"' in challenge
    assert metadata["resource"] == AUDIENCE
    assert metadata["authorization_servers"] == [issuer.issuer]
    assert metadata["scopes_supported"] == [READ, ACT]
    assert other.status_code == 404  # this server is no authorization server
    assert upstream.calls == []


BAD_TOKENS: dict[str, Callable[[AuthorizationServer], str]] = {
    "wrong audience": lambda a: a.token(aud="https://elsewhere.example/mcp"),
    "expired": lambda a: a.token(exp=1_700_000_000, iat=1_699_999_000, nbf=1_699_999_000),
    "not yet valid": lambda a: a.token(nbf=2_000_000_000_0),
    "wrong issuer": lambda a: a.token(iss="https://login.elsewhere.example"),
    "alg none": lambda a: a.unsigned(),
    "HS256 keyed with the public key": lambda a: a.hmac_with_public_key(),
    "unknown key": lambda a: a.token(key="next"),
    "tampered": lambda a: a.token(sub="mallory").rsplit(".", 1)[0] + "." + a.token().rsplit(".", 1)[1],
    "no subject": lambda a: a.token(sub=None),
    "no expiry": lambda a: a.token(exp=None),
    "not a JWT": lambda a: "s3cret",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_a_token_that_fails_a_check_gets_401(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer, kind: str
) -> None:
    async with replicas(upstream, [desk()]) as [port]:
        assert (await post_initialize(port, issuer.token())).status_code == 200  # the good one works
        answer = await post_initialize(port, BAD_TOKENS[kind](issuer))
    assert answer.status_code == 401, answer.text
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert "resource_metadata=" in answer.headers["www-authenticate"]


async def test_an_ec_key_verifies_too(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    async with replicas(upstream, [desk()]) as [port]:
        assert (await post_initialize(port, issuer.token(key="ec"))).status_code == 200


async def test_a_token_without_the_read_scope_gets_403_insufficient_scope(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    async with replicas(upstream, [desk()]) as [port]:
        answer = await post_initialize(port, issuer.token(scope=f"openid {ACT}"))
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert answer.json()["error_description"] == f"Required scope: {READ}"


# -- tools: scopes, grants, the person a confirmation is bound to ------------------------------------


async def test_a_read_only_token_reads_but_cannot_preview(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    settings = desk()
    async with replicas(upstream, [settings]) as ports, as_person(ports, issuer.token(scope=READ)) as client:
        assert ok(await client.call_tool("get_positions", {"page_size": 1}))["account_id"] == 19816
        before = len(upstream.calls)
        text = refused(await client.call_tool("preview_close_position", CLOSE), "INSUFFICIENT_SCOPE")
        refused(await client.call_tool("close_positions", {}), "INSUFFICIENT_SCOPE")
        refused(
            await client.call_tool(
                "cancel_position_instruction", {"instruction_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
            ),
            "INSUFFICIENT_SCOPE",
        )
    assert "positions:act" in text
    assert len(upstream.calls) == before  # not even a read: refused before planning
    refusals = [line for line in audit_lines(settings) if line["event"] == "refusal"]
    assert [line["outcome"] for line in refusals] == ["INSUFFICIENT_SCOPE"] * 3
    assert {line["subject"] for line in refusals} == {"alice"}


async def test_a_persons_confirmation_is_refused_to_another_person(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    """Alice previews; Eve, who may touch the same account, calls with Alice's token: refused, and
    the token is still Alice's to use."""
    async with replicas(upstream, [desk()]) as ports:
        async with as_person(ports, issuer.token("alice")) as alice:
            token = ok(await alice.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        async with as_person(ports, issuer.token("eve", groups=["desk-leads"])) as eve:
            text = refused(
                await eve.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "WRONG_PERSON"
            )
        assert upstream.writes == []
        async with as_person(ports, issuer.token("alice")) as alice:
            ok(await alice.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
    assert "another person's preview" in text
    assert len(upstream.writes) == 1


async def test_grants_decide_the_accounts_a_person_sees_and_touches(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    """Bob (group traders) has account 122503 only: it is his default, 19816 is as unknown to him
    as an account that does not exist, and the status lists his account alone."""
    async with replicas(upstream, [desk()]) as ports, as_person(ports, issuer.token("bob", groups=["traders"])) as bob:
        mine = ok(await bob.call_tool("get_position_instructions", {}))
        not_granted = await bob.call_tool("get_positions", {"account_id": 19816})
        no_such = await bob.call_tool("get_positions", {"account_id": 99999})
        preview = await bob.call_tool("preview_close_position", {**CLOSE, "account_id": 19816})
        status = json.loads((await bob.read_resource("clearstreet://status")).contents[0].text)  # type: ignore[union-attr]
        document = await bob.call_tool("summarize_exposure", {"account_id": 19816})
    assert mine["account_id"] == 122503
    assert text_of(not_granted).replace("19816", "N") == text_of(no_such).replace("99999", "N")
    assert "account 19816 is unknown: your accounts are 122503" in text_of(not_granted)
    assert "19816" not in text_of(no_such)
    refused(preview, "ACCOUNT_NOT_ALLOWED")
    assert document.is_error and "your accounts are 122503" in text_of(document)
    assert (status["allowed_accounts"], status["default_account"]) == ([122503], 122503)
    assert not any("19816" in path for _, path in upstream.calls)


async def test_a_person_without_grants_touches_nothing(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    async with replicas(upstream, [desk()]) as ports, as_person(ports, issuer.token("carol")) as carol:
        answer = await carol.call_tool("get_positions", {})
    assert answer.is_error and "no account is granted to you (carol)" in text_of(answer)
    assert upstream.calls == []


async def test_every_audit_line_names_the_subject_and_the_client(
    upstream: Recorder, desk: Callable[..., Settings], issuer: AuthorizationServer
) -> None:
    settings = desk()
    async with replicas(upstream, [settings]) as ports, as_person(ports, issuer.token("alice")) as alice:
        token = ok(await alice.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        ok(await alice.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
        refused(await alice.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "ALREADY_USED")
    lines = audit_lines(settings)
    assert [line["event"] for line in lines] == ["preview", "intent", "outcome", "refusal"]
    assert all((line["subject"], line["client_id"]) == ("alice", "desk-agent") for line in lines)


# -- replicas on a shared Redis ledger -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_preview_on_one_replica_confirms_on_the_other_under_oauth(
    upstream: Recorder,
    desk: Callable[..., Settings],
    issuer: AuthorizationServer,
    redis_server: RedisServer,
    tmp_path: Path,
    mode: str,
) -> None:
    """Each request goes to the other replica than the last: the preview's token (bound to Alice)
    confirms on the other one, once; Eve's call with it is refused on either."""
    settings = [
        desk(
            POSITIONS_MCP_AUDIT_LOG=str(tmp_path / name / "audit.jsonl"),
            POSITIONS_MCP_LEDGER=redis_server.url,
            POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET,
        )
        for name in ("a", "b")
    ]
    async with replicas(upstream, settings) as ports, as_person(ports, issuer.token("alice"), mode) as alice:
        token = ok(await alice.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        async with as_person(ports, issuer.token("eve", groups=["desk-leads"]), mode) as eve:
            for _ in ports:
                refused(await eve.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "WRONG_PERSON")
        ok(await alice.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
        for _ in ports:
            refused(await alice.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "ALREADY_USED")
    assert len(upstream.writes) == 1
    by_replica = [audit_lines(each) for each in settings]
    assert all(lines for lines in by_replica)  # both replicas served tool calls
    assert {line["subject"] for lines in by_replica for line in lines} == {"alice", "eve"}
