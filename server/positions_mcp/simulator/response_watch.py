"""Whether an ASGI response has started: after its first message an error can no longer be
answered with a response of its own (the ASGI specification's ``http.response.start``)."""

from __future__ import annotations

from starlette.types import Message, Send

__all__ = ["WatchedSend"]


class WatchedSend:
    """A ``send`` that passes every message on and notes whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)
