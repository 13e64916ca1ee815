"""Typed async client of the Clear Street API, as groups of endpoints over one requester.

``client.positions``, ``client.instructions``, ``client.balances``, ``client.market_data``,
``client.instruments``, ``client.orders`` and ``client.clock`` (each in ``endpoints/``) all send
through one :class:`~._requester.Requester`: a shared ``httpx.AsyncClient``, the one retry loop and
the caller's deadline. Requests are built by ``_requests``, answers read by ``_responses``; what is
retried depends on what a repeat could do (see ``_requester``). A non-2xx answer raises the
:class:`~.errors.APIStatusError` subclass naming its status (``NotFound``, ``RateLimited``, …).

The API key appears in no repr, log line or error message. Knows nothing of MCP.
"""

from __future__ import annotations

from typing import Final

import httpx

from .. import __version__
from ..secret import Secret
from ._requester import DEFAULT_TIMEOUT, Requester
from ._requests import MAX_PAGE_SIZE
from .config import check_api_key, checked_base_url
from .endpoints.balances import Balances
from .endpoints.clock import ClockAndHours
from .endpoints.instructions import Instructions
from .endpoints.instruments import Instruments
from .endpoints.market_data import MarketData
from .endpoints.orders import Orders
from .endpoints.positions import Positions
from .retry import RetryPolicy

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_USER_AGENT", "MAX_PAGE_SIZE", "ClearStreetClient"]

DEFAULT_USER_AGENT: Final = f"clearstreet-positions-mcp/{__version__}"


class ClearStreetClient:
    """Async client of the Clear Street API.

    Use as ``async with ClearStreetClient(api_key=..., base_url=...) as client:`` or call
    :meth:`aclose` when done. ``transport`` replaces the network (an ``httpx.MockTransport`` or
    ``httpx.ASGITransport`` in tests and for the embedded simulator). A ``base_url`` with a path
    prefix (``http://host:8080/cs``) is honoured. ``retry`` sets the retry policy, and with it the
    seam for the wait between attempts (``RetryPolicy(sleep=...)``) and the clock ``Retry-After``
    dates are read against.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        check_api_key(api_key)
        self._requester = requester = Requester(
            api_key=Secret(api_key),
            base_url=checked_base_url(base_url),
            transport=transport,
            timeout=timeout,
            retry=retry if retry is not None else RetryPolicy(),
            user_agent=user_agent,
        )
        self.positions: Final = Positions(requester)
        self.instructions: Final = Instructions(requester)
        self.balances: Final = Balances(requester)
        self.market_data: Final = MarketData(requester)
        self.instruments: Final = Instruments(requester)
        self.orders: Final = Orders(requester)
        self.clock: Final = ClockAndHours(requester)

    @property
    def base_url(self) -> str:
        """The base URL requests are sent under (always ending with ``/``)."""
        return self._requester.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._requester.retry

    @property
    def closed(self) -> bool:
        return self._requester.closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool. Safe to call more than once."""
        await self._requester.aclose()

    async def __aenter__(self) -> ClearStreetClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
