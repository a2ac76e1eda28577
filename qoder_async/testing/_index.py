"""An ordered id index that serves cursor pages newest-first."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Protocol

from qoder_async.testing._common import ApiError

__all__ = ["OrderedIndex", "cursor_page", "page_envelope"]

SortKey = tuple[int, int]  # (timestamp, creation sequence): unique, oldest first


class OrderedIndex:
    """Ids kept in ascending sort-key order; pages are read from the newest end.

    Cursors are ids, and an id keeps its position whatever happens to the object later
    (archiving only hides it from filters), so paging is stable under concurrent writes.
    """

    __slots__ = ("_ids", "_key_of", "_keys")

    def __init__(self) -> None:
        self._keys: list[SortKey] = []
        self._ids: list[str] = []
        self._key_of: dict[str, SortKey] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._key_of

    def add(self, item_id: str, key: SortKey) -> None:
        """Insert ``item_id`` at the place its key sorts to (usually the end)."""
        position = bisect_right(self._keys, key)
        self._keys.insert(position, key)
        self._ids.insert(position, item_id)
        self._key_of[item_id] = key

    def _position(self, item_id: str) -> int:
        return bisect_left(self._keys, self._key_of[item_id])

    def page(
        self,
        keep: Callable[[str], bool] | None,
        limit: int,
        *,
        after: str | None = None,
        before: str | None = None,
    ) -> tuple[list[str], bool]:
        """Up to ``limit`` ids in list order (newest first) and whether more exist.

        ``after``: items that come after this id in list order (older ones); ``before``:
        the ``limit`` items just before it (newer ones). ``has_more`` refers to the
        paging direction. Raises KeyError for a cursor that is not in the index.
        """
        ids = self._ids
        out: list[str] = []
        if before is None:
            index = self._position(after) - 1 if after is not None else len(ids) - 1
            while index >= 0:
                item = ids[index]
                if keep is None or keep(item):
                    if len(out) == limit:
                        return out, True
                    out.append(item)
                index -= 1
            return out, False
        index = self._position(before) + 1
        more = False
        while index < len(ids):
            item = ids[index]
            if keep is None or keep(item):
                if len(out) == limit:
                    more = True
                    break
                out.append(item)
            index += 1
        out.reverse()
        return out, more


def page_envelope(data: list[object], ids: list[str], has_more: bool) -> dict[str, object]:
    """The list envelope: ``data``, ``first_id``, ``has_more``, ``last_id``, ``next_page``."""
    last_id = ids[-1] if ids else None
    return {
        "data": data,
        "first_id": ids[0] if ids else None,
        "has_more": has_more,
        "last_id": last_id,
        "next_page": last_id if has_more else None,
    }


class PageQuery(Protocol):
    """What a list query carries for paging."""

    @property
    def limit(self) -> int: ...
    @property
    def after_id(self) -> str | None: ...
    @property
    def before_id(self) -> str | None: ...
    @property
    def cursor_param(self) -> str: ...


def cursor_page(
    index: OrderedIndex, keep: Callable[[str], bool] | None, query: PageQuery
) -> tuple[list[str], bool]:
    """A page of ``index`` for ``query``; 400 for a cursor that is not in the list."""
    for cursor, param in ((query.after_id, query.cursor_param), (query.before_id, "before_id")):
        if cursor is not None and cursor not in index:
            raise ApiError.bad_request(f"Unknown cursor: {cursor}", param)
    return index.page(keep, query.limit, after=query.after_id, before=query.before_id)
