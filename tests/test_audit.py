"""The audit log: one flushed JSON line per event, private files, no secrets."""

import json
import os
import stat
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from positions_mcp.safety.audit import REDACTED, AuditLog, default_audit_log_path, redact
from positions_mcp.safety.tokens import token_digest

NOW = datetime(2026, 11, 23, 15, 0, 0, 123000, tzinfo=UTC)
API_KEY = "sk-live-3f9a2b7c1d4e5f60"
TOKEN = "cst1.eyJ0IjoiY2xvc2VfcG9zaXRpb24ifQ.c2lnbmF0dXJl"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def make(tmp_path: Path, **kwargs: Any) -> AuditLog:
    return AuditLog(tmp_path / "logs" / "audit.jsonl", clock=lambda: NOW, **kwargs)


def test_one_json_line_per_event_with_every_field(tmp_path: Path) -> None:
    log = make(tmp_path)
    log.record(
        "preview",
        "preview_close_position",
        19816,
        "simulator",
        {"instrument_id": "TSLA", "cancel_orders": False},
        "ok",
        detail={"summary": "Send 1 order"},
    )
    log.record(
        "execute",
        "close_position",
        19816,
        "simulator",
        {"instrument_id": "TSLA", "cancel_orders": False},
        "sent",
        request_id="681e4c29-84e6-4e5a-812e-74af4b8a8803",
        order_ids=["019c0b56-2119-7482-a80f-5a2a316524d9"],
    )
    log.record(
        "refuse", "submit_position_instructions", 122503, "simulator", None, "EXPIRED", instruction_ids=("cs-mcp-1",)
    )
    first, second, third = lines(log.path)
    assert first == {
        "time": "2026-11-23T15:00:00.123Z",
        "event": "preview",
        "tool": "preview_close_position",
        "account_id": 19816,
        "environment": "simulator",
        "arguments": {"instrument_id": "TSLA", "cancel_orders": False},
        "outcome": "ok",
        "request_id": None,
        "order_ids": [],
        "instruction_ids": [],
        "detail": {"summary": "Send 1 order"},
    }
    assert second["request_id"] == "681e4c29-84e6-4e5a-812e-74af4b8a8803"
    assert second["order_ids"] == ["019c0b56-2119-7482-a80f-5a2a316524d9"]
    assert (third["event"], third["arguments"], third["instruction_ids"]) == ("refuse", {}, ["cs-mcp-1"])
    assert log.path.read_text().count("\n") == 3


def test_record_returns_what_it_wrote(tmp_path: Path) -> None:
    log = make(tmp_path)
    entry = log.record("preview", "t", 1, "simulator", {"quantity": Decimal("5.0")}, "ok")
    assert lines(log.path) == [entry]
    assert entry["arguments"] == {"quantity": "5.0"}


def test_each_record_is_fsynced_before_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)  # the os module the audit log calls
    log = make(tmp_path)
    log.record("preview", "t", 1, "simulator", {}, "ok")
    assert len(synced) == 1
    assert len(lines(log.path)) == 1  # readable by another reader at once
    log.record("preview", "t", 1, "simulator", {}, "ok")
    assert len(synced) == 2


def test_private_directory_and_file(tmp_path: Path) -> None:
    log = make(tmp_path)
    log.record("preview", "t", 1, "simulator", {}, "ok")
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


def test_an_existing_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    path.chmod(0o644)
    AuditLog(path).record("preview", "t", 1, "simulator", {}, "ok")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_appends_to_an_existing_log(tmp_path: Path) -> None:
    make(tmp_path).record("preview", "t", 1, "simulator", {}, "first")
    log = make(tmp_path)
    log.record("preview", "t", 1, "simulator", {}, "second")
    assert [e["outcome"] for e in lines(log.path)] == ["first", "second"]


