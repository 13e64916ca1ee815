"""Connections that slow or idle clients cannot hold: uvicorn's HTTP/1.1 protocol (h11) with
deadlines and a cap on open connections.

uvicorn alone waits forever for a request's headers and for its body (it only times out a
kept-alive connection between requests), and accepts every connection the kernel hands it, so a
thousand sockets that never finish their headers hold a thousand file descriptors until the
process has none left ('Too many open files') and authorised calls time out. Its own cap,
``limit_concurrency``, answers a clean ``503`` but only once a request's headers are in, and
counts the stalled sockets, so two hundred of them turn every real request away. Here instead:

* **headers** must be complete within :attr:`SlowClients.headers` seconds of the connection's
  opening (or of the first byte of a later request on a kept-alive connection), else ``408`` and
  the connection is closed (RFC 9110 section 15.5.9);
* a **body** must be complete within :attr:`SlowClients.body` seconds of its headers, else the
  same (a request's body here is a JSON-RPC message of a few kilobytes);
* at most :attr:`SlowClients.max_connections` connections are open. A new one beyond it takes the
  place of the open connection that has waited longest for a request's headers (a stalled socket,
  or an idle kept-alive one); when every open connection is busy with a request it is answered
  ``503`` with ``Retry-After`` and closed at once, never left holding a file descriptor.

So a client that sends its request at once is served while any number of sockets sit half-open:
each new one only replaces an older stalled one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["SlowClients", "guarded_protocol"]

logger = logging.getLogger("positions_mcp.surface.http")

HEADERS_SECONDS = 5.0
BODY_SECONDS = 10.0
LINGER_SECONDS = 1.0
LINGERING_MAX = 16
"""Connections answered 408 or 503 that may stay open at once, reading what their client still
sends, so that the answer is read (``settings.DESCRIPTORS_RESERVED`` counts them)."""


@dataclass(frozen=True)
class SlowClients:
    """How long a client may take over a request, and how many connections may be open."""

    max_connections: int
    headers: float = HEADERS_SECONDS
    body: float = BODY_SECONDS


def _plain(status: str, text: str, *extra: str) -> bytes:
    body = text.encode()
    head = [f"HTTP/1.1 {status}", "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*head, *extra, "Connection: close", "", ""])).encode() + body


_TIMED_OUT = _plain("408 Request Timeout", "The request took too long to arrive; send it again, whole.")
_FULL = _plain(
    "503 Service Unavailable",
    "The server holds as many connections as it may (POSITIONS_MCP_HTTP_MAX_CONNECTIONS); try again in a moment.",
    "Retry-After: 1",
)


class _Refusals:
    """Refusals said on stderr at most once a second, with how many there were since (a flood of
    new connections must not become a flood of log lines)."""

    def __init__(self) -> None:
        self._count = 0
        self._said_at = 0.0

    def note(self, cap: int) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._said_at >= 1.0:
            logger.warning(
                "refused %d connection(s): %d busy ones are open (POSITIONS_MCP_HTTP_MAX_CONNECTIONS)", self._count, cap
            )
            self._count, self._said_at = 0, now


_refusals = _Refusals()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the deadlines and the cap of the module's docstring."""

    limits: ClassVar[SlowClients]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_body = False
        self._waiting_since = time.monotonic()
        self._leaving = False
        self._lingering = False

    # -- the cap ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._waiting_since = time.monotonic()
        if self._open_connections() > self.limits.max_connections and not self._make_room():
            _refusals.note(self.limits.max_connections)
            self._leave(_FULL)
            return
        self._arm(self.limits.headers, body=False)

    def _open_connections(self) -> int:
        return sum(1 for c in self.connections if not getattr(c, "_leaving", False))

    def _waiting_for_headers(self) -> bool:
        """No request under way: nothing received yet, or an answered one and no next one whole."""
        return (
            not self._leaving
            and self.conn.their_state is h11.IDLE
            and (self.cycle is None or self.cycle.response_complete)
        )

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request's headers; False when none is."""
        stalled = [c for c in self.connections if isinstance(c, GuardedH11Protocol) and c is not self]
        waiting = [c for c in stalled if c._waiting_for_headers()]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c._waiting_since)
        logger.info(
            "closed a connection waiting %.1f s for a request to make room", time.monotonic() - oldest._waiting_since
        )
        oldest._leave(None)
        return True

    def _leave(self, answer: bytes | None) -> None:
        """Close, after ``answer`` when there is one. A socket closed with unread data in it is
        reset (RFC 9293 section 3.6.1), and a reset client may lose the answer with it, so an answered
        connection first says it is done writing and reads on for a second (Apache's lingering
        close), unless too many already do."""
        self._leaving = True
        self._disarm()
        if self.transport.is_closing():
            return
        if answer is None:
            self.transport.close()
            return
        self.transport.write(answer)
        lingering = sum(1 for c in self.connections if getattr(c, "_lingering", False))
        if lingering >= LINGERING_MAX or not self.transport.can_write_eof():
            self.transport.close()
            return
        self._lingering = True
        # the client reads the answer, then the end of the stream; when it closes its end, asyncio
        # closes the transport (uvicorn's eof_received returns None)
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    # -- the deadlines ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._leaving:
            return  # read and dropped: the connection is closing
        if self._deadline is None and self._waiting_for_headers():
            self._arm(self.limits.headers, body=False)  # the first byte of a later request
        super().data_received(data)
        self._follow()

    def _follow(self) -> None:
        """Move the deadline with the request: headers still coming, then the body, then none."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return
        if state is h11.SEND_BODY:
            if not self._in_body:
                self._arm(self.limits.body, body=True)
            return
        self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._waiting_since = time.monotonic()
        self._follow()  # a pipelined request already whole, or under way

    def _arm(self, seconds: float, *, body: bool) -> None:
        self._disarm()
        self._in_body = body
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._in_body = False

    def _expired(self) -> None:
        self._deadline = None
        what = "body" if self._in_body else "headers"
        logger.info("dropped a connection whose request %s did not arrive in time", what)
        # a request whose body is late may have been answered already (an app need not read it all);
        # waiting for headers, the cycle is an earlier request's
        answered = self._in_body and self.cycle is not None and self.cycle.response_started
        self._leave(None if answered else _TIMED_OUT)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._lingering = False
        super().connection_lost(exc)


def guarded_protocol(limits: SlowClients) -> type[H11Protocol]:
    """The protocol class uvicorn is given (``Config(http=…)``), bound to ``limits``."""
    return type("GuardedH11", (GuardedH11Protocol,), {"limits": limits})
