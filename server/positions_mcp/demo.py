"""``clearstreet-positions-mcp demo``: a narrated walk through every capability.

A real MCP client starts this server over stdio (against the embedded simulator, with the audit
log in a temporary folder) and calls each tool, resource and prompt the way an assistant would,
printing what it does for a person reading the terminal. The demo is a terminal program, so it
prints to stdout; the server it drives writes nothing there but the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client.stdio import StdioServerParameters
from mcp.types import ElicitRequestParams, ElicitResult

WIDTH = 96


def say(text: str = "") -> None:
    indent = " " * (len(text) - len(text.lstrip()))
    print(textwrap.fill(text, WIDTH, subsequent_indent=indent + "  ") if text else "", flush=True)


def heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, WIDTH - len(text) - 4), flush=True)


def show(label: str, value: Any, width: int = 26) -> None:
    print(f"  {label:<{width}} {value}", flush=True)


def money(text: str | None) -> str:
    if text is None:
        return "n/a"
    value = Decimal(text)
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def expiring_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary's expiring options (a table: column names once, then rows) as one dict a row."""
    options = (summary.get("expiring") or {}).get("options") or {}
    return [dict(zip(options["columns"], row, strict=True)) for row in options.get("rows", [])]


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)), flush=True)


def server_parameters(audit_log: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "positions_mcp"],
        env={
            "POSITIONS_MCP_AUDIT_LOG": str(audit_log),
            "POSITIONS_MCP_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(sys.path),
        },
    )


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    shown = {k: (v[:18] + "…" if k == "confirmation_token" and v else v) for k, v in arguments.items()}
    print(f"\n  → {tool}({json.dumps(shown, ensure_ascii=False)})", flush=True)
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    if result.is_error:
        say(f"  ✗ {text.removeprefix(f'Error executing tool {tool}: ')}")
        return {}
    return result.structured_content or {}


async def discover(client: Client) -> None:
    heading("1. What the server offers")
    tools = (await client.list_tools()).tools
    width = max(len(tool.name) for tool in tools)
    for tool in tools:
        hints = tool.annotations
        kind = (
            "read-only"
            if hints and hints.read_only_hint
            else ("DESTRUCTIVE" if hints and hints.destructive_hint else "state-changing, idempotent")
        )
        show(tool.name, kind, width)
    templates = (await client.list_resource_templates()).resource_templates
    resources = (await client.list_resources()).resources
    say()
    say("Resources: " + ", ".join([r.uri for r in resources] + [t.uri_template for t in templates]))
    prompts = (await client.list_prompts()).prompts
    say("Prompts: " + ", ".join(p.name for p in prompts))
    status = json.loads((await client.read_resource("clearstreet://status")).contents[0].text)  # type: ignore[union-attr]
    say()
    say(
        f"clearstreet://status says: environment '{status['environment']}', default account "
        f"{status['default_account']}, confirmation '{status['confirmation']}'. Every result names "
        "its environment, so demo data can never pass for a live account."
    )


async def read(client: Client) -> None:
    await read_positions(client)
    await summarize(client)
    await what_if(client)


async def read_positions(client: Client) -> None:
    heading("2. Reading positions")
    page = await call(client, "get_positions", {"page_size": 6, "sort_by": "MARKET_VALUE", "sort_direction": "DESC"})
    table(
        [[p["symbol"], p["quantity"], p["available_quantity"], money(p["market_value"])] for p in page["positions"]],
        ["symbol", "quantity", "available", "market value"],
    )
    say(
        f"Page {page['page_number']} of {page['total_pages']} ({page['total_items']} positions); the "
        "next page is one call away with next_page_token. Every figure is the exact decimal string "
        "Clear Street sent."
    )

    instructions = await call(client, "get_position_instructions", {"account_id": 122503})
    table(
        [[i["instruction_type"], i["symbol"], i["quantity"], i["status"]] for i in instructions["instructions"]],
        ["instruction", "option", "qty", "status"],
    )


async def summarize(client: Client) -> None:
    heading("3. Exposure as a trader means it")
    summary = await call(client, "summarize_exposure", {})
    show("gross / net market value", f"{money(summary['gross_market_value'])} / {money(summary['net_market_value'])}")
    options = summary.get("options") or {}
    if options:
        say(
            f"Market value counts an option at its premium: the options here are {money(options['premium'])} "
            f"of premium, but {money(options['delta_dollars'])} of delta (how the book moves with the "
            f"underliers) and {money(options['underlier_notional'])} of underlier notional (what the "
            "contracts control). The summary names the three apart."
        )
    show_delta(summary.get("delta") or {})
    funds = summary.get("funds") or {}
    if funds:
        show("trade cash / buying power", f"{money(funds.get('trade_cash'))} / {money(funds.get('buying_power'))}")
    show_expiring(summary)
    for note in summary.get("notes", []):
        say(f"  note: {note}")


