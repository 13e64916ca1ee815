"""``client.balances``: the account's balances, P&L and margin figures."""

from __future__ import annotations

from typing import Final

from .._requester import Requester
from .._requests import Params, account_path, positive_int_text
from .._responses import required
from ..market_models import AccountBalances
from ..models import Envelope
from ..results import BalancesResult

__all__ = ["Balances"]

BALANCES: Final = Envelope[AccountBalances]


class Balances:
    """``GET /v1/accounts/{account_id}/balances``."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def get(self, account_id: int | str, *, top_margin_contributors_limit: int | None = None) -> BalancesResult:
        """Balances, P&L and margin figures. ``margin_details.top_contributors`` is only filled when
        ``top_margin_contributors_limit`` is sent."""
        path = f"{account_path(account_id)}/balances"
        params: Params = []
        if top_margin_contributors_limit is not None:
            limit = positive_int_text(top_margin_contributors_limit, "top_margin_contributors_limit")
            params.append(("top_margin_contributors_limit", limit))
        envelope = await self._requester.read(path, params, BALANCES)
        return BalancesResult(balances=required(envelope.data), request_id=envelope.metadata.request_id)
