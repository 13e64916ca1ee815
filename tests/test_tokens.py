"""Confirmation tokens: every refusal, tampering, expiry, single use under concurrency (the
ledger), canonical arguments, and the positions fingerprint."""

import base64
import json
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from positions_mcp.clearstreet.models import Position
from positions_mcp.safety.ledger import SqliteLedger
from positions_mcp.safety.tokens import (
    PROJECTION_LIMIT,
    ConfirmationRefused,
    ConfirmationTokens,
    RefusalReason,
    VerifiedToken,
    already_used,
    arguments_digest,
    canonical_arguments,
    describe_changes,
    positions_fingerprint,
    positions_projection,
    token_digest,
)
from pydantic import BaseModel

SECRET = b"0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
TSLA_ID = "21d42f06-38a5-4494-8089-743d3dd6f9c7"
AAPL_ID = "70a34ea6-6465-438e-80a5-fabb1735256a"


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def position(
    symbol: str, quantity: str, instrument_id: str, available: str | None = None, price: str = "100.00"
) -> Position:
    return Position.model_validate(
        {
            "account_id": 19816,
            "instrument_id": instrument_id,
            "instrument_type": "COMMON_STOCK",
            "symbol": symbol,
            "position_type": "SHORT" if quantity.startswith("-") else "LONG",
            "quantity": quantity,
            "available_quantity": available if available is not None else quantity,
            "market_value": "0",
            "instrument_price": price,
        }
    )


TSLA = position("TSLA", "-50", TSLA_ID)
AAPL = position("AAPL", "100", AAPL_ID)
ARGS = {"instrument_id": "TSLA", "cancel_orders": False}


class Tokens(ConfirmationTokens):
    """Tokens as the pipeline uses them: verified, then spent in a ledger (a file of its own)."""

    def __init__(self, secret: bytes, ttl: int, clock: Clock, ledger: SqliteLedger | None = None) -> None:
        super().__init__(secret, ttl, clock)
        self.ledger = ledger or SqliteLedger(Path(tempfile.mkdtemp()) / "ledger.sqlite3")

    def redeem(self, token: Any, tool: str, account: Any, environment: str, arguments: dict[str, Any]) -> VerifiedToken:
        verified = self.verify(token, tool, account, environment, arguments)
        if not self.ledger.spend(verified.nonce, tool=tool, account=str(account), at=self._clock()):
            raise already_used(tool)
        return verified


def tokens(clock: Clock | None = None, ttl: int = 120) -> Tokens:
    return Tokens(SECRET, ttl, clock or Clock())


def issue(
    t: ConfirmationTokens, arguments: dict[str, Any] = ARGS, positions: list[Position] | None = None, **kwargs: Any
) -> str:
    scope = positions if positions is not None else [TSLA]
    return t.issue(
        "close_position", 19816, "simulator", arguments, positions_fingerprint(scope), positions=scope, **kwargs
    )


def refused(
    t: Tokens,
    token: Any,
    tool: str = "close_position",
    account: Any = 19816,
    environment: str = "simulator",
    arguments: dict[str, Any] = ARGS,
) -> ConfirmationRefused:
    with pytest.raises(ConfirmationRefused) as caught:
        t.redeem(token, tool, account, environment, arguments)
    assert "Nothing was sent." in caught.value.message
    assert f"Call preview_{tool} again" in caught.value.message
    return caught.value


# -- the happy path --------------------------------------------------------------------------------


def test_issue_and_redeem() -> None:
    t = tokens()
    token = issue(t)
    redeemed = t.redeem(token, "close_position", 19816, "simulator", ARGS)
    assert redeemed.fingerprint == positions_fingerprint([TSLA])
    assert redeemed.projection == {TSLA_ID: ["TSLA", "-50", "-50"]}
    assert redeemed.expires_at == T0 + timedelta(seconds=120)
    assert (redeemed.tool, redeemed.account_id, redeemed.environment) == ("close_position", "19816", "simulator")
    assert redeemed.instruction_keys is None
    redeemed.check_positions([TSLA])  # unchanged: no error


