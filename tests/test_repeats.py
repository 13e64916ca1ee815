"""Cancels, repeats and spent confirmations tell the truth, through the protocol in both
confirmation routes (the preview's token, and the server's own question):

* an instruction cancelled (or being cancelled) is never a repeat: an identical batch gets new keys,
  and the preview and the question name the cancel; a result says "accepted" only for instructions
  Clear Street created, and counts replayed keys apart;
* a repeat notice says what is known of the earlier attempt: sent, refused (with its status), or
  "may not have been sent" when its process stopped after the intent line;
* every failure after a confirmation was spent says it is used up and to preview again;
* a second close of a position already being closed gets one piece of advice, not two.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Person, Recorder, ok, text_of
from mcp import Client
from mcp.types import CallToolResult
from positions_mcp.settings import Settings
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT

pytestmark = pytest.mark.anyio

LEAP = "AAPL  280121C00195000"  # 5 held in DEMO_INSTRUCTIONS_ACCOUNT
FIVE: dict[str, Any] = {
    "account_id": DEMO_INSTRUCTIONS_ACCOUNT,
    "instructions": [{"instruction_type": "EXERCISE", "instrument_id": LEAP, "quantity": 5}],
}
ONE: dict[str, Any] = {
    "account_id": DEMO_INSTRUCTIONS_ACCOUNT,
    "instructions": [{"instruction_type": "EXERCISE", "instrument_id": LEAP, "quantity": 1}],
}
CLOSE = {"instrument_id": "TSLA"}  # 50 short in the default account
USED_UP = "This confirmation is now used up: to try again, call {preview} again and get a new yes."
ROUTES = ["token", "elicitation"]


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return text_of(result)


class Confirmer:
    """One confirmed call in either route: preview then the token, or the server's question."""

    def __init__(self, client: Client, route: str, person: Person) -> None:
        self.client, self.route, self.person = client, route, person
        self.preview: dict[str, Any] | None = None

    async def __call__(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        if self.route == "elicitation":
            return await self.client.call_tool(tool, arguments)
        self.preview = ok(await self.client.call_tool(f"preview_{tool}", arguments))
        token = self.preview["confirmation_token"]
        return await self.client.call_tool(tool, {**arguments, "confirmation_token": token})

    @property
    def shown(self) -> str:
        """What the person saw of the last call: the preview's repeat_of, or the question."""
        if self.route == "elicitation":
            return self.person.questions[-1]
        assert self.preview is not None
        return self.preview.get("repeat_of") or ""


def confirmer(upstream: Recorder, make_settings: Callable[..., Settings], route: str, **env: str) -> Any:
    person = Person()
    mode = "token" if route == "token" else "auto"
    server = upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION=mode, **env))
    return Client(server, mode="legacy", elicitation_callback=person if route == "elicitation" else None), person


def instructions(upstream: Recorder) -> list[dict[str, Any]]:
    return upstream.simulator.instructions(DEMO_INSTRUCTIONS_ACCOUNT)


# -- an exercise after its cancel ----------------------------------------------------------------


async def submit_then_cancel(client: Client) -> dict[str, Any]:
    """Exercise 5 LEAP calls (token route) and cancel that instruction: the row as cancelled."""
    preview = ok(await client.call_tool("preview_submit_position_instructions", FIVE))
    sent = ok(
        await client.call_tool(
            "submit_position_instructions", {**FIVE, "confirmation_token": preview["confirmation_token"]}
        )
    )
    [row] = sent["instructions"]
    cancel = {"account_id": DEMO_INSTRUCTIONS_ACCOUNT, "instruction_id": row["id"]}
    cancelled = ok(await client.call_tool("cancel_position_instruction", cancel))
    assert cancelled["instruction"]["status"] == "CANCEL_REQUESTED"
    return dict(row)


