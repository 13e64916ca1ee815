"""The confirmed-action pipeline keeps its promises across retries, restarts, racing servers, a
clock stepped back, a slow upstream and loose answers (the confirmation model (README.md)), through the protocol in
both eras. Every refusal is checked to send nothing (``upstream.writes``, the one recorder)."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import Person, Recorder, ok, refused, text_of
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, ErrorData
from positions_mcp.safety.tokens import token_digest
from positions_mcp.settings import Settings
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, Simulator

pytestmark = pytest.mark.anyio

SECOND = DEMO_INSTRUCTIONS_ACCOUNT  # 122503: 5 LEAP calls, OTM
LEAP = "AAPL  280121C00195000"
SUBMIT = {
    "account_id": SECOND,
    "instructions": [{"instruction_type": "EXERCISE", "instrument_id": LEAP, "quantity": 1}],
}
CLOSE = {"instrument_id": "TSLA"}
SUBMIT_PATH = f"/v1/accounts/{SECOND}/positions/instructions"


def keys_submitted(simulator: Simulator) -> list[str]:
    return [row["client_instruction_id"] for row in simulator.instructions(SECOND)]


# -- the previewed plan is the executed plan ------------------------------------------------------


async def test_the_keys_sent_are_the_keys_previewed_in_the_token_route(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    async with Client(upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="token")), mode=mode) as client:
        preview = ok(await client.call_tool("preview_submit_position_instructions", SUBMIT))
        [previewed] = [row["instruction_id"] for row in preview["plan"]["rows"]]
        result = ok(
            await client.call_tool(
                "submit_position_instructions", {**SUBMIT, "confirmation_token": preview["confirmation_token"]}
            )
        )
    assert [row["client_instruction_id"] for row in result["instructions"]] == [previewed]
    assert keys_submitted(upstream.simulator)[-1] == previewed
    assert result["confirmation"] == token_digest(preview["confirmation_token"])


async def test_the_keys_sent_are_the_keys_previewed_when_the_server_asks_about_a_token(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """A call carrying a preview's token on a client that can be asked: the person is asked about
    that very preview (its keys, its digest), and that is what is sent."""
    person = Person()
    async with Client(upstream.server(make_settings()), mode=mode, elicitation_callback=person) as client:
        preview = ok(await client.call_tool("preview_submit_position_instructions", SUBMIT))
        [previewed] = [row["instruction_id"] for row in preview["plan"]["rows"]]
        token = preview["confirmation_token"]
        result = ok(await client.call_tool("submit_position_instructions", {**SUBMIT, "confirmation_token": token}))
    [question] = person.questions
    assert f"(key {previewed})" in question
    assert question.endswith(f"Send this now? (preview {token_digest(token)})")
    assert result["confirmed_by"] == "elicitation" and result["confirmation"] == token_digest(token)
    assert [row["client_instruction_id"] for row in result["instructions"]] == [previewed]
    assert keys_submitted(upstream.simulator)[-1] == previewed


async def test_an_identical_submit_repeated_without_a_token_exercises_once(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """A model retrying after a lost answer: the person is told it is a repeat (when, which keys),
    the earlier keys are reused, and Clear Street's duplicate check answers with the original."""
    person = Person()
    async with Client(upstream.server(make_settings()), mode=mode, elicitation_callback=person) as client:
        first = ok(await client.call_tool("submit_position_instructions", SUBMIT))
        [key] = [row["client_instruction_id"] for row in first["instructions"]]
        count = len(upstream.simulator.instructions(SECOND))
        again = ok(await client.call_tool("submit_position_instructions", SUBMIT))
        preview = ok(await client.call_tool("preview_submit_position_instructions", SUBMIT))

    [original] = [row["id"] for row in first["instructions"]]
    assert "REPEAT" not in person.questions[0]
    assert re.search(
        rf"REPEAT: an identical request was submitted at \d\d:\d\d:\d\d ET \(outcome sent, instructions "
        rf"{original}\)\. Clear Street already holds {key}: for those a yes gets the original instruction back, "
        r"nothing is instructed twice\.",
        person.questions[1],
    )
    assert f"(key {key})" in person.questions[1]
    assert again["already_submitted"] == [key]
    assert again["summary"].startswith(  # a replayed key is not a new instruction accepted
        "0 of 1 instruction(s) accepted for processing, 1 already submitted before (HTTP 200)."
    )
    assert [row["id"] for row in again["instructions"]] == [row["id"] for row in first["instructions"]]
    assert len(upstream.simulator.instructions(SECOND)) == count  # exercised once
    assert preview.get("repeat_of") is not None and [r["instruction_id"] for r in preview["plan"]["rows"]] == [key]
    assert [r["status"] for r in preview["plan"]["rows"]] == ["ALREADY_SUBMITTED"]


