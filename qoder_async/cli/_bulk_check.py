"""``bulk-archive --dry-run`` with explicit ids: read each one, change nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator

from qoder_async.client import QoderClient
from qoder_async.errors import NotFoundError

__all__ = ["ARCHIVED", "EXISTS", "UNKNOWN", "check_ids"]

EXISTS = "exists"
"""Live (active or paused): it would be archived."""
ARCHIVED = "already_archived"
UNKNOWN = "not_found"


async def check_ids(
    client: QoderClient,
    ids: list[str],
    *,
    concurrency: int,
    on_state: Callable[[str, str], object],
) -> Counter[str]:
    """GET every id (at most ``concurrency`` at once); count states, tell each one.

    Only reads are sent. Any error but a 404 (a rejected token, an unreachable host)
    ends the check and propagates: the counts would not mean anything.
    """
    counts: Counter[str] = Counter()
    pending: Iterator[str] = iter(ids)

    async def worker() -> None:
        for deployment_id in pending:  # shared: each id is taken by one worker
            try:
                deployment = await client.deployments.get(deployment_id)
            except NotFoundError:
                state = UNKNOWN
            else:
                state = ARCHIVED if deployment.is_archived else EXISTS
            counts[state] += 1
            on_state(deployment_id, state)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(ids)))):
            group.create_task(worker())
    return counts