def test_token_is_compact_and_url_safe() -> None:
    token = issue(tokens())
    prefix, payload, signature = token.split(".")
    assert prefix == "cst1"
    assert len(token) < 500
    assert set(payload + signature) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_expires_at() -> None:
    t = tokens()
    assert t.expires_at(issue(t)) == T0 + timedelta(seconds=120)


# -- every refusal ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "   "])
def test_no_token(token: Any) -> None:
    assert refused(tokens(), token).reason_code is RefusalReason.NO_TOKEN


@pytest.mark.parametrize("token", ["abc", "cst1.abc", "cst2.abc.def", "cst1..def", "cst1.abc.", 12345, "a.b.c.d"])
def test_malformed(token: Any) -> None:
    assert refused(tokens(), token).reason_code is RefusalReason.MALFORMED


def test_tampered_payload_is_a_bad_signature() -> None:
    t = tokens()
    prefix, payload, signature = issue(t).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for field, value in [
        ("t", "close_positions"),
        ("a", "99999"),
        ("e", "production"),
        ("x", data["x"] + 3600),
        ("f", "0" * 64),
        ("h", "0" * 64),
        ("n", "other"),
    ]:
        forged = base64.urlsafe_b64encode(json.dumps({**data, field: value}).encode()).rstrip(b"=").decode()
        assert refused(t, f"{prefix}.{forged}.{signature}").reason_code is RefusalReason.BAD_SIGNATURE


def test_tampered_signature_is_a_bad_signature() -> None:
    t = tokens()
    prefix, payload, signature = issue(t).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert refused(t, f"{prefix}.{payload}.{flipped}").reason_code is RefusalReason.BAD_SIGNATURE
    assert refused(t, f"{prefix}.{payload}.{signature[:-1]}").reason_code is RefusalReason.BAD_SIGNATURE


def test_token_of_another_secret_is_a_bad_signature() -> None:
    other = ConfirmationTokens(b"another secret of enough length!", 120, Clock())
    assert refused(tokens(), issue(other)).reason_code is RefusalReason.BAD_SIGNATURE


def test_payload_swapped_between_tokens_is_a_bad_signature() -> None:
    t = tokens()
    first = issue(t).split(".")
    second = issue(t, {"instrument_id": "TSLA", "cancel_orders": True}).split(".")
    assert refused(t, f"cst1.{second[1]}.{first[2]}").reason_code is RefusalReason.BAD_SIGNATURE


@settings(max_examples=200, deadline=None)
@given(index=st.integers(min_value=0), replacement=st.sampled_from("Aa0-_.xZ"))
def test_any_single_character_change_is_refused(index: int, replacement: str) -> None:
    t = tokens()
    token = issue(t)
    index %= len(token)
    if token[index] == replacement:
        return
    changed = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(ConfirmationRefused) as caught:
        t.redeem(changed, "close_position", 19816, "simulator", ARGS)
    assert caught.value.reason_code in {RefusalReason.MALFORMED, RefusalReason.BAD_SIGNATURE}


def test_expired_with_an_injected_clock() -> None:
    clock = Clock()
    t = tokens(clock, ttl=120)
    token = issue(t)
    clock.now = T0 + timedelta(seconds=119)
    t.redeem(token, "close_position", 19816, "simulator", ARGS)
    second = issue(t)
    clock.now = clock.now + timedelta(seconds=120)
    error = refused(t, second)
    assert error.reason_code is RefusalReason.EXPIRED
    assert "tokens live 120 s" in error.message


def test_already_used() -> None:
    t = tokens()
    token = issue(t)
    t.redeem(token, "close_position", 19816, "simulator", ARGS)
    error = refused(t, token)
    assert error.reason_code is RefusalReason.ALREADY_USED
    assert "single execution" in error.message


def test_wrong_tool() -> None:
    error = refused(tokens(), issue(tokens()), tool="close_positions")
    assert error.reason_code is RefusalReason.WRONG_TOOL
    assert "issued for close_position, not close_positions" in error.message


def test_wrong_account() -> None:
    error = refused(tokens(), issue(tokens()), account=122503)
    assert error.reason_code is RefusalReason.WRONG_ACCOUNT
    assert "account 19816, not 122503" in error.message


