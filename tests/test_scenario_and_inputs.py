"""Inputs through the protocol: every number argument of every tool is bounded before any work;
decimals echo in their shortest exact form; get_positions with instrument_ids and an underlier is
their intersection, told truthfully; the exercise preview gives, per row, the time value an early
exercise gives up, at the bid. (The scenario's option at parity: tests/test_scenario.py.)"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, get_args

import pytest
from conftest import Recorder, ok
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from positions_mcp.clearstreet.decimals import PLAIN_MAX_CHARS, plain, plain_length
from positions_mcp.domain import scenario
from positions_mcp.domain.numbers import NumberError, read_decimal
from positions_mcp.simulator import Simulator
from positions_mcp.surface.read_tools import ShockPercent
from test_server import call, raw, tool_error

pytestmark = pytest.mark.anyio

CALL_145 = "AAPL  261127C00145000"  # 19816: 10 long, AAPL 151.00, expires Friday 2026-11-27
GOOG_135 = "GOOG  270115C00135000"  # 19816: 6 long, GOOG 139.05
INSTRUCTION = {"instruction_type": "EXERCISE", "instrument_id": CALL_145, "quantity": 1}
UUID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e99"

# A valid call of each tool: the number under test replaces one field of it.
BASE: dict[str, dict[str, Any]] = {
    "get_positions": {},
    "get_position_instructions": {},
    "summarize_exposure": {},
    "analyze_scenario": {"shocks": [{"price_change_pct": 1}]},
    "preview_close_position": {"instrument_id": "TSLA"},
    "close_position": {"instrument_id": "TSLA"},
    "preview_close_positions": {},
    "close_positions": {},
    "preview_submit_position_instructions": {"instructions": [INSTRUCTION]},
    "submit_position_instructions": {"instructions": [INSTRUCTION]},
    "cancel_position_instruction": {"instruction_id": UUID},
}
NUMBER_FIELDS = {(tool, ("account_id",)) for tool in BASE} | {
    ("get_positions", ("page_size",)),
    ("analyze_scenario", ("shocks", 0, "price_change_pct")),
    ("analyze_scenario", ("shocks", 0, "volatility_change_pts")),
    ("preview_submit_position_instructions", ("instructions", 0, "quantity")),
    ("submit_position_instructions", ("instructions", 0, "quantity")),
}
OUT_OF_BOUNDS: list[Any] = [
    "1e-999999999",  # the value: a billion zeros once written out
    "1e999999999",
    "1E+30",
    "1" * 40,
    "0." + "0" * 38 + "1",  # 40 digits
    "NaN",
    "Infinity",
    "-Infinity",
    "1e-30",
    1e300,
    10**40,
]


def number_fields(schema: dict[str, Any], defs: dict[str, Any], path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every number or integer in an input schema (arrays: their first item)."""
    if "$ref" in schema:
        return number_fields(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path)
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "number" in kinds or "integer" in kinds:
        return [path]
    if "array" in kinds:
        return number_fields(schema["items"], defs, (*path, 0))
    found = []
    for name, sub in schema.get("properties", {}).items():
        found += number_fields(sub, defs, (*path, name))
    return found


def with_value(arguments: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    import copy

    changed = copy.deepcopy(arguments)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


async def test_every_number_argument_of_every_tool_is_bounded_before_any_work(
    client: Client, upstream: Recorder
) -> None:
    tools = (await client.list_tools()).tools
    found = {
        (tool.name, path)
        for tool in tools
        for path in number_fields(tool.input_schema, tool.input_schema.get("$defs", {}))
        if path != ()
    }
    assert found == NUMBER_FIELDS  # every number argument there is, so a new one is checked too
    for tool, path in sorted(found, key=str):
        for value in OUT_OF_BOUNDS:
            started = time.monotonic()
            text = await tool_error(client, tool, with_value(BASE[tool], path, value))
            assert time.monotonic() - started < 1, (tool, path, value)
            assert "nothing was sent" in text and str(path[-1]) in text, (tool, value, text)
            assert len(text) < 400, (tool, value, len(text))
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e-999999999", "has an exponent out of range (beyond ±999)"),
        ("1e999999999", "has an exponent out of range (beyond ±999)"),
        ("1E+30", "must be from -100 to 1000"),
        ("1" * 40, "has more than 15 significant digits"),
        ("0." + "0" * 38 + "1", "has more than 4 decimal places"),
        ("NaN", "must be a finite number"),
        ("Infinity", "must be a finite number"),
        ("12,5", "must be a decimal number written with the digits 0-9, such as 12.5 or -20"),
        ("1_000", "must be a decimal number written with the digits 0-9, such as 12.5 or -20"),
        ("5" * 70, "is too long: a number is at most 64 characters"),
        (True, "must be a number, not true or false"),
    ],
)
async def test_a_shock_out_of_bounds_says_what_is_wrong(client: Client, value: Any, message: str) -> None:
    for field in ("price_change_pct", "volatility_change_pts"):
        shock = {"price_change_pct": 1, field: value}
        text = await tool_error(client, "analyze_scenario", {"shocks": [shock]})
        assert text == (
            "Error executing tool analyze_scenario: [simulator] Invalid arguments, nothing was sent: "
            f"shocks.0.{field}: {message}. The tool's input schema says what each argument takes."
        )


