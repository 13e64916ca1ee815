"""Injected faults: error statuses (429 with ``Retry-After``, 500, 503, …) and dropped connections.

A rule matches requests by method and by a substring of the path; the first matching rule with
firings left is used, and each use counts down its ``times`` (``None``: until removed). By default a
fault fires *before* the request is processed (nothing changes); with ``after_processing=True`` the
request takes effect first and only its answer is lost or replaced — the ambiguous outcome a
client must never retry blindly.

A dropped connection surfaces to an httpx client as ``httpx.RemoteProtocolError``: in-process the
app raises ``ConnectionDropped`` (a subclass of it) through ``httpx.ASGITransport``; over HTTP,
``serve`` starts the response and closes the connection before any body byte is sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

import httpx

from .simulated_time import to_timedelta

DEFAULT_MESSAGES = {
    429: "Too many requests; retry later",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class ConnectionDropped(httpx.RemoteProtocolError):
    """The simulated server hung up without answering."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a response.")


class FaultKind(StrEnum):
    STATUS = "status"
    DROP = "drop"


@dataclass(eq=False)
class FaultRule:
    kind: FaultKind
    status: int | None
    message: str | None
    retry_after: timedelta | None
    method: str | None
    path_contains: str | None
    times: int | None
    after_processing: bool
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        micros = self.retry_after // timedelta(microseconds=1)
        return {
            "Retry-After": str(-(-micros // 1_000_000)),  # whole seconds, rounded up
            "retry-after-ms": str(-(-micros // 1_000)),
        }

    def error_message(self) -> str:
        assert self.status is not None
        return self.message or DEFAULT_MESSAGES.get(self.status, "Injected fault")


class Faults:
    """The fault plan of one simulator (``sim.faults``). Thread-safe."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self,
        status: int | None = None,
        *,
        kind: FaultKind | str | None = None,
        retry_after: float | int | Decimal | str | timedelta | None = None,
        times: int | None = 1,
        method: str | None = None,
        path_contains: str | None = None,
        message: str | None = None,
        after_processing: bool = False,
    ) -> FaultRule:
        """Plan a fault.

        ``status``: 400-599 (the error envelope; a 429 carries ``Retry-After``/``retry-after-ms``,
        default one second). ``kind="drop"``: the connection is dropped instead (no status).
        ``times``: how many requests it hits (``None``: every one until cleared). ``method``,
        ``path_contains``: which requests (default: any). ``message``: the envelope's message.
        """
        resolved = FaultKind(kind) if kind is not None else FaultKind.STATUS
        if resolved is FaultKind.STATUS:
            if status is None or not 400 <= status <= 599:
                raise ValueError("a status fault needs a status from 400 to 599")
        elif status is not None:
            raise ValueError("a dropped connection has no status")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        delay = None
        if retry_after is not None:
            delay = to_timedelta(retry_after)
            if delay <= timedelta(0):
                raise ValueError("retry_after must be positive")
        elif status == 429:
            delay = timedelta(seconds=1)
        rule = FaultRule(
            kind=resolved,
            status=status,
            message=message,
            retry_after=delay,
            method=method.upper() if method else None,
            path_contains=path_contains,
            times=times,
            after_processing=after_processing,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        """The fault for this request, if any, counting it as fired."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.fired += 1
                    if rule.exhausted:
                        self._rules.remove(rule)
                    return rule
        return None

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def pending(self) -> list[FaultRule]:
        """Rules that can still fire, in matching order."""
        with self._lock:
            return list(self._rules)

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)
