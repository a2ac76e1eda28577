"""Stopping a walk after N items: ``take(n)`` and ``to_list(max_items=n)`` fetch no
page beyond the one holding the n-th item."""

from __future__ import annotations

import pytest

from qoder_async import AsyncPaginator, InvalidArgumentError, InvalidArgumentTypeError, Page


def paginator(pages: int, per_page: int) -> tuple[AsyncPaginator[int], list[str | None]]:
    """``pages`` pages of ``per_page`` consecutive ints; records each cursor fetched."""
    fetched: list[str | None] = []

    async def fetch(cursor: str | None) -> Page[int]:
        fetched.append(cursor)
        index = 0 if cursor is None else int(cursor)
        more = index + 1 < pages
        data = tuple(range(index * per_page, (index + 1) * per_page))
        return Page(data=data, first_id=None, last_id=str(index + 1), has_more=more)

    return AsyncPaginator(fetch), fetched


@pytest.mark.parametrize(
    ("count", "pages_fetched"), [(0, 0), (1, 1), (4, 1), (5, 2), (8, 2), (9, 3), (100, 3)]
)
async def test_take_stops_after_n_items(count: int, pages_fetched: int) -> None:
    walk, fetched = paginator(pages=3, per_page=4)
    items = [item async for item in walk.take(count)]
    assert items == list(range(min(count, 12)))
    assert len(fetched) == pages_fetched


async def test_to_list_max_items_is_the_same_bound() -> None:
    walk, fetched = paginator(pages=10, per_page=5)
    assert await walk.to_list(max_items=7) == list(range(7))
    assert fetched == [None, "1"]
    everything, _ = paginator(pages=3, per_page=2)
    assert await everything.to_list() == list(range(6))


def test_bad_counts_are_refused_by_name() -> None:
    walk, fetched = paginator(pages=1, per_page=1)
    with pytest.raises(InvalidArgumentError, match=r"^count must be >= 0"):
        walk.take(-1)
    with pytest.raises(InvalidArgumentTypeError, match=r"^count must be an int"):
        walk.take(2.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentTypeError, match=r"^count must be an int"):
        walk.take(True)
    assert fetched == []


async def test_to_list_names_max_items() -> None:
    walk, _ = paginator(pages=1, per_page=1)
    with pytest.raises(InvalidArgumentError, match=r"^max_items must be >= 0"):
        await walk.to_list(max_items=-3)
