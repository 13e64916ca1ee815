"""Simulated time and the queue of lifecycle transitions that happen as it passes."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from ..domain.calendar import system_clock

Action = Callable[[datetime], None]
"""A scheduled transition; called with the instant it was due (its timestamps use that instant)."""


def to_timedelta(seconds: float | int | Decimal | str | timedelta) -> timedelta:
    """Seconds as given by a caller (``1.5``, ``Decimal("0.25")``, a ``timedelta``), exactly."""
    if isinstance(seconds, timedelta):
        return seconds
    if isinstance(seconds, bool):
        raise TypeError("seconds must be a number, not a bool")
    try:
        value = Decimal(str(seconds))
    except InvalidOperation as exc:
        raise ValueError(f"not a number of seconds: {seconds!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number of seconds: {seconds!r}")
    return timedelta(microseconds=int(value * 1_000_000))


def require_aware(instant: datetime) -> datetime:
    if not isinstance(instant, datetime) or instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"simulated time must be an aware datetime, got {instant!r}")
    return instant.astimezone(UTC)


class SimulatedClock:
    """Either frozen at a given instant until moved, or the real clock plus an offset."""

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._frozen: datetime | None = None if frozen_at is None else require_aware(frozen_at)
        self._offset = timedelta(0)

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return system_clock().astimezone(UTC) + self._offset

    def set(self, instant: datetime) -> None:
        """Freeze simulated time at ``instant``."""
        self._frozen = require_aware(instant)

    def move_to(self, instant: datetime) -> None:
        """Move to ``instant`` keeping the mode: frozen stays frozen, real time gets an offset."""
        if self._frozen is not None:
            self._frozen = require_aware(instant)
        else:
            self._offset += require_aware(instant) - self.now()

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("simulated time only moves forward")
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta


class Scheduler:
    """Transitions due at given instants, run in time order (ties in scheduling order)."""

    def __init__(self) -> None:
        self._queue: list[tuple[datetime, int, Action]] = []
        self._sequence = itertools.count()

    def schedule(self, due: datetime, action: Action) -> None:
        heapq.heappush(self._queue, (due, next(self._sequence), action))

    def next_due(self) -> datetime | None:
        return self._queue[0][0] if self._queue else None

    def run_until(self, instant: datetime) -> int:
        """Run every transition due at or before ``instant`` (including ones scheduled meanwhile)."""
        ran = 0
        while self._queue and self._queue[0][0] <= instant:
            due, _, action = heapq.heappop(self._queue)
            action(due)
            ran += 1
        return ran

    def __len__(self) -> int:
        return len(self._queue)