async def test_a_repeat_of_an_attempt_that_was_not_sent_says_a_yes_sends_it(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """The first attempt ran out of time before sending: the retry keeps its keys, and the question
    says plainly that a yes exercises now (it must not promise that nothing happens)."""
    person = Person()
    settings = make_settings()
    async with Client(
        upstream.server(dataclasses.replace(settings, call_timeout=3)), mode=mode, elicitation_callback=person
    ) as client:
        first = await client.call_tool("submit_position_instructions", SUBMIT)
    assert "Nothing was sent" in text_of(first)
    count = len(upstream.simulator.instructions(SECOND))
    async with Client(upstream.server(settings), mode=mode, elicitation_callback=person) as client:
        ok(await client.call_tool("submit_position_instructions", SUBMIT))
    [key] = re.findall(r"\(key (\S+)\)", person.questions[-1])
    assert "but never left (nothing was sent)." in person.questions[-1]
    assert f"A yes SENDS {key} now." in person.questions[-1]
    assert "nothing is instructed twice" not in person.questions[-1]
    assert len(upstream.simulator.instructions(SECOND)) == count + 1


async def test_a_repeat_of_an_instruction_rejected_later_is_not_called_accepted(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """The original was SENT, then REJECTED by clearing: repeating it gets that rejection back, and
    the result and the question say so instead of counting it as accepted."""
    person = Person()
    upstream.simulator.reject_next_instructions(1)
    async with Client(upstream.server(make_settings()), mode=mode, elicitation_callback=person) as client:
        ok(await client.call_tool("submit_position_instructions", SUBMIT))
        upstream.simulator.advance(60)
        again = ok(await client.call_tool("submit_position_instructions", SUBMIT))
    [key] = again["already_submitted"]
    assert again["summary"].startswith("0 of 1 instruction(s) accepted for processing, 1 already submitted before")
    assert f"({key} (REJECTED))" in again["summary"] and "to instruct again, preview again" in again["summary"]
    assert "it ended REJECTED, so this row changes nothing" in person.questions[-1]


@pytest.mark.parametrize("failure", ["raises", "error"])
async def test_a_question_answered_with_an_error_is_an_audited_refusal(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, failure: str
) -> None:
    """A client whose question fails (its callback raises, or it answers with a JSON-RPC error):
    no yes, so nothing is sent, and the refusal is in the audit log like any other."""

    async def broken(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        if failure == "raises":
            raise RuntimeError("the dialog crashed")
        return ErrorData(code=-32600, message="the person closed the dialog")

    async with Client(upstream.server(make_settings()), mode="legacy", elicitation_callback=broken) as client:
        text = refused(await client.call_tool("close_position", CLOSE), "NO_ANSWER")
    assert "The question got no answer from the person: the client answered with an error" in text
    assert upstream.writes == []
    last = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert (last["event"], last["outcome"], last["tool"]) == ("refusal", "NO_ANSWER", "close_position")


class PendingExerciseAppears(Recorder):
    """An API whose instruction list gains a pending EXERCISE on the AAPL Nov call once armed,
    while ``available_quantity`` does not show it (Clear Street's API documentation leaves that open): the positions
    stay the same, the close plan does not."""

    CALL = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"  # AAPL  261127C00145000, 10 held in 19816
    armed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not (self.armed and request.method == "GET" and request.url.path.endswith("/positions/instructions")):
            return response
        await response.aread()
        body = json.loads(response.content)
        body["data"].append(
            {
                "id": "0195f6d0-0000-7000-8000-00000000e0e0",
                "account_id": 19816,
                "client_instruction_id": "desk-exercise-1",
                "instruction_type": "EXERCISE",
                "instrument_id": self.CALL,
                "symbol": "AAPL  261127C00145000",
                "quantity": "4",
                "status": "SENT",
                "created_at": "2026-11-23T15:00:00Z",
                "updated_at": "2026-11-23T15:00:00Z",
            }
        )
        return httpx.Response(200, json=body, headers={"Content-Type": "application/json"}, request=request)


@pytest.mark.parametrize("route", ["token", "elicitation"])
async def test_a_plan_that_changed_without_the_positions_changing_is_refused(
    simulator: Simulator, make_settings: Callable[..., Settings], route: str
) -> None:
    """The preview would SELL 10 calls; a pending exercise of 4 appears (positions unchanged), so
    the plan is now SELL 6: the confirmation binds the plan, not only the positions."""
    upstream = PendingExerciseAppears(simulator)
    person = Person()
    arguments = {"instrument_id": "AAPL  261127C00145000"}
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token" if route == "token" else "auto")
    callback = person if route == "elicitation" else None
    async with Client(upstream.server(settings), mode="legacy", elicitation_callback=callback) as client:
        preview = ok(await client.call_tool("preview_close_position", arguments))
        assert [(o["side"], o["quantity"]) for o in preview["plan"]["orders"]] == [("SELL", "10")]
        upstream.armed = True
        result = await client.call_tool(
            "close_position", {**arguments, "confirmation_token": preview["confirmation_token"]}
        )
    text = refused(result, "PLAN_CHANGED")
    assert "What would be sent now differs from the preview" in text
    assert upstream.writes == []


async def test_a_repeated_close_is_named_as_a_repeat_in_the_question(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """With cancel_orders=true, an identical close sent twice would cancel the first closing order
    and send another: the second question says it repeats the first (when, which order)."""
    arguments = {"instrument_id": "AAPL", "cancel_orders": True}
    person = Person("accept")
    async with Client(upstream.server(make_settings()), mode=mode, elicitation_callback=person) as client:
        first = ok(await client.call_tool("close_position", arguments))
        person.action, person.content = "decline", None
        refused(await client.call_tool("close_position", arguments), "DECLINED")
    [order] = first["orders"]
    assert "REPEAT" not in person.questions[0]
    assert re.search(
        rf"REPEAT: a close of this position was sent at \d\d:\d\d:\d\d ET \(outcome sent, orders {order['id']}\)\. "
        "A yes sends this close as well.",
        person.questions[1],
    ), person.questions[1]
    # what cancel_orders=true does to that close is the plan's warning, shown in the question
    assert re.search(
        rf"Warning: AAPL: .* They may be the close of this position sent at \d\d:\d\d:\d\d ET \(orders "
        rf"{order['id']}\): cancel_orders=true cancels that close and sends a new one\.",
        person.questions[1],
    ), person.questions[1]
    assert len(upstream.writes) == 1


async def test_a_second_close_of_a_position_is_a_repeat_whatever_cancel_orders_says(
    upstream: Recorder, make_settings: Callable[..., Settings]
) -> None:
    """Close TSLA, then preview closing it again: its units are tied up in the first close's order.
    The blocked preview and the cancel_orders=true one both name the first close, so nobody
    replaces a working close believing it is a first one."""
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token")
    async with Client(upstream.server(settings), mode="legacy") as client:
        first = ok(await client.call_tool("preview_close_position", {"instrument_id": "TSLA"}))
        sent = ok(
            await client.call_tool(
                "close_position", {"instrument_id": "TSLA", "confirmation_token": first["confirmation_token"]}
            )
        )
        again = ok(await client.call_tool("preview_close_position", {"instrument_id": "tsla"}))
        replace = ok(await client.call_tool("preview_close_position", {"instrument_id": "TSLA", "cancel_orders": True}))
    [order] = sent["orders"]
    for preview in (again, replace):
        assert preview["repeat_of"].startswith("REPEAT: a close of this position was sent at "), preview
        assert f"(outcome sent, orders {order['id']})." in preview["repeat_of"]
    assert again.get("confirmation_token") is None  # every unit is in the first close's order
    assert (
        "wait for it to fill (read the position again) rather than use cancel_orders=true" in again["plan"]["summary"]
    )
    assert len(upstream.writes) == 1


async def test_a_repeat_sent_after_the_question_was_asked_is_refused(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """Two questions about the same close, both answered yes: one close goes out; the other is
    refused, because the person who said yes to it was never told it repeats the first."""
    settings = make_settings()
    person = Person()
    results: list[CallToolResult] = []
    async with Client(upstream.server(settings), mode=mode, elicitation_callback=person) as client:

        async def close() -> None:
            results.append(await client.call_tool("close_position", CLOSE))

        async with anyio.create_task_group() as group:
            group.start_soon(close)
            group.start_soon(close)
    assert sorted(r.is_error for r in results) == [False, True]
    loser = next(r for r in results if r.is_error)
    text = text_of(loser)
    assert any(f"Refused ({reason})" in text for reason in ("REPEAT_NOT_SHOWN", "POSITIONS_CHANGED")), text
    assert len(upstream.writes) == 1


# -- single use, durable ----------------------------------------------------------------------------


async def test_a_spent_token_stays_spent_after_a_restart_with_the_same_secret(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """The close fails ambiguously (503) and spends the token; the server restarts with the same
    secret and ledger; the same token is refused and nothing more is sent."""
    settings = make_settings(
        POSITIONS_MCP_CONFIRMATION="token", POSITIONS_MCP_TOKEN_SECRET="a-shared-secret-0123456789"
    )
    async with Client(upstream.server(settings), mode=mode) as client:
        token = ok(await client.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        upstream.simulator.faults.add(503, method="DELETE", times=1)
        failed = await client.call_tool("close_position", {**CLOSE, "confirmation_token": token})
        assert failed.is_error and "OUTCOME UNKNOWN" in text_of(failed)
    assert len(upstream.writes) == 1
    async with Client(upstream.server(settings), mode=mode) as restarted:
        refused(await restarted.call_tool("close_position", {**CLOSE, "confirmation_token": token}), "ALREADY_USED")
    assert len(upstream.writes) == 1


async def test_a_preview_survives_a_restart_without_a_configured_secret(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, mode: str
) -> None:
    """Clients that start one server per call: the key is created once beside the ledger (0600)."""
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token")
    async with Client(upstream.server(settings), mode=mode) as client:
        token = ok(await client.call_tool("preview_close_position", CLOSE))["confirmation_token"]
    key_file = tmp_path / "token-secret"
    assert key_file.stat().st_mode & 0o777 == 0o600
    async with Client(upstream.server(settings), mode=mode) as restarted:
        ok(await restarted.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
    assert len(upstream.writes) == 1


async def test_two_servers_racing_with_one_token_send_one_request(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """Two server instances (as two processes would) sharing the secret and the ledger file."""
    settings = make_settings(
        POSITIONS_MCP_CONFIRMATION="token", POSITIONS_MCP_TOKEN_SECRET="a-shared-secret-0123456789"
    )
    results: list[CallToolResult] = []
    async with (
        Client(upstream.server(settings), mode=mode) as first,
        Client(upstream.server(settings), mode=mode) as second,
    ):
        token = ok(await first.call_tool("preview_submit_position_instructions", SUBMIT))["confirmation_token"]

        async def submit(client: Client) -> None:
            results.append(
                await client.call_tool("submit_position_instructions", {**SUBMIT, "confirmation_token": token})
            )

        async with anyio.create_task_group() as group:
            for client in (first, second, first, second):
                group.start_soon(submit, client)
    assert sorted(r.is_error for r in results) == [False, True, True, True]
    for loser in (r for r in results if r.is_error):
        refused(loser, "ALREADY_USED")
    assert upstream.writes == [("POST", SUBMIT_PATH)]


async def test_a_clock_stepped_back_does_not_revive_a_spent_token(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    simulator = upstream.simulator
    start = simulator.now()
    async with Client(upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="token")), mode=mode) as client:
        token = ok(await client.call_tool("preview_submit_position_instructions", SUBMIT))["confirmation_token"]
        ok(await client.call_tool("submit_position_instructions", {**SUBMIT, "confirmation_token": token}))
        simulator.set_now(start + timedelta(hours=2))
        refused(
            await client.call_tool("submit_position_instructions", {**SUBMIT, "confirmation_token": token}), "EXPIRED"
        )
        simulator.set_now(start - timedelta(seconds=30))  # the clock steps back inside the token's life
        refused(
            await client.call_tool("submit_position_instructions", {**SUBMIT, "confirmation_token": token}),
            "ALREADY_USED",
        )
    assert upstream.writes == [("POST", SUBMIT_PATH)]


# -- the deadline and retries --------------------------------------------------------------------------


async def test_a_read_succeeds_through_one_500(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    upstream.simulator.faults.add(500, times=1, path_contains="/positions")
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        page = ok(await client.call_tool("get_positions", {}))
    assert page["total_items"] == 17
    assert [r.status_code for r in upstream.responses] == [500, 200]
    [wait] = upstream.waits  # no Retry-After: the first back-off, 0.5 s less up to 25 % jitter
    assert 0.375 <= wait <= 0.5


def quick(settings: Settings, seconds: int) -> Settings:
    """POSITIONS_MCP_CALL_TIMEOUT below the 20 s a configuration may set, to keep the test short."""
    return dataclasses.replace(settings, call_timeout=seconds)


async def test_a_slow_upstream_ends_within_the_deadline_with_nothing_sent(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str, tmp_path: Path
) -> None:
    """A read and an execution run out of time; the execution had spent its token already, so
    its refusal is audited and says the confirmation is used up."""
    simulator = upstream.simulator
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token")
    async with Client(upstream.server(settings), mode=mode) as client:
        token = ok(await client.call_tool("preview_close_position", CLOSE))["confirmation_token"]
    simulator.latency = 31.0  # every answer takes 31 s, far past the deadline
    async with Client(upstream.server(quick(settings, 1)), mode=mode) as client:
        started = time.monotonic()
        read = await client.call_tool("get_positions", {})
        execute = await client.call_tool("close_position", {**CLOSE, "confirmation_token": token})
        elapsed = time.monotonic() - started
    for result in (read, execute):
        text = text_of(result)
        assert result.is_error and "Ran out of time (1 s, POSITIONS_MCP_CALL_TIMEOUT)" in text, text
        assert "Nothing was sent" in text
    assert elapsed < 4  # each call within its 1 s deadline and a second's slack, not the upstream's 31 s
    assert upstream.writes == []
    text = text_of(execute)
    assert (
        "Refused (OUT_OF_TIME)" in text
        and "This confirmation is now used up: to try again, call preview_close_position again" in text
    )
    last = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert (last["event"], last["outcome"], last["tool"]) == ("refusal", "OUT_OF_TIME", "close_position")


async def test_a_state_change_is_not_sent_without_time_for_its_own_timeout(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """The reads are quick, but 3 s is less than the 15 s a close needs: it is not sent."""
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token")
    async with Client(upstream.server(quick(settings, 3)), mode=mode) as client:
        token = ok(await client.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        result = await client.call_tool("close_position", {**CLOSE, "confirmation_token": token})
    text = text_of(result)
    assert result.is_error and "too little to send it safely" in text and "Nothing was sent" in text, text
    assert upstream.writes == []


async def test_a_long_retry_after_is_not_waited_past_the_deadline(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    upstream.simulator.faults.add(503, times=None, retry_after=3600, path_contains="/positions")
    async with Client(upstream.server(quick(make_settings(), 3)), mode=mode) as client:
        started = time.monotonic()
        result = await client.call_tool("get_positions", {})
    assert result.is_error and "Clear Street API error 503" in text_of(result)
    assert time.monotonic() - started < 3
    assert len(upstream.requests) == 1
    assert upstream.waits == []  # an hour's Retry-After does not fit a 3 s deadline: not waited


# -- the answer is read strictly --------------------------------------------------------------------

LOOSE = [
    {"confirm": "yes"},
    {"confirm": "y"},
    {"confirm": 1},
    {"confirm": "true"},
    {"confirm": True, "note": "sure"},
    {},
    None,  # accepted without content
]


@pytest.mark.parametrize("content", LOOSE, ids=[repr(c) for c in LOOSE])
async def test_a_loose_answer_is_an_audited_refusal(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str, content: Any, tmp_path: Path
) -> None:
    person = Person("accept", content)
    person.content = content  # None too: an acceptance with no answer
    async with Client(upstream.server(make_settings()), mode=mode, elicitation_callback=person) as client:
        for tool, arguments in (("close_position", CLOSE), ("submit_position_instructions", SUBMIT)):
            text = refused(await client.call_tool(tool, arguments), "UNCLEAR_ANSWER")
            assert "only confirm = true, with nothing else, counts" in text
            assert "Resolver" not in text and "positions_mcp" not in text
    assert len(person.questions) == 2
    assert upstream.writes == []
    audit = (tmp_path / "audit.jsonl").read_text()
    assert audit.count('"outcome":"UNCLEAR_ANSWER"') == 2
