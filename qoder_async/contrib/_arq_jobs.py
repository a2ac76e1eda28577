"""Producer side of the arq integration: enqueue chunk jobs, collect their results.

Public names are re-exported by :mod:`qoder_async.contrib.arq`; import them from there.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import attrs
from arq.connections import ArqRedis
from arq.constants import default_queue_name, result_key_prefix
from arq.jobs import JobResult, deserialize_result

from qoder_async import _validation
from qoder_async.bulk import BulkReport
from qoder_async.contrib._results import check_action, chunk_result, merge_results
from qoder_async.models import Deployment

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "TASK_NAME",
    "CollectedBulk",
    "EnqueuedBulk",
    "chunk_job_id",
    "collect_bulk",
    "enqueue_bulk",
]

TASK_NAME = "qoder_bulk_chunk"
"""The name the chunk task is registered and enqueued under."""
DEFAULT_CHUNK_SIZE = 500
_JOB_ID_PREFIX = "qoder-bulk"
_READ_BATCH = 500  # job ids per Redis round-trip while collecting


@attrs.frozen(kw_only=True)
class EnqueuedBulk:
    """What :func:`enqueue_bulk` did; pass it to :func:`collect_bulk`.

    Attributes:
        action: ``archive``, ``pause`` or ``unpause``.
        job_ids: One job per chunk, in enqueue order (new and existing alike).
        created: Jobs this call added.
        existing: Jobs already queued, running or finished (not added again).
        total: Distinct ids over all chunks.
        duplicates: Ids seen again in the input and dropped.
        queue_name: The arq queue the jobs are on.
    """

    action: str
    job_ids: tuple[str, ...]
    created: int = 0
    existing: int = 0
    total: int = 0
    duplicates: int = 0
    queue_name: str = default_queue_name


@attrs.define(kw_only=True)
class CollectedBulk:
    """The merged outcome of every chunk job of an :class:`EnqueuedBulk`.

    Attributes:
        report: One outcome per id over all chunks (errors as ``RemoteError`` text).
        job_tries: Job id -> the try that produced its result (> 1: it ran again,
            after throttling, a timeout or a worker that died).
        failed_jobs: Job id -> the error of a job that failed for good; its ids are
            reported ``failed``.
        missing_jobs: Jobs with neither a result nor a place in the queue (expired
            or never enqueued); their ids are unknown to the collector.
    """

    report: BulkReport
    job_tries: dict[str, int] = attrs.field(factory=dict)
    failed_jobs: dict[str, str] = attrs.field(factory=dict)
    missing_jobs: list[str] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        """Every job finished and every id ended in the asked-for state."""
        return self.report.ok and not self.failed_jobs and not self.missing_jobs

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary without the per-id list."""
        return {
            **self.report.as_dict(),
            "jobs": len(self.job_tries) + len(self.failed_jobs) + len(self.missing_jobs),
            "jobs_run_again": sum(1 for tries in self.job_tries.values() if tries > 1),
            "failed_jobs": dict(self.failed_jobs),
            "missing_jobs": list(self.missing_jobs),
            "ok": self.ok,
        }


def chunk_job_id(action: str, ids: Iterable[str], *, key: str = "") -> str:
    """The deterministic job id of a chunk: a hash of ``key``, the action and sorted ids."""
    action = check_action(action)
    digest = hashlib.sha256(f"{key}\0{action}\0".encode())
    digest.update("\n".join(sorted(ids)).encode())
    return f"{_JOB_ID_PREFIX}:{action}:{digest.hexdigest()[:40]}"


async def enqueue_bulk(
    redis: ArqRedis,
    action: str,
    ids: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    key: str = "",
    queue_name: str | None = None,
    concurrency: int | None = None,
    rate_limit: float | None = None,
) -> EnqueuedBulk:
    """Split ids into chunk jobs for the worker task; no job is enqueued twice.

    Args:
        redis: An arq pool (``await arq.create_pool(...)``).
        action: ``archive``, ``pause`` or ``unpause``.
        ids: Ids or deployments, or an async iterable such as
            ``client.deployments.list(status="paused")``. A plain iterable is sorted
            first, so the same ids always make the same chunks whatever their order;
            an async one is chunked as it arrives.
        chunk_size: Ids per job.
        key: Mixed into every job id; use a new key to run the same ids again on
            purpose (for example failed ids, while the old results are still kept).
        queue_name: arq queue (default: the pool's).
        concurrency, rate_limit: Per-chunk overrides of the worker's settings.

    Raises:
        ValueError: A malformed action or id (before it is enqueued), or a bad chunk_size.
    """
    action = check_action(action)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    if isinstance(ids, str | bytes):
        raise TypeError("ids must be an iterable of ids, not a single string")
    queue = queue_name or redis.default_queue_name
    options: dict[str, Any] = {}
    if concurrency is not None:
        options["concurrency"] = concurrency
    if rate_limit is not None:
        options["rate_limit"] = rate_limit
    duplicates = 0
    if isinstance(ids, AsyncIterable):
        source = _validated(ids)
    else:
        listed = [_id_of(item) for item in ids]  # every id is checked before any enqueue
        distinct = sorted(set(listed))
        duplicates = len(listed) - len(distinct)
        source = _from_list(distinct)
    job_ids: list[str] = []
    created = 0

    async def submit(chunk: list[str]) -> None:
        nonlocal created
        job_id = chunk_job_id(action, chunk, key=key)
        job_ids.append(job_id)
        # arq refuses (returns None) when the job key or a kept result exists: that is
        # the duplicate check, done atomically in Redis.
        job = await redis.enqueue_job(
            TASK_NAME, action, sorted(chunk), _job_id=job_id, _queue_name=queue, **options
        )
        created += job is not None

    seen: set[str] = set()
    chunk: list[str] = []
    async for deployment_id in source:
        if deployment_id in seen:
            duplicates += 1
            continue
        seen.add(deployment_id)
        chunk.append(deployment_id)
        if len(chunk) == chunk_size:
            await submit(chunk)
            chunk = []
    if chunk:
        await submit(chunk)
    return EnqueuedBulk(
        action=action,
        job_ids=tuple(job_ids),
        created=created,
        existing=len(job_ids) - created,
        total=len(seen),
        duplicates=duplicates,
        queue_name=queue,
    )


