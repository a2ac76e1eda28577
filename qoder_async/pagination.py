"""``AsyncPaginator``: walk a cursor-paginated list one item or one page at a time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from qoder_async.errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    PaginationError,
)
from qoder_async.models import Page

__all__ = ["AsyncPaginator", "PaginationError"]

T = TypeVar("T")

FetchPage = Callable[[str | None], Awaitable[Page[T]]]
"""Fetch the page after a cursor (``None``: the first page)."""


_IDS_NAMED = 3
"""How many of the last ids seen a ``PaginationError`` names."""


class AsyncPaginator(Generic[T]):
    """Lazily walks every page of a list endpoint.

    ``async for item in paginator`` yields items across pages, fetching the next page
    only when the current one is used up, so memory stays bounded by one page however
    long the list. ``pages()`` yields whole pages, ``first_page()`` fetches one, and
    ``take(n)`` yields the first ``n`` items and fetches nothing more.

    The ``limit=`` of a ``list()`` call is the page size (items per request), not a
    total: ``async for`` still walks every page. Stop after ``n`` items with
    ``take(n)`` or ``to_list(max_items=n)``.

    The walk follows ``next_page`` (or ``last_id`` when ``has_more``), never the id of
    the last item it saw: the API's own examples show the two can differ. A server that
    hands back a cursor it already gave raises ``PaginationError`` instead of looping,
    and so does a page that says ``has_more`` without any cursor to go on with: ending
    there would cut the list short without a word.
    """

    def __init__(
        self,
        fetch_page: FetchPage[T],
        *,
        cursor: str | None = None,
        next_cursor: Callable[[Page[T]], str | None] | None = None,
    ) -> None:
        self._fetch_page = fetch_page
        self._start = cursor
        self._next_cursor = next_cursor or _forward

    async def first_page(self) -> Page[T]:
        """The first page (from the starting cursor, if one was given)."""
        return await self._fetch_page(self._start)

    async def pages(self) -> AsyncGenerator[Page[T], None]:
        """Yield every page in order."""
        cursor = self._start
        seen: set[str] = set()
        last_ids: list[str] = []
        while True:
            page = await self._fetch_page(cursor)
            yield page
            last_ids = _ids_of(page, last_ids)
            next_cursor = self._next_cursor(page)
            if next_cursor is None:
                if page.has_more:
                    raise PaginationError(
                        "the server said more items follow but gave no cursor to fetch "
                        f"them; the walk stopped after ids {last_ids}"
                    )
                return
            if next_cursor in seen or next_cursor == cursor:
                raise PaginationError(
                    f"the server returned cursor {next_cursor!r} twice; stopping to avoid "
                    f"an endless loop (last ids seen: {last_ids})"
                )
            seen.add(next_cursor)
            cursor = next_cursor

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item

    def take(self, count: int) -> AsyncIterator[T]:
        """Yield at most ``count`` items, then stop: no page after the one that held
        the last of them is fetched (``take(0)`` fetches nothing).

        ``async for deployment in client.deployments.list().take(30)``
        """
        return self._first(_item_count(count, "count"))

    async def _first(self, count: int) -> AsyncIterator[T]:
        if count == 0:
            return
        taken = 0
        # aclosing: stopping early closes the page walk at once, not when it is collected.
        async with contextlib.aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.data:
                    yield item
                    taken += 1
                    if taken == count:
                        return

    async def to_list(self, *, max_items: int | None = None) -> list[T]:
        """Collect items into a list: all of them, or the first ``max_items``.

        Without ``max_items`` every page is fetched; mind memory on big lists.
        """
        if max_items is None:
            return [item async for item in self]
        return [item async for item in self._first(_item_count(max_items, "max_items"))]


def _item_count(value: Any, name: str) -> int:
    if type(value) is bool or not isinstance(value, int):
        raise InvalidArgumentTypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {value}")
    return int(value)


def _forward(page: Page[Any]) -> str | None:
    return page.next_cursor


def _ids_of(page: Page[Any], previous: list[str]) -> list[str]:
    """The last few item ids of ``page`` (an empty page keeps the previous ones)."""
    ids = [item_id for item in page.data[-_IDS_NAMED:] if (item_id := getattr(item, "id", None))]
    return ids or previous
