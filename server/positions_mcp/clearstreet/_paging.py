"""Listings longer than one request: the one pagination loop (following ``next_page_token``) and
the one way ids are split into batches sent a bounded number at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Final, Protocol, TypeVar

import anyio

from ._responses import required
from .errors import PaginationLoopError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_IDS_PER_REQUEST",
    "batches",
    "bounded",
    "concurrency_limit",
    "first_page_only",
    "follow_pages",
]

MAX_IDS_PER_REQUEST: Final = 100
"""At most this many ids per snapshot request and per option-contracts lookup (the API's documented
limit for ``instrument_ids`` and ``contract_ids``)."""
DEFAULT_CONCURRENCY: Final = 4


class Page(Protocol):
    @property
    def next_page_token(self) -> str | None: ...

    @property
    def request_id(self) -> str | None: ...


_P = TypeVar("_P", bound=Page)
_T = TypeVar("_T")


async def follow_pages(fetch: Callable[[str | None], Awaitable[_P]]) -> AsyncIterator[_P]:
    """Every page in turn: ``fetch(None)`` first, then ``fetch`` of each ``next_page_token`` until a
    page has none. A token already followed raises :class:`PaginationLoopError` instead of looping
    forever. The filters go with every ``fetch`` (a token does not carry them), ``page_size`` only
    with the first (:func:`first_page_only`)."""
    followed: set[str] = set()
    token: str | None = None
    while True:
        page = await fetch(token)
        yield page
        token = page.next_page_token
        if token is None:
            return
        if token in followed:
            raise PaginationLoopError(
                f"the API returned page token {token[:40]!r} again after following it "
                f"(request_id {page.request_id}); stopping instead of looping"
            )
        followed.add(token)


def first_page_only(page_size: int | None, token: str | None) -> int | None:
    """``page_size`` for the first request; none after it (the page token carries it)."""
    return page_size if token is None else None


def concurrency_limit(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("concurrency must be an int")
    if value < 1:
        raise ValueError(f"concurrency must be at least 1, got {value}")
    return value


def batches(items: Iterable[str]) -> list[list[str]]:
    """The items without repeats (first occurrence kept), in batches of ``MAX_IDS_PER_REQUEST``."""
    unique = list(dict.fromkeys(items))
    return [unique[start : start + MAX_IDS_PER_REQUEST] for start in range(0, len(unique), MAX_IDS_PER_REQUEST)]


async def bounded(jobs: Sequence[Callable[[], Awaitable[_T]]], concurrency: int) -> list[_T]:
    """Run ``jobs`` at most ``concurrency`` at a time; results in job order. The first failure
    cancels the jobs still running and is raised as itself (not wrapped in an exception group)."""
    results: list[_T | None] = [None] * len(jobs)
    failure: Exception | None = None
    limiter = anyio.CapacityLimiter(concurrency)

    async with anyio.create_task_group() as group:

        async def run(index: int, job: Callable[[], Awaitable[_T]]) -> None:
            nonlocal failure
            async with limiter:
                try:
                    results[index] = await job()
                except Exception as exc:
                    if failure is None:
                        failure = exc
                    group.cancel_scope.cancel()

        for index, job in enumerate(jobs):
            group.start_soon(run, index, job)
    if failure is not None:
        raise failure
    return [required(result) for result in results]
