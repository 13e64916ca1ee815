"""The audit log: one JSON object per line for every preview, execution and refusal.

Each record is appended (``O_APPEND``), written in one ``write`` and ``fsync``'d before
:meth:`AuditLog.record` returns, under a lock, so lines from concurrent threads or tasks never
interleave. The directory is created ``0700`` and the file ``0600``. The file is opened per record,
so log rotation needs no signal. A failure to write raises: a caller must not report success of
an action it could not audit.

Redaction runs on ``arguments`` and ``detail``: a value under a key whose name contains ``key``,
``token``, ``secret``, ``authorization`` or ``password`` is replaced by ``[redacted]`` — except
``confirmation_token``, logged as a short hash (``sha256:…``) so a preview and its execution can be
matched — and every registered secret (the API key, the HTTP token, the token secret) is cut out
of every string it appears in.

With OAuth every line also names the caller: ``subject`` (the access token's ``sub``) and
``client_id`` (the OAuth client it was issued to, when the token says).
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..domain.calendar import Clock, system_clock
from ..domain.numbers import plain
from ..secret import REDACTED, known_secrets
from ..secret import redact as _scrub
from .tokens import token_digest

__all__ = ["APP_DIR", "REDACTED", "AuditLog", "default_audit_log_path", "redact"]

APP_DIR = "clearstreet-positions-mcp"
FILE_NAME = "audit.jsonl"
_SENSITIVE = re.compile(r"key|token|secret|authorization|password", re.IGNORECASE)
_HASHED = frozenset({"confirmation_token"})


def default_audit_log_path(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
) -> Path:
    """macOS: ``~/Library/Logs/clearstreet-positions-mcp/audit.jsonl``; Windows:
    ``%LOCALAPPDATA%\\clearstreet-positions-mcp\\audit.jsonl``; elsewhere
    ``$XDG_STATE_HOME/clearstreet-positions-mcp/audit.jsonl`` (``~/.local/state`` when unset or not
    absolute, as the XDG spec says)."""
    env = os.environ if environ is None else environ
    system = sys.platform if platform is None else platform
    base_home = Path.home() if home is None else home
    if system == "darwin":
        return base_home / "Library" / "Logs" / APP_DIR / FILE_NAME
    if system.startswith("win") and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / APP_DIR / FILE_NAME
    state = env.get("XDG_STATE_HOME", "")
    root = Path(state) if state and Path(state).is_absolute() else base_home / ".local" / "state"
    return root / APP_DIR / FILE_NAME


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _jsonable(value.model_dump(mode="json"))
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=str)
    return _jsonable_scalar(value)


def _jsonable_scalar(value: Any) -> Any:
    """A value that holds no other (the containers are :func:`_jsonable`'s) as JSON."""
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON-ready copy of ``value`` with sensitive keys and registered secrets removed."""
    known = known_secrets(secrets)

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            out: dict[str, Any] = {}
            for key, inner in item.items():
                name = _scrub(key, known)
                if key.lower() in _HASHED and isinstance(inner, str) and inner:
                    out[name] = token_digest(inner)
                elif _SENSITIVE.search(key):
                    out[name] = REDACTED if inner is not None else None
                else:
                    out[name] = walk(inner)
            return out
        if isinstance(item, list):
            return [walk(v) for v in item]
        if isinstance(item, str):
            return _scrub(item, known)
        return item

    return walk(_jsonable(value))


class AuditLog:
    def __init__(
        self, path: str | os.PathLike[str], *, secrets: Iterable[str | None] = (), clock: Clock = system_clock
    ) -> None:
        self.path = Path(path).expanduser()
        self._clock = clock
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.register_secret(secret)

    def register_secret(self, secret: str | bytes | None) -> None:
        """Never write ``secret`` (nor any string containing it) to the log."""
        self._secrets.update(known_secrets([secret]))

    def _ensure_directory(self) -> None:
        directory = self.path.parent
        if directory.is_dir():
            return
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask

    def check_writable(self) -> None:
        """Create the folder and the file if needed and open it for appending; raises OSError.

        Called at start-up, so that a server that could not audit refuses to start rather than
        failing at the first preview."""
        self._ensure_directory()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        os.close(os.open(self.path, flags, 0o600))

    def record(
        self,
        event: str,
        tool: str,
        account_id: int | str | None,
        environment: str,
        arguments: Mapping[str, Any] | None,
        outcome: str,
        request_id: str | None = None,
        order_ids: Iterable[str] = (),
        instruction_ids: Iterable[str] = (),
        detail: Any = None,
        caller: Mapping[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Append one event and return what was written (after redaction). ``caller``: who called
        (``identity.Caller.audited``: subject and client id, with OAuth)."""
        entry: dict[str, Any] = redact(
            {
                "time": self._clock().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "event": event,
                "tool": tool,
                "account_id": account_id,
                "environment": environment,
                **(caller or {}),
                "arguments": arguments or {},
                "outcome": outcome,
                "request_id": request_id,
                "order_ids": list(order_ids),
                "instruction_ids": list(instruction_ids),
                "detail": detail,
            },
            self._secrets,
        )
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            self._ensure_directory()
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(self.path, flags, 0o600)
            try:
                mode = os.fstat(fd).st_mode
                if hasattr(os, "fchmod") and stat.S_ISREG(mode) and mode & 0o077:  # never a device's mode
                    os.fchmod(fd, 0o600)
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    async def arecord(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """:meth:`record` in a worker thread; returns once the line is on disk (even if the
        awaiting task is cancelled meanwhile, the write completes)."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(partial(self.record, *args, **kwargs))