def _id_of(item: str | Deployment) -> str:
    return item.id if isinstance(item, Deployment) else _validation.deployment_id(item)


async def _validated(ids: AsyncIterable[str | Deployment]) -> AsyncIterator[str]:
    async for item in ids:
        yield _id_of(item)


async def _from_list(ids: list[str]) -> AsyncIterator[str]:
    for deployment_id in ids:
        yield deployment_id


async def collect_bulk(
    redis: ArqRedis,
    batch: EnqueuedBulk,
    *,
    # Like arq's Job.result(timeout=...), and unlike an outer asyncio.timeout, the error
    # can say how many jobs are unfinished; the wait must be bounded by default anyway.
    timeout: float = 3600.0,  # noqa: ASYNC109
    poll_delay: float = 0.5,
) -> CollectedBulk:
    """Wait for every chunk job of ``batch`` and merge the results into one report.

    Each id gets exactly one final outcome: when an id has several (a chunk enqueued
    again under another key, say), a success wins over a failure or an interruption.
    A job that failed for good marks its ids ``failed``.

    Raises:
        TimeoutError: Some jobs are still queued or running after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = list(dict.fromkeys(batch.job_ids))
    finished: list[JobResult] = []
    collected = CollectedBulk(report=BulkReport(action=check_action(batch.action)))
    # Bounded by the deadline: each round is one pipelined read per _READ_BATCH jobs.
    while pending:
        waiting: list[str] = []
        for start in range(0, len(pending), _READ_BATCH):
            part = pending[start : start + _READ_BATCH]
            async with redis.pipeline(transaction=True) as pipe:
                for job_id in part:
                    pipe.get(result_key_prefix + job_id)
                    pipe.zscore(batch.queue_name, job_id)
                replies = await pipe.execute()
            for index, job_id in enumerate(part):
                raw, score = replies[2 * index], replies[2 * index + 1]
                if raw:
                    finished.append(deserialize_result(raw, deserializer=redis.job_deserializer))
                elif score is None:
                    # Read in one transaction with the result: a job that just finished
                    # shows its result here, so "neither" really means gone.
                    collected.missing_jobs.append(job_id)
                else:
                    waiting.append(job_id)
        pending = waiting
        if not pending:
            break
        if loop.time() >= deadline:
            raise TimeoutError(
                f"{len(pending)} of {len(batch.job_ids)} chunk jobs unfinished after {timeout} s"
            )
        await asyncio.sleep(poll_delay)
    finished.sort(key=lambda info: info.finish_time)
    results = [_chunk_of(info, batch.action, collected) for info in finished]
    merged = merge_results(batch.action, results)
    merged.duplicates = batch.duplicates
    if finished:
        began = min(info.start_time for info in finished)
        merged.elapsed = (max(info.finish_time for info in finished) - began).total_seconds()
    collected.report = merged
    return collected


def _chunk_of(info: JobResult, action: str, collected: CollectedBulk) -> dict[str, Any]:
    """The chunk result inside a job result; a failed job's ids marked ``failed``."""
    job_id = info.job_id or ""
    if info.success and isinstance(info.result, dict):
        collected.job_tries[job_id] = info.job_try
        return info.result
    error = info.result
    if isinstance(error, BaseException):
        message = f"{type(error).__name__}: {error}"
    else:
        message = repr(error)
    collected.failed_jobs[job_id] = message
    ids = info.args[1] if len(info.args) > 1 and isinstance(info.args[1], list) else []
    failed = [{"id": i, "outcome": "failed", "error": message} for i in ids]
    return chunk_result(action, failed, job_id=job_id, job_try=info.job_try)