def show_delta(delta: dict[str, Any]) -> None:
    """The summary's delta by underlier and its totals."""
    underliers = delta.get("by_underlier") or {}
    if not underliers.get("rows"):
        return
    say()
    say(f"Delta by underlier, from Clear Street's greeks (as of {delta.get('greeks_as_of', '?')}):")
    rows = [dict(zip(underliers["columns"], row, strict=True)) for row in underliers["rows"]]
    table(
        [
            [r["underlier"], money(r["price"]), r["delta_shares"], money(r["delta_dollars"]), r["gross_pct"]]
            for r in rows
        ],
        ["underlier", "price", "delta (shares)", "delta ($)", "% of gross"],
    )
    show("net / gross delta", f"{money(delta['net_dollars'])} / {money(delta['gross_dollars'])}")
    show("gamma per 1 % move", money(delta.get("gamma_dollars_per_1pct")))
    show("theta per day", money(delta.get("theta_dollars_per_day")))
    for underlier, contracts in (delta.get("contracts_without_greeks") or {}).items():
        say(f"  {underlier}: {contracts} contract(s) without greeks are left out of delta, not guessed.")


def show_expiring(summary: dict[str, Any]) -> None:
    """The summary's expiring options and what expiry moves against the cash."""
    expiring = expiring_rows(summary)
    if not expiring:
        return
    say()
    say(f"Options expiring through {summary['expiring']['through']}:")
    table(
        [
            [
                o["symbol"],
                o["contracts"],
                f"{o['moneyness'] or '?'}{' (pin risk)' if o.get('pin_risk') else ''}",
                o["default_at_expiry"],
                o["suggestion"],
            ]
            for o in expiring
        ],
        ["option", "contracts", "money", "at expiry by default", "what you could do"],
    )
    at_expiry = summary["expiring"].get("at_expiry") or {}
    if at_expiry:
        show("cash out / in at expiry", f"{money(at_expiry.get('cash_out'))} / {money(at_expiry.get('cash_in'))}")
        if at_expiry.get("warning"):
            say(f"  WARNING: {at_expiry['warning']}")


async def what_if(client: Client) -> None:
    heading("4. What if AAPL falls 10 %?")
    scenario = await call(
        client, "analyze_scenario", {"shocks": [{"underlying_instrument_id": "AAPL", "price_change_pct": -10}]}
    )
    if not scenario:
        return
    for row in scenario["by_underlier"]:
        show(
            row["underlier"],
            f"{money(row.get('spot'))} → {money(row.get('shocked_spot'))}: P&L {money(row['pnl'])}, "
            f"delta {money(row.get('delta_dollars_before'))} → {money(row.get('delta_dollars_after'))}",
        )
    method = scenario["method"]
    say(
        f"  method: {method['model']}, rate {method['rate']}; volatility {method['volatility']}. Its "
        "delta is the model's at that volatility, so it can differ a little from the summary's, "
        "which is Clear Street's greeks: each result says which it is."
    )


async def close_with_token(client: Client) -> None:
    heading("5. Closing a position: preview → the person's yes → execute")
    say(
        "This client cannot ask the person directly (no elicitation), so the assistant shows the "
        "preview, asks, and passes the preview's confirmation_token once the person says yes."
    )
    preview = await call(client, "preview_close_position", {"instrument_id": "TSLA"})
    plan = preview["plan"]
    for order in plan["orders"]:
        show(
            "order",
            f"{order['side']} {order['quantity']} {order['symbol']} {order['order_type']} {order['time_in_force']}",
        )
        show("estimated", f"{money(order['estimated_price'])} each, {money(order['estimated_notional'])} in all")
    for warning in plan["warnings"]:
        say(f"  warning: {warning['message']}")
    say(f"  summary for the person: {plan['summary']}")
    say("  (the person says: yes)")
    token = preview["confirmation_token"]
    done = await call(client, "close_position", {"instrument_id": "TSLA", "confirmation_token": token})
    if done:
        say(f"  ✓ {done['summary']}")
    say("Replaying the same token is refused, and nothing reaches Clear Street:")
    await call(client, "close_position", {"instrument_id": "TSLA", "confirmation_token": token})
    say("A token for one close cannot close something else either:")
    other = await call(client, "preview_close_position", {"instrument_id": "AAPL"})
    say(f"  (previewed: {other['plan']['summary']})")
    await call(client, "close_position", {"instrument_id": "GOOG", "confirmation_token": other["confirmation_token"]})


