"""An audit log that stops being writable: nothing new is sent, and what was sent is not hidden."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from positions_mcp.safety.audit import AuditLog
from positions_mcp.settings import Settings
from positions_mcp.simulator import Simulator
from positions_mcp.surface.server import build_server


@pytest.fixture
def broken_audit(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def break_it() -> None:
        async def refuse_to_write(self: AuditLog, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(AuditLog, "arecord", refuse_to_write)

    return break_it


@pytest.mark.anyio
async def test_no_preview_without_its_audit_line(
    simulator: Simulator, make_settings: Callable[..., Settings], broken_audit: Callable[[], None]
) -> None:
    broken_audit()
    async with Client(build_server(make_settings(), simulator=simulator)) as client:
        result = await client.call_tool("preview_close_position", {"instrument_id": "TSLA"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "cannot be written (No space left on device), so nothing was sent" in text
    assert "POSITIONS_MCP_AUDIT_LOG" in text


@pytest.mark.anyio
async def test_an_executed_close_is_reported_even_if_its_audit_line_fails(
    simulator: Simulator, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(POSITIONS_MCP_CONFIRMATION="token")
    async with Client(build_server(settings, simulator=simulator)) as client:
        preview = await client.call_tool("preview_close_position", {"instrument_id": "TSLA"})
        token = (preview.structured_content or {})["confirmation_token"]
        orders_before = len(simulator.orders(19816))
        real_record = AuditLog.arecord
        calls: list[str] = []

        async def fail_after_send(self: AuditLog, event: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            calls.append(event)
            if event == "execution":
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
    assert "WARNING: this execution could not be written to the audit log" in summary
    assert len(simulator.orders(19816)) == orders_before + 1
    assert calls == ["execution"]
