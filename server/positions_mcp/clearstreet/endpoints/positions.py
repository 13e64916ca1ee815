"""``client.positions``: the account's positions, page by page, and the two close endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TypedDict, Unpack

from .._paging import first_page_only, follow_pages
from .._requester import UNSENT_FAILURES, Kind, Requester
from .._requests import (
    Params,
    account_path,
    check_filters,
    comma_list,
    enum_text,
    json_bytes,
    paging_params,
    path_segment,
)
from .._responses import ORDERS, POSITIONS, UnreadableBody, read_envelope, required, status_error, unreadable_success
from ..errors import OutcomeUnknownError, ServerError
from ..models import Position, SortBy, SortDirection
from ..results import CloseResult, PositionsResponse

__all__ = ["PositionFilters", "Positions", "positions_query"]


class PositionFilters(TypedDict, total=False):
    """What a listing of positions is narrowed and sorted by (a page token carries none of it)."""

    instrument_ids: Sequence[str] | None
    """UUIDs or symbols, comma-joined in one query key."""
    sort_by: SortBy | str | None
    sort_direction: SortDirection | str | None


def positions_query(filters: PositionFilters, page_size: int | None, page_token: str | None) -> Params:
    """The query of GET positions, in the official SDK's order."""
    check_filters(filters, PositionFilters.__optional_keys__)
    instrument_ids = filters.get("instrument_ids")
    sort_by = filters.get("sort_by")
    sort_direction = filters.get("sort_direction")
    params: Params = []
    if instrument_ids is not None:
        if not isinstance(instrument_ids, str) and not list(instrument_ids):
            raise ValueError("instrument_ids is empty; pass None to list every position")
        params.append(("instrument_ids", comma_list(instrument_ids, "instrument_ids")))
    params += paging_params(page_size, page_token)
    if sort_by is not None:
        params.append(("sort_by", enum_text(sort_by, "sort_by")))
    if sort_direction is not None:
        params.append(("sort_direction", enum_text(sort_direction, "sort_direction")))
    return params


class Positions:
    """``GET /v1/accounts/{account_id}/positions`` and the closes (``DELETE …/positions[/{id}]``)."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def page(
        self,
        account_id: int | str,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        **filters: Unpack[PositionFilters],
    ) -> PositionsResponse:
        """One page of the account's positions. The filters are not carried by ``page_token``: pass
        them again with it, or use :meth:`pages`."""
        path = f"{account_path(account_id)}/positions"
        envelope = await self._requester.read(path, positions_query(filters, page_size, page_token), POSITIONS)
        return PositionsResponse(
            positions=list(envelope.data or []),
            metadata=envelope.metadata,
            request_id=envelope.metadata.request_id,
        )

    def pages(
        self, account_id: int | str, *, page_size: int | None = None, **filters: Unpack[PositionFilters]
    ) -> AsyncIterator[PositionsResponse]:
        """Every page in turn (:func:`~.._paging.follow_pages`). Arguments are checked here, before
        iteration starts."""
        account_path(account_id)
        positions_query(filters, page_size, None)
        return follow_pages(
            lambda token: self.page(
                account_id, page_size=first_page_only(page_size, token), page_token=token, **filters
            )
        )

    async def all(
        self, account_id: int | str, *, page_size: int | None = None, **filters: Unpack[PositionFilters]
    ) -> list[Position]:
        """Every position of the account, all pages, in the order the API returned them."""
        return [row async for page in self.pages(account_id, page_size=page_size, **filters) for row in page.positions]

    async def close(
        self, account_id: int | str, instrument_id: str, *, cancel_orders: bool | None = None
    ) -> CloseResult:
        """Send closing order(s) for one position (``DELETE …/positions/{instrument_id}``).

        Never repeated after a failure that might have reached the server: that raises
        :class:`OutcomeUnknownError`, and whoever sees it must re-read positions before trying again.
        """
        path = f"{account_path(account_id)}/positions/{path_segment(instrument_id, 'instrument_id')}"
        return await self._close(path, cancel_orders)

    async def close_all(self, account_id: int | str, *, cancel_orders: bool | None = None) -> CloseResult:
        """Send closing orders for every position of the account (``DELETE …/positions``). Same
        retry rules as :meth:`close`."""
        return await self._close(f"{account_path(account_id)}/positions", cancel_orders)

    async def _close(self, path: str, cancel_orders: bool | None) -> CloseResult:
        if cancel_orders is not None and not isinstance(cancel_orders, bool):
            raise TypeError("cancel_orders must be True, False or None")
        body = json_bytes({} if cancel_orders is None else {"cancel_orders": cancel_orders})
        requester = self._requester
        outcome = await requester.send(Kind.CLOSE, "DELETE", path, body=body)
        if outcome.failure is not None:
            if isinstance(outcome.failure, UNSENT_FAILURES):
                raise requester.connection_error(outcome, outcome.failure) from outcome.failure
            raise OutcomeUnknownError(
                f"{outcome.label}: {requester.describe_failure(outcome.failure)} after the request may have "
                "been sent; the close may or may not have taken effect. Re-read positions and orders "
                "before trying again."
            ) from outcome.failure
        response = required(outcome.response)
        if response.is_success:
            try:
                envelope = read_envelope(response, ORDERS, require_data=True)
            except UnreadableBody as bad:
                raise unreadable_success(outcome.label, response, bad, requester.redact) from None
            return CloseResult(orders=list(envelope.data or []), request_id=envelope.metadata.request_id)
        error = status_error(response, requester.redact, requester.now())
        if isinstance(error, ServerError):
            raise OutcomeUnknownError(
                f"{outcome.label}: {error}; the close may or may not have taken effect. Re-read "
                "positions and orders before trying again.",
                status_code=error.status_code,
                request_id=error.request_id,
            ) from error
        raise error