async def exercise_with_elicitation(audit_log: Path) -> None:
    heading("6. Exercising options: the server asks the person itself")
    say(
        "With a client that supports elicitation, the destructive tool asks the person directly, "
        "with the preview's summary in the question. Declining sends nothing."
    )
    answers = iter(["decline", "accept"])

    async def person(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        answer = next(answers)
        say("")
        for line in params.message.splitlines():
            say(f"  ? {line}")
        say(f"  (the person answers: {answer})")
        return ElicitResult(action=answer, content={"confirm": True} if answer == "accept" else None)

    async with Client(server_parameters(audit_log), elicitation_callback=person) as client:
        summary = await call(client, "summarize_exposure", {})
        say("  (a fresh server, a fresh demo book: the long calls that expiry would exercise are the candidates)")
        long_calls = [o for o in expiring_rows(summary) if o["default_at_expiry"] == "AUTO_EXERCISE"]
        symbol = long_calls[0]["symbol"] if long_calls else "AAPL  280121C00195000"
        rows = [{"instruction_type": "EXERCISE", "instrument_id": symbol, "quantity": 2}]
        preview = await call(client, "preview_submit_position_instructions", {"instructions": rows})
        show_instruction_preview(preview["plan"])
        say("  The question below is about this very preview: its keys are the keys sent.")
        confirmed = {"instructions": rows, "confirmation_token": preview.get("confirmation_token")}
        await call(client, "submit_position_instructions", confirmed)
        done = await call(client, "submit_position_instructions", confirmed)
        if done:
            say(f"  ✓ {done['summary']}")
        sent = [i for i in done.get("instructions", []) if i["status"] == "SENT"]
        if sent:
            heading("7. Cancelling an instruction (idempotent, no token needed)")
            cancelled = await call(client, "cancel_position_instruction", {"instruction_id": sent[0]["id"]})
            show("status", cancelled["instruction"]["status"])
        await show_prompt(client)


def show_instruction_preview(plan: dict[str, Any]) -> None:
    """Each row of an instruction preview with its checks, and the cash check."""
    for row in plan["rows"]:
        show(
            "row",
            f"{row['instruction_type']} {row['quantity']} {row.get('symbol') or row['requested']}: {row['status']}",
        )
        if row["status"] != "OK":
            show("check", row["message"])
        if row.get("moneyness"):
            show("moneyness", f"{row['moneyness']['state']} (underlier {money(row['moneyness']['underlier_price'])})")
        if row.get("delivery"):
            show("delivers", row["delivery"]["text"])
        show("idempotency key", row["instruction_id"])
    cash = plan.get("cash")
    if cash:
        show("cash", f"{money(cash['exercise_cash'])} at settlement, trade cash {money(cash['trade_cash'])}")
        if cash.get("warning"):
            show("warning", cash["warning"])


async def show_prompt(client: Client) -> None:
    heading("8. Prompts for the workflows")
    prompt = await client.get_prompt("review_expiring_options", {})
    first = prompt.messages[0].content.text.splitlines()  # type: ignore[union-attr]
    for line in first[:5]:
        print(f"  | {line}", flush=True)
    print("  | …", flush=True)
    say("The exercise prompts state the day's real cutoff, read from the server's clock when fetched.")


async def walk() -> None:
    with tempfile.TemporaryDirectory(prefix="positions-mcp-demo-") as folder:
        audit_log = Path(folder) / "audit.jsonl"
        say(
            "clearstreet-positions-mcp demo: a real MCP client drives the server over stdio, against "
            "the embedded simulator of the Clear Street API (demo data, no network)."
        )
        async with Client(server_parameters(audit_log)) as client:
            await discover(client)
            await read(client)
            await close_with_token(client)
        await exercise_with_elicitation(audit_log)
        heading("9. The audit log")
        lines = audit_log.read_text().splitlines()
        say(
            f"Every preview, execution and refusal was written to the audit log ({len(lines)} lines; "
            "the demo keeps it in a temporary folder):"
        )
        for line in lines:
            entry = json.loads(line)
            show(f"{entry['event']}: {entry['tool']}", entry["outcome"], 48)
        say()
        say(
            "Done. Configure a live account with the variables in the README; state-changing tools "
            "then need POSITIONS_MCP_ALLOWED_ACCOUNTS."
        )


def run_demo() -> int:
    anyio.run(walk)
    return 0