def test_wrong_environment() -> None:
    error = refused(tokens(), issue(tokens()), environment="production")
    assert error.reason_code is RefusalReason.WRONG_ENVIRONMENT


@pytest.mark.parametrize(
    "changed",
    [
        {"instrument_id": "AAPL", "cancel_orders": False},
        {"instrument_id": "TSLA", "cancel_orders": True},
        {"instrument_id": "TSLA"},  # cancel_orders False -> absent is a change
        {"instrument_id": "TSLA", "cancel_orders": False, "quantity": "1"},
    ],
)
def test_wrong_arguments(changed: dict[str, Any]) -> None:
    error = refused(tokens(), issue(tokens()), arguments=changed)
    assert error.reason_code is RefusalReason.WRONG_ARGUMENTS


def test_instruction_changes_are_wrong_arguments() -> None:
    rows = [{"instruction_type": "EXERCISE", "instrument_id": "AAPL 261120C00195000", "quantity": Decimal(5)}]
    t = tokens()

    def token() -> str:
        return t.issue("submit_position_instructions", 122503, "simulator", {"instructions": rows}, "fp")

    for changed in (
        [{**rows[0], "quantity": Decimal(6)}],
        [{**rows[0], "instruction_type": "DO_NOT_EXERCISE"}],
        [{**rows[0], "instrument_id": "AAPL 261120C00200000"}],
        rows + rows,
    ):
        with pytest.raises(ConfirmationRefused) as caught:
            t.redeem(token(), "submit_position_instructions", 122503, "simulator", {"instructions": changed})
        assert caught.value.reason_code is RefusalReason.WRONG_ARGUMENTS


def test_a_refusal_before_redeeming_does_not_spend_the_token() -> None:
    t = tokens()
    token = issue(t)
    refused(t, token, arguments={"instrument_id": "TSLA", "cancel_orders": True})
    refused(t, token, account=1)
    t.redeem(token, "close_position", 19816, "simulator", ARGS)


# -- canonical arguments ------------------------------------------------------------------------------


def test_same_request_in_another_rendering_matches() -> None:
    t = tokens()
    token = t.issue(
        "submit_position_instructions",
        122503,
        "simulator",
        {
            "account_id": 122503,
            "instructions": [
                {
                    "instruction_type": "EXERCISE",
                    "instrument_id": "AAPL  261120C00195000",
                    "quantity": Decimal("5"),
                    "instruction_id": None,
                }
            ],
        },
        "fp",
    )
    t.redeem(
        token,
        "submit_position_instructions",
        122503,
        "simulator",
        {
            "confirmation_token": token,
            "instructions": [
                {"quantity": "5.00", "instrument_id": "aapl261120c00195000", "instruction_type": "EXERCISE"}
            ],
        },
    )


def test_digest_canonicalisation() -> None:
    base = arguments_digest({"instrument_id": TSLA_ID, "cancel_orders": False})
    assert arguments_digest({"cancel_orders": False, "instrument_id": TSLA_ID.upper()}) == base
    assert arguments_digest({"instrument_id": TSLA_ID, "cancel_orders": False, "account_id": 1, "x": None}) == base
    assert arguments_digest({"instrument_id": TSLA_ID, "cancel_orders": 0}) != base
    assert arguments_digest({"q": Decimal("1.50")}) == arguments_digest({"q": Decimal("1.5")})
    assert arguments_digest({"quantity": 5}) == arguments_digest({"quantity": "5.0"})
    assert arguments_digest({"quantity": 5}) != arguments_digest({"quantity": 50})
    assert arguments_digest({"instructions": [{"client_instruction_id": "k"}]}) == arguments_digest(
        {"instructions": [{"instruction_id": "k"}]}
    )


class _Side(StrEnum):
    EXERCISE = "EXERCISE"


class _Level(IntEnum):
    TWO = 2


class _Row(BaseModel):
    instrument_id: str
    quantity: Decimal
    instruction_type: _Side
    note: str | None = None