async def test_decimal_arguments_are_echoed_in_their_shortest_exact_form(client: Client) -> None:
    shocks = [
        {"underlying_instrument_id": "AAPL", "price_change_pct": "-12.50", "volatility_change_pts": "1E+1"},
        {"underlying_instrument_id": "GOOG", "price_change_pct": -0.0001, "volatility_change_pts": "0.0000"},
        {"underlying_instrument_id": "MSFT", "price_change_pct": " 1000 ", "volatility_change_pts": "-100"},
    ]
    result = await call(client, "analyze_scenario", {"shocks": shocks})
    echoed = [(s["price_change_pct"], s["volatility_change_pts"]) for s in result["method"]["shocks"]]
    assert echoed == [("-12.5", "10"), ("-0.0001", "0"), ("1000", "-100")]
    aapl = next(row for row in result["by_underlier"] if row["underlier"] == "AAPL")
    assert aapl["shocked_spot"] == "132.125"  # 151.00 × 0.875, exact


def test_the_surface_and_the_domain_bound_a_shock_alike() -> None:
    (_, bounds) = get_args(ShockPercent)  # Annotated[Decimal, bounds]
    assert (bounds.low, bounds.high, bounds.places) == (
        scenario.MIN_PRICE_CHANGE_PCT,
        scenario.MAX_PRICE_CHANGE_PCT,
        scenario.SHOCK_PLACES,
    )
    assert (bounds.low, bounds.high) == (scenario.MIN_VOLATILITY_CHANGE_PTS, scenario.MAX_VOLATILITY_CHANGE_PTS)
    with pytest.raises(scenario.ScenarioError, match="volatility_change_pts has more than 4 decimal places"):
        scenario.Shock(None, Decimal(0), Decimal("1e-999999999"))
    with pytest.raises(scenario.ScenarioError, match="price_change_pct has more than 4 decimal places"):
        scenario.Shock(None, Decimal("1e-5"))


def test_read_decimal_costs_nothing_on_a_huge_exponent() -> None:
    started = time.monotonic()
    for text in ("1e-999999999", "1e999999999", "0e-99999999999", "9" * 64):
        with pytest.raises(NumberError):
            read_decimal(text, low=-100, high=1000, places=4)
    assert time.monotonic() - started < 0.1
    assert read_decimal(Decimal("0E-5000"), low=0, high=1, places=0) == 0  # zero is zero, whatever its exponent


def test_no_decimal_is_ever_written_out_huge() -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match="not written out"):
        plain(Decimal("1E-999999999"))
    with pytest.raises(ValueError, match="not written out"):
        plain(Decimal("-1E+999999999"))
    assert time.monotonic() - started < 0.1
    assert plain(Decimal("1E+3")) == "1000" and plain(Decimal("-0.00")) == "0.00"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: abs(d.adjusted()) < 300))
def test_plain_length_is_the_length_plain_writes(value: Decimal) -> None:
    length = plain_length(value)
    if length <= PLAIN_MAX_CHARS:
        assert len(plain(value)) <= length and length - len(plain(value)) <= 1  # −0 is written 0
    else:
        with pytest.raises(ValueError):
            plain(value)


# -- get_positions: both filters -------------------------------------------------------------------


