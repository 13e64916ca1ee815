"""Sending one request: the shared ``httpx.AsyncClient``, retries and the caller's deadline.

:class:`Requester` is what every endpoint group of the client sends through; it knows nothing of
endpoints. What is retried depends on what a repeat could do (:class:`Kind`):

* reads retry 429, 500, 502, 503, 504, timeouts and connection failures (a GET is safe to repeat);
* cancels retry like reads but for 500 (a repeated cancel converges, but a 500 may have acted);
* closes retry only what provably did nothing: 429, and a connection that never opened;
* submits retry like reads but for 500, and never a per-row answer (their rows are final).

**Deadline.** When the caller runs inside an anyio cancel scope with a deadline (the server sets one
per tool call, ``POSITIONS_MCP_CALL_TIMEOUT``), every attempt's timeout, every retry and every
honoured ``Retry-After`` fit inside what is left of it: a retry that would not finish in time is not
started, and the last answer stands. A state-changing request is sent only when at least
:data:`STATE_CHANGE_TIMEOUT` remains, and once sent it is shielded from the caller's cancellation,
so it is never abandoned halfway: it ends with an answer or with its own timeout (an outcome the
caller must then treat as unknown). Running out before a request leaves raises
:class:`DeadlineExceededError` with ``sent=False``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import anyio
import httpx

from ..secret import Secret
from ._responses import required, success_envelope
from .errors import ClearStreetConnectionError, DeadlineExceededError
from .models import Envelope
from .retry import RetryPolicy, remaining_budget

logger = logging.getLogger("positions_mcp.clearstreet")

DEFAULT_TIMEOUT: Final = httpx.Timeout(30, connect=5)
STATE_CHANGE_TIMEOUT: Final = 15.0
"""Seconds a close, submit or cancel may take. It is sent only when this much of the deadline is left."""
_MARGIN: Final = 0.25
"""Seconds kept back from the deadline for reading the answer and reporting."""
_MIN_READ_BUDGET: Final = 0.5
"""A read is not started with less than this left."""

_RETRYABLE_READ_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
# Failures that happened before a single byte of the request left: repeating cannot duplicate.
UNSENT_FAILURES: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
# Transient failures worth another attempt for requests that are safe to repeat.
_TRANSIENT_FAILURES: Final = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
# The subset that is also safe for a close, which must never be sent twice.
_CLOSE_RETRYABLE_FAILURES: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Kind(Enum):
    """What a repeat of the request could do, which decides what is retried."""

    READ = "read"
    CLOSE = "close"
    SUBMIT = "submit"
    CANCEL = "cancel"

    @property
    def changes_state(self) -> bool:
        return self is not Kind.READ


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the last attempt of a request ended: with a response, or with a transport failure."""

    label: str
    attempts: int
    response: httpx.Response | None
    failure: httpx.RequestError | None
    # Some attempt *before* the last one may have been processed by the server (it timed out or was
    # lost after sending, or got a 5xx): a repeat may meet that attempt's effects.
    landed_before: bool

    @property
    def may_have_landed(self) -> bool:
        """Whether this attempt may have been processed: anything but a refusal before processing
        (429) or a failure before a byte of the request left."""
        if self.failure is not None:
            return not isinstance(self.failure, UNSENT_FAILURES)
        return required(self.response).status_code != 429


_READ = httpx.ByteStream(b"")


def _plain_http_transport(base_url: str) -> httpx.AsyncBaseTransport | None:
    """For an ``http://`` base URL (the simulator served locally), a transport whose TLS context
    loads no certificates: httpx's default loads the CA bundle (tens of ms) for a connection that
    never uses TLS. The context still requires a verified certificate and its host name, so a
    request that did reach an ``https://`` URL would fail its handshake, never go unverified.
    Otherwise None: httpx's default transport."""
    if not base_url.lower().startswith("http://"):
        return None
    import ssl

    return httpx.AsyncHTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


"""Stands in for a response's stream once its body is read (``response.content`` keeps it)."""


