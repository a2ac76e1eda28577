"""Celery recipe: run bulk chunks from synchronous Celery tasks.

Install with ``pip install 'qoder-async[celery]'`` (Celery with the Redis transport)::

    from celery import Celery
    from qoder_async.contrib.celery import register_bulk_task

    app = Celery("myapp", broker="redis://127.0.0.1:6379/0", backend="redis://127.0.0.1:6379/1")
    bulk = register_bulk_task(app, rate_limit=20 / 4)    # 4 worker processes share 20 writes/s

    results = [bulk.delay("archive", chunk) for chunk in chunked(ids, 500)]
    report = merge_results("archive", [r.get(timeout=3600) for r in results])

**One event loop and one client per task, on purpose.** A Celery task is a plain
function, and the pool decides where it runs: prefork children are forked from a parent
(a loop or an aiohttp session inherited across ``fork()`` is unusable), the threads pool
runs tasks on several threads, and no pool offers a reliable hook to close a long-lived
loop at process exit. ``asyncio.run`` gives each task a fresh loop and closes it —
cancelling leftovers, finishing async generators — and the client is created and
closed *inside* that loop. No session ever outlives its loop (the cause of "Event loop
is closed" errors) or leaks into the next task. The price is one connection set-up per
task, which is small next to a chunk of hundreds of calls; keep chunks that size.

Tasks are registered with ``acks_late`` and ``reject_on_worker_lost``, so a chunk whose
process dies is delivered again: at once when a pool process dies, and after the Redis
transport's ``visibility_timeout`` (one hour unless set in ``broker_transport_options``;
keep it above your longest chunk) when the whole worker dies. The re-run is safe
because every action is idempotent: an id the dead process archived ends
``already_archived``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from qoder_async.bulk import ItemOutcome, Outcome
from qoder_async.client import QoderClient
from qoder_async.contrib._extras import missing_extra
from qoder_async.contrib._results import (
    check_action,
    chunk_result,
    is_throttle,
    merge_results,
    start_bulk,
    throttle_wait,
)
from qoder_async.errors import QoderError

# The recipe only calls methods of the app it is given, so it never imports Celery; it
# checks for it (cheaply, without importing it) so a missing extra is named here and
# not later in a worker.
if importlib.util.find_spec("celery") is None:
    raise missing_extra("celery", "celery")

__all__ = ["TASK_NAME", "chunked", "merge_results", "register_bulk_task", "run_chunk"]

TASK_NAME = "qoder_async.bulk_chunk"
"""The default name of the registered task."""


def chunked(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    """Distinct ids in lists of ``size`` (the last may be shorter), first-seen order."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an int >= 1, got {size!r}")
    chunk: list[str] = []
    for deployment_id in dict.fromkeys(ids):
        chunk.append(deployment_id)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_chunk(
    action: str,
    ids: Sequence[str],
    *,
    concurrency: int = 8,
    rate_limit: float | None = None,
    token: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Run ``action`` over ``ids`` synchronously; return JSON-able per-id outcomes.

    Opens a new event loop and a new ``QoderClient`` (token from ``QODER_PAT`` and URL
    from ``QODER_BASE_URL`` unless given) and closes both before returning. The result
    also says how many ids are worth running again (``retryable``: throttled, cut off
    by a stop, or never attempted because the host never answered) and how long the
    API asked to wait (``retry_after``), for the caller's retry decision.

    Raises:
        AuthenticationError, PermissionDeniedError: The token was refused (the chunk
            stopped at once; running it again cannot help).
        RuntimeError: Called from a thread that is already running an event loop (an
            async caller should ``await`` the SDK directly instead).
    """
    check_action(action)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # the normal case for a Celery task: no loop in this thread
    else:
        raise RuntimeError(
            "run_chunk() cannot be called from a running event loop; await the SDK directly"
        )
    return asyncio.run(
        _run_chunk(
            action,
            list(ids),
            concurrency=concurrency,
            rate_limit=rate_limit,
            token=token,
            base_url=base_url,
        )
    )


async def _run_chunk(
    action: str,
    ids: list[str],
    *,
    concurrency: int,
    rate_limit: float | None,
    token: str | None,
    base_url: str | None,
) -> dict[str, Any]:
    async with QoderClient(token, base_url=base_url) as client:
        job = start_bulk(client, action, ids, concurrency=concurrency, rate_limit=rate_limit)
        try:
            await job
        except QoderError as exc:
            # Stopped early: a host that never answered is worth another try later
            # (its ids end not_attempted and count as retryable); a 401/403 is not.
            if exc is not job.report.stopped or not is_throttle(exc):
                raise
        report = job.report
    outcomes = list(report.outcomes.values())
    retryable = [item for item in outcomes if _worth_retrying(item)]
    return chunk_result(
        action,
        (item.as_dict() for item in outcomes),
        report=report,
        retryable=len(retryable),
        retry_after=throttle_wait(outcomes),
    )


def _worth_retrying(item: ItemOutcome) -> bool:
    # Interrupted: cut off when the job stopped early, its state unknown but safe to redo.
    if item.outcome is Outcome.INTERRUPTED:
        return True
    failed = item.outcome is Outcome.FAILED or item.outcome is Outcome.NOT_ATTEMPTED
    return failed and is_throttle(item.error)


def register_bulk_task(
    app: Any,
    *,
    name: str = TASK_NAME,
    concurrency: int = 8,
    rate_limit: float | None = None,
    max_retries: int = 4,
    backoff: float = 5.0,
    max_backoff: float = 300.0,
    **options: Any,
) -> Any:
    """Register the chunk task on a Celery ``app`` and return it.

    Call the task as ``task.delay(action, ids)`` (optionally ``concurrency=`` /
    ``rate_limit=`` per call). When a chunk ends with ids that failed because the API
    throttled, the task retries itself after an exponential, jittered backoff (at
    least the ``Retry-After`` asked for) until ``max_retries``; the last try returns
    its outcomes. ``options`` go to ``app.task`` (e.g. ``queue=``, ``time_limit=``).
    """
    settings: dict[str, Any] = {
        "acks_late": True,
        "reject_on_worker_lost": True,
        "max_retries": max_retries,
    }
    settings.update(options)
    default_concurrency, default_rate_limit = concurrency, rate_limit

    @app.task(name=name, bind=True, **settings)  # type: ignore[untyped-decorator]
    def qoder_bulk_chunk(
        self: Any,
        action: str,
        ids: Sequence[str],
        concurrency: int | None = None,
        rate_limit: float | None = None,
    ) -> dict[str, Any]:
        result = run_chunk(
            action,
            ids,
            concurrency=concurrency or default_concurrency,
            rate_limit=rate_limit if rate_limit is not None else default_rate_limit,
        )
        retries = int(self.request.retries or 0)
        if result["retryable"] and retries < self.max_retries:
            ceiling = min(max_backoff, backoff * 2**retries)
            delay = random.uniform(ceiling / 2, ceiling)  # jitter: spread the comeback
            if result["retry_after"] is not None:
                delay = max(delay, min(float(result["retry_after"]), max_backoff))
            raise self.retry(countdown=delay)
        return result

    return qoder_bulk_chunk
