"""Query-parameter building for list endpoints, validated before anything is sent."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

from qoder_async import _validation
from qoder_async.errors import InvalidArgumentError, InvalidArgumentTypeError
from qoder_async.models import Page
from qoder_async.pagination import AsyncPaginator
from qoder_async.resources._base import CallOptions, ResourceContext

__all__ = ["ListParams", "paginate"]

T = TypeVar("T")


class ListParams:
    """Collects list query parameters as strings, rejecting bad values by name."""

    __slots__ = ("backward", "cursor", "params")

    def __init__(
        self, *, limit: int | None, after_id: str | None, before_id: str | None, kind: str
    ) -> None:
        self.params: dict[str, str] = {}
        if limit is not None:
            self.params["limit"] = str(_validation.page_limit(limit))
        if after_id is not None and before_id is not None:
            raise InvalidArgumentError(
                "after_id and before_id are mutually exclusive; pass one of them"
            )
        check = _validation.deployment_id if kind == "deployment" else _validation.run_id
        # The starting cursor stays out of ``params``: each page adds its own cursor, in
        # the direction the caller started walking.
        self.backward = before_id is not None
        self.cursor: str | None = None
        if after_id is not None:
            self.cursor = check(after_id, name="after_id")
        if before_id is not None:
            self.cursor = check(before_id, name="before_id")

    def for_cursor(self, cursor: str | None) -> dict[str, str]:
        """The query for the page after (or, walking backward, before) ``cursor``."""
        if cursor is None:
            return self.params
        query = dict(self.params)
        query["before_id" if self.backward else "after_id"] = cursor
        return query

    def next_cursor(self, page: Page[Any]) -> str | None:
        """Where the walk goes after ``page``."""
        if self.backward:
            return page.first_id if page.has_more else None
        return page.next_cursor

    def choice(self, name: str, value: str | None, allowed: Collection[str]) -> ListParams:
        """Add ``name`` when given; it must be one of ``allowed``."""
        if value is None:
            return self
        if not isinstance(value, str):
            raise InvalidArgumentTypeError(f"{name} must be a str, not {type(value).__name__}")
        if value not in allowed:
            raise InvalidArgumentError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
        self.params[name] = str(value)
        return self

    def flag(self, name: str, value: bool | None) -> ListParams:
        """Add a boolean as ``true``/``false`` when given."""
        if value is not None:
            self.params[name] = "true" if _validation.boolean(name, value) else "false"
        return self

    def ident(self, name: str, value: str | None, kind: str) -> ListParams:
        """Add a validated id of ``kind`` (agent, deployment) when given."""
        if value is not None:
            checker = {"agent": _validation.agent_id, "deployment": _validation.deployment_id}
            self.params[name] = checker[kind](value, name=name)
        return self

    def timestamp(
        self, name: str, value: datetime | str | None, *, param: str | None = None
    ) -> ListParams:
        """Add an RFC 3339 timestamp (an aware datetime, or a string that parses as one).

        ``param`` is the caller's argument name when it differs from the query name
        (``created_after`` for ``created_at[gte]``): errors name what the caller wrote.
        """
        if value is None:
            return self
        label = param or name
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidArgumentError(
                    f"{label} must be an ISO 8601 timestamp, got {value[:60]!r}"
                ) from None
            if parsed.tzinfo is None:
                raise InvalidArgumentError(f"{label} must carry a timezone, got {value!r}")
            self.params[name] = value
            return self
        if not isinstance(value, datetime):
            raise InvalidArgumentTypeError(
                f"{label} must be a datetime or str, not {type(value).__name__}"
            )
        if value.tzinfo is None:
            raise InvalidArgumentError(f"{label} must be timezone-aware")
        self.params[name] = value.isoformat().replace("+00:00", "Z")
        return self


def paginate(
    ctx: ResourceContext,
    url: str,
    query: ListParams,
    structure: Callable[[Any], Page[T]],
    options: CallOptions | None = None,
) -> AsyncPaginator[T]:
    """A paginator over ``url`` that sends ``query`` plus each page's cursor (and the
    caller's per-call ``options`` with every page)."""

    async def fetch(cursor: str | None) -> Page[T]:
        return await ctx.call(
            "GET", url, structure, params=query.for_cursor(cursor), options=options
        )

    return AsyncPaginator(fetch, cursor=query.cursor, next_cursor=query.next_cursor)
