"""Retry timing: bounded exponential backoff with jitter, and the server's ``Retry-After`` hints.

Which failures are retried is decided per operation by the client (reads, closes, submits and
cancels differ); this module only says *how long* to wait, and parses the headers that say so.
Durations are seconds as ``float`` (what ``sleep`` takes); no amount of money is ever a float.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC

import anyio

__all__ = ["RetryPolicy", "parse_retry_after", "remaining_budget"]


def remaining_budget() -> float:
    """Seconds left before the enclosing anyio deadline (``inf`` when there is none): the call's
    deadline, which bounds every attempt and every wait between attempts."""
    deadline = anyio.current_effective_deadline()
    return math.inf if math.isinf(deadline) else deadline - anyio.current_time()


def _seconds(text: str | None) -> float | None:
    """A finite number parsed from a header value, or None."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds the server asks us to wait, or None when it says nothing usable.

    ``retry-after-ms`` (milliseconds, non-standard but more precise) wins over ``Retry-After``,
    which is either delta-seconds or an HTTP-date (RFC 9110 10.2.3); ``now`` is the current Unix
    time, used for the date form. The value may be zero or negative (a date in the past); callers
    decide what to do with that.
    """
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _seconds(raw)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322 says UTC, and HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry and how long to wait between attempts.

    ``max_retries`` retries follow the first attempt (2 → at most 3 attempts). Without a server
    hint the n-th retry (n = 0, 1, …) waits ``min(base_delay × 2ⁿ, max_delay)`` scaled by a
    jitter factor in ``(1 − jitter, 1]``. A ``Retry-After``/``retry-after-ms`` hint greater than
    zero is obeyed instead, capped at ``max_retry_after``. ``random``, ``sleep`` and ``clock``
    are injectable so tests take no wall time and are deterministic.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def backoff(self, retries_taken: int) -> float:
        """The wait before the next retry when the server gave no hint."""
        exponent = min(retries_taken, 64)  # 2**64 × base_delay is far past any max_delay
        ceiling = min(self.base_delay * 2.0**exponent, self.max_delay)
        return max(ceiling * (1 - self.jitter * self.random()), 0.0)

    def delay(self, retries_taken: int, headers: Mapping[str, str] | None = None) -> float:
        """The wait before the next retry, honouring the server's hint when it gives a positive one."""
        if headers is not None:
            hint = parse_retry_after(headers, now=self.clock())
            if hint is not None and hint > 0:
                return min(hint, self.max_retry_after)
        return self.backoff(retries_taken)
