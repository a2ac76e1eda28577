"""arq integration: archive, pause or unpause many deployments across many arq workers.

Install with ``pip install 'qoder-async[arq]'``. Worker side (one ``QoderClient`` per
worker process, created on startup from ``QODER_PAT`` / ``QODER_BASE_URL``)::

    # myapp/worker.py
    from arq.connections import RedisSettings
    from qoder_async.contrib.arq import QoderWorkerSettings

    class WorkerSettings(QoderWorkerSettings):
        redis_settings = RedisSettings(host="127.0.0.1")
        qoder_rate_limit = 20 / 4        # the API's 20 writes/s shared by 4 workers

    $ arq myapp.worker.WorkerSettings    # run as many as you need

Producer side::

    redis = await arq.create_pool(RedisSettings(host="127.0.0.1"))
    batch = await enqueue_bulk(redis, "archive", ids, chunk_size=500)
    result = await collect_bulk(redis, batch, timeout=3600)
    print(result.report.counts)

Guarantees: a chunk's job id is a hash of the action and its sorted ids, so enqueueing
the same work twice adds no job while the first is queued, running or its result is
kept. A worker killed mid-chunk loses nothing: arq runs the job again once its
in-progress key expires (``job_timeout`` + 10 s), the new try skips ids the dead one
checkpointed, and an id it had archived without saying so ends ``already_archived``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs

from qoder_async.contrib._extras import missing_extra

try:
    from arq.connections import ArqRedis
    from arq.cron import CronJob
    from arq.typing import StartupShutdown, WorkerCoroutine
    from arq.worker import Function, Retry, func
except ModuleNotFoundError as exc:  # name the extra instead of a bare "No module named"
    missing = (exc.name or "").partition(".")[0]
    if missing not in {"arq", "redis"}:
        raise
    raise missing_extra("arq", missing) from exc

from qoder_async.bulk import ItemOutcome, Outcome
from qoder_async.client import QoderClient
from qoder_async.config import RetryPolicy
from qoder_async.contrib._arq_jobs import (
    DEFAULT_CHUNK_SIZE,
    TASK_NAME,
    CollectedBulk,
    EnqueuedBulk,
    chunk_job_id,
    collect_bulk,
    enqueue_bulk,
)
from qoder_async.contrib._checkpoint import Checkpoint
from qoder_async.contrib._results import (
    check_action,
    chunk_result,
    is_throttle,
    start_bulk,
    throttle_wait,
)
from qoder_async.errors import QoderError

__all__ = [
    "CLIENT_KEY",
    "CONFIG_KEY",
    "DEFAULT_CHUNK_SIZE",
    "TASK_NAME",
    "CollectedBulk",
    "EnqueuedBulk",
    "QoderWorkerSettings",
    "WorkerConfig",
    "bulk_chunk",
    "chunk_job_id",
    "collect_bulk",
    "enqueue_bulk",
]

CLIENT_KEY = "qoder_client"
"""Worker ``ctx`` key holding the worker's ``QoderClient``."""
CONFIG_KEY = "qoder_worker_config"
"""Worker ``ctx`` key holding the worker's :class:`WorkerConfig`."""


@attrs.frozen(kw_only=True)
class WorkerConfig:
    """How a worker runs chunks; built by :meth:`QoderWorkerSettings.worker_config`.

    Attributes:
        concurrency: Calls in flight per chunk (a fixed cap).
        rate_limit: Calls started per second per chunk; ``None`` for no cap.
        job_timeout: arq's job timeout; a chunk stops itself a little earlier
            (see ``soft_deadline``) so it can save its progress and run again.
        max_tries: arq's tries per job; the last try returns what it has.
        throttle_backoff: First deferral (seconds) when a chunk ends throttled;
            doubles on each try, with jitter, up to ``max_backoff``.
        max_backoff: Longest deferral, also the cap on a server's ``Retry-After``.
        checkpoint_interval: Seconds between progress saves while a chunk runs.
        checkpoint_ttl: Seconds a chunk's saved progress is kept.
        retry: The SDK retry policy for each call (default ``bulk.BULK_RETRY``).
    """

    concurrency: int = 8
    rate_limit: float | None = None
    job_timeout: float = 600.0
    max_tries: int = 5
    throttle_backoff: float = 5.0
    max_backoff: float = 300.0
    checkpoint_interval: float = 1.0
    checkpoint_ttl: float = 86_400.0
    retry: RetryPolicy | None = None

    @property
    def soft_deadline(self) -> float:
        """Seconds a try may run before it saves its progress and asks to run again."""
        return max(self.job_timeout * 0.8, self.job_timeout - 30.0)

    def backoff(self, job_try: int, asked: float | None = None) -> float:
        """Deferral before try ``job_try + 1`` of a throttled chunk."""
        ceiling = min(self.max_backoff, self.throttle_backoff * 2 ** max(0, job_try - 1))
        # Jitter spreads chunks that were throttled together, so they do not come back
        # together and get throttled again.
        delay = random.uniform(ceiling / 2, ceiling)
        if asked is not None:
            delay = max(delay, min(asked, self.max_backoff))
        return delay