def test_no_secrets_even_in_arguments(tmp_path: Path) -> None:
    log = make(tmp_path, secrets=[API_KEY])
    log.register_secret(b"http-bearer-token-xyz")
    log.record(
        "execute",
        "close_position",
        19816,
        "production",
        {
            "instrument_id": "TSLA",
            "confirmation_token": TOKEN,
            "api_key": API_KEY,
            "headers": {"Authorization": f"Bearer {API_KEY}", "X-Token": "http-bearer-token-xyz"},
            "password": "hunter2!",
            "nested": [{"client_secret": "s3cr3t-value"}],
            "note": f"the key is {API_KEY}",
        },
        f"failed: 401 for Bearer {API_KEY}",
        detail={"message": "sent http-bearer-token-xyz", "token_secret": "abc"},
    )
    raw = log.path.read_text()
    for secret in (API_KEY, TOKEN, "http-bearer-token-xyz", "hunter2!", "s3cr3t-value"):
        assert secret not in raw
    (entry,) = lines(log.path)
    arguments = entry["arguments"]
    assert arguments["confirmation_token"] == token_digest(TOKEN)
    assert arguments["api_key"] == REDACTED
    assert arguments["headers"] == {"Authorization": REDACTED, "X-Token": REDACTED}
    assert arguments["password"] == REDACTED
    assert arguments["nested"] == [{"client_secret": REDACTED}]
    assert arguments["note"] == f"the key is {REDACTED}"
    assert arguments["instrument_id"] == "TSLA"
    assert entry["outcome"] == f"failed: 401 for Bearer {REDACTED}"
    assert entry["detail"] == {"message": f"sent {REDACTED}", "token_secret": REDACTED}


def test_redact_handles_models_decimals_and_dates() -> None:
    from positions_mcp.domain.moneyness import moneyness
    from positions_mcp.domain.osi import parse_osi

    value = {
        "m": moneyness(parse_osi("AAPL 280121C00195000"), Decimal("200.50")),
        "d": Decimal("1E+3"),
        "when": NOW,
        "ids": {"b", "a"},
        "raw": b"\x00\x01",
    }
    assert redact(value) == {
        "m": {
            "state": "ITM",
            "underlier_price": "200.50",
            "strike": "195",
            "intrinsic_per_share": "5.50",
            "distance_pct": "2.82",
        },
        "d": "1000",
        "when": "2026-11-23T15:00:00.123000+00:00",
        "ids": ["a", "b"],
        "raw": "<2 bytes>",
    }


def test_short_secrets_are_not_registered(tmp_path: Path) -> None:
    log = make(tmp_path, secrets=["ab", None, ""])
    entry = log.record("preview", "t", 1, "simulator", {"symbol": "ab"}, "ok")
    assert entry["arguments"] == {"symbol": "ab"}


def test_threads_never_interleave_lines(tmp_path: Path) -> None:
    log = make(tmp_path)

    def write(n: int) -> None:
        for i in range(10):
            log.record("preview", "t", n, "simulator", {"i": i, "pad": "x" * 2000}, "ok")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = lines(log.path)
    assert len(entries) == 160
    assert sorted((e["account_id"], e["arguments"]["i"]) for e in entries) == [
        (n, i) for n in range(16) for i in range(10)
    ]


@pytest.mark.anyio
async def test_async_record(tmp_path: Path) -> None:
    import anyio

    log = make(tmp_path)
    async with anyio.create_task_group() as group:
        for n in range(5):
            group.start_soon(log.arecord, "preview", "t", n, "simulator", {}, "ok")
    assert len(lines(log.path)) == 5


def test_default_path_linux_xdg() -> None:
    home = Path("/home/u")
    assert default_audit_log_path({"XDG_STATE_HOME": "/state"}, "linux", home) == Path(
        "/state/clearstreet-positions-mcp/audit.jsonl"
    )
    assert default_audit_log_path({}, "linux", home) == Path(
        "/home/u/.local/state/clearstreet-positions-mcp/audit.jsonl"
    )
    assert default_audit_log_path({"XDG_STATE_HOME": "relative/dir"}, "linux", home) == Path(
        "/home/u/.local/state/clearstreet-positions-mcp/audit.jsonl"
    )


def test_default_path_macos_and_windows() -> None:
    assert default_audit_log_path({"XDG_STATE_HOME": "/state"}, "darwin", Path("/Users/u")) == Path(
        "/Users/u/Library/Logs/clearstreet-positions-mcp/audit.jsonl"
    )
    assert default_audit_log_path({"LOCALAPPDATA": "C:/Users/u/AppData/Local"}, "win32", Path("/x")) == Path(
        "C:/Users/u/AppData/Local/clearstreet-positions-mcp/audit.jsonl"
    )


def test_default_path_uses_the_real_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")  # read by the audit module at call time
    assert default_audit_log_path() == tmp_path / "clearstreet-positions-mcp" / "audit.jsonl"
