"""Query strings of the list endpoints: limits, cursors and filters.

Bad values answer ``400 invalid_request_error`` naming the parameter: a limit outside
1..1000, more than one of ``after_id``/``before_id``/``page``, unknown enum values,
booleans other than ``true``/``false`` and unparseable timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from qoder_async.testing._common import ApiError, Bounds

__all__ = ["DeploymentQuery", "RunQuery", "parse_deployment_query", "parse_run_query"]

MAX_LIMIT = 1000
RUN_STATUSES = frozenset({"pending", "running", "completed", "failed", "skipped"})
TRIGGER_TYPES = frozenset({"manual", "schedule", "retry"})


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    """Parsed ``GET /deployments`` query."""

    limit: int = 20
    after_id: str | None = None
    before_id: str | None = None
    cursor_param: str = "after_id"
    status: str | None = None
    include_archived: bool = False
    agent_id: str | None = None
    created: Bounds = (None,) * 4


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Parsed query of the two run list endpoints."""

    limit: int = 20
    after_id: str | None = None
    before_id: str | None = None
    cursor_param: str = "after_id"
    status: str | None = None
    trigger_type: str | None = None
    has_error: bool | None = None
    deployment_id: str | None = None
    triggered_after: float | None = None
    triggered_before: float | None = None
    created: Bounds = (None,) * 4


def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return 20
    if not raw.isdigit() or not raw.isascii() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError.bad_request(f"limit must be an integer between 1 and {MAX_LIMIT}", "limit")
    return int(raw)


def _cursors(query: Mapping[str, str]) -> tuple[str | None, str | None, str]:
    """(after, before, name of the parameter that carried the cursor)."""
    given = [name for name in ("after_id", "before_id", "page") if name in query]
    if len(given) > 1:
        raise ApiError.bad_request(
            "Only one of after_id, before_id and page may be given.", given[1]
        )
    param = given[0] if given else "after_id"
    after = query.get("after_id", query.get("page"))
    return after, query.get("before_id"), param


def _choice(query: Mapping[str, str], name: str, allowed: frozenset[str]) -> str | None:
    raw = query.get(name)
    if raw is not None and raw not in allowed:
        raise ApiError.bad_request(f"{name} must be one of {', '.join(sorted(allowed))}", name)
    return raw


def _bool(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ApiError.bad_request(f"{name} must be true or false", name)
    return raw == "true"


def _time(query: Mapping[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError.bad_request(f"{name} must be an RFC 3339 timestamp", name) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _created(
    query: Mapping[str, str],
) -> Bounds:
    return (
        _time(query, "created_at[gt]"),
        _time(query, "created_at[gte]"),
        _time(query, "created_at[lt]"),
        _time(query, "created_at[lte]"),
    )


def parse_deployment_query(query: Mapping[str, str]) -> DeploymentQuery:
    """Check and parse the query string of ``GET /deployments``."""
    after, before, cursor_param = _cursors(query)
    return DeploymentQuery(
        limit=_limit(query),
        after_id=after,
        before_id=before,
        cursor_param=cursor_param,
        status=_choice(query, "status", frozenset({"active", "paused"})),
        include_archived=bool(_bool(query, "include_archived")),
        agent_id=query.get("agent_id"),
        created=_created(query),
    )


def parse_run_query(query: Mapping[str, str], *, scoped: bool) -> RunQuery:
    """Check and parse a run list query (``scoped``: under one deployment)."""
    after, before, cursor_param = _cursors(query)
    return RunQuery(
        limit=_limit(query),
        after_id=after,
        before_id=before,
        cursor_param=cursor_param,
        status=_choice(query, "status", RUN_STATUSES),
        trigger_type=None if scoped else _choice(query, "trigger_type", TRIGGER_TYPES),
        has_error=None if scoped else _bool(query, "has_error"),
        deployment_id=None if scoped else query.get("deployment_id"),
        triggered_after=_time(query, "triggered_after"),
        triggered_before=_time(query, "triggered_before"),
        created=_created(query),
    )
