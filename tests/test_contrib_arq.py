"""arq integration against a real redis-server, real worker processes and the fake API."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, cast

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import result_key_prefix
from arq.jobs import Job
from arq.worker import Retry, get_kwargs

from qoder_async import AuthenticationError, QoderClient, RetryPolicy
from qoder_async.bulk import Outcome
from qoder_async.contrib._checkpoint import CHECKPOINT_PREFIX
from qoder_async.contrib._results import merge_results
from qoder_async.contrib.arq import (
    CLIENT_KEY,
    CONFIG_KEY,
    TASK_NAME,
    QoderWorkerSettings,
    WorkerConfig,
    bulk_chunk,
    chunk_job_id,
    collect_bulk,
    enqueue_bulk,
)
from qoder_async.testing import Fault, FaultPlan
from tests.contrib_support import (
    ROOT,
    ThreadedFakeServer,
    leaks_in,
    python,
    spawned,
    worker_env,
)

# arq logs "→ <job id>:<function>" when a job starts and "←", "↻" or "!" when it ends.
_JOB = r"(qoder-bulk:\w+:[0-9a-f]+):" + TASK_NAME
_EVENT = re.compile(r"([→←↻!]) " + _JOB)


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    """An arq pool on the throw-away Redis, closed afterwards."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        yield pool
    finally:
        await pool.aclose()


def _ids(n: int) -> list[str]:
    return [f"dep_{index:032x}" for index in range(1, n + 1)]


def _running(log: Path) -> set[str]:
    """Jobs a worker started and had not finished, per its log."""
    state: dict[str, str] = {}
    for mark, job_id in _EVENT.findall(log.read_text(encoding="utf-8", errors="replace")):
        state[job_id] = mark
    return {job_id for job_id, mark in state.items() if mark == "→"}


# -- pieces -------------------------------------------------------------------------------


def test_chunk_job_id_depends_on_the_set_of_ids_action_and_key() -> None:
    ids = _ids(5)
    assert chunk_job_id("archive", ids) == chunk_job_id("archive", list(reversed(ids)))
    assert chunk_job_id("archive", ids) != chunk_job_id("pause", ids)
    assert chunk_job_id("archive", ids) != chunk_job_id("archive", ids[:4])
    assert chunk_job_id("archive", ids) != chunk_job_id("archive", ids, key="again")
    with pytest.raises(ValueError, match="action"):
        chunk_job_id("delete", ids)


def test_merge_keeps_one_outcome_per_id_and_a_success_wins() -> None:
    first: dict[str, Any] = {
        "attempts": 3,
        "outcomes": [
            {"id": "dep_a", "outcome": "interrupted"},
            {"id": "dep_b", "outcome": "failed", "error": "RateLimitError: slow down"},
            {"id": "dep_c", "outcome": "archived", "attempts": 1},
        ],
    }
    later: dict[str, Any] = {
        "attempts": 4,
        "outcomes": [
            {"id": "dep_a", "outcome": "already_archived"},
            {"id": "dep_b", "outcome": "archived"},
            {"id": "dep_c", "outcome": "failed", "error": "APIConnectionError: reset"},
        ],
    }
    report = merge_results("archive", [first, later])
    assert {i: str(o.outcome) for i, o in report.outcomes.items()} == {
        "dep_a": "already_archived",
        "dep_b": "archived",
        "dep_c": "archived",
    }
    assert report.ok
    assert report.attempts == 7
    only_failures = merge_results("archive", [later, {"outcomes": [first["outcomes"][0]]}])
    assert only_failures.outcomes["dep_a"].outcome is Outcome.ALREADY_ARCHIVED


