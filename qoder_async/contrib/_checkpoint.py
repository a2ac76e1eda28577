"""Per-job progress kept in Redis, so a chunk that runs again skips finished ids.

A worker killed in the middle of a chunk loses nothing either way (archive, pause and
unpause are idempotent: a re-run reports ``already_archived`` and friends), but every
id it redoes costs a conflict and a read. The checkpoint makes the re-run cheap: the
final outcomes of a try are written to a Redis hash every ``interval`` seconds and on
the way out, and the next try of the same job reads them back.

Only final outcomes are kept (a success, or ``not_found``); failed and interrupted ids
are run again. Losing the checkpoint (Redis restarted, TTL passed) costs time, never
correctness, so write errors are logged and swallowed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from qoder_async.bulk import ItemOutcome

__all__ = ["CHECKPOINT_PREFIX", "Checkpoint"]

CHECKPOINT_PREFIX = "qoder-bulk:checkpoint:"

logger = logging.getLogger("qoder_async.contrib")


def _final(item: ItemOutcome) -> bool:
    return item.outcome.final


class Checkpoint:
    """Final outcomes of one job, buffered in memory and flushed to a Redis hash.

    Args:
        redis: The worker's Redis connection (arq's ``ctx["redis"]``).
        job_id: The job the outcomes belong to.
        ttl: Seconds the hash is kept after its last write.
        interval: Seconds between background flushes while the job runs.
    """

    def __init__(self, redis: Redis, job_id: str, *, ttl: float, interval: float) -> None:
        self.key = CHECKPOINT_PREFIX + job_id
        self._redis = redis
        self._ttl_ms = max(1, int(ttl * 1000))
        self._interval = interval
        self._pending: dict[str, str] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def load(self) -> dict[str, dict[str, Any]]:
        """Outcomes saved by earlier tries of this job, by id (empty on a first try)."""
        try:
            # redis-py types replies as sync-or-async; on redis.asyncio it is awaitable.
            saved = await cast(Awaitable[dict[bytes, bytes]], self._redis.hgetall(self.key))
        except RedisError:
            logger.warning("could not read checkpoint %s; running the whole chunk", self.key)
            return {}
        return {key.decode(): json.loads(value) for key, value in saved.items()}

    def add(self, item: ItemOutcome) -> None:
        """Remember a finished id (an ``on_outcome`` callback: sync, never raises)."""
        if _final(item):
            self._pending[item.id] = json.dumps(item.as_dict())

    async def flush(self) -> None:
        """Write what is buffered; keep it buffered if Redis is unreachable."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.key, mapping=batch)
                pipe.pexpire(self.key, self._ttl_ms)
                await pipe.execute()
        except RedisError:
            logger.warning("could not write checkpoint %s; will try again", self.key)
            self._pending = {**batch, **self._pending}

    def start(self) -> None:
        """Flush in the background every ``interval`` seconds until :meth:`stop`."""
        self._flusher = asyncio.create_task(self._run())

    async def _run(self) -> None:
        # Ends only when stop() cancels it; each round is one bounded Redis round-trip.
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def stop(self) -> None:
        """Stop the background flushes and write what is left (also when cancelled)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            # gather, not a bare await: a cancellation of *our* caller still propagates,
            # while the flusher's own cancellation (or a crash) is just collected.
            await asyncio.gather(flusher, return_exceptions=True)
        await self.flush()

    async def delete(self) -> None:
        """Drop the hash once the job's result is about to be stored."""
        try:
            await self._redis.delete(self.key)
        except RedisError:
            logger.warning("could not delete checkpoint %s; it expires on its own", self.key)