@pytest.mark.parametrize("route", ROUTES)
async def test_an_exercise_after_its_cancel_is_a_new_instruction(
    upstream: Recorder, make_settings: Callable[..., Settings], route: str
) -> None:
    """Submit 5 calls, cancel, submit the same batch again: before, the cancelled instruction's key
    was reused (ALREADY_SUBMITTED, "1 of 1 instruction(s) accepted" while nothing new existed).
    Now the batch gets a new key, what the person sees names the cancel, and Clear Street creates
    a new instruction, the only one called accepted."""
    before = len(instructions(upstream))  # the demo account's own history
    async with Client(upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="token")), mode="legacy") as client:
        first = await submit_then_cancel(client)
    upstream.simulator.advance(2)  # the cancel completes
    assert [row["status"] for row in instructions(upstream)[before:]] == ["CANCELLED"]

    connection, person = confirmer(upstream, make_settings, route)
    async with connection as client:
        call = Confirmer(client, route, person)
        result = ok(await call("submit_position_instructions", FIVE))
    [created] = result["instructions"]
    new_key = created["client_instruction_id"]
    assert new_key != first["client_instruction_id"] and created["id"] != first["id"]
    cancel = (
        f"Instruction {first['id']} (EXERCISE 5 AAPL 280121C00195000, key {first['client_instruction_id']}) was "
        f"cancelled at Mon 2026-11-23 10:00 ET; this is a new instruction, under the new key {new_key}."
    )
    assert cancel in call.shown, call.shown
    assert call.shown.startswith("REPEAT: an identical request was submitted at ") or route == "elicitation"
    assert f"A yes SENDS {new_key} as a new instruction." in call.shown
    if route == "token":
        assert call.preview is not None
        [row] = call.preview["plan"]["rows"]
        assert (row["status"], row["instruction_id"]) == ("OK", new_key)
        assert row["after_cancel"] == cancel[0].lower() + cancel[1:-1]
    else:
        assert call.shown.endswith(")") and "Send this now?" in call.shown and f"(key {new_key})" in call.shown
    assert result["summary"].startswith("1 of 1 instruction(s) accepted for processing (HTTP 200).")
    assert result["already_submitted"] == []
    assert [(row["client_instruction_id"], row["status"]) for row in instructions(upstream)[before:]] == [
        (first["client_instruction_id"], "CANCELLED"),
        (new_key, "SENT"),
    ]


@pytest.mark.parametrize("route", ROUTES)
async def test_an_exercise_while_its_cancel_is_pending_waits_for_the_cancel(
    upstream: Recorder, make_settings: Callable[..., Settings], route: str
) -> None:
    """The cancel is still CANCEL_REQUESTED: its contracts stay held (the cancel may fail), so the
    new batch is blocked, with a new key and the pending cancel named; nothing is sent or asked."""
    async with Client(upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="token")), mode="legacy") as client:
        first = await submit_then_cancel(client)
    writes = len(upstream.writes)
    connection, person = confirmer(upstream, make_settings, route)
    async with connection as client:
        preview = ok(await client.call_tool("preview_submit_position_instructions", FIVE))
        result = await client.call_tool("submit_position_instructions", FIVE)  # no token could be issued
    [row] = preview["plan"]["rows"]
    assert (row["status"], row["reason"]) == ("BLOCKED", "INSUFFICIENT_POSITION")
    assert row["instruction_id"] != first["client_instruction_id"]
    assert (
        "their cancel is pending: preview again once get_position_instructions shows them CANCELLED" in (row["message"])
    )
    assert preview.get("confirmation_token") is None
    assert (
        f"Instruction {first['id']} (EXERCISE 5 AAPL 280121C00195000, key {first['client_instruction_id']}) is being "
        "cancelled (CANCEL_REQUESTED since Mon 2026-11-23 10:00 ET); this is a new instruction, under the new key "
        f"{row['instruction_id']}. Nothing can be sent now: the plan says why."
    ) in preview["repeat_of"]
    assert result.is_error and person.questions == []
    assert len(upstream.writes) == writes