async def test_settings_subclass_inherits_everything_and_binds_its_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QODER_PAT", "pt-test-token")

    class Settings(QoderWorkerSettings):
        job_timeout = 42
        qoder_base_url = "http://127.0.0.1:9/api/v1/cloud"
        qoder_rate_limit = 5.0

    # What arq itself reads: the class's own __dict__ (arq annotates the values oddly).
    worker_kwargs = cast(dict[str, Any], get_kwargs(Settings))
    assert worker_kwargs["functions"] == QoderWorkerSettings.functions
    assert worker_kwargs["max_jobs"] == 1
    assert worker_kwargs["job_timeout"] == 42
    ctx: dict[Any, Any] = {}
    await worker_kwargs["on_startup"](ctx)
    client = ctx[CLIENT_KEY]
    try:
        assert ctx[CONFIG_KEY].rate_limit == 5.0
        assert ctx[CONFIG_KEY].job_timeout == 42
        assert ctx[CLIENT_KEY].base_url == "http://127.0.0.1:9/api/v1/cloud"
    finally:
        await worker_kwargs["on_shutdown"](ctx)
    assert CLIENT_KEY not in ctx
    assert client.is_closed


async def test_enqueueing_the_same_work_twice_adds_no_job(arq_redis: ArqRedis) -> None:
    ids = _ids(1234)
    first = await enqueue_bulk(arq_redis, "archive", [*ids, ids[0]], chunk_size=100)
    assert (first.created, first.existing, first.total, first.duplicates) == (13, 0, 1234, 1)
    shuffled = random.Random(3).sample(ids, len(ids))
    again = await enqueue_bulk(arq_redis, "archive", shuffled, chunk_size=100)
    assert (again.created, again.existing) == (0, 13)
    assert again.job_ids == first.job_ids
    assert await arq_redis.zcard(first.queue_name) == 13

    async def streamed() -> AsyncIterator[str]:
        for deployment_id in ids[:150]:
            yield deployment_id

    fresh = await enqueue_bulk(arq_redis, "pause", streamed(), chunk_size=100)
    assert (fresh.created, fresh.total) == (2, 150)
    with pytest.raises(ValueError, match="deployment"):
        await enqueue_bulk(arq_redis, "archive", ["not-an-id"])
    assert await arq_redis.zcard(first.queue_name) == 15  # nothing added by the bad call


async def test_chunk_defers_throttled_ids_then_resumes_from_its_checkpoint(
    arq_redis: ArqRedis,
) -> None:
    with ThreadedFakeServer() as fake:
        ids = fake.call(lambda server: server.seed_deployments(4))
        # Five: the bulk machinery makes up to five fresh calls for a throttled id.
        throttles = [Fault.rate_limited(retry_after=0.01)] * 5
        fake.call(lambda server: server.faults.script("deployments.archive", throttles))
        config = WorkerConfig(
            concurrency=1, max_tries=3, throttle_backoff=2.0, retry=RetryPolicy(max_attempts=1)
        )
        async with QoderClient(fake.server.token, base_url=fake.server.url) as client:
            ctx: dict[Any, Any] = {
                "redis": arq_redis,
                "job_id": "chunk-under-test",
                "job_try": 1,
                CLIENT_KEY: client,
                CONFIG_KEY: config,
            }
            with pytest.raises(Retry) as deferred:
                await bulk_chunk(ctx, "archive", ids)
            assert deferred.value.defer_score is not None
            assert 1000 <= deferred.value.defer_score <= 2000  # jittered, 1st backoff 2 s
            saved = await _checkpointed(arq_redis, "chunk-under-test")
            assert sorted(saved) == sorted(ids[1:])

            ctx["job_try"] = 2
            result = await bulk_chunk(ctx, "archive", ids)
        applied = fake.call(lambda server: dict(server.archive_applications))
    assert result["resumed"] == 3
    assert result["ok"]
    assert sorted(item["id"] for item in result["outcomes"]) == sorted(ids)
    assert applied == dict.fromkeys(ids, 1)
    assert not await arq_redis.exists(CHECKPOINT_PREFIX + "chunk-under-test")


