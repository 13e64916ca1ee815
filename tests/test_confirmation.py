"""Nothing is closed or exercised without an informed human yes (the confirmation model (README.md)), checked through
the protocol with a real MCP client in both eras (``mode`` auto = 2026-07-28, legacy = 2025-11-25).

Every refusal is proved to send nothing: the simulator's ASGI app is wrapped and every request the
server makes to it is recorded (``Upstream``), and the simulator's own orders and instructions are
counted. A refused attack must not spend the token either: after it, the genuine call succeeds.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import Answer, Person, Recorder, ok, refused, text_of
from inline_snapshot import snapshot
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult, InputResponses
from positions_mcp.safety.tokens import ConfirmationTokens, token_digest
from positions_mcp.settings import Settings
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, Simulator

ACCOUNT = DEMO_PRIMARY_ACCOUNT  # 19816
SECOND = DEMO_INSTRUCTIONS_ACCOUNT  # 122503
LEAP = "AAPL  280121C00195000"  # 122503: 5 long, expires 2028-01-21 (OTM: AAPL 151)
TSLA_C185 = "TSLA  261127C00185000"  # 122503: 3 long, expires on the next expiry day (Fri 2026-11-27)
AAPL_C145 = "AAPL  261127C00145000"  # 19816: 10 long, in the money
SECRET = "hmac-secret-0123456789-abcdefghij"  # also a valid instrument_id, to type it in
STATE_CHANGING = {
    "preview_close_position",
    "close_position",
    "preview_close_positions",
    "close_positions",
    "preview_submit_position_instructions",
    "submit_position_instructions",
    "cancel_position_instruction",
}
ACTIONS_ALL = ("close_position", "close_positions", "submit_position_instructions")


def et(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A New York wall time in November/December 2026 (EST, UTC-5) as an aware UTC instant."""
    return datetime(year, month, day, hour + 5, minute, tzinfo=UTC)


# ------------------------------------------------------------------------------------ harness


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"  # where conftest's make_settings puts it


def audit_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@asynccontextmanager
async def connect(
    settings: Settings, upstream: Recorder, mode: str, person: Person | None = None
) -> AsyncIterator[Client]:
    server = upstream.server(settings)
    async with Client(server, mode=mode, elicitation_callback=person) as client:
        yield client


def row(instruction_type: str, instrument_id: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"instruction_type": instruction_type, "instrument_id": instrument_id, "quantity": quantity, **extra}


CLOSE_ARGS: dict[str, Any] = {"instrument_id": "AAPL"}
SUBMIT_ARGS: dict[str, Any] = {"account_id": SECOND, "instructions": [row("EXERCISE", LEAP, 1)]}
SPECS = {
    "close_position": ("preview_close_position", CLOSE_ARGS),
    "submit_position_instructions": ("preview_submit_position_instructions", SUBMIT_ARGS),
    "close_positions": ("preview_close_positions", {}),
}


def created(sim: Simulator) -> tuple[int, int]:
    """How many orders and instructions the simulator holds (what a state change would add to)."""
    return len(sim.orders()), len(sim.instructions())


async def preview_token(client: Client, tool: str, args: dict[str, Any] | None = None) -> str:
    preview_tool, default = SPECS[tool]
    token = ok(await client.call_tool(preview_tool, default if args is None else args))["confirmation_token"]
    assert isinstance(token, str) and token.startswith("cst1.")
    return token


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def tampered(token: str, how: str) -> str:
    prefix, payload, signature = token.split(".")
    if how == "payload flipped":
        return f"{prefix}.{flip(payload, len(payload) // 2)}.{signature}"
    if how == "signature flipped":
        return f"{prefix}.{payload}.{flip(signature, len(signature) // 2)}"
    if how == "signature truncated":
        return token[:-4]
    if how == "signature cut off":
        return f"{prefix}.{payload}"
    raise AssertionError(how)


def foreign_token(tool: str, account: int, arguments: dict[str, Any]) -> str:
    """A well-formed token for these arguments, signed with another server's secret."""
    tokens = ConfirmationTokens(b"another server's secret", 120, lambda: datetime.now(UTC))
    return tokens.issue(tool, account, "simulator", arguments, "0" * 64)


# -------------------------------------------------------------------------- token attacks

