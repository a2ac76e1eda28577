"""Reliability over real loopback HTTP: no call lost or applied twice under faults."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from qoder_async import (
    APIConnectionError,
    APITimeoutError,
    ConflictError,
    Deployment,
    InternalServerError,
    Limits,
    QoderClient,
    QoderError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
)
from qoder_async.bulk import Outcome
from qoder_async.testing import FAULT_KINDS, FakeQoderServer, Fault, FaultPlan
from tests.chain_helpers import SleepRecorder
from tests.e2e_helpers import client_for

RECOVERABLE = {
    "rate_limited_seconds": Fault.rate_limited(retry_after=0.01),
    "rate_limited_date": Fault.rate_limited(retry_after="http-date"),
    "rate_limited_bare": Fault.rate_limited(),
    "unavailable_json": Fault.unavailable(body="json"),
    "unavailable_html": Fault.unavailable(body="html"),
    "unavailable_empty": Fault.unavailable(body="empty", retry_after=0.01),
    "server_error": Fault.server_error(),
    "reset_before": Fault.reset_before(),
    "reset_after": Fault.reset_after(),
    "latency": Fault.latency(0.05),
}


def client_tasks() -> list[asyncio.Task[object]]:
    """Tasks still pending, other than this test's and the in-process server's."""
    return [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task()
        and not task.get_coro().__qualname__.startswith("RequestHandler")  # type: ignore[union-attr]
    ]


@pytest.mark.parametrize("name", sorted(RECOVERABLE))
async def test_archive_survives_each_fault_kind_and_applies_once(
    qoder_fake_server: FakeQoderServer, name: str
) -> None:
    server = qoder_fake_server
    (dep,) = server.seed_deployments(1)
    server.faults = FaultPlan().script("deployments.archive", [RECOVERABLE[name]] * 2)
    # An HTTP-date Retry-After has one-second resolution: allow for it.
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.001, max_backoff=0.01)
    async with client_for(server, retry=policy) as client:
        archived = await client.deployments.archive(dep)
    assert archived.is_archived
    assert server.archive_applications[dep] == 1
    expected_requests = 1 if name == "latency" else 3
    assert server.request_counts["deployments.archive"] == expected_requests


@pytest.mark.parametrize("fault", [Fault.truncated_json(), Fault.non_json()])
async def test_corrupt_success_body_is_retried_like_a_lost_response(
    qoder_fake_server: FakeQoderServer, fault: Fault
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = (
        FaultPlan().script("deployments.get", [fault]).script("deployments.archive", [fault])
    )
    async with client_for(qoder_fake_server) as client:
        assert (await client.deployments.get(dep)).id == dep
        archived = await client.deployments.archive(dep)
    assert archived.is_archived
    # A truncated body came after the change was applied: the retry, carrying the same
    # Idempotency-Key, got the stored answer replayed; an HTML page came before it.
    assert qoder_fake_server.archive_applications[dep] == 1
    assert qoder_fake_server.request_counts["deployments.archive"] == 2


@pytest.mark.parametrize("fault", [Fault.truncated_json(), Fault.non_json()])
async def test_corrupt_success_body_without_retries_is_a_typed_error(
    qoder_fake_server: FakeQoderServer, fault: Fault
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = FaultPlan().script("deployments.get", [fault])
    async with client_for(qoder_fake_server, retry=1) as client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.deployments.get(dep)
        assert info.value.status == 200
        assert info.value.corrupt
        assert info.value.body
        assert (await client.deployments.get(dep)).id == dep  # the next call is fine


async def test_exhausted_retries_surface_the_last_typed_error(
    qoder_fake_server: FakeQoderServer,
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = FaultPlan().script("deployments.get", [Fault.server_error()] * 3)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.001)
    async with client_for(qoder_fake_server, retry=policy) as client:
        with pytest.raises(InternalServerError) as info:
            await client.deployments.get(dep)
    assert info.value.status == 500
    assert qoder_fake_server.request_counts["deployments.get"] == 3


async def test_long_retry_after_is_surfaced_not_slept(qoder_fake_server: FakeQoderServer) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = FaultPlan().script(
        "deployments.archive", [Fault.rate_limited(retry_after=3600)]
    )
    sleep = SleepRecorder()
    async with client_for(qoder_fake_server, sleep=sleep) as client:
        with pytest.raises(RateLimitError) as info:
            await client.deployments.archive(dep)
    assert info.value.retry_after == 3600
    assert sleep.delays == []
    assert qoder_fake_server.archive_applications[dep] == 0


@pytest.mark.slow
async def test_soak_5000_archives_at_concurrency_64_with_20_percent_faults() -> None:
    plan = FaultPlan(seed=20261128, rate=0.2, kinds=FAULT_KINDS, endpoints={"deployments.archive"})
    async with FakeQoderServer(faults=plan) as server:
        ids = server.seed_deployments(5000)
        results: dict[str, Deployment | QoderError] = {}
        gate = asyncio.Semaphore(64)

        async def archive(client: QoderClient, dep: str) -> None:
            async with gate:
                try:
                    results[dep] = await client.deployments.archive(dep)
                except QoderError as exc:
                    results[dep] = exc

        async with client_for(server) as client:
            await asyncio.wait_for(
                asyncio.gather(*(archive(client, dep) for dep in ids)), timeout=240
            )
            injected = Counter(server.faults_injected)
            server.faults = None
            for dep, result in results.items():
                if isinstance(result, QoderError):
                    with contextlib.suppress(ConflictError):  # 409: it had landed
                        await client.deployments.archive(dep)
        # Exactly once: every deployment archived, none of them twice.
        assert all(server.state.deployments[dep]["archived_at"] for dep in ids)
        assert server.applied["deployments.archive"] == 5000
        assert set(server.archive_applications.values()) == {1}

    assert len(results) == 5000
    errors = {dep: r for dep, r in results.items() if isinstance(r, QoderError)}
    returned = {dep: r for dep, r in results.items() if isinstance(r, Deployment)}
    assert all(d.is_archived and d.id == dep for dep, d in returned.items())
    # Every fault kind is retried (corrupt 2xx bodies too: same key, replayed answer), so
    # with ten attempts a caller sees an error only after ten faults in a row.
    assert len(errors) <= 1, errors
    assert sum(injected.values()) > 1000  # the faults really happened
    assert set(injected) >= set(FAULT_KINDS)


@pytest.mark.slow
async def test_bulk_soak_every_id_archived_exactly_once() -> None:
    plan = FaultPlan(seed=7, rate=0.2, kinds=FAULT_KINDS, endpoints={"deployments.archive"})
    async with FakeQoderServer(faults=plan) as server:
        ids = server.seed_deployments(5000)
        async with client_for(server) as client:
            report = await asyncio.wait_for(
                client.deployments.bulk_archive(ids, concurrency=64), timeout=240
            )
        archived_in_state = sum(1 for d in server.state.deployments.values() if d["archived_at"])
    assert report.ok, report.failed[:5]
    assert len(report.outcomes) == 5000
    assert set(report.counts) <= {Outcome.ARCHIVED, Outcome.ALREADY_ARCHIVED}
    assert archived_in_state == 5000
    assert sorted(server.archive_applications) == sorted(ids)
    assert set(server.archive_applications.values()) == {1}
    assert report.throttled > 0


async def test_cancelled_call_leaves_no_task_and_no_connection(
    qoder_fake_server: FakeQoderServer,
) -> None:
    server = qoder_fake_server
    (dep,) = server.seed_deployments(1)
    server.faults = FaultPlan().script("deployments.archive", [Fault.latency(5)])
    # A pool of one connection: had the cancelled call kept its connection, the next
    # call could not get one.
    client = client_for(server, limits=Limits(max_connections=1, max_connections_per_host=1))
    task = asyncio.create_task(client.deployments.archive(dep))
    await server.wait_until(lambda: server.request_count("deployments.archive") == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fetched = await asyncio.wait_for(client.deployments.get(dep), timeout=10)
    assert fetched.id == dep
    await client.aclose()
    gc.collect()
    assert client_tasks() == []


async def test_cancelled_batch_reports_what_was_done(qoder_fake_server: FakeQoderServer) -> None:
    ids = qoder_fake_server.seed_deployments(400)
    qoder_fake_server.faults = FaultPlan(latency=0.01)
    async with client_for(qoder_fake_server) as client:
        job = client.deployments.bulk_archive(ids, concurrency=8)
        task = asyncio.create_task(job.run())
        await qoder_fake_server.wait_until(
            lambda: qoder_fake_server.applied_count("deployments.archive") >= 50
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    report = job.report
    assert report.cancelled
    done = set(report.ids(Outcome.ARCHIVED))
    interrupted = set(report.ids(Outcome.INTERRUPTED))
    state = qoder_fake_server.state.deployments
    assert all(state[dep]["archived_at"] for dep in done)
    untouched = set(ids) - done - interrupted
    assert untouched
    assert not any(state[dep]["archived_at"] for dep in untouched)
    assert max(qoder_fake_server.archive_applications.values()) == 1
    assert client_tasks() == []


async def test_call_deadline_shorter_than_the_retry_schedule(
    qoder_fake_server: FakeQoderServer,
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = FaultPlan().script("deployments.get", [Fault.unavailable()] * 50)
    policy = RetryPolicy(max_attempts=50, deadline=0.5, initial_backoff=0.2, jitter=False)
    async with client_for(qoder_fake_server) as client:
        started = time.monotonic()
        with pytest.raises((APITimeoutError, InternalServerError)):
            await client.with_options(retry=policy).deployments.get(dep)
        elapsed = time.monotonic() - started
    # The bound under test is a time: without the deadline the backoff alone
    # (0.2 + 0.4 + 0.8 + 1.6 + 3.2 s ...) would take far longer than this.
    assert elapsed < 5.0


async def test_slow_attempt_is_cut_at_the_deadline(qoder_fake_server: FakeQoderServer) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = FaultPlan().script("deployments.get", [Fault.latency(5)])
    async with client_for(qoder_fake_server) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.with_options(retry=RetryPolicy(deadline=0.3)).deployments.get(dep)
        # A time bound again: the held attempt alone lasts 5 s.
        assert time.monotonic() - started < 3.0


@pytest.fixture
def threaded_server() -> Iterator[FakeQoderServer]:
    """A fake server on its own loop in a thread, so tests may call asyncio.run()."""
    loop = asyncio.new_event_loop()
    server = FakeQoderServer()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.close())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield server
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


# The first loop ends without the client being closed, so Python rightly warns about
# the sockets it leaves behind; the point here is that the second run works.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_one_client_across_two_asyncio_runs(threaded_server: FakeQoderServer) -> None:
    (dep,) = threaded_server.seed_deployments(1)
    client = client_for(threaded_server)

    async def get() -> str:
        return (await client.deployments.get(dep)).id

    async def close() -> None:
        await client.aclose()

    assert asyncio.run(get()) == dep
    assert asyncio.run(get()) == dep  # a new loop: the session is rebuilt, not reused
    asyncio.run(close())
    gc.collect()  # let the first loop's sockets be reclaimed while the warning is ignored


def test_connection_refused_is_not_sent_and_retried() -> None:
    async def main() -> APIConnectionError:
        policy = RetryPolicy(max_attempts=2, initial_backoff=0.001)
        async with QoderClient("pt-x", base_url="http://127.0.0.1:9/api", retry=policy) as c:
            try:
                await c.deployments.get("dep_" + "1" * 32)
            except APIConnectionError as exc:
                return exc
        raise AssertionError("expected a connection error")

    error = asyncio.run(main())
    assert error.maybe_sent is False
    assert "could not connect" in str(error)


def _child_get(client: QoderClient, dep: str, results: Any) -> None:
    async def get() -> str:
        return (await client.deployments.get(dep)).id

    results.put(asyncio.run(get()))


# The parent's pool is dropped in the child without being closed (its sockets belong
# to the parent), so Python's warnings about them are expected here.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_client_used_after_fork_builds_its_own_pool(threaded_server: FakeQoderServer) -> None:
    (dep,) = threaded_server.seed_deployments(1)
    client = client_for(threaded_server)

    async def get() -> str:
        return (await client.deployments.get(dep)).id

    assert asyncio.run(get()) == dep
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_child_get, args=(client, dep, results))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert results.get(timeout=5) == dep

    async def close() -> None:
        await client.aclose()

    asyncio.run(close())
    gc.collect()
