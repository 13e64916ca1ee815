"""Previews read the market (quotes, contracts, market hours) and degrade, never fail, when an
endpoint errors or is refused: the rest of the answer stands and a note says what is missing.
Through the protocol against the simulator, with its faults injected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from conftest import Recorder, ok, text_of
from mcp import Client
from positions_mcp.settings import Settings

pytestmark = pytest.mark.anyio


def et(day: int, hour: int, minute: int = 0) -> datetime:
    """A New York wall time in November 2026 (EST, UTC-5)."""
    return datetime(2026, 11, day, hour + 5, minute, tzinfo=UTC)


async def preview(client: Client, tool: str = "preview_close_position", **arguments: Any) -> dict[str, Any]:
    return ok(await client.call_tool(tool, arguments))


@pytest.mark.parametrize("status", [403, 500])
async def test_a_refused_or_failing_snapshot_leaves_the_position_prices_and_a_note(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str, status: int
) -> None:
    upstream.simulator.faults.add(status, times=None, path_contains="/market-data/snapshot")
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        plan = (await preview(client, instrument_id="AAPL"))["plan"]
    [order] = plan["orders"]
    assert (order["estimated_price"], order["price_source"], order["estimated_notional"]) == (
        "151.00",
        "instrument_price",
        "15100.00",
    )
    assert plan["summary"].endswith("estimated total $15,100.00 at the position's price.")


async def test_the_note_reaches_the_person(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """The question a person answers says what could not be read."""
    upstream.simulator.faults.add(403, times=None, path_contains="/market-data/snapshot")
    questions: list[str] = []

    async def person(context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        questions.append(params.message)
        return ElicitResult(action="decline")

    async with Client(upstream.server(make_settings()), mode=mode, elicitation_callback=person) as client:
        result = await client.call_tool("close_position", {"instrument_id": "AAPL"})
    assert result.is_error
    [question] = questions
    assert "Warning: quotes and greeks unavailable (Clear Street 403: " in question
    assert "prices, deltas and moneyness come from positions only" in question
    assert upstream.writes == []


async def test_market_hours_unavailable_falls_back_to_the_local_calendar(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    simulator = upstream.simulator
    simulator.set_now(et(28, 10))  # Saturday
    simulator.faults.add(503, times=None, path_contains="/calendars/market-hours")
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        plan = (await preview(client, instrument_id="AAPL"))["plan"]
    assert plan["market_open"] is False
    [closed] = [w for w in plan["warnings"] if w["code"] == "MARKET_CLOSED"]
    assert "it opens Mon 2026-11-30 09:30 ET" in closed["message"]


async def test_an_early_close_is_said_from_the_market_hours(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    upstream.simulator.set_now(et(27, 10))  # the day after Thanksgiving: the market closes at 13:00 ET
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        plan = (await preview(client, instrument_id="AAPL"))["plan"]
    assert plan["market_open"] is True
    [early] = [w for w in plan["warnings"] if w["code"] == "EARLY_CLOSE"]
    assert early["message"].startswith("The market closes early today, at Fri 2026-11-27 13:00 ET")


async def test_the_adjusted_contract_is_valued_with_its_own_multiplier(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """AAPL1 270115C00140000: 150 shares a contract (the option-contracts endpoint says so)."""
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        plan = (await preview(client, instrument_id="AAPL1 270115C00140000"))["plan"]
    [order] = plan["orders"]
    assert order["multiplier"] == 150
    price = order["estimated_price"]
    assert order["price_source"] == "bid"
    assert Decimal(order["estimated_notional"]) == 2 * 150 * Decimal(price)  # 2 contracts × 150 × the bid
    [warning] = [w for w in plan["warnings"] if w["code"] == "OPTION_CONTRACTS"]
    assert "150" in warning["message"] and "× 100" not in warning["message"]


async def test_the_european_index_call_cannot_be_exercised_early(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """SPX 270115C05700000: EUROPEAN on the option-contracts endpoint, so an EXERCISE before its
    expiration day is blocked."""
    rows = [{"instruction_type": "EXERCISE", "instrument_id": "SPX 270115C05700000", "quantity": 1}]
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        result = await preview(client, "preview_submit_position_instructions", instructions=rows)
    [row] = result["plan"]["rows"]
    assert (row["status"], row["reason"]) == ("BLOCKED", "EUROPEAN_EXERCISE_BEFORE_EXPIRY")
    assert result.get("confirmation_token") is None


class UnreadableMultipliers(Recorder):
    """An API whose option-contracts rows all carry the multiplier "0" (bad reference data)."""

    async def handle_async_request(self, request: Any) -> Any:
        import json

        import httpx

        response = await super().handle_async_request(request)
        if "/options/contracts" not in request.url.path:
            return response
        await response.aread()
        body = json.loads(response.content)
        for row in body.get("data") or []:
            row["multiplier"] = "0"
        return httpx.Response(response.status_code, json=body, request=request)


async def test_unreadable_contract_terms_are_said_not_crashed_on(
    simulator: Any, make_settings: Callable[..., Settings], mode: str
) -> None:
    """Both previews answer: the close says its estimate may be wrong, the instruction row is
    blocked with the reason; nothing is guessed silently and no tool fails."""
    upstream = UnreadableMultipliers(simulator)
    call = "AAPL  261127C00145000"
    async with Client(upstream.server(make_settings(POSITIONS_MCP_CONFIRMATION="token")), mode=mode) as client:
        close = (await preview(client, instrument_id=call))["plan"]
        rows = [{"instruction_type": "EXERCISE", "instrument_id": call, "quantity": 1}]
        submit = (await preview(client, "preview_submit_position_instructions", instructions=rows))["plan"]
    assert "CONTRACT_TERMS_UNUSABLE" in {w["code"] for w in close["warnings"]}
    assert close["allowed"] is True
    [row] = submit["rows"]
    assert (row["status"], row["reason"]) == ("BLOCKED", "CONTRACT_TERMS_UNUSABLE")


async def test_a_summary_short_of_time_skips_market_data_not_positions(
    upstream: Recorder, make_settings: Callable[..., Settings]
) -> None:
    """With less time than the reserve the summary keeps for its pages, no page waits for market
    data: every position is still counted, the options without greeks are counted as such, and a
    note says why."""
    import dataclasses

    settings = dataclasses.replace(make_settings(), call_timeout=5)
    async with Client(upstream.server(settings)) as client:
        summary = await preview(client, "summarize_exposure")
    assert summary["positions"] == 17
    assert any(note.startswith("market data was not read for 9 option positions") for note in summary["notes"])
    # only the closing read went out: the balances and one snapshot of the unpriced underliers
    snapshots = [r for r in upstream.requests if r.url.path == "/v1/market-data/snapshot"]
    assert len(snapshots) == 1
    assert not [r for r in upstream.requests if r.url.path == "/v1/instruments/options/contracts"]


async def test_an_exercise_preview_compares_what_it_pays_with_the_cash(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """Exercising 5 AAPL 145 calls pays 5 × 100 × 145.00 = 72,500.00 at settlement against 25,000.00
    of trade cash (the demo book's balances): the preview and the question say it is 47,500.00 short."""
    rows = [{"instruction_type": "EXERCISE", "instrument_id": "AAPL  261127C00145000", "quantity": 5}]
    questions: list[str] = []

    async def person(context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        questions.append(params.message)
        return ElicitResult(action="decline")

    async with Client(upstream.server(make_settings()), mode=mode, elicitation_callback=person) as client:
        plan = (await preview(client, "preview_submit_position_instructions", instructions=rows))["plan"]
        await client.call_tool("submit_position_instructions", {"instructions": rows})
    cash = plan["cash"]
    assert (cash["exercise_cash"], cash["trade_cash"], cash["cash_after"]) == ("-72500.00", "25000.00", "-47500.00")
    assert cash["warning"].startswith(
        "these exercises pay $72,500.00 at settlement (T+1) against trade cash of $25,000.00: cash short by $47,500.00"
    )
    assert plan["summary"].endswith("Cash: short by $47,500.00 at settlement (see cash).")
    [question] = questions
    assert f"Warning: {cash['warning']}" in question
    assert upstream.writes == []


async def test_an_exercise_preview_without_balances_says_the_cash_was_not_checked(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    upstream.simulator.faults.add(403, times=None, path_contains="/balances")
    rows = [{"instruction_type": "EXERCISE", "instrument_id": "AAPL  261127C00145000", "quantity": 1}]
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        result = await preview(client, "preview_submit_position_instructions", instructions=rows)
    cash = result["plan"]["cash"]
    assert (cash["exercise_cash"], cash.get("trade_cash")) == ("-14500.00", None)
    assert cash["warning"].startswith(
        "these exercises pay $14,500.00 at settlement; the account's cash was not checked (balances unavailable: "
        "see the notes)"
    )
    assert any(note.startswith("balances unavailable (Clear Street 403") for note in result["notes"])
    assert result["confirmation_token"] is not None  # a note, not a block: the rest of the answer stands


async def test_a_do_not_exercise_pays_nothing_and_checks_no_cash(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    upstream.simulator.set_now(et(27, 10))  # the expiration business day (an early close)
    rows = [{"instruction_type": "DO_NOT_EXERCISE", "instrument_id": "AAPL  261127C00145000", "quantity": 1}]
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        result = await preview(client, "preview_submit_position_instructions", instructions=rows)
    assert result["plan"]["rows"][0]["status"] == "OK"
    assert result["plan"].get("cash") is None


async def test_without_the_contracts_endpoint_previews_say_what_they_assumed(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    """The option-contracts endpoint fails: a standard contract is previewed on the 100-share
    default and the preview says so; the adjusted AAPL1 contract (150 shares) is not guessed at:
    its exercise is blocked and its close flagged."""
    upstream.simulator.faults.add(500, times=None, path_contains="/options/contracts")
    standard = [{"instruction_type": "EXERCISE", "instrument_id": "AAPL  261127C00145000", "quantity": 1}]
    adjusted = [{"instruction_type": "EXERCISE", "instrument_id": "AAPL1 270115C00140000", "quantity": 1}]
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        ok = await preview(client, "preview_submit_position_instructions", instructions=standard)
        blocked = await preview(client, "preview_submit_position_instructions", instructions=adjusted)
        close = await preview(client, instrument_id="AAPL1 270115C00140000")
    assumed = "option contracts unavailable (Clear Street 500: "
    assert ok["confirmation_token"] is not None
    assert any(note.startswith(assumed) and "standard-contract defaults" in note for note in ok["notes"])
    [row] = blocked["plan"]["rows"]
    assert (row["status"], row["reason"]) == ("BLOCKED", "CONTRACT_TERMS_UNUSABLE")
    assert "adjusted contract" in row["message"]
    assert blocked.get("confirmation_token") is None
    [flag] = [w for w in close["plan"]["warnings"] if w["code"] == "CONTRACT_TERMS_UNUSABLE"]
    assert "adjusted contract" in flag["message"] and "may be wrong" in flag["message"]
    assert any(note.startswith(assumed) for note in close["notes"])


class LiquidationOnlyStocks(Recorder):
    """An API that lists every stock as liquidation-only (no buys), as the instruments endpoint may."""

    async def handle_async_request(self, request: Any) -> Any:
        import json

        import httpx

        response = await super().handle_async_request(request)
        path = request.url.path
        if not path.startswith("/v1/instruments/") or path.startswith("/v1/instruments/options"):
            return response
        await response.aread()
        body = json.loads(response.content)
        if isinstance(body.get("data"), dict):
            body["data"]["is_liquidation_only"] = True
        return httpx.Response(response.status_code, json=body, request=request)


async def test_buying_back_a_liquidation_only_short_is_warned_about(
    simulator: Any, make_settings: Callable[..., Settings], mode: str
) -> None:
    """TSLA is short 50: closing it buys 50, which a liquidation-only stock may refuse. The flag
    comes from the instruments endpoint (a stock has no contract row); selling AAPL is not warned."""
    upstream = LiquidationOnlyStocks(simulator)
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        short = (await preview(client, instrument_id="TSLA"))["plan"]
        long = (await preview(client, instrument_id="AAPL"))["plan"]
    [warning] = [w for w in short["warnings"] if w["code"] == "LIQUIDATION_ONLY"]
    assert warning["message"].startswith("TSLA: it is liquidation-only (no buys)")
    assert "LIQUIDATION_ONLY" not in {w["code"] for w in long["warnings"]}
    assert (
        sum(r.url.path.startswith("/v1/instruments/") and "options" not in r.url.path for r in upstream.requests) == 2
    )


async def test_an_instruments_endpoint_that_refuses_leaves_a_note(
    upstream: Recorder, make_settings: Callable[..., Settings], mode: str
) -> None:
    upstream.simulator.faults.add(403, times=None, path_contains="/v1/instruments/d4d5d6d7")  # TSLA
    async with Client(upstream.server(make_settings()), mode=mode) as client:
        result = await preview(client, instrument_id="TSLA")
    assert result["confirmation_token"] is not None
    assert any(note.startswith("instruments unavailable (Clear Street 403") for note in result["notes"])


async def test_against_a_live_api_the_time_is_clear_streets(
    upstream: Recorder, make_settings: Callable[..., Settings]
) -> None:
    """A live API (custom base URL, here served by the simulator) whose clock says Friday
    2026-11-27 15:00 ET while the local clock says otherwise: the prompt's day, time and cutoff are
    Clear Street's (the early-close 14:30 cutoff, passed), read once from GET /v1/clock."""
    settings = make_settings(
        CLEAR_STREET_API_KEY="sk-live-test-key",
        CLEAR_STREET_BASE_URL="https://api.example",
        POSITIONS_MCP_ALLOWED_ACCOUNTS="19816",
    )
    upstream.simulator.set_now(et(27, 15))
    async with Client(upstream.server(settings)) as client:
        # the first thing asked is a prompt: the clock is read before it states the time
        prompt = await client.get_prompt("review_expiring_options", {"account_id": "19816"})
        await client.call_tool("get_positions", {"account_id": 19816})
        await client.call_tool("get_positions", {"account_id": 19816})
    text = prompt.messages[0].content.text.replace("\n", " ")  # type: ignore[union-attr]
    assert "Today is Fri 2026-11-27, 15:00 ET now." in text
    assert "14:30 ET on Fri 2026-11-27" in text and "it has PASSED" in text
    assert [r.url.path for r in upstream.requests].count("/v1/clock") == 1  # once per five minutes


async def test_a_clock_that_fails_leaves_the_local_one(
    upstream: Recorder, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        CLEAR_STREET_API_KEY="sk-live-test-key",
        CLEAR_STREET_BASE_URL="https://api.example",
        POSITIONS_MCP_ALLOWED_ACCOUNTS="19816",
    )
    upstream.simulator.set_now(et(27, 15))
    upstream.simulator.faults.add(403, times=None, path_contains="/v1/clock")
    async with Client(upstream.server(settings)) as client:
        result = await client.call_tool("get_positions", {"account_id": 19816})
        prompt = await client.get_prompt("review_expiring_options", {"account_id": "19816"})
    assert not result.is_error
    assert "Today is Fri 2026-11-27" not in prompt.messages[0].content.text  # type: ignore[union-attr]


async def test_a_clock_without_a_timezone_is_read_as_utc_and_fails_nothing(
    simulator: Any, make_settings: Callable[..., Settings]
) -> None:
    """The API documents the clock in UTC; a reading without an offset is taken as UTC, never a crash."""

    class NaiveClock(Recorder):
        async def handle_async_request(self, request: Any) -> Any:
            import httpx

            if request.url.path == "/v1/clock":
                body = {"data": {"clock": "2026-11-27T20:00:00"}, "error": None, "metadata": {"request_id": "r-1"}}
                return httpx.Response(200, json=body, request=request)
            return await super().handle_async_request(request)

    settings = make_settings(
        CLEAR_STREET_API_KEY="sk-live-test-key",
        CLEAR_STREET_BASE_URL="https://api.example",
        POSITIONS_MCP_ALLOWED_ACCOUNTS="19816",
    )
    upstream = NaiveClock(simulator)
    async with Client(upstream.server(settings)) as client:
        result = await client.call_tool("get_positions", {"account_id": 19816})
        prompt = await client.get_prompt("review_expiring_options", {"account_id": "19816"})
    assert not result.is_error
    assert "Today is Fri 2026-11-27, 15:00 ET now." in prompt.messages[0].content.text.replace("\n", " ")  # type: ignore[union-attr]


async def test_tokens_and_the_ledger_keep_the_local_clock_whatever_the_api_says(
    upstream: Recorder, make_settings: Callable[..., Settings], tmp_path: Any
) -> None:
    """A preview in one process and its execution in the next (a client that restarts the server):
    the API's clock is days away from the local one, yet the token is not taken as expired, because
    tokens, the ledger and the audit log keep the machine's own clock."""
    settings = make_settings(
        CLEAR_STREET_API_KEY="sk-live-test-key",
        CLEAR_STREET_BASE_URL="https://api.example",
        POSITIONS_MCP_ALLOWED_ACCOUNTS="19816",
        POSITIONS_MCP_CONFIRMATION="token",
        POSITIONS_MCP_TOKEN_SECRET="s" * 32,
    )
    upstream.simulator.set_now(et(23, 10))
    async with Client(upstream.server(settings)) as client:
        shown = await preview(client, instrument_id="TSLA", account_id=19816)
    async with Client(upstream.server(settings)) as client:  # a fresh process: the clock not read yet
        result = await client.call_tool(
            "close_position",
            {"instrument_id": "TSLA", "account_id": 19816, "confirmation_token": shown["confirmation_token"]},
        )
    assert not result.is_error, text_of(result)
    assert len(upstream.writes) == 1
