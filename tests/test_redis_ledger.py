"""The Redis ledger several replicas share, against a real ``redis-server`` (password on, TLS where
asked): single use and repeats across two server instances, ten racing confirmations, Redis
stopped and restarted mid-run, the same promises as the SQLite ledger, and what start-up refuses."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from conftest import REDIS_PASSWORD, TOKEN_SECRET, Recorder, RedisServer, free_port, ok, refused
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp import Client
from mcp.types import CallToolResult
from positions_mcp.safety.ledger import Ledger, LedgerError, SqliteLedger, Submission
from positions_mcp.safety.redis_ledger import RedisLedger
from positions_mcp.settings import ConfigError, RedisURL, Settings, load_settings
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT

SECOND = DEMO_INSTRUCTIONS_ACCOUNT
LEAP = "AAPL  280121C00195000"
SUBMIT = {
    "account_id": SECOND,
    "instructions": [{"instruction_type": "EXERCISE", "instrument_id": LEAP, "quantity": 1}],
}
SUBMIT_PATH = f"/v1/accounts/{SECOND}/positions/instructions"
CLOSE = {"instrument_id": "TSLA"}
SCRIPT = Path(sys.executable).with_name("clearstreet-positions-mcp")
REQUEST = "ab" * 32


def replica(make_settings: Callable[..., Settings], tmp_path: Path, name: str, redis: RedisServer) -> Settings:
    """One replica's settings: its own audit log (and so nothing shared on disk), the shared Redis
    ledger and token secret."""
    return make_settings(
        POSITIONS_MCP_AUDIT_LOG=str(tmp_path / name / "audit.jsonl"),
        POSITIONS_MCP_LEDGER=redis.url,
        POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET,
        POSITIONS_MCP_CONFIRMATION="token",
    )


# -- across replicas ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_preview_on_one_replica_confirms_once_on_the_other(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, redis_server: RedisServer, mode: str
) -> None:
    """Preview on A, confirm on B; the same token on A is then used up; a new preview on A knows of
    the submission B sent (the repeat window lives in Redis too)."""
    a, b = (replica(make_settings, tmp_path, name, redis_server) for name in ("a", "b"))
    async with Client(upstream.server(a), mode=mode) as first, Client(upstream.server(b), mode=mode) as second:
        preview = ok(await first.call_tool("preview_submit_position_instructions", SUBMIT))
        token = preview["confirmation_token"]
        [key] = [row["instruction_id"] for row in preview["plan"]["rows"]]
        sent = ok(await second.call_tool("submit_position_instructions", {**SUBMIT, "confirmation_token": token}))
        assert [row["client_instruction_id"] for row in sent["instructions"]] == [key]
        refused(
            await first.call_tool("submit_position_instructions", {**SUBMIT, "confirmation_token": token}),
            "ALREADY_USED",
        )
        again = ok(await first.call_tool("preview_submit_position_instructions", SUBMIT))
    assert again["repeat_of"] is not None and "sent" in again["repeat_of"]
    assert [row["instruction_id"] for row in again["plan"]["rows"]] == [key]  # a retry reuses the keys
    assert upstream.writes == [("POST", SUBMIT_PATH)]


@pytest.mark.anyio
async def test_ten_racing_confirmations_across_two_replicas_send_once(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, redis_server: RedisServer, mode: str
) -> None:
    a, b = (replica(make_settings, tmp_path, name, redis_server) for name in ("a", "b"))
    results: list[CallToolResult] = []
    async with Client(upstream.server(a), mode=mode) as first, Client(upstream.server(b), mode=mode) as second:
        token = ok(await first.call_tool("preview_close_position", CLOSE))["confirmation_token"]

        async def confirm(client: Client) -> None:
            results.append(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}))

        async with anyio.create_task_group() as group:
            for n in range(10):
                group.start_soon(confirm, (first, second)[n % 2])
    assert sorted(r.is_error for r in results) == [False] + [True] * 9
    for loser in (r for r in results if r.is_error):
        refused(loser, "ALREADY_USED")
    [(method, path)] = upstream.writes  # the simulator saw one closing request
    assert method == "DELETE" and path.startswith("/v1/accounts/19816/positions/")


@pytest.mark.anyio
async def test_redis_stopped_refuses_state_changes_keeps_reads_and_loses_nothing(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, redis_server: RedisServer
) -> None:
    """Redis down: a confirmation and a preview are refused (LEDGER_UNAVAILABLE, nothing sent),
    reads answer. Redis back: the token (never spent) confirms once. Redis killed and started
    again, a replica restarted: the spent token stays spent."""
    a, b = (replica(make_settings, tmp_path, name, redis_server) for name in ("a", "b"))
    confirm = {**CLOSE, "confirmation_token": ""}
    async with Client(upstream.server(a)) as first, Client(upstream.server(b)) as second:
        confirm["confirmation_token"] = ok(await first.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        redis_server.stop()
        text = refused(await second.call_tool("close_position", confirm), "LEDGER_UNAVAILABLE")
        assert f"the Redis ledger at redis://127.0.0.1:{redis_server.port}/0 cannot be written" in text
        assert REDIS_PASSWORD not in text
        refused(await first.call_tool("preview_close_position", CLOSE), "LEDGER_UNAVAILABLE")
        assert ok(await first.call_tool("get_positions", {}))["total_items"] == 17
        ok(await second.call_tool("summarize_exposure", {}))
        assert upstream.writes == []

        redis_server.start()
        ok(await second.call_tool("close_position", confirm))
        redis_server.stop()  # SIGKILL: a crash; the append-only file has every write
        redis_server.start()
        refused(await first.call_tool("close_position", confirm), "ALREADY_USED")
    async with Client(upstream.server(b)) as restarted:
        refused(await restarted.call_tool("close_position", confirm), "ALREADY_USED")
    assert len(upstream.writes) == 1


# -- the same promises as the SQLite ledger --------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "sqlite":
        return SqliteLedger(tmp_path / "ledger.sqlite3")
    server: RedisServer = request.getfixturevalue("redis_server")
    url = load_settings({"POSITIONS_MCP_LEDGER": server.url, "POSITIONS_MCP_TOKEN_SECRET": TOKEN_SECRET}).ledger
    assert isinstance(url, RedisURL)
    return RedisLedger(url)


def test_both_ledgers_keep_the_same_promises(ledger: Ledger) -> None:
    """Spent once; a submission refused when an identical one came after the preview's; the
    latest within the window, completed with its outcome; none outside the window."""
    ledger.check()
    at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert ledger.spend("nonce-1", tool="close_position", account="19816", at=at)
    assert not ledger.spend("nonce-1", tool="close_position", account="19816", at=at + timedelta(days=9))
    assert ledger.is_spent("nonce-1") and not ledger.is_spent("nonce-2")

    def record(keys: str, at: datetime, newer_than: int = 0) -> int | None:
        return ledger.record_submission(
            account="19816", tool="close_position", request=REQUEST, keys=[keys], confirmation=keys.replace("k", "c"),
            at=at, newer_than=newer_than,
        )  # fmt: skip

    def recent(now: datetime, account: str = "19816") -> Submission | None:
        return ledger.recent_submission(account=account, tool="close_position", request=REQUEST, now=now)

    first = record("k1", at)
    assert first is not None
    assert record("k2", at + timedelta(minutes=1)) is None
    second = record("k2", at + timedelta(minutes=1), newer_than=first)
    assert second is not None and second > first
    ledger.complete_submission(second, outcome="rejected", ids=["o-1"], status=429)
    latest = recent(at + timedelta(minutes=2))
    assert latest is not None
    assert (latest.id, latest.keys, latest.outcome, latest.ids, latest.status) == (
        second,
        ("k2",),
        "rejected",
        ("o-1",),
        429,
    )
    assert latest.sent_at == at + timedelta(minutes=1) and latest.confirmation == "c2"
    earlier = recent(at + timedelta(seconds=30))
    assert earlier is not None and (earlier.id, earlier.outcome, earlier.status) == (first, "sending", None)
    assert recent(at + timedelta(minutes=17)) is None  # past the 15-minute window
    assert recent(at + timedelta(minutes=2), account="122503") is None
    ledger.close()


def test_the_redis_ledger_needs_the_password(redis_server: RedisServer) -> None:
    wrong = redis_server.url.replace(REDIS_PASSWORD, "not-the-password")
    url = load_settings({"POSITIONS_MCP_LEDGER": wrong, "POSITIONS_MCP_TOKEN_SECRET": TOKEN_SECRET}).ledger
    assert isinstance(url, RedisURL)
    with pytest.raises(LedgerError, match="cannot be reached: invalid username-password pair") as failure:
        RedisLedger(url).check()
    assert "not-the-password" not in str(failure.value)


# -- TLS ----------------------------------------------------------------------------------------------


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (its own authority), and the key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.anyio
async def test_a_tls_redis_with_a_password_serves_as_the_ledger(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """``rediss://`` with the server's certificate trusted (``ssl_ca_certs``) works end to end; a
    certificate nobody vouched for, or plain ``redis://`` to the TLS port, is refused."""
    server = RedisServer(tmp_path / "redis", tls=self_signed(tmp_path / "pki", "redis"))
    server.start()
    try:
        settings = replica(make_settings, tmp_path, "a", server)
        assert server.url.startswith("rediss://")
        async with Client(upstream.server(settings)) as client:
            token = ok(await client.call_tool("preview_close_position", CLOSE))["confirmation_token"]
            ok(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
            refused(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "ALREADY_USED")
        stranger, _ = self_signed(tmp_path / "pki", "stranger")
        for url, problem in (
            (server.url.replace(str(server.tls[0]), str(stranger)), "certificate verify failed"),  # type: ignore[index]
            (server.url.replace("rediss://", "redis://").split("?")[0], "cannot be reached"),
        ):
            ledger = load_settings({"POSITIONS_MCP_LEDGER": url, "POSITIONS_MCP_TOKEN_SECRET": TOKEN_SECRET}).ledger
            assert isinstance(ledger, RedisURL)
            with pytest.raises(LedgerError, match=problem):
                RedisLedger(ledger).check()
    finally:
        server.stop()
    assert len(upstream.writes) == 1


# -- start-up ----------------------------------------------------------------------------------------


def run_cli(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLEAR_STREET_", "POSITIONS_MCP_"))}
    return subprocess.run(
        [str(SCRIPT)],
        env={**base, "POSITIONS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **env},
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,  # stdio ends at once: a server that started exits 0
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_start_up_with_a_redis_ledger_refuses_what_cannot_hold(tmp_path: Path, redis_server: RedisServer) -> None:
    nowhere = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    line = one_line(run_cli(tmp_path, POSITIONS_MCP_LEDGER=nowhere, POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET))
    assert "POSITIONS_MCP_LEDGER: the Redis ledger at redis://127.0.0.1:" in line
    assert "cannot be reached" in line and "start Redis or correct the URL" in line
    line = one_line(run_cli(tmp_path, POSITIONS_MCP_LEDGER=redis_server.url))
    assert "POSITIONS_MCP_LEDGER is a Redis ledger" in line and "set POSITIONS_MCP_TOKEN_SECRET" in line
    line = one_line(run_cli(tmp_path, POSITIONS_MCP_LEDGER=redis_server.url, POSITIONS_MCP_TOKEN_SECRET="s" * 31))
    assert "POSITIONS_MCP_TOKEN_SECRET is 31 bytes, too short with a Redis ledger" in line
    wrong = redis_server.url.replace(REDIS_PASSWORD, "wrong-password-1")
    line = one_line(run_cli(tmp_path, POSITIONS_MCP_LEDGER=wrong, POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET))
    assert "invalid username-password pair" in line and "wrong-password-1" not in line
    for text in (REDIS_PASSWORD, "wrong-password-1", TOKEN_SECRET):
        assert text not in line
    served = run_cli(tmp_path, POSITIONS_MCP_LEDGER=redis_server.url, POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET)
    assert served.returncode == 0 and served.stderr == ""


def test_a_redis_that_keeps_no_append_only_file_is_refused(tmp_path: Path) -> None:
    forgetful = RedisServer(tmp_path / "redis", extra=("--appendonly", "no"))
    forgetful.start()
    try:
        result = run_cli(tmp_path, POSITIONS_MCP_LEDGER=forgetful.url, POSITIONS_MCP_TOKEN_SECRET=TOKEN_SECRET)
    finally:
        forgetful.stop()
    assert "keeps no append-only file (appendonly no)" in one_line(result)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgres://db/ledger", "postgres:// is not a ledger; give a path (SQLite) or a redis:// or rediss:// URL"),
        ("redis://:pw-secret@/0", "the Redis URL names no host"),
        ("redis://:pw-secret@cache:http/0", "the Redis URL's port is not a number from 1 to 65535"),
        ("redis://:pw-secret@cache:6379/zero", "the Redis URL's path must be a database number"),
    ],
)
def test_a_ledger_that_is_neither_a_path_nor_a_redis_url_is_refused(value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refusal:
        load_settings({"POSITIONS_MCP_LEDGER": value, "POSITIONS_MCP_TOKEN_SECRET": TOKEN_SECRET})
    assert str(refusal.value).startswith(f"POSITIONS_MCP_LEDGER: {expected}")
    assert "pw-secret" not in str(refusal.value)


def test_a_redis_url_is_a_secret_named_without_its_password() -> None:
    settings = load_settings(
        {
            "POSITIONS_MCP_LEDGER": "rediss://desk:pa%40ss-word@cache.example:6380/2",
            "POSITIONS_MCP_TOKEN_SECRET": TOKEN_SECRET,
        }
    )
    ledger = settings.ledger
    assert isinstance(ledger, RedisURL)
    assert ledger.where == "rediss://cache.example:6380/2" and ledger.password == "pa@ss-word"
    assert "pa%40ss-word" not in repr(settings) and "pa@ss-word" in settings.secrets