def test_the_canonical_form_is_pinned_byte_for_byte() -> None:
    """Tokens already issued hold the digest of this form: any change of its bytes would refuse
    them. Models, enums, None, the unbound keys (only at the top), aliases, decimals, floats, the
    quantity as text, instrument ids as symbol keys, lists in order, assigned instruction keys."""
    arguments = {
        "account_id": 122503,
        "confirmation_token": "cst1.x.y",
        "skipped": None,
        "cancel_orders": True,
        "instrument_id": "aapl  261120c00195000",
        "underlying_instrument_id": " tsla ",
        "level": _Level.TWO,
        "limit": 2.50,
        "price": Decimal("12.3400"),
        "big": Decimal("1E+3"),
        "instructions": (
            _Row(instrument_id="AAPL261120C00195000", quantity=Decimal("5.00"), instruction_type=_Side.EXERCISE),
            {
                "client_instruction_id": "mine",
                "quantity": " 7.10 ",
                "account_id": 9,
                "instrument_id": "X 261120P00001500",
            },
            {"quantity": "lots", "tags": ["b", "a"], "flag": False, "count": 3},
            {"quantity": 40, "instruction_type": "DO_NOT_EXERCISE"},
        ),
    }
    keys = ["cs-mcp-1", "cs-mcp-2", "cs-mcp-3"]
    assert canonical_arguments(arguments) == (
        '{"big":"1000","cancel_orders":true,"instructions":[{"instruction_type":"EXERCISE",'
        '"instrument_id":"AAPL261120C00195000","quantity":"5"},{"account_id":9,"instruction_id":"mine",'
        '"instrument_id":"X261120P00001500","quantity":"7.1"},{"count":3,"flag":false,"quantity":"lots",'
        '"tags":["b","a"]},{"instruction_type":"DO_NOT_EXERCISE","quantity":"40"}],'
        '"instrument_id":"AAPL261120C00195000","level":2,"limit":"2.5","price":"12.34",'
        '"underlying_instrument_id":"TSLA"}'
    )
    assert canonical_arguments(arguments, keys) == (
        '{"big":"1000","cancel_orders":true,"instructions":[{"instruction_id":"cs-mcp-1",'
        '"instruction_type":"EXERCISE","instrument_id":"AAPL261120C00195000","quantity":"5"},'
        '{"account_id":9,"instruction_id":"mine","instrument_id":"X261120P00001500","quantity":"7.1"},'
        '{"count":3,"flag":false,"instruction_id":"cs-mcp-3","quantity":"lots","tags":["b","a"]},'
        '{"instruction_type":"DO_NOT_EXERCISE","quantity":"40"}],"instrument_id":"AAPL261120C00195000",'
        '"level":2,"limit":"2.5","price":"12.34","underlying_instrument_id":"TSLA"}'
    )
    assert arguments_digest(arguments, keys) == "827de6c2acb52228f3b30e85056110785cd89e0b62d334881afc1e8a4e458032"


def test_preview_assigned_keys_bind_the_submit() -> None:
    t = tokens()
    rows = [
        {"instruction_type": "EXERCISE", "instrument_id": "X 261120C00195000", "quantity": "1"},
        {
            "instruction_type": "EXERCISE",
            "instrument_id": "X 261120C00195000",
            "quantity": "2",
            "instruction_id": "mine",
        },
    ]
    keys = ["cs-mcp-generated", "mine"]

    def token() -> str:
        return t.issue(
            "submit_position_instructions", 1, "simulator", {"instructions": rows}, "fp", instruction_keys=keys
        )

    redeemed = t.redeem(token(), "submit_position_instructions", 1, "simulator", {"instructions": rows})
    assert redeemed.instruction_keys == ("cs-mcp-generated", "mine")
    with_keys = [{**rows[0], "instruction_id": "cs-mcp-generated"}, rows[1]]
    t.redeem(token(), "submit_position_instructions", 1, "simulator", {"instructions": with_keys})
    other_key = [{**rows[0], "instruction_id": "cs-mcp-other"}, rows[1]]
    with pytest.raises(ConfirmationRefused) as caught:
        t.redeem(token(), "submit_position_instructions", 1, "simulator", {"instructions": other_key})
    assert caught.value.reason_code is RefusalReason.WRONG_ARGUMENTS