async def test_the_key_of_a_cancelled_instruction_is_refused_when_given(
    upstream: Recorder, make_settings: Callable[..., Settings]
) -> None:
    """Passing the cancelled instruction's own key: Clear Street would answer with the cancelled
    instruction and create nothing, so the row is blocked as a duplicate, saying why."""
    async with Client(upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="token")), mode="legacy") as client:
        first = await submit_then_cancel(client)
        upstream.simulator.advance(2)
        [row] = FIVE["instructions"]
        again = {**FIVE, "instructions": [{**row, "instruction_id": first["client_instruction_id"]}]}
        preview = ok(await client.call_tool("preview_submit_position_instructions", again))
    [planned] = preview["plan"]["rows"]
    assert (planned["status"], planned["reason"]) == ("BLOCKED", "DUPLICATE_INSTRUCTION")
    assert planned["message"] == (
        f"instruction_id {first['client_instruction_id']!r} is the key of a cancelled instruction: instruction "
        f"{first['id']} (EXERCISE 5 AAPL 280121C00195000) was cancelled at Mon 2026-11-23 10:00 ET. Sent again, "
        "Clear Street would answer with that instruction and create nothing. Omit instruction_id (the preview "
        "assigns a new one) or pass a new one."
    )
    assert preview.get("confirmation_token") is None


@pytest.mark.parametrize("route", ROUTES)
async def test_a_replayed_key_is_counted_apart_from_the_instructions_accepted(
    upstream: Recorder, make_settings: Callable[..., Settings], route: str
) -> None:
    """A batch of a repeat (its key names a live instruction) and a new row: one instruction is
    created and called accepted; the replayed key is counted apart, with its original."""
    before = len(instructions(upstream))
    connection, person = confirmer(upstream, make_settings, route)
    async with connection as client:
        call = Confirmer(client, route, person)
        first = ok(await call("submit_position_instructions", ONE))
        [original] = first["instructions"]
        [row] = ONE["instructions"]
        batch = {**ONE, "instructions": [{**row, "instruction_id": original["client_instruction_id"]}, row]}
        result = ok(await call("submit_position_instructions", batch))
    assert result["already_submitted"] == [original["client_instruction_id"]]
    assert result["summary"] == (
        "1 of 2 instruction(s) accepted for processing, 1 already submitted before (HTTP 200). Already submitted "
        f"before under the same key ({original['client_instruction_id']} (SENT)): Clear Street answered with the "
        "original instruction, so nothing new was created and nothing was instructed twice."
    )
    assert [r["status"] for r in instructions(upstream)[before:]] == ["SENT", "SENT"]


# -- what is known of an earlier close -----------------------------------------------------------