# (attack, tool called, arguments, expected refusal); ``T`` stands for the preview's real token,
# a string naming a tampering for the real token tampered that way, "foreign" for a well-formed token
# another server signed.
T = object()
CLOSE_ATTACKS: list[tuple[str, str, dict[str, Any], str]] = [
    ("no token", "close_position", {"instrument_id": "AAPL"}, "NO_TOKEN"),
    ("blank token", "close_position", {"instrument_id": "AAPL", "confirmation_token": "  "}, "NO_TOKEN"),
    ("other instrument", "close_position", {"instrument_id": "GOOG", "confirmation_token": T}, "WRONG_ARGUMENTS"),
    (
        "other cancel_orders",
        "close_position",
        {"instrument_id": "AAPL", "cancel_orders": True, "confirmation_token": T},
        "WRONG_ARGUMENTS",
    ),
    (
        "other account",
        "close_position",
        {"instrument_id": "AAPL", "account_id": SECOND, "confirmation_token": T},
        "WRONG_ACCOUNT",
    ),
    ("used on close_positions", "close_positions", {"confirmation_token": T}, "WRONG_TOOL"),
    ("used on submit", "submit_position_instructions", {**SUBMIT_ARGS, "confirmation_token": T}, "WRONG_TOOL"),
    (
        "payload flipped",
        "close_position",
        {"instrument_id": "AAPL", "confirmation_token": "payload flipped"},
        "BAD_SIGNATURE",
    ),
    (
        "signature flipped",
        "close_position",
        {"instrument_id": "AAPL", "confirmation_token": "signature flipped"},
        "BAD_SIGNATURE",
    ),
    (
        "signature truncated",
        "close_position",
        {"instrument_id": "AAPL", "confirmation_token": "signature truncated"},
        "BAD_SIGNATURE",
    ),
    (
        "signature cut off",
        "close_position",
        {"instrument_id": "AAPL", "confirmation_token": "signature cut off"},
        "MALFORMED",
    ),
    ("not a token", "close_position", {"instrument_id": "AAPL", "confirmation_token": "yes, go ahead"}, "MALFORMED"),
    (
        "another server's token",
        "close_position",
        {"instrument_id": "AAPL", "confirmation_token": "foreign"},
        "BAD_SIGNATURE",
    ),
]
SUBMIT_ATTACKS: list[tuple[str, str, dict[str, Any], str]] = [
    ("no token", "submit_position_instructions", SUBMIT_ARGS, "NO_TOKEN"),
    (
        "other quantity",
        "submit_position_instructions",
        {"account_id": SECOND, "instructions": [row("EXERCISE", LEAP, 2)], "confirmation_token": T},
        "WRONG_ARGUMENTS",
    ),
    (
        "other instrument",
        "submit_position_instructions",
        {"account_id": SECOND, "instructions": [row("EXERCISE", TSLA_C185, 1)], "confirmation_token": T},
        "WRONG_ARGUMENTS",
    ),
    (
        "other instruction type",
        "submit_position_instructions",
        {"account_id": SECOND, "instructions": [row("CONTRARY_EXERCISE", LEAP, 1)], "confirmation_token": T},
        "WRONG_ARGUMENTS",
    ),
    (
        "other instruction_id",
        "submit_position_instructions",
        {
            "account_id": SECOND,
            "instructions": [row("EXERCISE", LEAP, 1, instruction_id="mine-001")],
            "confirmation_token": T,
        },
        "WRONG_ARGUMENTS",
    ),
    (
        "extra row",
        "submit_position_instructions",
        {
            "account_id": SECOND,
            "instructions": [row("EXERCISE", LEAP, 1), row("EXERCISE", TSLA_C185, 1)],
            "confirmation_token": T,
        },
        "WRONG_ARGUMENTS",
    ),
    (
        "other account",
        "submit_position_instructions",
        {**SUBMIT_ARGS, "account_id": ACCOUNT, "confirmation_token": T},
        "WRONG_ACCOUNT",
    ),
    (
        "used on close_position",
        "close_position",
        {"instrument_id": "AAPL", "account_id": SECOND, "confirmation_token": T},
        "WRONG_TOOL",
    ),
    (
        "payload flipped",
        "submit_position_instructions",
        {**SUBMIT_ARGS, "confirmation_token": "payload flipped"},
        "BAD_SIGNATURE",
    ),
    (
        "signature flipped",
        "submit_position_instructions",
        {**SUBMIT_ARGS, "confirmation_token": "signature flipped"},
        "BAD_SIGNATURE",
    ),
    (
        "signature truncated",
        "submit_position_instructions",
        {**SUBMIT_ARGS, "confirmation_token": "signature truncated"},
        "BAD_SIGNATURE",
    ),
    (
        "signature cut off",
        "submit_position_instructions",
        {**SUBMIT_ARGS, "confirmation_token": "signature cut off"},
        "MALFORMED",
    ),
    (
        "another server's token",
        "submit_position_instructions",
        {**SUBMIT_ARGS, "confirmation_token": "foreign"},
        "BAD_SIGNATURE",
    ),
]
ATTACKS = {"close_position": CLOSE_ATTACKS, "submit_position_instructions": SUBMIT_ATTACKS}
TAMPERINGS = {"payload flipped", "signature flipped", "signature truncated", "signature cut off"}


def armed(arguments: dict[str, Any], token: str, victim: str) -> dict[str, Any]:
    """The attack's arguments with its token put in."""
    value = arguments.get("confirmation_token")
    if value is T:
        return {**arguments, "confirmation_token": token}
    if value == "foreign":
        if victim == "close_position":
            account, bound = ACCOUNT, {"instrument_id": "AAPL", "cancel_orders": False}
        else:
            account, bound = SECOND, {"instructions": [row("EXERCISE", LEAP, 1, instruction_id="cs-mcp-x")]}
        return {**arguments, "confirmation_token": foreign_token(victim, account, bound)}
    if value in TAMPERINGS:
        return {**arguments, "confirmation_token": tampered(token, value)}
    return arguments


@pytest.mark.anyio
@pytest.mark.parametrize("victim", list(ATTACKS))
async def test_token_attacks_are_refused_and_send_nothing(
    simulator: Simulator,
    upstream: Recorder,
    make_settings: Callable[..., Settings],
    audit_path: Path,
    mode: str,
    victim: str,
) -> None:
    _, genuine = SPECS[victim]
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        token = await preview_token(client, victim)
        before = created(simulator)

        for attack, tool, arguments, reason in ATTACKS[victim]:
            result = await client.call_tool(tool, armed(arguments, token, victim))
            text = refused(result, reason)
            assert f"Call preview_{tool} again" in text, attack  # says what to do instead
            assert upstream.writes == [], attack
            assert created(simulator) == before, attack
            last = audit_lines(audit_path)[-1]
            assert (last["event"], last["tool"], last["outcome"]) == ("refusal", tool, reason), attack

        # No refused attempt spent the token: the genuine call goes through, once.
        executed = ok(await client.call_tool(victim, {**genuine, "confirmation_token": token}))
        assert executed["confirmed_by"] == "confirmation_token"
        assert len(upstream.writes) == 1
        after = created(simulator)
        assert after != before

        # Replayed.
        text = refused(await client.call_tool(victim, {**genuine, "confirmation_token": token}), "ALREADY_USED")
        assert "each one allows a single execution" in text
        assert len(upstream.writes) == 1 and created(simulator) == after