# -- single use under concurrency -----------------------------------------------------------------


def redeem_outcome(t: Tokens, token: str) -> str:
    try:
        t.redeem(token, "close_position", 19816, "simulator", ARGS)
    except ConfirmationRefused as refusal:
        return refusal.reason_code.value
    return "OK"


@pytest.mark.anyio
async def test_five_concurrent_tasks_exactly_one_succeeds() -> None:
    t = tokens()
    token = issue(t)
    outcomes: list[str] = []

    async def attempt() -> None:
        await anyio.lowlevel.checkpoint()
        outcomes.append(redeem_outcome(t, token))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(attempt)
    assert sorted(outcomes) == ["ALREADY_USED"] * 4 + ["OK"]


@pytest.mark.anyio
async def test_five_concurrent_worker_threads_exactly_one_succeeds() -> None:
    t = tokens()
    token = issue(t)
    outcomes: list[str] = []

    async def attempt() -> None:
        outcomes.append(await anyio.to_thread.run_sync(redeem_outcome, t, token))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(attempt)
    assert sorted(outcomes) == ["ALREADY_USED"] * 4 + ["OK"]


def test_racing_threads_exactly_one_succeeds_each_time() -> None:
    t = tokens()
    for _ in range(20):
        token = issue(t)
        barrier = threading.Barrier(16)
        outcomes: list[str] = []
        lock = threading.Lock()

        def attempt(
            token: str = token,
            barrier: threading.Barrier = barrier,
            lock: threading.Lock = lock,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait()
            outcome = redeem_outcome(t, token)
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=attempt) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("OK") == 1 and outcomes.count("ALREADY_USED") == 15


def test_a_spent_token_stays_spent_whatever_the_clock_does() -> None:
    """Single use is the ledger's: a clock stepped back inside the token's life does not revive it."""
    clock = Clock()
    t = tokens(clock, ttl=60)
    token = issue(t)
    t.redeem(token, "close_position", 19816, "simulator", ARGS)
    clock.now = T0 + timedelta(hours=3)
    assert refused(t, token).reason_code is RefusalReason.EXPIRED
    clock.now = T0 - timedelta(seconds=30)  # stepped back: the token is within its life again
    assert refused(t, token).reason_code is RefusalReason.ALREADY_USED


def test_a_spent_token_stays_spent_for_another_process_and_after_a_restart() -> None:
    """Two signers sharing one secret and one ledger file: two processes, or one restarted."""
    first = tokens()
    token = issue(first)
    first.redeem(token, "close_position", 19816, "simulator", ARGS)
    restarted = Tokens(SECRET, 120, Clock(), SqliteLedger(first.ledger.path))
    assert refused(restarted, token).reason_code is RefusalReason.ALREADY_USED


# -- positions fingerprint and what changed ----------------------------------------------------------


def test_fingerprint_is_order_and_price_independent() -> None:
    base = positions_fingerprint([TSLA, AAPL])
    assert positions_fingerprint([AAPL, TSLA]) == base
    assert positions_fingerprint([position("AAPL", "100.00", AAPL_ID, price="999.99"), TSLA]) == base
    assert positions_fingerprint([position("AAPL", "99", AAPL_ID), TSLA]) != base
    assert positions_fingerprint([position("AAPL", "100", AAPL_ID, available="40"), TSLA]) != base
    assert positions_fingerprint([AAPL]) != base
    assert len(base) == 64


def test_positions_changed_says_what_changed() -> None:
    t = tokens()
    redeemed = t.redeem(issue(t), "close_position", 19816, "simulator", ARGS)
    with pytest.raises(ConfirmationRefused) as caught:
        redeemed.check_positions([position("TSLA", "-30", TSLA_ID)])
    assert caught.value.reason_code is RefusalReason.POSITIONS_CHANGED
    assert caught.value.message.startswith(
        "The positions changed since the preview (TSLA quantity -50 → -30; TSLA available -50 → -30)"
    )
    assert "Call preview_close_position again" in caught.value.message