async def bulk_chunk(
    ctx: dict[Any, Any],
    action: str,
    ids: Sequence[str],
    *,
    concurrency: int | None = None,
    rate_limit: float | None = None,
) -> dict[str, Any]:
    """The arq task: run ``action`` over one chunk of ids; return JSON-able outcomes.

    The result has one entry per id in ``outcomes`` (``ItemOutcome.as_dict()`` form)
    plus ``job_id``, ``job_try``, ``resumed`` (ids taken from an earlier try's
    checkpoint) and attempt counts. Raises ``arq.worker.Retry`` while tries are left
    when the chunk ended with throttled or interrupted ids.
    """
    client = ctx.get(CLIENT_KEY)
    if not isinstance(client, QoderClient):
        raise RuntimeError(
            "no QoderClient in the worker context: run the worker with QoderWorkerSettings "
            "(or await QoderWorkerSettings.startup(ctx) from your own on_startup)"
        )
    config: WorkerConfig = ctx.get(CONFIG_KEY) or WorkerConfig()
    action = check_action(action)
    job_id = str(ctx.get("job_id", ""))
    job_try = int(ctx.get("job_try", 1))
    redis = ctx.get("redis")
    checkpoint = None
    done: dict[str, dict[str, Any]] = {}
    if isinstance(redis, ArqRedis) and job_id:
        checkpoint = Checkpoint(
            redis, job_id, ttl=config.checkpoint_ttl, interval=config.checkpoint_interval
        )
        wanted = set(ids)
        done = {key: value for key, value in (await checkpoint.load()).items() if key in wanted}
    todo = [deployment_id for deployment_id in dict.fromkeys(ids) if deployment_id not in done]
    job = start_bulk(
        client,
        action,
        todo,
        concurrency=concurrency or config.concurrency,
        rate_limit=rate_limit if rate_limit is not None else config.rate_limit,
        retry=config.retry,
        on_outcome=checkpoint.add if checkpoint is not None else None,
    )
    timed_out = False
    if checkpoint is not None:
        checkpoint.start()
    try:
        async with asyncio.timeout(config.soft_deadline):
            await job
    except TimeoutError:
        timed_out = True  # job.report holds what finished; the rest runs again
    except QoderError as exc:
        # The job stopped early. A host that never answered is like throttling: the
        # not-attempted ids run again later. A 401/403 fails the task for good.
        if exc is not job.report.stopped or not is_throttle(exc):
            raise
    finally:
        # Also on cancellation (worker shutdown): the next try resumes from here.
        if checkpoint is not None:
            await checkpoint.stop()
    report = job.report
    outcomes = list(report.outcomes.values())
    # Ids a timed-out chunk never launched have no outcome yet: say so explicitly.
    outcomes += [
        ItemOutcome(id=deployment_id, outcome=Outcome.INTERRUPTED)
        for deployment_id in todo
        if deployment_id not in report.outcomes
    ]
    again = [item for item in outcomes if _worth_retrying(item)]
    if again and job_try < config.max_tries:
        throttled = any(item.outcome is not Outcome.INTERRUPTED for item in again)
        delay = config.backoff(job_try, throttle_wait(outcomes)) if throttled else 0.0
        raise Retry(defer=delay)
    if checkpoint is not None:
        await checkpoint.delete()
    return chunk_result(
        action,
        [*done.values(), *(item.as_dict() for item in outcomes)],
        report=report,
        job_id=job_id,
        job_try=job_try,
        resumed=len(done),
        timed_out=timed_out,
    )