async def test_chunk_out_of_time_saves_progress_and_runs_again_at_once(
    arq_redis: ArqRedis,
) -> None:
    # Every answer takes 1.5 s and the chunk may run 2.4 s (80 % of job_timeout): the
    # first id finishes, the second is in flight when time runs out, the third never
    # starts. Stopping itself before arq's hard timeout lets the chunk keep its progress.
    # A slow machine only delays the answers, so the second can never beat the budget;
    # the first has 0.9 s to spare.
    with ThreadedFakeServer(latency=1.5) as fake:
        ids = fake.call(lambda server: server.seed_deployments(3))
        config = WorkerConfig(concurrency=1, job_timeout=3.0, max_tries=3)
        async with QoderClient(fake.server.token, base_url=fake.server.url) as client:
            ctx = {"redis": arq_redis, "job_id": "slow", "job_try": 1}
            ctx |= {CLIENT_KEY: client, CONFIG_KEY: config}
            with pytest.raises(Retry) as again:
                await bulk_chunk(ctx, "archive", ids)
    assert not again.value.defer_score  # out of time is not throttling: no wait
    assert await _checkpointed(arq_redis, "slow") == [ids[0]]


async def test_last_try_returns_failures_instead_of_deferring(arq_redis: ArqRedis) -> None:
    with ThreadedFakeServer() as fake:
        ids = fake.call(lambda server: server.seed_deployments(2))
        throttles = [Fault.rate_limited()] * 5
        fake.call(lambda server: server.faults.script("deployments.archive", throttles))
        config = WorkerConfig(concurrency=1, max_tries=2, retry=RetryPolicy(max_attempts=1))
        async with QoderClient(fake.server.token, base_url=fake.server.url) as client:
            ctx = {"redis": arq_redis, "job_id": "j", "job_try": 2}
            ctx |= {CLIENT_KEY: client, CONFIG_KEY: config}
            result = await bulk_chunk(ctx, "archive", ids)
    outcomes = {item["id"]: item for item in result["outcomes"]}
    assert outcomes[ids[0]]["outcome"] == "failed"
    assert "RateLimitError" in outcomes[ids[0]]["error"]
    assert outcomes[ids[1]]["outcome"] == "archived"
    assert not result["ok"]


