"""``GET /v1/accounts/{account_id}/balances`` (Clear Street's API documentation), figures as
``account_balances`` computes them from the book."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .access import Access
from .account_balances import account_balances
from .envelope import envelope
from .queries import positive_int_query


@dataclass(frozen=True, slots=True)
class BalanceRoutes:
    access: Access

    async def balances(self, request: Request) -> Response:
        with self.access.account(request) as account:
            top = positive_int_query(request, "top_margin_contributors_limit")
            data = account_balances(self.access.state, account, top_contributors=top)
        return envelope(request, data)