def _may_retry(kind: Kind, outcome: Outcome) -> bool:
    """Whether what ``kind`` allows includes another attempt after ``outcome``."""
    if outcome.failure is not None:
        if kind is Kind.CLOSE:
            return isinstance(outcome.failure, _CLOSE_RETRYABLE_FAILURES)
        return isinstance(outcome.failure, _TRANSIENT_FAILURES)
    response = required(outcome.response)
    if response.headers.get("x-should-retry", "").lower() == "false":
        return False
    status = response.status_code
    if kind is Kind.CLOSE:
        return status == 429  # refused before processing; anything else may have closed something
    if kind is Kind.SUBMIT and status != 429 and _has_rows(response):
        return False  # a per-row answer (e.g. 503 "clearing unavailable", every row REJECTED) is final
    return status in (_RETRYABLE_READ_STATUSES if kind is Kind.READ else _RETRYABLE_STATUSES)


class Requester:
    """One shared connection pool and the one retry loop around it. Knows nothing of endpoints."""

    def __init__(
        self,
        *,
        api_key: Secret,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout | float,
        retry: RetryPolicy,
        user_agent: str,
    ) -> None:
        self._api_key = api_key
        self.retry = retry
        self.closed = False
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport if transport is not None else _plain_http_transport(base_url),
            timeout=self._timeout,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {api_key.reveal()}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    async def aclose(self) -> None:
        self.closed = True
        await self._http.aclose()

    def now(self) -> float:
        """The Unix time ``Retry-After`` dates are read against (the retry policy's clock)."""
        return self.retry.clock()

    async def read(self, path: str, params: Sequence[tuple[str, str]], model: type[Envelope[Any]]) -> Envelope[Any]:
        """A ``GET`` sent as a read (retried within the deadline) and its 2xx envelope; a failure to
        connect raises :class:`ClearStreetConnectionError`, any other status its ``APIStatusError``."""
        outcome = await self.send(Kind.READ, "GET", path, params=params)
        if outcome.failure is not None:
            raise self.connection_error(outcome, outcome.failure) from outcome.failure
        return success_envelope(required(outcome.response), model, self.redact, self.now())

    def _attempt_timeout(self, kind: Kind, remaining: float) -> httpx.Timeout:
        total = STATE_CHANGE_TIMEOUT if kind.changes_state else (self._timeout.read or 30.0)
        seconds = max(min(total, remaining - _MARGIN), 0.05)
        connect = min(self._timeout.connect or 5.0, seconds)
        return httpx.Timeout(seconds, connect=connect)

    def _check_budget(self, kind: Kind, label: str, attempt: int) -> float:
        remaining = remaining_budget()
        needed = STATE_CHANGE_TIMEOUT + _MARGIN if kind.changes_state else _MIN_READ_BUDGET
        if remaining < needed:
            raise DeadlineExceededError(
                f"{label}: {remaining:.1f} s left of the call's deadline, too little to "
                f"{'send it safely' if kind.changes_state else 'wait for an answer'}",
                sent=False,
                attempts=attempt - 1,
            )
        return remaining

    async def send(
        self,
        kind: Kind,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> Outcome:
        """Send the request, retrying what ``kind`` allows within the deadline, and report how the
        last attempt ended."""
        if self.closed:
            raise RuntimeError("this ClearStreetClient is closed")
        policy = self.retry
        total = policy.max_retries + 1
        landed_before = False
        last: Outcome | None = None
        for attempt in range(1, total + 1):
            label = f"{method} /{path.lstrip('/').split('?')[0]}"
            try:
                remaining = self._check_budget(kind, label, attempt)
            except DeadlineExceededError:
                if last is None:
                    raise  # nothing was sent: the first attempt never left
                # The wait overran the deadline: report how the last attempt ended (it may have
                # landed), never "nothing was sent".
                logger.warning("%s: no time left for attempt %d; reporting attempt %d", label, attempt, last.attempts)
                return last
            request = self._request(kind, method, path, params, body, remaining)
            outcome = await self._attempt(kind, request, attempt, total, landed_before)
            problem = self._problem(outcome)
            if attempt == total or not _may_retry(kind, outcome):
                if outcome.failure is not None:
                    logger.warning("%s: %s (attempt %d of %d); giving up", outcome.label, problem, attempt, total)
                return outcome
            headers = outcome.response.headers if outcome.response is not None else None
            delay = policy.delay(attempt - 1, headers)
            if not self._fits(kind, delay):
                logger.warning("%s: %s; no time left for another attempt", outcome.label, problem)
                return outcome
            logger.warning(
                "%s: %s (attempt %d of %d); retrying in %.3f s", outcome.label, problem, attempt, total, delay
            )
            last = outcome
            landed_before = landed_before or outcome.may_have_landed
            await policy.sleep(delay)
        raise AssertionError("unreachable: the last attempt always returns")

    def _request(
        self,
        kind: Kind,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] | None,
        body: bytes | None,
        remaining: float,
    ) -> httpx.Request:
        return self._http.build_request(
            method,
            path,
            params=list(params) if params is not None else None,
            content=body,
            headers={"Content-Type": "application/json"} if body is not None else None,
            timeout=self._attempt_timeout(kind, remaining),
        )

    async def _attempt(
        self, kind: Kind, request: httpx.Request, attempt: int, total: int, landed_before: bool
    ) -> Outcome:
        """One attempt, ended by an answer or by a transport failure (returned, not raised)."""
        label = f"{request.method} {request.url.raw_path.decode('ascii')}"
        logger.debug("%s: attempt %d of %d", label, attempt, total)
        try:
            if kind.changes_state:
                with anyio.CancelScope(shield=True):  # never abandon a state change halfway
                    response = await self._http.send(request)
            else:
                response = await self._http.send(request)
        except httpx.RequestError as failure:
            return Outcome(label, attempt, None, failure, landed_before)
        # The body is read. httpx's response and its stream refer to each other, a cycle only a
        # full garbage collection frees: without it a large book's response bodies outlive their
        # parse by many pages (the memory budget of bench/bench_exposure.py).
        response.stream = _READ
        logger.debug("%s: HTTP %d", label, response.status_code)
        return Outcome(label, attempt, response, None, landed_before)

    def _problem(self, outcome: Outcome) -> str:
        if outcome.failure is not None:
            return self.describe_failure(outcome.failure)
        return f"HTTP {required(outcome.response).status_code}"

    @staticmethod
    def _fits(kind: Kind, delay: float) -> bool:
        """Whether waiting ``delay`` still leaves enough of the deadline for another attempt."""
        needed = STATE_CHANGE_TIMEOUT + _MARGIN if kind.changes_state else _MIN_READ_BUDGET
        return delay + needed <= remaining_budget()

    # -- describing failures without leaking the key ---------------------------------------------

    def describe_failure(self, failure: httpx.RequestError) -> str:
        what = "timed out" if isinstance(failure, httpx.TimeoutException) else "connection failed"
        detail = str(failure).strip()
        return self.redact(f"{what} ({type(failure).__name__}{': ' + detail if detail else ''})")

    def connection_error(self, outcome: Outcome, failure: httpx.RequestError) -> ClearStreetConnectionError:
        return ClearStreetConnectionError(
            f"{outcome.label}: {self.describe_failure(failure)} after {outcome.attempts} attempt(s)",
            timed_out=isinstance(failure, httpx.TimeoutException),
            request_sent=not isinstance(failure, UNSENT_FAILURES),
        )

    def redact(self, text: str) -> str:
        """Belt and braces: the key never comes from us, but a server or proxy might echo it."""
        return text.replace(self._api_key.reveal(), "[REDACTED]")


def _has_rows(response: httpx.Response) -> bool:
    """Whether an error body carries instruction rows (a per-row, final answer)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("data"), list) and bool(body["data"])