async def test_chunk_defers_on_a_dead_host_and_fails_on_a_wrong_token(
    arq_redis: ArqRedis,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/v1/cloud"
    ids = [f"dep_{n:032x}" for n in range(200)]
    config = WorkerConfig(max_tries=3, throttle_backoff=2.0)
    async with QoderClient("pt-anything", base_url=closed) as client:
        ctx = {"redis": arq_redis, "job_id": "dead-host", "job_try": 1}
        ctx |= {CLIENT_KEY: client, CONFIG_KEY: config}
        with pytest.raises(Retry) as deferred:  # like throttling: run again later
            await bulk_chunk(ctx, "archive", ids)
    assert deferred.value.defer_score
    with ThreadedFakeServer() as fake:
        seeded = fake.call(lambda server: server.seed_deployments(20))
        async with QoderClient("pt-wrong", base_url=fake.server.url) as client:
            ctx = {"redis": arq_redis, "job_id": "wrong-token", "job_try": 1}
            ctx |= {CLIENT_KEY: client, CONFIG_KEY: config}
            with pytest.raises(AuthenticationError):  # no retry can fix a token
                await bulk_chunk(ctx, "archive", seeded)
        requests = fake.call(lambda server: server.request_counts["deployments.archive"])
    assert requests <= config.concurrency


# -- real workers -------------------------------------------------------------------------


@pytest.mark.slow
async def test_two_workers_one_killed_mid_chunk_archive_each_id_exactly_once(
    tmp_path: Path, redis_url: str, arq_redis: ArqRedis
) -> None:
    plan = FaultPlan(seed=20240611, rate=0.03)
    with ThreadedFakeServer(faults=plan) as fake:
        ids = fake.call(lambda server: server.seed_deployments(5000))
        batch = await enqueue_bulk(arq_redis, "archive", ids, chunk_size=250)
        assert batch.created == 20
        env = worker_env(fake.server, redis_url)
        command = python("-m", "arq", "tests.arq_worker_settings.WorkerSettings")
        log_a, log_b = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
        with (
            spawned(command, log=log_a, env=env) as worker_a,
            spawned(command, log=log_b, env=env) as worker_b,
        ):
            victim = await _freeze_mid_chunk(worker_a.pid, log_a, arq_redis)
            os.kill(worker_a.pid, signal.SIGKILL)
            await asyncio.to_thread(worker_a.wait, 10)
            result = await collect_bulk(arq_redis, batch, timeout=60, poll_delay=0.2)
            assert worker_b.poll() is None, _text(log_b)
        applied = fake.call(lambda server: dict(server.archive_applications))
        faults = fake.call(lambda server: sum(server.faults_injected.values()))

    report = result.report
    assert result.ok, result.as_dict()
    assert sorted(report.outcomes) == sorted(ids)
    assert all(item.outcome.ok for item in report.outcomes.values())
    assert applied == dict.fromkeys(ids, 1)  # each deployment archived exactly once
    assert faults > 0
    # arq ran the dead worker's job again, and that try resumed from its checkpoint.
    assert result.job_tries[victim] == 2
    rerun = await Job(victim, arq_redis).result_info()
    assert rerun is not None
    assert rerun.result["resumed"] > 0
    # Every chunk result lists each of its ids once, and no id is in two chunks.
    listed = []
    for job_id in batch.job_ids:
        info = await Job(job_id, arq_redis).result_info()
        assert info is not None
        listed += [item["id"] for item in info.result["outcomes"]]
    assert sorted(listed) == sorted(ids)
    assert leaks_in(log_b) == []


async def _freeze_mid_chunk(pid: int, log: Path, redis: ArqRedis) -> str:
    """SIGSTOP the worker while it is part-way through a chunk; return that job's id.

    The worker is stopped *before* it is checked, so the chunk cannot finish between
    the check and the SIGKILL that follows.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        for job_id in _running(log):
            saved = await _checkpointed(redis, job_id)
            if len(saved) >= 20 and not await redis.exists(result_key_prefix + job_id):
                return job_id
        os.kill(pid, signal.SIGCONT)
        await asyncio.sleep(0.02)
    raise AssertionError(f"the worker never got part-way through a chunk:\n{_text(log)}")


def _text(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


async def _checkpointed(redis: ArqRedis, job_id: str) -> list[str]:
    """Ids saved in a job's checkpoint so far."""
    # redis-py types replies as sync-or-async; on an asyncio client it is awaitable.
    keys = await cast(Awaitable[list[bytes]], redis.hkeys(CHECKPOINT_PREFIX + job_id))
    return [key.decode() for key in keys]


@pytest.mark.slow
async def test_arq_example_runs_as_written(tmp_path: Path, redis_url: str) -> None:
    with ThreadedFakeServer(faults=FaultPlan(seed=7, rate=0.02)) as fake:
        ids = fake.call(lambda server: server.seed_deployments(300))
        env = worker_env(fake.server, redis_url, QODER_RATE_LIMIT="0")
        worker = python("-m", "arq", "examples.arq_archive.WorkerSettings")
        with spawned(worker, log=tmp_path / "worker.log", env=env):
            producer = await asyncio.create_subprocess_exec(
                *python("examples/arq_archive.py", "--chunk-size", "100", "--timeout", "60"),
                env=env,
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(producer.communicate(), 90)
            finally:
                if producer.returncode is None:
                    producer.kill()
                    await producer.wait()
        applied = fake.call(lambda server: dict(server.archive_applications))
    assert producer.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["counts"] == {"archived": 300}
    assert summary["jobs"] == 3
    assert applied == dict.fromkeys(ids, 1)
    assert leaks_in(tmp_path / "worker.log") == []