class Unreachable(Recorder):
    """Clear Street cannot be reached for a state change: the connection is refused, so the
    request provably never leaves (and never reaches the simulator)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            raise httpx.ConnectError("connection refused", request=request)
        return await super().handle_async_request(request)


def as_a_crash_leaves_it(folder: Path) -> None:
    """The process stopped right after the write-ahead intent line: the ledger's submission has no
    outcome, and the audit log ends with the intent."""
    with sqlite3.connect(folder / "ledger.sqlite3") as ledger:
        ledger.execute("UPDATE submissions SET outcome = 'sending', ids = '[]', status = NULL")
    audit = folder / "audit.jsonl"
    lines = audit.read_text().splitlines(keepends=True)
    intent = max(i for i, line in enumerate(lines) if json.loads(line)["event"] == "intent")
    audit.write_text("".join(lines[: intent + 1]))


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("state", ["crashed after the intent", "never left"])
async def test_a_close_that_may_not_have_left_is_never_called_sent(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path, route: str, state: str
) -> None:
    """Before, a repeat notice said "was sent at … outcome sending" of a close whose process stopped
    right after its intent line. Now a new server on the same ledger says what is known."""
    unreachable = Unreachable(upstream.simulator)
    orders = len(upstream.simulator.orders(DEMO_PRIMARY_ACCOUNT))
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token")
    async with Client(unreachable.server(settings), mode="legacy") as client:
        preview = ok(await client.call_tool("preview_close_position", CLOSE))
        failed = await client.call_tool(
            "close_position", {**CLOSE, "confirmation_token": preview["confirmation_token"]}
        )
    assert "could not be reached" in error_text(failed)
    assert USED_UP.format(preview="preview_close_position") in error_text(failed)
    if state == "crashed after the intent":
        as_a_crash_leaves_it(tmp_path)
        assert json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])["event"] == "intent"
    assert len(upstream.simulator.orders(DEMO_PRIMARY_ACCOUNT)) == orders  # it never reached Clear Street

    connection, person = confirmer(upstream, make_settings, route)
    async with connection as client:
        call = Confirmer(client, route, person)
        ok(await call("close_position", CLOSE))
    if state == "crashed after the intent":
        expected = (
            r"REPEAT: a close of this position was started at \d\d:\d\d:\d\d ET but no outcome was recorded: it may "
            r"not have been sent — check the account's orders and get_positions \(what is still available\) before "
            r"closing again\. A yes sends this close as well\."
        )
    else:
        expected = (
            r"REPEAT: a close of this position was tried at \d\d:\d\d:\d\d ET but never left \(nothing was sent\)\. "
            r"A yes sends this close\."
        )
    assert re.search(expected, call.shown), call.shown
    assert "was sent at" not in call.shown
    assert upstream.writes == [("DELETE", f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/{tsla(upstream)}")]


def tsla(upstream: Recorder) -> str:
    [row] = [p for p in upstream.simulator.positions(DEMO_PRIMARY_ACCOUNT) if p["symbol"] == "TSLA"]
    return str(row["instrument_id"])


@pytest.mark.parametrize("route", ROUTES)
async def test_a_close_refused_with_429_is_named_refused_and_its_confirmation_used_up(
    upstream: Recorder, make_settings: Callable[..., Settings], route: str
) -> None:
    """A 429 asking to wait an hour: the close is refused (nothing done); the answer says the
    confirmation is used up; the next preview or question calls it refused, with its status."""
    connection, person = confirmer(upstream, make_settings, route)
    async with connection as client:
        call = Confirmer(client, route, person)
        upstream.simulator.faults.add(429, method="DELETE", times=None, retry_after=3600)
        text = error_text(await call("close_position", CLOSE))
        upstream.simulator.faults.clear()
        ok(await call("close_position", CLOSE))
    assert text.endswith(
        "The API is rate limiting and asks to wait 3600 s: the request was not carried out; wait before retrying. "
        + USED_UP.format(preview="preview_close_position")
    ), text
    assert re.search(
        r"REPEAT: a close of this position was tried at \d\d:\d\d:\d\d ET and refused by Clear Street \(HTTP 429\): "
        r"nothing was done then\. A yes sends this close\.",
        call.shown,
    ), call.shown
    assert [status for status in (r.status_code for r in upstream.responses) if status >= 400] == [429]


# -- every failure after the spend says the confirmation is gone ---------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("tool", "arguments"), [("close_position", CLOSE), ("submit_position_instructions", ONE)], ids=["close", "submit"]
)
@pytest.mark.parametrize("failure", ["deadline", "429"])
async def test_every_failure_after_the_spend_says_the_confirmation_is_used_up(
    upstream: Recorder,
    make_settings: Callable[..., Settings],
    route: str,
    tool: str,
    arguments: dict[str, Any],
    failure: str,
) -> None:
    """Before: "Nothing was sent. Try again in a moment." (a deadline that ran out before sending)
    and a 429's "wait a little before retrying", with the token already spent. Now one place words
    every failure after the spend, so both say the confirmation is used up and to preview again."""
    person = Person()
    mode = "token" if route == "token" else "auto"
    settings = make_settings(POSITIONS_MCP_CONFIRMATION=mode)
    if failure == "deadline":
        settings = dataclasses.replace(settings, call_timeout=3)  # less than a state change's 15 s
    else:
        upstream.simulator.faults.add(429, method="POST" if tool.startswith("submit") else "DELETE", retry_after=3600)
    callback = person if route == "elicitation" else None
    async with Client(upstream.server(settings), mode="legacy", elicitation_callback=callback) as client:
        call = Confirmer(client, route, person)
        text = error_text(await call(tool, arguments))
    assert text.endswith(USED_UP.format(preview=f"preview_{tool}")), text
    assert text.count("used up") == 1
    if failure == "deadline":
        assert "too little to send it safely. Nothing was sent." in text and upstream.writes == []
    else:
        assert "Clear Street API error 429" in text and "the request was not carried out" in text


# -- one voice for a second close ----------------------------------------------------------------

CONTRADICTIONS = (
    "use cancel_orders=true to cancel them",
    "cancel_orders=true would cancel them and close it",
    "with cancel_orders=true those orders would be cancelled first",
    "with cancel_orders=true they would be cancelled first",
)


@pytest.mark.parametrize("route", ROUTES)
async def test_a_second_close_of_a_position_being_closed_gets_one_piece_of_advice(
    upstream: Recorder, make_settings: Callable[..., Settings], route: str
) -> None:
    """Before: the summary said "use cancel_orders=true to cancel them and close" while repeat_of
    said to wait rather than do that. Now the plan alone advises (wait for the first close), every
    line of it agrees, and repeat_of only says what is known and what a yes does."""
    connection, person = confirmer(upstream, make_settings, route)
    async with connection as client:
        call = Confirmer(client, route, person)
        sent = ok(await call("close_position", CLOSE))
        [order] = sent["orders"]
        again = ok(await client.call_tool("preview_close_position", CLOSE))
        # the elicitation route asks nothing of a blocked close: the refusal carries the plan's advice
        refused = error_text(await client.call_tool("close_position", CLOSE)) if route == "elicitation" else ""
    wait = (
        f"they may be the close of this position sent at {order_time(again)} (orders {order['id']}): wait for it to "
        "fill (read the position again) rather than use cancel_orders=true, which would cancel that close and send "
        "a new one"
    )
    plan = again["plan"]
    said = [plan["summary"], plan["cancel_orders_effect"], *(i["message"] for i in plan["warnings"] + plan["blocked"])]
    assert plan["summary"] == (
        f"Blocked, nothing will be sent: Nothing to close: every unit of the position is tied up in working orders; {wait}."
    )
    assert all(wait in text for text in said), said
    assert not any(bad in text for text in [*said, again["repeat_of"], refused] for bad in CONTRADICTIONS)
    assert again["repeat_of"].endswith("). Nothing can be sent now: the plan says why and what to do.")
    assert "cancel_orders" not in again["repeat_of"]
    if route == "elicitation":
        assert "Refused (BLOCKED)" in refused and wait in refused and len(person.questions) == 1
    assert len(upstream.writes) == 1


def order_time(preview: dict[str, Any]) -> str:
    found = re.search(r"sent at (\d\d:\d\d:\d\d ET)", preview["repeat_of"])
    assert found is not None
    return found.group(1)


OLD_LEDGER = """
CREATE TABLE spent_tokens (nonce TEXT PRIMARY KEY, tool TEXT NOT NULL, account TEXT NOT NULL, spent_at TEXT NOT NULL);
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, tool TEXT NOT NULL, request TEXT NOT NULL,
    keys TEXT NOT NULL, confirmation TEXT NOT NULL, sent_at TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'sending', ids TEXT NOT NULL DEFAULT '[]'
);
"""


async def test_a_ledger_from_before_refusal_statuses_keeps_working(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A ledger file written by the previous version (no status column) is extended in place: the
    429 is recorded and named, and single use still holds."""
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as ledger:
        ledger.executescript(OLD_LEDGER)
    async with Client(upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="token")), mode="legacy") as client:
        token = ok(await client.call_tool("preview_close_position", CLOSE))["confirmation_token"]
        upstream.simulator.faults.add(429, method="DELETE", retry_after=3600)
        error_text(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
        again = ok(await client.call_tool("preview_close_position", CLOSE))
        spent = error_text(await client.call_tool("close_position", {**CLOSE, "confirmation_token": token}))
    assert "refused by Clear Street (HTTP 429)" in again["repeat_of"]
    assert "Refused (ALREADY_USED)" in spent