@pytest.mark.anyio
async def test_close_positions_needs_a_token_and_uses_it_once(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        refused(await client.call_tool("close_positions", {}), "NO_TOKEN")
        refused(
            await client.call_tool(
                "close_positions", {"confirmation_token": await preview_token(client, "close_position")}
            ),
            "WRONG_TOOL",
        )
        assert upstream.writes == []
        token = await preview_token(client, "close_positions")
        result = ok(await client.call_tool("close_positions", {"confirmation_token": token}))
        assert len(result["orders"]) == 16  # every position but the USD cash balance
        refused(await client.call_tool("close_positions", {"confirmation_token": token}), "ALREADY_USED")
    assert upstream.writes == [("DELETE", f"/v1/accounts/{ACCOUNT}/positions")]


@pytest.mark.anyio
async def test_tokens_expire_on_the_simulators_clock(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token", POSITIONS_MCP_CONFIRM_TTL="30")
    tools = ("close_position", "submit_position_instructions")
    async with connect(settings, upstream, mode) as client:
        late = {tool: await preview_token(client, tool) for tool in tools}
        simulator.advance(31)
        for tool in tools:
            args = SPECS[tool][1]
            text = refused(await client.call_tool(tool, {**args, "confirmation_token": late[tool]}), "EXPIRED")
            assert "expired at 10:00:30 ET (tokens live 30 s)" in text
        assert upstream.writes == []

        in_time = {tool: await preview_token(client, tool) for tool in tools}
        simulator.advance(29)
        for tool in tools:
            ok(await client.call_tool(tool, {**SPECS[tool][1], "confirmation_token": in_time[tool]}))
    assert len(upstream.writes) == 2


@pytest.mark.anyio
async def test_five_concurrent_executions_with_one_token_send_once(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        for tool in ("close_position", "submit_position_instructions"):
            args = SPECS[tool][1]
            token = await preview_token(client, tool)
            orders, instructions = created(simulator)
            sent = len(upstream.writes)
            results: list[CallToolResult] = []

            async def execute() -> None:
                results.append(await client.call_tool(tool, {**args, "confirmation_token": token}))  # noqa: B023

            async with anyio.create_task_group() as group:
                for _ in range(5):
                    group.start_soon(execute)

            assert len(results) == 5
            assert len([r for r in results if not r.is_error]) == 1, tool
            for loser in [r for r in results if r.is_error]:
                refused(loser, "ALREADY_USED")
            assert len(upstream.writes) == sent + 1
            if tool == "close_position":
                assert created(simulator) == (orders + 1, instructions)
            else:
                assert created(simulator) == (orders, instructions + 1)


# --------------------------------------------------------------------- positions changed


@pytest.mark.anyio
async def test_close_refused_when_the_position_changed_since_the_preview(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], audit_path: Path, mode: str
) -> None:
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        token = await preview_token(client, "close_position")
        await upstream.behind_our_back("DELETE", f"/v1/accounts/{ACCOUNT}/positions/AAPL")
        simulator.advance(2)  # half of that order (50) fills; the other 50 are still working
        orders = created(simulator)

        part = refused(
            await client.call_tool("close_position", {**CLOSE_ARGS, "confirmation_token": token}), "POSITIONS_CHANGED"
        )
        assert "(AAPL quantity 100 → 50; AAPL available 100 → 0)" in part
        assert "so this confirmation no longer applies" in part

        everything = {"instrument_id": "AAPL", "cancel_orders": True}
        token = await preview_token(client, "close_position", everything)
        simulator.advance(5)  # the other order fills: no AAPL position any more
        gone = refused(
            await client.call_tool("close_position", {**everything, "confirmation_token": token}), "POSITIONS_CHANGED"
        )
        assert "(AAPL: position gone (was 50))" in gone

    assert upstream.writes == [] and created(simulator) == orders
    assert [line["outcome"] for line in audit_lines(audit_path) if line["event"] == "refusal"] == [
        "POSITIONS_CHANGED",
        "POSITIONS_CHANGED",
    ]


@pytest.mark.anyio
async def test_submit_refused_when_the_contracts_changed_since_the_preview(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        token = await preview_token(client, "submit_position_instructions")
        body = [
            {"instruction_type": "EXERCISE", "instrument_id": LEAP, "quantity": "2", "client_instruction_id": "desk-1"}
        ]
        await upstream.behind_our_back("POST", f"/v1/accounts/{SECOND}/positions/instructions", body)
        before = created(simulator)

        text = refused(
            await client.call_tool("submit_position_instructions", {**SUBMIT_ARGS, "confirmation_token": token}),
            "POSITIONS_CHANGED",
        )

    assert "(AAPL280121C00195000 available 5 → 3)" in text
    assert upstream.writes == [] and created(simulator) == before


# ---------------------------------------------------------------------------- elicitation

ELICITED = {
    "close_position": ("preview_close_position", {"instrument_id": "TSLA"}),
    "submit_position_instructions": ("preview_submit_position_instructions", SUBMIT_ARGS),
    "close_positions": ("preview_close_positions", {}),
}


@pytest.mark.anyio
async def test_elicitation_yes_sends_exactly_once_what_was_shown(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], audit_path: Path, mode: str
) -> None:
    person = Person("accept")
    async with connect(make_settings(), upstream, mode, person) as client:
        for tool, (preview_tool, args) in ELICITED.items():
            asked = len(person.questions)
            sent = len(upstream.writes)
            shown = ok(await client.call_tool(preview_tool, args))["plan"]["summary"]

            result = ok(await client.call_tool(tool, args))

            assert result["confirmed_by"] == "elicitation"
            assert len(person.questions) == asked + 1, tool  # asked once, in either era
            question = person.questions[-1]
            assert question.startswith(f"[SIMULATOR] account {args.get('account_id', ACCOUNT)}: {tool}\n{shown}\n")
            assert re.search(r"\nSend this now\? \(preview sha256:[0-9a-f]{12}\)$", question), question
            assert len(upstream.writes) == sent + 1
            if tool == "submit_position_instructions":
                # The idempotency key the person was shown (and audited with the question) is submitted.
                question_line = [line for line in audit_lines(audit_path) if line["event"] == "question"][-1]
                [submitted] = result["instructions"]
                assert question_line["instruction_ids"] == [submitted["client_instruction_id"]]
                assert f"(key {submitted['client_instruction_id']})" in question
                assert [i["client_instruction_id"] for i in simulator.instructions(SECOND)][-1] == (
                    submitted["client_instruction_id"]
                )
            elif tool == "close_position":
                assert [(o["side"], o["quantity"], o["symbol"]) for o in result["orders"]] == [("BUY", "50", "TSLA")]
            else:  # TSLA has a working closing order now: 15 positions left to close
                assert (
                    "Send 15 MARKET DAY orders" in question
                    and "Warning: CASH positions are not closed: USD." in question
                )
                assert len(result["orders"]) == 15


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("action", "content", "said"),
    [
        ("decline", None, "The person chose 'decline'."),
        ("cancel", None, "The person chose 'cancel'."),
        ("accept", {"confirm": False}, "The person did not confirm."),
    ],
    ids=["decline", "cancel", "accept-no"],
)
async def test_elicitation_without_a_yes_sends_nothing(
    simulator: Simulator,
    upstream: Recorder,
    make_settings: Callable[..., Settings],
    audit_path: Path,
    mode: str,
    action: Answer,
    content: dict[str, Any] | None,
    said: str,
) -> None:
    person = Person(action, content)
    before = created(simulator)
    async with connect(make_settings(), upstream, mode, person) as client:
        for tool in ("close_position", "submit_position_instructions"):
            text = refused(await client.call_tool(tool, ELICITED[tool][1]), "DECLINED")
            assert said in text

    assert len(person.questions) == 2
    assert upstream.writes == [] and created(simulator) == before
    assert [(line["event"], line["tool"], line["outcome"]) for line in audit_lines(audit_path)] == [
        ("question", "close_position", "asked"),  # what the person was shown
        ("refusal", "close_position", "DECLINED"),
        ("question", "submit_position_instructions", "asked"),
        ("refusal", "submit_position_instructions", "DECLINED"),
    ]


@pytest.mark.anyio
async def test_nothing_is_asked_about_a_position_the_account_does_not_hold(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], audit_path: Path, mode: str
) -> None:
    person = Person("accept")
    async with connect(make_settings(), upstream, mode, person) as client:
        text = refused(await client.call_tool("close_position", {"instrument_id": "IBM"}), "UNKNOWN_INSTRUMENT")
    assert "No position of account 19816 matches 'IBM'" in text
    assert person.questions == [] and upstream.writes == []
    [line] = audit_lines(audit_path)
    assert (line["event"], line["tool"], line["outcome"]) == ("refusal", "close_position", "UNKNOWN_INSTRUMENT")