async def test_instrument_ids_and_an_underlier_together_are_their_intersection(client: Client) -> None:
    """Both filters apply (the instruments named that are on the underlier), and an empty answer
    is true of the whole book: the account holds four AAPL-underlier positions, none is TSLA."""
    empty = await call(client, "get_positions", {"instrument_ids": ["TSLA"], "underlying_instrument_id": "AAPL"})
    assert empty["positions"] == [] and empty["total_items"] == 0
    assert empty["note"] == (
        "the account holds 4 position(s) on the underlier 'AAPL', none of them among instrument_ids (TSLA; 1 "
        "position(s) matched those): both filters apply. Omit instrument_ids to list the 4 on 'AAPL', or name "
        "some of them in instrument_ids."
    )
    both = await call(
        client,
        "get_positions",
        {"instrument_ids": ["TSLA", "AAPL", CALL_145], "underlying_instrument_id": "AAPL", "sort_by": "SYMBOL"},
    )
    assert [p["symbol"] for p in both["positions"]] == ["AAPL", "AAPL261127C00145000"]
    assert both["total_items"] == 2 and "note" not in both
    # an underlier named by a UUID, the instruments by symbol: the same intersection
    by_id = await call(
        client,
        "get_positions",
        {"instrument_ids": [CALL_145, "GOOG"], "underlying_instrument_id": "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"},
    )
    assert [p["symbol"] for p in by_id["positions"]] == ["AAPL261127C00145000"]
    # paged, the token binds both filters
    first = await call(
        client,
        "get_positions",
        {"instrument_ids": ["AAPL", CALL_145], "underlying_instrument_id": "AAPL", "page_size": 1, "sort_by": "SYMBOL"},
    )
    second = await call(
        client,
        "get_positions",
        {
            "instrument_ids": ["AAPL", CALL_145],
            "underlying_instrument_id": "AAPL",
            "page_size": 1,
            "sort_by": "SYMBOL",
            "page_token": first["next_page_token"],
        },
    )
    assert [p["symbol"] for p in first["positions"] + second["positions"]] == ["AAPL", "AAPL261127C00145000"]
    stale = await tool_error(
        client,
        "get_positions",
        {"instrument_ids": ["AAPL"], "underlying_instrument_id": "AAPL", "page_token": first["next_page_token"]},
    )
    assert "page_token is not a next_page_token" in stale
    # an underlier not held: what is held is the whole book's, not the instruments named
    ibm = await call(client, "get_positions", {"instrument_ids": ["TSLA"], "underlying_instrument_id": "IBM"})
    assert ibm["note"].endswith("underliers held: AAPL, AMZN, BRK.B, GOOG, MSFT, NVDA, SPX, SPY, TSLA")


# -- the exercise preview: the time value given up, in dollars -------------------------------------


async def preview_of(client: Client, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return ok(await client.call_tool("preview_submit_position_instructions", {"instructions": rows}))


async def bids(simulator: Simulator, *instrument_ids: str) -> dict[str, Decimal]:
    """The contracts' bids as the simulated API's snapshot serves them (read here, unrecorded)."""
    body = await raw(simulator, "/v1/market-data/snapshot", instrument_ids=",".join(instrument_ids))
    return {row["symbol"].replace(" ", ""): Decimal(row["last_quote"]["bid"]) for row in body["data"]}


async def test_the_exercise_preview_gives_the_time_value_given_up_per_row(client: Client, simulator: Simulator) -> None:
    rows = [
        {"instruction_type": "EXERCISE", "instrument_id": CALL_145, "quantity": 5},
        {"instruction_type": "EXERCISE", "instrument_id": GOOG_135, "quantity": 2},
    ]
    preview = await preview_of(client, rows)
    bid = await bids(simulator, CALL_145, GOOG_135)
    c145, g135 = preview["plan"]["rows"]
    # selling at the bid − the intrinsic value: AAPL 151.00 − 145 = 6.00 a share, GOOG 139.05 − 135 = 4.05
    expected_145 = bid["AAPL261127C00145000"] * 100 * 5 - Decimal("6.00") * 500
    expected_135 = bid["GOOG270115C00135000"] * 100 * 2 - Decimal("4.05") * 200
    assert Decimal(c145["time_value"]) == expected_145 > 0
    assert Decimal(g135["time_value"]) == expected_135 > 0
    for planned, contracts, figure in ((c145, 5, expected_145), (g135, 2, expected_135)):
        [note] = [n for n in planned["notes"] if "time value" in n]
        assert note.startswith(f"early exercise gives up about ${figure:,.2f} of time value, an estimate at the bid")
        assert f"selling the {contracts} contracts at the bid $" in note
        assert "bid from the market-data snapshot, quoted Mon 2026-11-23" in note
        assert planned["message"].endswith(f"gives up the remaining time value, about ${figure:,.2f} at the bid")


async def test_without_a_snapshot_the_preview_says_the_time_value_is_not_known(
    client: Client, simulator: Simulator
) -> None:
    simulator.faults.add(403, path_contains="/market-data/snapshot")
    preview = await preview_of(client, [{"instruction_type": "EXERCISE", "instrument_id": CALL_145, "quantity": 5}])
    [planned] = preview["plan"]["rows"]
    assert "time_value" not in planned or planned["time_value"] is None
    assert (
        "early exercise gives up the remaining time value: how much is not known (no market-data snapshot of "
        "the contract); selling the contracts may be worth more than the intrinsic value $3,000.00"
    ) in planned["notes"]
    assert any(note.startswith("quotes and greeks unavailable") for note in preview["notes"])  # and says why