def _worth_retrying(item: ItemOutcome) -> bool:
    if item.outcome is Outcome.INTERRUPTED:
        return True
    failed = item.outcome is Outcome.FAILED or item.outcome is Outcome.NOT_ATTEMPTED
    return failed and is_throttle(item.error)


class QoderWorkerSettings:
    """arq worker settings with the chunk task and one ``QoderClient`` per worker.

    Subclass it and set ``redis_settings`` (and any other arq option). Unlike a plain
    class, a subclass inherits every setting: arq reads only a settings class's own
    ``__dict__``, so each subclass gets its parents' values copied in when it is
    defined. The ``qoder_*`` attributes configure the client and the chunks; override
    :meth:`create_client` for anything else, and :meth:`startup` / :meth:`shutdown`
    (calling ``super()``) to add your own worker setup.

    Defaults follow arq's conventions, tuned for bulk chunks: ``max_jobs = 1`` so a
    worker runs one chunk at a time and its request rate is the chunk's
    ``qoder_rate_limit``; ``keep_result`` of a day, so the collector can read results
    and re-enqueueing the same work is recognised as a duplicate for that long.
    """

    # Plain (not ClassVar) annotations where arq's WorkerSettingsBase protocol names the
    # attribute, so ``arq.run_worker(MySettings)`` type-checks in user code.
    functions: Sequence[WorkerCoroutine | Function] = (func(bulk_chunk, name=TASK_NAME),)
    cron_jobs: Sequence[CronJob] | None = None
    on_startup: StartupShutdown | None = None
    on_shutdown: StartupShutdown | None = None
    job_timeout: ClassVar[float] = 600
    max_tries: ClassVar[int] = 5
    keep_result: ClassVar[float] = 86_400
    max_jobs: ClassVar[int] = 1

    qoder_base_url: ClassVar[str | None] = None
    """API root; ``None`` uses ``QODER_BASE_URL``, then the SDK default."""
    qoder_concurrency: ClassVar[int] = 8
    qoder_rate_limit: ClassVar[float | None] = None
    """Writes per second for this worker: the API's budget (20/s) divided by workers."""
    qoder_throttle_backoff: ClassVar[float] = 5.0
    qoder_checkpoint_interval: ClassVar[float] = 1.0
    qoder_retry: ClassVar[RetryPolicy | None] = None
    """Per-call SDK retry policy; ``None`` uses the bulk default."""

    @classmethod
    def create_client(cls) -> QoderClient:
        """The worker's client: token from ``QODER_PAT``, URL from settings or env."""
        return QoderClient(base_url=cls.qoder_base_url)

    @classmethod
    def worker_config(cls) -> WorkerConfig:
        """The chunk settings handed to the task through ``ctx``."""
        return WorkerConfig(
            concurrency=cls.qoder_concurrency,
            rate_limit=cls.qoder_rate_limit,
            job_timeout=float(cls.job_timeout),
            max_tries=cls.max_tries,
            throttle_backoff=cls.qoder_throttle_backoff,
            checkpoint_interval=cls.qoder_checkpoint_interval,
            checkpoint_ttl=max(float(cls.keep_result), float(cls.job_timeout) * 2),
            retry=cls.qoder_retry,
        )

    @classmethod
    async def startup(cls, ctx: dict[Any, Any]) -> None:
        """Create the worker's client (arq ``on_startup``)."""
        ctx[CONFIG_KEY] = cls.worker_config()
        ctx[CLIENT_KEY] = cls.create_client()

    @classmethod
    async def shutdown(cls, ctx: dict[Any, Any]) -> None:
        """Close the worker's client (arq ``on_shutdown``)."""
        client = ctx.pop(CLIENT_KEY, None)
        if client is not None:
            await client.aclose()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _complete(cls)


def _complete(cls: type[QoderWorkerSettings]) -> None:
    """Copy inherited settings into ``cls.__dict__`` and bind the hooks to ``cls``."""
    own = dict(vars(cls))
    for klass in reversed(cls.__mro__[1:-1]):  # farthest ancestor first, nearest wins
        for name, value in vars(klass).items():
            if not name.startswith("__") and name not in own:
                setattr(cls, name, value)
    # Hooks set in this class's body are the user's; otherwise bind ours to this class,
    # so a subclass's qoder_* settings are the ones its workers use.
    cls.on_startup = own.get("on_startup") or cls.startup
    cls.on_shutdown = own.get("on_shutdown") or cls.shutdown


_complete(QoderWorkerSettings)
