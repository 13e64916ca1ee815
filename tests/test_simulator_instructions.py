"""Position instructions: the submit batch (200 / 207 / 4xx with every row), per-row validation,
idempotency keys, listing and filters, the SENT → ACCEPTED / REJECTED lifecycle, exercise
delivery, and cancels (CANCEL_REQUESTED → CANCELLED / CANCEL_FAILED)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import api
from positions_mcp.clearstreet.models import NIL_UUID
from positions_mcp.domain.calendar import NEW_YORK
from positions_mcp.simulator import DEMO_INSTRUCTIONS_ACCOUNT, DEMO_PRIMARY_ACCOUNT, Simulator

EXPIRY_DAY = datetime(2026, 11, 27, 14, 0, tzinfo=NEW_YORK)  # Friday: the weekly expiry
PRIMARY = f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/instructions"
SECOND = f"/v1/accounts/{DEMO_INSTRUCTIONS_ACCOUNT}/positions/instructions"
AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
AAPL_CALL = "AAPL  261127C00145000"  # 10 long, in the money, expiring Friday
NVDA_SHORT_PUT = "NVDA  261127P00125000"
LEAP = "AAPL  280121C00195000"  # account 122503, 5 long
SECONDS_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ROW_FIELDS = {
    "id", "account_id", "client_instruction_id", "instruction_type", "instrument_id", "quantity", "status",
    "symbol", "accepted_quantity", "created_at", "updated_at", "rejection", "rejection_reason",
    "underlying_instrument_id",
}  # fmt: skip


def row(instruction_type: str, instrument_id: str, quantity: str, key: str | None = None) -> dict[str, Any]:
    body = {"instruction_type": instruction_type, "instrument_id": instrument_id, "quantity": quantity}
    if key is not None:
        body["client_instruction_id"] = key
    return body


async def submit(simulator: Simulator, rows: Any, path: str = PRIMARY) -> httpx.Response:
    async with api(simulator) as http:
        return await http.post(path, json=rows)


def available(simulator: Simulator, instrument_id: str, account: int = DEMO_PRIMARY_ACCOUNT) -> str | None:
    held = next((r for r in simulator.positions(account) if r["instrument_id"] == instrument_id), None)
    return None if held is None else held["available_quantity"]


def listed(simulator: Simulator, instruction_id: str) -> dict[str, Any]:
    return next(r for r in simulator.instructions() if r["id"] == instruction_id)


# ---------------------------------------------------------------------------------- submit


@pytest.mark.anyio
async def test_all_accepted_is_200_with_sent_rows(simulator: Simulator) -> None:
    response = await submit(simulator, [row("EXERCISE", AAPL_CALL, "2", "ex-1"), row("EXERCISE", AAPL_CALL_ID, "1")])
    assert response.status_code == 200
    body = response.json()
    assert body.get("error") is None
    first, second = body["data"]
    assert set(first) == ROW_FIELDS
    assert first["id"] != NIL_UUID and UUID.fullmatch(first["id"])
    assert (first["client_instruction_id"], first["status"], first["quantity"]) == ("ex-1", "SENT", "2")
    assert (first["instrument_id"], first["symbol"]) == (AAPL_CALL_ID, AAPL_CALL)  # padded OSI
    assert first["underlying_instrument_id"] == AAPL_ID
    assert first["created_at"] == first["updated_at"] == "2026-11-23T15:00:00Z"
    assert first["accepted_quantity"] is None and first["rejection"] is None and first["rejection_reason"] is None
    assert UUID.fullmatch(second["client_instruction_id"])  # generated when omitted
    assert available(simulator, AAPL_CALL_ID) == "7"  # pending exercises reserve their contracts
    assert [r["id"] for r in simulator.instructions(DEMO_PRIMARY_ACCOUNT)] == [first["id"], second["id"]]


@pytest.mark.anyio
async def test_partial_success_is_207_with_every_row_in_request_order(simulator: Simulator) -> None:
    response = await submit(
        simulator, [row("DO_NOT_EXERCISE", AAPL_CALL, "1", "dne-1"), row("EXERCISE", AAPL_CALL, "1", "ex-1")]
    )
    assert response.status_code == 207
    body = response.json()
    message = "DO_NOT_EXERCISE must be submitted on the contract's expiration date"
    assert body["error"] == {"code": 400, "message": message}
    rejected, sent = body["data"]
    assert (rejected["client_instruction_id"], sent["client_instruction_id"]) == ("dne-1", "ex-1")
    assert (rejected["id"], rejected["status"], rejected["created_at"]) == (NIL_UUID, "REJECTED", None)
    assert rejected["rejection"] == {
        "reason": "DNE_NOT_ON_EXPIRY",
        "domain": "com.clearstreet.oems.exercise",
        "description": message,
        "metadata": {"expiry": "2026-11-27", "business_date": "2026-11-23"},
    }
    assert rejected["rejection_reason"] == rejected["rejection"]["description"]
    assert sent["status"] == "SENT"
    assert [r["client_instruction_id"] for r in simulator.instructions(DEMO_PRIMARY_ACCOUNT)] == [
        "ex-1"
    ]  # never listed


@pytest.mark.anyio
async def test_duplicates_within_a_batch_and_across_batches(simulator: Simulator) -> None:
    in_batch = await submit(simulator, [row("EXERCISE", AAPL_CALL, "1", "k"), row("EXERCISE", AAPL_CALL, "1", "k")])
    assert in_batch.status_code == 207
    assert in_batch.json()["error"] == {"code": 409, "message": "Duplicate exercise instruction"}
    original, duplicate = in_batch.json()["data"]
    assert duplicate["rejection"]["reason"] == "DUPLICATE_INSTRUCTION"
    assert duplicate["rejection"]["metadata"] == {"existing_id": original["id"]}
    retry = await submit(simulator, [row("EXERCISE", AAPL_CALL, "1", "k")])
    assert retry.status_code == 409
    body = retry.json()
    assert body["error"] == {"code": 409, "message": "Duplicate exercise instruction"}
    [again] = body["data"]  # rows are returned even though the whole batch failed
    assert (again["id"], again["status"]) == (NIL_UUID, "REJECTED")
    assert again["rejection"]["metadata"]["existing_id"] == original["id"]
    assert available(simulator, AAPL_CALL_ID) == "9"  # exercised once only


@pytest.mark.anyio
async def test_keys_of_rejected_rows_can_be_reused(simulator: Simulator) -> None:
    first = await submit(simulator, [row("EXERCISE", AAPL_CALL, "11", "k")])
    assert first.status_code == 400
    again = await submit(simulator, [row("EXERCISE", AAPL_CALL, "1", "k")])
    assert again.status_code == 200 and again.json()["data"][0]["status"] == "SENT"


@pytest.mark.anyio
async def test_a_key_repeated_in_a_batch_is_a_duplicate_of_its_first_row_even_when_that_one_fails(
    simulator: Simulator,
) -> None:
    response = await submit(simulator, [row("EXERCISE", AAPL_CALL, "11", "k"), row("EXERCISE", AAPL_CALL, "1", "k")])
    assert response.status_code == 400  # every row rejected, for different causes (400 and 409)
    too_many, repeated = response.json()["data"]
    assert too_many["rejection"]["reason"] == "INSUFFICIENT_POSITION"
    assert repeated["rejection"]["reason"] == "DUPLICATE_INSTRUCTION"
    assert repeated["rejection"]["metadata"] == {"existing_id": NIL_UUID}  # the first row was not persisted


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("rows", "status", "reasons"),
    [
        (
            [row("EXERCISE", "NOPE", "1"), row("EXERCISE", "ZZZZ  261127C00010000", "1")],
            404,
            ["INSTRUMENT_NOT_FOUND"] * 2,
        ),
        ([row("EXERCISE", "AAPL", "1")], 400, ["NOT_AN_OPTION"]),
        (
            [row("EXERCISE", AAPL_CALL, "1.5"), row("EXERCISE", AAPL_CALL, "0"), row("EXERCISE", AAPL_CALL, "-1")],
            400,
            ["INVALID_QUANTITY"] * 3,
        ),
        ([row("CONTRARY_EXERCISE", AAPL_CALL, "1")], 400, ["CEA_NOT_ON_EXPIRY"]),
        (
            [row("EXERCISE", "NOPE", "1"), row("DO_NOT_EXERCISE", AAPL_CALL, "1")],
            400,
            ["INSTRUMENT_NOT_FOUND", "DNE_NOT_ON_EXPIRY"],
        ),
    ],
)  # fmt: skip
async def test_all_rejected_batches_take_the_aggregate_cause(
    simulator: Simulator, rows: list[dict[str, Any]], status: int, reasons: list[str]
) -> None:
    response = await submit(simulator, rows)
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == status
    assert [r["rejection"]["reason"] for r in body["data"]] == reasons
    assert all(r["id"] == NIL_UUID and r["status"] == "REJECTED" for r in body["data"])
    assert simulator.instructions(DEMO_PRIMARY_ACCOUNT) == []


@pytest.mark.anyio
async def test_unknown_instrument_rows_echo_what_was_sent(simulator: Simulator) -> None:
    response = await submit(simulator, [row("EXERCISE", "nope", "1", "x")])
    [rejected] = response.json()["data"]
    assert (rejected["instrument_id"], rejected["symbol"]) == ("nope", "nope")
    assert rejected["underlying_instrument_id"] is None


@pytest.mark.anyio
async def test_insufficient_position(simulator: Simulator) -> None:
    too_many = await submit(simulator, [row("EXERCISE", AAPL_CALL, "11")])
    short = await submit(simulator, [row("EXERCISE", NVDA_SHORT_PUT, "1")])
    not_held = await submit(simulator, [row("EXERCISE", LEAP, "1")])
    assert too_many.status_code == short.status_code == not_held.status_code == 400
    assert too_many.json()["data"][0]["rejection"]["metadata"] == {"available": "10", "requested": "11"}
    assert short.json()["data"][0]["rejection"]["metadata"] == {"available": "0", "requested": "1"}
    assert not_held.json()["data"][0]["rejection"]["reason"] == "INSUFFICIENT_POSITION"
    # the same contracts cannot be exercised twice, within a batch (judged as a whole: 6 + 6 of 10
    # rejects both rows) or across batches
    batch = await submit(simulator, [row("EXERCISE", AAPL_CALL, "6"), row("EXERCISE", AAPL_CALL, "6")])
    assert batch.status_code == 400
    assert [r["rejection"]["metadata"] for r in batch.json()["data"]] == [{"available": "10", "requested": "12"}] * 2
    assert "across 2 rows" in batch.json()["data"][0]["rejection"]["description"]
    first = await submit(simulator, [row("EXERCISE", AAPL_CALL, "6")])
    assert first.status_code == 200
    later = await submit(simulator, [row("EXERCISE", AAPL_CALL, "5")])
    assert later.json()["data"][0]["rejection"]["metadata"] == {"available": "4", "requested": "5"}


@pytest.mark.anyio
async def test_closing_orders_reduce_what_can_be_exercised(simulator: Simulator) -> None:
    async with api(simulator) as http:
        await http.delete(f"/v1/accounts/{DEMO_PRIMARY_ACCOUNT}/positions/{AAPL_CALL_ID}")
    response = await submit(simulator, [row("EXERCISE", AAPL_CALL, "1")])
    assert response.json()["data"][0]["rejection"]["metadata"] == {"available": "0", "requested": "1"}


@pytest.mark.anyio
async def test_dne_and_cea_on_the_expiration_day_until_the_cutoff() -> None:
    simulator = Simulator(now=EXPIRY_DAY)
    ok = await submit(simulator, [row("DO_NOT_EXERCISE", AAPL_CALL, "3"), row("CONTRARY_EXERCISE", AAPL_CALL, "2")])
    assert ok.status_code == 200
    # 2026-11-27 is the day after Thanksgiving, an early close (13:00): the cutoff is 14:30 ET
    simulator.set_now(datetime(2026, 11, 27, 14, 30, tzinfo=NEW_YORK))
    late = await submit(simulator, [row("EXERCISE", AAPL_CALL, "1"), row("DO_NOT_EXERCISE", AAPL_CALL, "1")])
    assert late.status_code == 400
    for rejected in late.json()["data"]:
        assert rejected["rejection"]["reason"] == "EXERCISE_PAST_CUTOFF"
        assert rejected["rejection"]["metadata"] == {"cutoff_time": "2026-11-27T14:30:00-05:00"}
    simulator.set_now(datetime(2026, 11, 30, 10, 0, tzinfo=NEW_YORK))  # the Monday after: expired
    after = await submit(simulator, [row("DO_NOT_EXERCISE", AAPL_CALL, "1"), row("EXERCISE", AAPL_CALL, "1")])
    assert [r["rejection"]["reason"] for r in after.json()["data"]] == ["DNE_NOT_ON_EXPIRY", "EXERCISE_PAST_CUTOFF"]


@pytest.mark.anyio
async def test_exercise_cutoff_is_configurable() -> None:
    # a broker cutoff earlier than FINRA's applies (14:00 < 14:30 on the early-close Friday) ...
    simulator = Simulator(now=datetime(2026, 11, 27, 14, 0, tzinfo=NEW_YORK), exercise_cutoff=time(14, 0))
    response = await submit(simulator, [row("EXERCISE", AAPL_CALL, "1")])
    assert response.json()["data"][0]["rejection"]["metadata"] == {"cutoff_time": "2026-11-27T14:00:00-05:00"}
    # ... a later one does not: FINRA's 14:30 stands
    simulator = Simulator(now=datetime(2026, 11, 27, 14, 30, tzinfo=NEW_YORK), exercise_cutoff=time(16, 0))
    response = await submit(simulator, [row("EXERCISE", AAPL_CALL, "1")])
    assert response.json()["data"][0]["rejection"]["metadata"] == {"cutoff_time": "2026-11-27T14:30:00-05:00"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "must be a JSON array"),
        (b"null", "must be a JSON array"),
        (b'{"instructions": []}', "must be a JSON array"),
        (b"[]", "at least one instruction"),
        (b"[1]", "instructions[0] must be a JSON object"),
        (b'[{"instrument_id": "AAPL", "quantity": "1"}]', "instructions[0].instruction_type is required"),
        (b'[{"instruction_type": "EXERCISE", "quantity": "1"}]', "instructions[0].instrument_id is required"),
        (b'[{"instruction_type": "EXERCISE", "instrument_id": "", "quantity": "1"}]', "must not be empty"),
        (b'[{"instruction_type": "EXERCISE", "instrument_id": "AAPL"}]', "quantity is required"),
        (b'[{"instruction_type": "SELL", "instrument_id": "AAPL", "quantity": "1"}]', "'SELL' is not one of EXERCISE"),
        (b'[{"instruction_type": "EXERCISE", "instrument_id": "AAPL", "quantity": 1}]', "quantity must be a string"),
        (b'[{"instruction_type": "EXERCISE", "instrument_id": "AAPL", "quantity": "one"}]', "not a decimal string"),
        (b'[{"instruction_type": "EXERCISE", "instrument_id": "AAPL", "quantity": "1e3"}]', "not a decimal string"),
        (b'[{"instruction_type": "EXERCISE", "instrument_id": 7, "quantity": "1"}]', "instrument_id must be a string"),
        (b'[{"instruction_type": "EXERCISE", "instrument_id": "A", "quantity": "1' + b"0" * 5000 + b'"}]', "out of range"),
        (
            b'[{"instruction_type": "EXERCISE", "instrument_id": "A", "quantity": "1", "client_instruction_id": 5}]',
            "client_instruction_id must be a string",
        ),
        (b'[{"instruction_type": "EXERCISE",', "Failed to parse the request body as JSON: "),
    ],
)  # fmt: skip
async def test_malformed_batches_are_whole_request_400s(simulator: Simulator, content: bytes, message: str) -> None:
    async with api(simulator) as http:
        response = await http.post(PRIMARY, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == 400 and message in body["error"]["message"]
    assert "data" not in body


@pytest.mark.anyio
async def test_unknown_keys_in_a_row_are_ignored(simulator: Simulator) -> None:
    response = await submit(simulator, [{**row("EXERCISE", AAPL_CALL, "1"), "instruction_id": "legacy", "note": "x"}])
    assert response.status_code == 200
    assert response.json()["data"][0]["client_instruction_id"] != "legacy"


# ------------------------------------------------------------------------------------ list


@pytest.mark.anyio
async def test_history_of_the_second_account_and_filters(simulator: Simulator) -> None:
    async with api(simulator) as http:
        everything = (await http.get(SECOND)).json()["data"]
        by_forms = [
            (await http.get(SECOND, params={"instrument_id": form})).json()["data"]
            for form in (LEAP, "AAPL 280121C00195000", "aapl280121c00195000", "0195F6D0-A1B2-7C3D-8E4F-5A6B7C8D9E01")
        ]
        by_underlier = (await http.get(SECOND, params={"underlying_instrument_id": "aapl"})).json()["data"]
        both = await http.get(SECOND, params={"instrument_id": LEAP, "underlying_instrument_id": AAPL_ID})
        mismatched = await http.get(SECOND, params={"instrument_id": LEAP, "underlying_instrument_id": "TSLA"})
        raw = await http.get(f"{SECOND}?instrument_id=AAPL++280121C00195000")
    assert [r["status"] for r in everything] == ["ACCEPTED", "CANCELLED", "REJECTED"]
    accepted, _, rejected = everything
    assert accepted["id"] == "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e02"
    assert (accepted["instruction_type"], accepted["quantity"], accepted["accepted_quantity"]) == ("EXERCISE", "1", "1")
    assert accepted["symbol"] == LEAP and SECONDS_Z.fullmatch(accepted["created_at"])
    assert rejected["rejection"]["domain"] == "com.clearstreet.oems.clearing"
    assert rejected["rejection_reason"] == rejected["rejection"]["description"]
    assert all(found == everything for found in by_forms)
    assert by_underlier == everything and both.json()["data"] == everything
    assert mismatched.json()["data"] == [] and raw.json()["data"] == everything
    async with api(simulator) as http:
        assert (await http.get(PRIMARY)).json()["data"] == []


# ------------------------------------------------------------------------------- lifecycle


@pytest.mark.anyio
async def test_sent_exercise_is_accepted_and_delivered(simulator: Simulator) -> None:
    [sent] = (await submit(simulator, [row("EXERCISE", AAPL_CALL, "2", "ex-2")])).json()["data"]
    simulator.advance(2)
    assert listed(simulator, sent["id"])["status"] == "SENT"
    simulator.advance(1)
    accepted = listed(simulator, sent["id"])
    assert (accepted["status"], accepted["accepted_quantity"]) == ("ACCEPTED", "2")
    assert accepted["updated_at"] == "2026-11-23T15:00:03Z" and accepted["created_at"] == sent["created_at"]
    call = next(r for r in simulator.positions(DEMO_PRIMARY_ACCOUNT) if r["instrument_id"] == AAPL_CALL_ID)
    assert (call["quantity"], call["available_quantity"]) == ("8", "8")
    aapl = next(r for r in simulator.positions(DEMO_PRIMARY_ACCOUNT) if r["symbol"] == "AAPL")
    # 200 shares delivered at the strike plus the premium paid: (100 × 145 + 200 × 147.50) / 300
    assert (aapl["quantity"], aapl["avg_price"]) == ("300", "146.666667")
    async with api(simulator) as http:
        cancel = await http.delete(f"{PRIMARY}/{sent['id']}")
    assert cancel.status_code == 409 and "ACCEPTED" in cancel.json()["error"]["message"]


@pytest.mark.anyio
async def test_put_exercise_delivers_short_stock_and_dne_changes_nothing() -> None:
    simulator = Simulator(now=EXPIRY_DAY)
    spy_put = next(r for r in simulator.positions(DEMO_PRIMARY_ACCOUNT) if r["symbol"].startswith("SPY"))
    before = simulator.positions(DEMO_PRIMARY_ACCOUNT)
    await submit(simulator, [row("EXERCISE", spy_put["instrument_id"], "2"), row("DO_NOT_EXERCISE", AAPL_CALL, "10")])
    simulator.advance(3)
    after = {r["symbol"]: r for r in simulator.positions(DEMO_PRIMARY_ACCOUNT)}
    assert spy_put["symbol"] not in after
    assert (after["SPY"]["quantity"], after["SPY"]["avg_price"]) == ("-200", "561.60")  # 565 − 3.40 premium
    assert after["AAPL261127C00145000"] == next(r for r in before if r["instrument_id"] == AAPL_CALL_ID)


@pytest.mark.anyio
async def test_clearing_can_reject_a_sent_instruction(simulator: Simulator) -> None:
    simulator.reject_next_instructions(reason="ACCOUNT_RESTRICTED", description="Account restricted by clearing")
    [sent] = (await submit(simulator, [row("EXERCISE", AAPL_CALL, "4")])).json()["data"]
    assert available(simulator, AAPL_CALL_ID) == "6"
    simulator.advance(3)
    rejected = listed(simulator, sent["id"])
    assert rejected["status"] == "REJECTED" and rejected["id"] == sent["id"]
    assert rejected["rejection"] == {
        "reason": "ACCOUNT_RESTRICTED",
        "domain": "com.clearstreet.oems.clearing",
        "description": "Account restricted by clearing",
        "metadata": {},
    }
    assert rejected["rejection_reason"] == "Account restricted by clearing"
    assert available(simulator, AAPL_CALL_ID) == "10"  # the reservation is released


@pytest.mark.anyio
async def test_cancel_rules(simulator: Simulator) -> None:
    [sent] = (await submit(simulator, [row("EXERCISE", AAPL_CALL, "3")])).json()["data"]
    simulator.advance(1)
    async with api(simulator) as http:
        first = await http.delete(f"{PRIMARY}/{sent['id']}")
        simulator.advance(1)
        repeat = await http.delete(f"{PRIMARY}/{sent['id'].upper()}")
        unknown = await http.delete(f"{PRIMARY}/0195f6d0-0000-7000-8000-000000000000")
        nil = await http.delete(f"{PRIMARY}/{NIL_UUID}")
        other_account = await http.delete(f"{SECOND}/{sent['id']}")
    assert first.status_code == 200
    requested = first.json()["data"]
    assert isinstance(requested, dict) and set(requested) == ROW_FIELDS
    assert (requested["status"], requested["updated_at"]) == ("CANCEL_REQUESTED", "2026-11-23T15:00:01Z")
    assert repeat.status_code == 200 and repeat.json()["data"] == requested  # unchanged
    assert available(simulator, AAPL_CALL_ID) == "7"  # still reserved while the cancel is pending
    for response in (unknown, nil, other_account):
        assert response.status_code == 404 and response.json()["error"]["code"] == 404
    simulator.advance(1)
    cancelled = listed(simulator, sent["id"])
    assert (cancelled["status"], cancelled["updated_at"], cancelled["accepted_quantity"]) == (
        "CANCELLED", "2026-11-23T15:00:03Z", None,
    )  # fmt: skip
    assert available(simulator, AAPL_CALL_ID) == "10"
    simulator.settle()
    assert listed(simulator, sent["id"])["status"] == "CANCELLED"  # the clearing decision no longer applies
    async with api(simulator) as http:
        terminal = await http.delete(f"{PRIMARY}/{sent['id']}")
        historical = await http.delete(f"{SECOND}/0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e02")
    assert terminal.status_code == 409 and "CANCELLED" in terminal.json()["error"]["message"]
    assert historical.status_code == 409


@pytest.mark.anyio
async def test_cancel_that_reaches_the_cutoff_fails_and_the_exercise_stands() -> None:
    simulator = Simulator(now=datetime(2026, 11, 27, 14, 29, 57, tzinfo=NEW_YORK))  # early close: cutoff 14:30
    [sent] = (await submit(simulator, [row("EXERCISE", AAPL_CALL, "2")])).json()["data"]
    simulator.advance(1)
    async with api(simulator) as http:
        assert (await http.delete(f"{PRIMARY}/{sent['id']}")).json()["data"]["status"] == "CANCEL_REQUESTED"
    simulator.advance(2)  # the cancel resolves at 14:30:00, the cutoff
    failed = listed(simulator, sent["id"])
    assert failed["status"] == "CANCEL_FAILED" and failed["accepted_quantity"] == "2"
    assert failed["rejection"]["metadata"] == {"cutoff_time": "2026-11-27T14:30:00-05:00"}
    assert failed["rejection_reason"] == failed["rejection"]["description"]
    assert available(simulator, AAPL_CALL_ID) == "8"  # delivered
    async with api(simulator) as http:
        assert (await http.delete(f"{PRIMARY}/{sent['id']}")).status_code == 409


@pytest.mark.anyio
async def test_real_clock_simulator_moves_on_its_own_and_with_advance() -> None:
    simulator = Simulator()
    [sent] = (await submit(simulator, [row("EXERCISE", "AAPL 280121C00195000", "1")], SECOND)).json()["data"]
    assert sent["status"] == "SENT"
    before = simulator.now()
    simulator.advance(5)
    assert simulator.now() - before >= timedelta(seconds=5)
    assert listed(simulator, sent["id"])["status"] == "ACCEPTED"
    assert Decimal(available(simulator, "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e01", DEMO_INSTRUCTIONS_ACCOUNT) or "0") == 4
