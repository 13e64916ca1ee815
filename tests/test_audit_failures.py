"""An audit log that stops being writable: nothing is sent without its intent line on disk, and
what was sent is never hidden (the confirmation model (README.md), write-ahead audit)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Person, Recorder, text_of
from mcp import Client
from positions_mcp.safety.audit import AuditLog
from positions_mcp.settings import Settings
from positions_mcp.simulator import Simulator
from positions_mcp.surface.server import build_server

pytestmark = pytest.mark.anyio

SUBMIT = {
    "account_id": 122503,
    "instructions": [{"instruction_type": "EXERCISE", "instrument_id": "AAPL  280121C00195000", "quantity": 1}],
}


def full_disk(path: Path) -> None:
    """The audit file becomes /dev/full: opening it works, every write fails with ENOSPC."""
    if path.exists():
        path.unlink()
    os.symlink("/dev/full", path)


async def test_no_preview_without_its_audit_line(
    simulator: Simulator, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    full_disk(tmp_path / "audit.jsonl")
    async with Client(build_server(make_settings(), simulator=simulator)) as client:
        result = await client.call_tool("preview_close_position", {"instrument_id": "TSLA"})
    assert result.is_error
    text = text_of(result)
    assert "Refused (AUDIT_UNAVAILABLE)" in text and "(No space left on device)" in text
    assert "POSITIONS_MCP_AUDIT_LOG" in text and text.count("Nothing was sent") == 1


@pytest.mark.parametrize(
    ("tool", "arguments"), [("close_position", {"instrument_id": "TSLA"}), ("submit_position_instructions", SUBMIT)]
)
async def test_nothing_is_sent_when_the_intent_line_cannot_be_written(
    simulator: Simulator,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    recorder: Recorder,
    mode: str,
    tool: str,
    arguments: dict[str, Any],
) -> None:
    """The preview is audited; then the disk fills. Neither the token route nor the person's yes
    sends anything: the intent line must be on disk first."""
    token_server = build_server(
        make_settings(POSITIONS_MCP_CONFIRMATION="token"), simulator=simulator, transport=recorder
    )
    async with Client(token_server, mode=mode) as client:
        preview = await client.call_tool(f"preview_{tool}", arguments)
        token = (preview.structured_content or {})["confirmation_token"]
        full_disk(tmp_path / "audit.jsonl")
        result = await client.call_tool(tool, {**arguments, "confirmation_token": token})
    assert result.is_error and "Refused (AUDIT_UNAVAILABLE)" in text_of(result)

    asking = build_server(make_settings(), simulator=simulator, transport=recorder)
    async with Client(asking, mode=mode, elicitation_callback=Person()) as client:  # says yes
        result = await client.call_tool(tool, arguments)
    assert result.is_error and "AUDIT_UNAVAILABLE" in text_of(result)
    assert recorder.writes == []


async def test_an_executed_close_is_reported_even_if_its_outcome_line_fails(
    simulator: Simulator, make_settings: Callable[..., Settings], recorder: Recorder
) -> None:
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token")
    async with Client(build_server(settings, simulator=simulator, transport=recorder)) as client:
        preview = await client.call_tool("preview_close_position", {"instrument_id": "TSLA"})
        token = (preview.structured_content or {})["confirmation_token"]
        real_record = AuditLog.arecord
        calls: list[str] = []

        async def fail_after_send(self: AuditLog, event: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            calls.append(event)
            if event == "outcome":
                raise OSError(28, "No space left on device")
            return await real_record(self, event, *args, **kwargs)

        AuditLog.arecord = fail_after_send  # type: ignore[method-assign]
        try:
            result = await client.call_tool("close_position", {"instrument_id": "TSLA", "confirmation_token": token})
        finally:
            AuditLog.arecord = real_record  # type: ignore[method-assign]
    assert not result.is_error
    summary = (result.structured_content or {})["summary"]
    assert summary.startswith("1 closing order(s) created: BUY 50 TSLA")
    assert "WARNING: this outcome could not be written to the audit log" in summary
    assert calls == ["intent", "outcome"]
    assert [method for method, _ in recorder.writes] == ["DELETE"]