@pytest.mark.anyio
async def test_two_concurrent_elicited_closes_send_once(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """Two racing calls, each answered yes: one close is sent. The other is refused with nothing
    sent, however the calls interleave: the shared preview's token is already used; or its own
    preview (computed after the winner spent the shared one) no longer matches the positions; or,
    on 2026-07-28, the resumed call finds nothing left to close."""
    person = Person("accept")
    results: list[CallToolResult] = []
    async with connect(make_settings(), upstream, mode, person) as client:

        async def execute() -> None:
            results.append(await client.call_tool("close_position", {"instrument_id": "TSLA"}))

        async with anyio.create_task_group() as group:
            group.start_soon(execute)
            group.start_soon(execute)

    assert len(person.questions) == 2  # one question per call (each names its own preview)
    assert sorted(r.is_error for r in results) == [False, True]
    loser = text_of(next(r for r in results if r.is_error))
    reasons = ("ALREADY_USED", "POSITIONS_CHANGED", "BLOCKED", "REPEAT_NOT_SHOWN")
    assert any(f"Refused ({reason})" in loser for reason in reasons), loser
    assert "Nothing was sent" in loser
    assert len(upstream.writes) == 1


@pytest.mark.anyio
async def test_a_retry_after_an_upstream_failure_asks_again(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """The first yes was spent on a call that failed; the retry gets a new question, not a refusal."""
    simulator.faults.add(500, method="DELETE", times=1)
    person = Person("accept")
    async with connect(make_settings(), upstream, mode, person) as client:
        failed = await client.call_tool("close_position", {"instrument_id": "TSLA"})
        assert failed.is_error and "OUTCOME UNKNOWN (HTTP 500)" in text_of(failed)
        ok(await client.call_tool("close_position", {"instrument_id": "TSLA"}))
    assert len(person.questions) == 2
    assert len(upstream.writes) == 2 and len(simulator.orders(ACCOUNT)) == 2  # the resting MSFT order and ours


@pytest.mark.anyio
async def test_positions_changing_while_the_person_decides(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """What is sent is what the person saw: in both eras the execution plans again from fresh
    positions with the token the question showed, and refuses because they moved."""

    class Busy(Person):
        async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
            if not self.questions:  # someone else closes half of AAPL while the person reads
                await upstream.behind_our_back("DELETE", f"/v1/accounts/{ACCOUNT}/positions/AAPL")
                simulator.advance(2)
            return await super().__call__(context, params)

    person = Busy("accept")
    async with connect(make_settings(), upstream, mode, person) as client:
        result = await client.call_tool("close_position", CLOSE_ARGS)

    assert len(person.questions) == 1 and "SELL 100 AAPL" in person.questions[0]
    assert "(AAPL quantity 100 → 50; AAPL available 100 → 0)" in refused(result, "POSITIONS_CHANGED")
    assert upstream.writes == []


# ---------------------------------------------------------------------- confirmation modes


@pytest.mark.anyio
async def test_auto_mode_asks_when_it_can_and_wants_the_token_when_it_cannot(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    server = upstream.server(make_settings())
    person = Person("decline")
    async with Client(server, mode=mode, elicitation_callback=person) as client:
        token = await preview_token(client, "close_position")
        # The model cannot skip the question: a valid token alone is not enough.
        refused(await client.call_tool("close_position", {**CLOSE_ARGS, "confirmation_token": token}), "DECLINED")
        assert len(person.questions) == 1 and upstream.writes == []
    async with Client(server, mode=mode) as client:
        refused(await client.call_tool("close_position", CLOSE_ARGS), "NO_TOKEN")
        assert upstream.writes == []
        result = ok(await client.call_tool("close_position", {**CLOSE_ARGS, "confirmation_token": token}))
    assert result["confirmed_by"] == "confirmation_token" and len(upstream.writes) == 1


@pytest.mark.anyio
async def test_token_mode_never_asks(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    person = Person("accept")
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode, person) as client:
        for tool in ("close_position", "submit_position_instructions"):
            args = SPECS[tool][1]
            sent = len(upstream.writes)
            refused(await client.call_tool(tool, args), "NO_TOKEN")
            assert len(upstream.writes) == sent
            token = await preview_token(client, tool)
            assert ok(await client.call_tool(tool, {**args, "confirmation_token": token}))["confirmed_by"] == (
                "confirmation_token"
            )
            assert len(upstream.writes) == sent + 1
    assert person.questions == []


@pytest.mark.anyio
async def test_elicitation_mode_refuses_clients_that_cannot_ask_and_works_with_those_that_can(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], audit_path: Path, mode: str
) -> None:
    server = upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="elicitation"))
    async with Client(server, mode=mode) as client:
        for tool in ACTIONS_ALL:
            # the preview says this client can never execute it, and issues no token it could not use
            preview_name, arguments = SPECS[tool][0], SPECS[tool][1]
            shown = ok(await client.call_tool(preview_name, arguments))
            assert shown.get("confirmation_token") is None and shown["plan"]
            assert shown["next_step"].startswith("Nothing previewed here can be executed from this client")
            text = refused(await client.call_tool(tool, arguments), "ELICITATION_UNAVAILABLE")
            assert "POSITIONS_MCP_CONFIRMATION is 'elicitation' and this client cannot ask the person" in text
            assert audit_lines(audit_path)[-1]["outcome"] == "ELICITATION_UNAVAILABLE"
    assert upstream.writes == []

    person = Person("accept")
    async with Client(server, mode=mode, elicitation_callback=person) as client:
        for tool in ("close_position", "submit_position_instructions"):
            assert ok(await client.call_tool(tool, SPECS[tool][1]))["confirmed_by"] == "elicitation"
    assert len(person.questions) == 2 and len(upstream.writes) == 2


# ------------------------------------------------------------------- read-only, allowlist


@pytest.mark.anyio
async def test_read_only_registers_no_state_changing_tool(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    async with connect(make_settings(POSITIONS_MCP_READ_ONLY="true"), upstream, mode, Person()) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert listed & STATE_CHANGING == set()
        assert {"get_positions", "get_position_instructions", "summarize_exposure"} <= listed
        for name in sorted(STATE_CHANGING):
            result = await client.call_tool(name, {"instrument_id": "AAPL", "confirmation_token": "x"})
            assert result.is_error and text_of(result) == f"Unknown tool: {name}"
    assert upstream.calls == []


@pytest.mark.anyio
async def test_an_account_outside_the_allowlist_is_refused_before_the_upstream(
    simulator: Simulator,
    upstream: Recorder,
    make_settings: Callable[..., Settings],
    audit_path: Path,
    mode: str,
) -> None:
    settings = make_settings(POSITIONS_MCP_ALLOWED_ACCOUNTS=str(ACCOUNT))
    calls: list[tuple[str, dict[str, Any]]] = [
        ("preview_close_position", {"instrument_id": "AAPL", "account_id": SECOND}),
        ("close_position", {"instrument_id": "AAPL", "account_id": SECOND, "confirmation_token": "T"}),
        ("preview_close_positions", {"account_id": SECOND}),
        ("close_positions", {"account_id": SECOND, "confirmation_token": "T"}),
        ("preview_submit_position_instructions", SUBMIT_ARGS),
        ("submit_position_instructions", {**SUBMIT_ARGS, "confirmation_token": "T"}),
        (
            "cancel_position_instruction",
            {"account_id": SECOND, "instruction_id": "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e02"},
        ),
    ]
    server = upstream.server(settings)
    async with Client(server, mode=mode) as client:  # token route
        token = await preview_token(client, "close_position")  # 19816 is allowed
        for name, args in calls:
            result = await client.call_tool(name, {k: token if v == "T" else v for k, v in args.items()})
            text = refused(result, "ACCOUNT_NOT_ALLOWED")
            assert f"account {SECOND} is not in POSITIONS_MCP_ALLOWED_ACCOUNTS (19816)" in text, name
    person = Person("accept")
    async with Client(server, mode=mode, elicitation_callback=person) as client:  # elicitation route
        for name in ("close_position", "close_positions", "submit_position_instructions"):
            refused(
                await client.call_tool(name, dict(calls)[name] | {"confirmation_token": None}), "ACCOUNT_NOT_ALLOWED"
            )
    assert person.questions == []
    assert not any(f"/{SECOND}" in path for _, path in upstream.calls)
    assert upstream.writes == []
    refusals = [line for line in audit_lines(audit_path) if line["event"] == "refusal"]
    assert [(line["tool"], line["account_id"], line["outcome"]) for line in refusals] == [
        (name, SECOND, "ACCOUNT_NOT_ALLOWED")
        for name in [name for name, _ in calls] + ["close_position", "close_positions", "submit_position_instructions"]
    ]


# ------------------------------------------------------------------------ preview content


@pytest.mark.anyio
async def test_preview_close_of_an_option_snapshot(client: Client) -> None:
    preview = ok(await client.call_tool("preview_close_position", {"instrument_id": AAPL_C145}))
    assert preview["confirmation_token"].startswith("cst1.")
    assert preview["expires_at"] == "2026-11-23T15:02:00Z"  # 120 s of simulated time
    assert {**preview, "confirmation_token": "<token>"} == snapshot(
        {
            "environment": "simulator",
            "account_id": 19816,
            "plan": {
                "scope": "position",
                "target": "AAPL  261127C00145000",
                "cancel_orders": False,
                "order_count": 1,
                "orders": [
                    {
                        "symbol": "AAPL261127C00145000",
                        "instrument_id": "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe",
                        "instrument_type": "OPTION",
                        "side": "SELL",
                        "quantity": "10",
                        "position_quantity": "10",
                        "order_type": "MARKET",
                        "time_in_force": "DAY",
                        "estimated_price": "6.10",
                        "price_source": "bid",
                        "multiplier": 100,
                        "estimated_notional": "6100.00",
                    },
                ],
                "estimated_total": "6100.00",
                "max_close_notional": None,
                "market_open": True,
                "next_open": None,
                "cancel_orders_effect": "cancel_orders=false: working orders are left alone; nothing is tied up in them, so each position closes in full.",
                "excluded": [],
                "warnings": [
                    {
                        "code": "OPTION_CONTRACTS",
                        "message": "Option quantities are contracts of 100 shares: notional = contracts × price "
                        "× 100 (AAPL 261127C00145000).",
                        "symbol": "AAPL 261127C00145000",
                    },
                ],
                "blocked": [],
                "summary": "Send 1 MARKET DAY order: SELL 10 AAPL 261127C00145000 contracts (~$6,100.00); estimated total $6,100.00 at the bid.",
                "allowed": True,
            },
            "confirmation_token": "<token>",
            "expires_at": "2026-11-23T15:02:00Z",
            "notes": [],
            "next_step": "Show this preview (summary, every warning in the plan, repeat_of and notes when present) to the person and ask for an explicit yes. Only after that yes, call close_position with the same arguments and this confirmation_token (if the client can ask the person, the server asks them itself). If the person says no, do nothing.",
        }
    )


@pytest.mark.anyio
async def test_close_previews_say_what_would_be_sent(simulator: Simulator, client: Client) -> None:
    async def plan(**args: Any) -> dict[str, Any]:
        shown: dict[str, Any] = ok(await client.call_tool("preview_close_position", args))["plan"]
        return shown

    def orders(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(o["side"], o["quantity"], o["estimated_notional"]) for o in plan["orders"]]

    long, short, option = (
        await plan(instrument_id="AAPL"),
        await plan(instrument_id="tsla"),
        await plan(instrument_id=AAPL_C145),
    )
    # Estimates at the snapshot's bid (sells) and ask (buys): the simulator quotes 2 ticks either side
    # of the price (equities: $0.01; options from $3: $0.05).
    assert orders(long) == [("SELL", "100", "15098.00")]  # 100 × $150.98 (bid; AAPL trades at $151.00)
    assert [(o["estimated_price"], o["price_source"]) for o in long["orders"]] == [("150.98", "bid")]
    assert orders(short) == [("BUY", "50", "8926.00")]  # 50 × $178.52 (ask)
    assert (
        short["summary"] == "Send 1 MARKET DAY order: BUY 50 TSLA (~$8,926.00); estimated total $8,926.00 at the ask."
    )
    assert orders(option) == [("SELL", "10", "6100.00")]  # 10 × $6.10 (bid) × 100
    assert option["orders"][0]["multiplier"] == 100 and [w["code"] for w in option["warnings"]] == ["OPTION_CONTRACTS"]
    assert long["warnings"] == short["warnings"] == [] and long["market_open"] is True

    # MSFT: 80 of 200 are reserved by a working limit order.
    available, everything = await plan(instrument_id="MSFT"), await plan(instrument_id="MSFT", cancel_orders=True)
    assert orders(available) == [("SELL", "120", "50133.60")]  # 120 × $417.78
    assert [w["code"] for w in available["warnings"]] == ["WORKING_ORDERS"]
    assert "80 of 200 are tied up in working orders, so this close sends 120" in available["warnings"][0]["message"]
    assert orders(everything) == [("SELL", "200", "83556.00")]
    assert everything["summary"].startswith(
        "Cancel any working orders on MSFT, then send 1 MARKET DAY order: SELL 200 MSFT"
    )

    # Market closed: after the close, then on a Saturday.
    for now, opens in (
        (et(2026, 11, 23, 16, 30), "Tue 2026-11-24 09:30 ET"),
        (et(2026, 11, 28, 10), "Mon 2026-11-30 09:30 ET"),
    ):
        simulator.set_now(now)
        closed = await plan(instrument_id="AAPL")
        assert closed["market_open"] is False
        [warning] = [w for w in closed["warnings"] if w["code"] == "MARKET_CLOSED"]
        assert f"it opens {opens}" in warning["message"]
        assert closed["summary"].endswith(f"The market is closed now: the orders will wait for the open at {opens}.")


@pytest.mark.anyio
async def test_notional_cap_blocks_the_preview_and_the_execution(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    capped = upstream.server(make_settings(POSITIONS_MCP_TOKEN_SECRET=SECRET, POSITIONS_MCP_MAX_CLOSE_NOTIONAL="10000"))
    person = Person("accept")
    async with Client(capped, mode=mode, elicitation_callback=person) as client:
        preview = ok(await client.call_tool("preview_close_position", CLOSE_ARGS))
        assert preview.get("confirmation_token") is None and preview.get("expires_at") is None
        assert [b["code"] for b in preview["plan"]["blocked"]] == ["NOTIONAL_CAP"]
        assert preview["plan"]["summary"] == (
            "Blocked, nothing will be sent: The estimated notional $15,098.00 is above the "
            "POSITIONS_MCP_MAX_CLOSE_NOTIONAL cap of $10,000.00, so this close will be refused."
        )
        assert preview["next_step"] == "Nothing can be sent: the plan says what is blocked. Fix that and preview again."
        assert ok(await client.call_tool("preview_close_position", {"instrument_id": "TSLA"}))["confirmation_token"]

        # Asked nothing: there is nothing to say yes to.
        assert "above the POSITIONS_MCP_MAX_CLOSE_NOTIONAL cap" in refused(
            await client.call_tool("close_position", CLOSE_ARGS), "BLOCKED"
        )
        assert person.questions == []

    # A token from a server without the cap (same secret) does not get past it either.
    uncapped = make_settings(POSITIONS_MCP_TOKEN_SECRET=SECRET, POSITIONS_MCP_CONFIRMATION="token")
    async with connect(uncapped, upstream, mode) as client:
        token = await preview_token(client, "close_position")
    async with Client(capped, mode=mode) as client:
        text = refused(await client.call_tool("close_position", {**CLOSE_ARGS, "confirmation_token": token}), "BLOCKED")
    assert "above the POSITIONS_MCP_MAX_CLOSE_NOTIONAL cap" in text
    assert upstream.writes == []


@pytest.mark.anyio
async def test_instruction_previews_run_the_preflight_rules(simulator: Simulator, client: Client) -> None:
    async def preview(account: int, *rows: dict[str, Any]) -> dict[str, Any]:
        return ok(
            await client.call_tool(
                "preview_submit_position_instructions", {"account_id": account, "instructions": list(rows)}
            )
        )

    dne = await preview(SECOND, row("DO_NOT_EXERCISE", LEAP, 1))
    too_many = await preview(SECOND, row("EXERCISE", LEAP, 6))
    for blocked, code in ((dne, "DNE_NOT_ON_EXPIRY"), (too_many, "INSUFFICIENT_POSITION")):
        assert blocked.get("confirmation_token") is None and blocked["plan"]["ready"] is False
        assert [(r["status"], r["reason"]) for r in blocked["plan"]["rows"]] == [("BLOCKED", code)]
        assert blocked["next_step"] == "Nothing can be sent: the plan says what is blocked. Fix that and preview again."
    assert "expiration business day Fri 2028-01-21, which has not come yet" in dne["plan"]["rows"][0]["message"]
    assert "Requested 6 AAPL 280121C00195000 but only 5 can be instructed" in too_many["plan"]["rows"][0]["message"]

    itm = (await preview(ACCOUNT, row("EXERCISE", AAPL_C145, 10)))["plan"]["rows"][0]
    otm = (await preview(SECOND, row("EXERCISE", LEAP, 2)))["plan"]["rows"][0]
    assert (itm["moneyness"]["state"], itm["moneyness"]["intrinsic_per_share"]) == ("ITM", "6.00")
    assert itm["delivery"]["text"] == "receive 1000 AAPL shares at $145.00 and pay $145,000.00"
    assert (itm["delivery"]["shares"], itm["delivery"]["cash"]) == ("1000", "-145000.00")
    assert itm["notes"][0] == "in the money (AAPL $151.00 vs strike $145.00): intrinsic value $6,000.00"
    assert otm["moneyness"]["state"] == "OTM"
    assert otm["delivery"]["text"] == "receive 200 AAPL shares at $195.00 and pay $39,000.00"
    assert otm["notes"] == [
        "out of the money (AAPL $151.00 vs strike $195.00): exercising costs $8,800.00 more than trading the shares",
        # the terms come from Clear Street's option-contracts endpoint, read with the preview
        "contract terms: 100 shares a contract, multiplier 100, AMERICAN (contract endpoint)",
    ]

    simulator.set_now(et(2026, 11, 27, 10))  # the expiry day of TSLA 261127C00185000
    on_expiry = await preview(SECOND, row("DO_NOT_EXERCISE", TSLA_C185, 3))
    assert on_expiry["plan"]["ready"] is True and on_expiry["confirmation_token"]
    assert on_expiry["plan"]["summary"].startswith(
        # 2026-11-27 closes early (13:00 ET): the exercise cutoff is 14:30 ET (FINRA Rule 2360(b)(23)(A))
        "Submit 1 instruction before Fri 2026-11-27 14:30 ET: DO_NOT_EXERCISE 3 TSLA 261127C00185000"
    )


@pytest.mark.anyio
async def test_the_submit_uses_the_keys_the_preview_assigned(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    rows = [row("EXERCISE", LEAP, 1), row("EXERCISE", TSLA_C185, 2)]
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        preview = ok(
            await client.call_tool("preview_submit_position_instructions", {"account_id": SECOND, "instructions": rows})
        )
        keys = [r["instruction_id"] for r in preview["plan"]["rows"]]
        assert all(k.startswith("cs-mcp-") for k in keys) and len(set(keys)) == 2
        assert all(r["generated_key"] for r in preview["plan"]["rows"])
        result = ok(
            await client.call_tool(
                "submit_position_instructions",
                {"account_id": SECOND, "instructions": rows, "confirmation_token": preview["confirmation_token"]},
            )
        )
        # Repeating the assigned key explicitly is the same request.
        again = ok(
            await client.call_tool(
                "preview_submit_position_instructions", {"account_id": SECOND, "instructions": rows[:1]}
            )
        )
        [key] = [r["instruction_id"] for r in again["plan"]["rows"]]
        ok(
            await client.call_tool(
                "submit_position_instructions",
                {
                    "account_id": SECOND,
                    "instructions": [{**rows[0], "instruction_id": key}],
                    "confirmation_token": again["confirmation_token"],
                },
            )
        )
    assert [i["client_instruction_id"] for i in result["instructions"]] == keys
    assert [i["client_instruction_id"] for i in simulator.instructions(SECOND)][-3:] == [*keys, key]
    assert len(upstream.writes) == 2


@pytest.mark.anyio
async def test_close_execution_snapshot(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        token = await preview_token(client, "close_position", {"instrument_id": "TSLA"})
        result = ok(await client.call_tool("close_position", {"instrument_id": "TSLA", "confirmation_token": token}))
    [order] = result["orders"]
    assert order["id"] == simulator.orders(ACCOUNT)[-1]["id"] and result["request_id"]
    assert result["confirmation"] == token_digest(token)
    masked = {"request_id": "<request_id>", "confirmation": "<digest>", "orders": [{**order, "id": "<order_id>"}]}
    assert {**result, **masked} == snapshot(
        {
            "environment": "simulator",
            "account_id": 19816,
            "orders": [
                {
                    "id": "<order_id>",
                    "account_id": 19816,
                    "client_order_id": "close-position-20261123-0001",
                    "created_at": "2026-11-23T15:00:00Z",
                    "updated_at": "2026-11-23T15:00:00Z",
                    "filled_quantity": "0",
                    "leaves_quantity": "50",
                    "order_type": "MARKET",
                    "quantity": "50",
                    "side": "BUY",
                    "status": "PENDING_NEW",
                    "time_in_force": "DAY",
                    "venue": "XNMS",
                    "instrument_id": "d4d5d6d7-e4e5-f4f5-a4a5-a6a7a8a9aaab",
                    "instrument_type": "COMMON_STOCK",
                    "symbol": "TSLA",
                    "average_fill_price": None,
                    "limit_price": None,
                    "stop_price": None,
                    "details": None,
                    "expires_at": None,
                    "extended_hours": False,
                    "underlying_instrument_id": None,
                    "underlying_instrument_type": None,
                    "strategy": None,
                    "queue_state": None,
                    "releases_at": None,
                    "limit_offset": None,
                    "trailing_offset": None,
                    "trailing_offset_type": None,
                    "trailing_stop_px": None,
                    "trailing_limit_px": None,
                },
            ],
            "confirmation": "<digest>",
            "request_id": "<request_id>",
            "confirmed_by": "confirmation_token",
            "summary": "1 closing order(s) created: BUY 50 TSLA (PENDING_NEW)",
        }
    )


# ---------------------------------------------------------------------------------- audit


@pytest.mark.anyio
async def test_audit_log_has_one_line_per_preview_execution_and_refusal_and_no_secret(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], audit_path: Path, mode: str
) -> None:
    settings = make_settings(POSITIONS_MCP_TOKEN_SECRET=SECRET, POSITIONS_MCP_CONFIRMATION="token")
    tokens: list[str] = []
    async with connect(settings, upstream, mode) as client:
        tokens.append(await preview_token(client, "close_position"))
        close = ok(await client.call_tool("close_position", {**CLOSE_ARGS, "confirmation_token": tokens[0]}))
        refused(
            await client.call_tool("close_position", {**CLOSE_ARGS, "confirmation_token": tokens[0]}), "ALREADY_USED"
        )
        tokens.append(await preview_token(client, "submit_position_instructions"))
        submit = ok(
            await client.call_tool("submit_position_instructions", {**SUBMIT_ARGS, "confirmation_token": tokens[1]})
        )
        # A secret typed into an argument is cut out of the line.
        refused(
            await client.call_tool("close_position", {"instrument_id": SECRET, "confirmation_token": tokens[0]}),
            "WRONG_ARGUMENTS",
        )
    async with connect(make_settings(POSITIONS_MCP_TOKEN_SECRET=SECRET), upstream, mode, Person("decline")) as client:
        refused(await client.call_tool("close_position", {"instrument_id": "TSLA"}), "DECLINED")

    lines = audit_lines(audit_path)
    assert [(line["event"], line["tool"], line["account_id"], line["outcome"]) for line in lines] == [
        ("preview", "preview_close_position", ACCOUNT, "ready"),
        ("intent", "close_position", ACCOUNT, "sending"),  # on disk before the request left
        ("outcome", "close_position", ACCOUNT, "sent"),
        ("refusal", "close_position", ACCOUNT, "ALREADY_USED"),
        ("preview", "preview_submit_position_instructions", SECOND, "ready"),
        ("intent", "submit_position_instructions", SECOND, "sending"),
        ("outcome", "submit_position_instructions", SECOND, "sent"),
        ("refusal", "close_position", ACCOUNT, "WRONG_ARGUMENTS"),
        ("question", "close_position", ACCOUNT, "asked"),  # what the person was shown
        ("refusal", "close_position", ACCOUNT, "DECLINED"),
    ]
    for line in lines:
        assert {
            "time",
            "event",
            "tool",
            "account_id",
            "environment",
            "arguments",
            "outcome",
            "request_id",
            "order_ids",
            "instruction_ids",
            "detail",
        } <= set(line)
        assert line["environment"] == "simulator"
        assert datetime.fromisoformat(line["time"]).tzinfo is not None and line["time"].endswith("Z")
    assert lines[0]["arguments"] == {"cancel_orders": False, "instrument_id": "AAPL"}
    assert lines[0]["detail"]["confirmation"] == token_digest(tokens[0])  # a short digest, never the token
    assert (
        lines[0]["detail"]["summary"]
        == "Send 1 MARKET DAY order: SELL 100 AAPL (~$15,098.00); estimated total $15,098.00 at the bid."
    )
    assert lines[1]["detail"]["confirmation"] == token_digest(tokens[0])  # the intent names what allowed it
    assert lines[1]["arguments"] == lines[0]["arguments"]
    assert lines[2]["request_id"] == close["request_id"] and lines[2]["order_ids"] == [close["orders"][0]["id"]]
    assert lines[2]["detail"] == "confirmation_token"
    assert lines[3].get("request_id") is None and "already used" in lines[3]["detail"]
    assert lines[4]["arguments"] == {
        "instructions": [{"instruction_type": "EXERCISE", "instrument_id": LEAP, "quantity": "1"}]
    }
    key = submit["instructions"][0]["client_instruction_id"]
    assert lines[4]["instruction_ids"] == [key] and lines[5]["instruction_ids"] == [key]
    assert lines[6]["request_id"] == submit["request_id"]
    assert lines[6]["instruction_ids"] == [submit["instructions"][0]["id"]]
    assert lines[7]["arguments"]["instrument_id"] == "[redacted]"
    assert lines[9]["detail"] == "The person chose 'decline'."

    text = audit_path.read_text()  # noqa: ASYNC240 - a test reading a small local file
    assert SECRET not in text
    for token in tokens:
        assert token not in text and token.split(".")[1] not in text and token.split(".")[2] not in text
        assert token_digest(token) in text


# ------------------------------------------------------------- replays of an answered question


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("close_position", {"instrument_id": "AAPL", "cancel_orders": False}),
        (
            "submit_position_instructions",
            {
                "account_id": SECOND,
                "instructions": [{"instruction_type": "EXERCISE", "instrument_id": LEAP, "quantity": 1}],
            },
        ),
    ],
)
async def test_a_replayed_answer_executes_once(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], tool: str, args: dict[str, Any]
) -> None:
    """2026-07-28: re-sending the final round (same answer, same request_state), as a client
    retrying after a timeout would, must not execute again: the next preview's question names
    another preview, so the recorded yes does not apply and the person is asked anew."""
    async with Client(upstream.server(make_settings()), mode="auto", elicitation_callback=Person("accept")) as client:
        first = await client.session.call_tool(tool, args, allow_input_required=True)
        assert isinstance(first, InputRequiredResult)
        assert first.input_requests is not None
        [key] = first.input_requests
        answer: InputResponses = {key: ElicitResult(action="accept", content={"confirm": True})}
        results = [
            await client.session.call_tool(
                tool, args, input_responses=answer, request_state=first.request_state, allow_input_required=True
            )
            for _ in range(3)
        ]
    assert isinstance(results[0], CallToolResult) and not results[0].is_error
    # Asked again (a new question), or refused because nothing is left to close: never executed.
    assert all(isinstance(r, InputRequiredResult) or r.is_error for r in results[1:])
    assert len(upstream.writes) == 1


@pytest.mark.anyio
async def test_the_api_name_of_the_idempotency_key_is_honoured(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """A model retrying after an unknown outcome may pass the key as client_instruction_id (the
    API's name): the repeat is recognised and answered with the original instead of exercised
    twice; a misspelt field is an error."""
    accepted = simulator.instructions(SECOND)[0]  # an ACCEPTED EXERCISE of 1 LEAP
    used = accepted["client_instruction_id"]
    keyed = row("EXERCISE", LEAP, 1, client_instruction_id=used)
    async with connect(make_settings(POSITIONS_MCP_CONFIRMATION="token"), upstream, mode) as client:
        preview = ok(
            await client.call_tool(
                "preview_submit_position_instructions", {"account_id": SECOND, "instructions": [keyed]}
            )
        )
        [planned] = preview["plan"]["rows"]
        assert (planned["status"], planned["instruction_id"]) == ("ALREADY_SUBMITTED", used)
        assert planned["metadata"] == {"existing_id": accepted["id"]}
        before = created(simulator)
        result = ok(
            await client.call_tool(
                "submit_position_instructions",
                {"account_id": SECOND, "instructions": [keyed], "confirmation_token": preview["confirmation_token"]},
            )
        )
        assert result["already_submitted"] == [used]
        assert [i["id"] for i in result["instructions"]] == [accepted["id"]]  # the original, reported as such
        assert created(simulator) == before  # nothing exercised twice
        assert upstream.writes == [("POST", f"/v1/accounts/{SECOND}/positions/instructions")]
        misspelt = await client.call_tool(
            "preview_submit_position_instructions",
            {"account_id": SECOND, "instructions": [row("EXERCISE", LEAP, 1, quantiy=1)]},
        )
        assert misspelt.is_error and "quantiy" in text_of(misspelt)
    assert len(upstream.writes) == 1


@pytest.mark.anyio
async def test_cancel_says_why_nothing_was_cancelled(
    simulator: Simulator, upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    accepted = next(i for i in simulator.instructions(SECOND) if i["status"] == "ACCEPTED")
    async with connect(make_settings(), upstream, mode) as client:
        final = await client.call_tool(
            "cancel_position_instruction", {"account_id": SECOND, "instruction_id": accepted["id"]}
        )
        unknown = await client.call_tool(
            "cancel_position_instruction",
            {"account_id": SECOND, "instruction_id": "0195f6d0-0000-7000-8000-000000000000"},
        )
    assert final.is_error and "Nothing to cancel: the instruction is already final" in text_of(final)
    assert "Clear Street 409" in text_of(final)
    assert "[simulator] " in text_of(final)  # errors name their environment too
    assert unknown.is_error and "not its client_instruction_id" in text_of(unknown)