def test_describe_changes() -> None:
    before = positions_projection([TSLA, AAPL])
    after = [position("TSLA", "-50", TSLA_ID, available="-20"), position("NVDA", "10", "nvda-id")]
    assert describe_changes(before, after) == [
        "AAPL: position gone (was 100)",
        "NVDA: new position 10",
        "TSLA available -50 → -20",
    ]
    assert describe_changes(None, after) == []


def test_large_scopes_travel_without_a_projection() -> None:
    t = tokens()
    many = [position(f"S{i}", "1", f"id-{i}") for i in range(PROJECTION_LIMIT + 1)]
    redeemed = t.redeem(issue(t, positions=many), "close_position", 19816, "simulator", ARGS)
    assert redeemed.projection is None
    with pytest.raises(ConfirmationRefused) as caught:
        redeemed.check_positions(many[:-1])
    assert caught.value.message.startswith("The positions changed since the preview, so")


def test_fingerprint_must_match_the_positions_given() -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        tokens().issue("close_position", 1, "simulator", ARGS, "not-the-fingerprint", positions=[TSLA])


def test_token_digest_is_short_and_stable() -> None:
    assert token_digest("abc") == "sha256:ba7816bf8f01"


def test_construction_is_checked() -> None:
    with pytest.raises(ValueError):
        ConfirmationTokens(b"", 120, Clock())
    with pytest.raises(ValueError):
        ConfirmationTokens(SECRET, 0, Clock())
    naive = ConfirmationTokens(SECRET, 120, lambda: datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        naive.issue("close_position", 1, "simulator", ARGS, "fp")
    random_secret = Tokens(b"another server's secret", 120, Clock())
    assert refused(tokens(), issue(random_secret)).reason_code is RefusalReason.BAD_SIGNATURE


def test_the_key_file_is_written_whole_once_and_shared(tmp_path: Path) -> None:
    """Eight threads starting at once all get the one key in the file (0600), never a partial or
    empty one; an empty file left behind (an older version, a full disk) is replaced."""
    import stat
    from concurrent.futures import ThreadPoolExecutor

    from positions_mcp.safety.tokens import load_or_create_secret

    path = tmp_path / "state" / "token-secret"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_secret(path), range(8)))
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    assert path.read_bytes().strip() in keys
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["token-secret"]  # no temporary left behind

    empty = tmp_path / "empty-secret"
    empty.write_bytes(b"\n")
    key = load_or_create_secret(empty)
    assert len(key) == 64 and empty.read_bytes().strip() == key
    assert load_or_create_secret(empty) == key


# -- the person who previewed ----------------------------------------------------------------------


def _payload(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def test_a_token_is_bound_to_the_person_who_previewed() -> None:
    """With OAuth a token names (a digest of) the ``sub`` that previewed: only that person redeems
    it; a token of a preview made without signing in is no one's in particular, and is refused to a
    signed-in person, as theirs is refused to a call without one."""
    t = tokens()
    alices = issue(t, subject="alice@desk.example")
    assert t.verify(alices, "close_position", 19816, "simulator", ARGS, "alice@desk.example").tool == "close_position"
    for other in ("bob@desk.example", "Alice@desk.example", None):
        with pytest.raises(ConfirmationRefused) as caught:
            t.verify(alices, "close_position", 19816, "simulator", ARGS, other)
        assert caught.value.reason_code is RefusalReason.WRONG_PERSON
        assert "another person's preview" in caught.value.message
    anyones = issue(t)
    t.verify(anyones, "close_position", 19816, "simulator", ARGS)
    with pytest.raises(ConfirmationRefused) as caught:
        t.verify(anyones, "close_position", 19816, "simulator", ARGS, "alice@desk.example")
    assert caught.value.reason_code is RefusalReason.WRONG_PERSON
    assert "alice" not in json.dumps(_payload(alices))  # a digest, not the name


def test_a_token_without_a_person_keeps_its_fields() -> None:
    """Without OAuth the payload is what it was before a person could be bound, so tokens issued
    then still verify."""
    assert set(_payload(issue(tokens()))) == {"t", "a", "e", "h", "f", "x", "n", "p"}
    assert set(_payload(issue(tokens(), subject="alice"))) == {"t", "a", "e", "h", "f", "x", "n", "p", "u"}
