"""Bulk operations over MockTransport: outcomes, dedupe, laziness, fail-fast, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import tracemalloc
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from qoder_async import (
    APIConnectionError,
    AuthenticationError,
    PermissionDeniedError,
    QoderClient,
    QoderError,
    RetryPolicy,
)
from qoder_async._messages import Request, Response
from qoder_async.bulk import ARCHIVE, BulkJob, ItemOutcome, Outcome
from qoder_async.middleware import Handler
from qoder_async.testing import FakeQoderServer
from qoder_async.testing.faults import FaultPlan
from qoder_async.transport import MockTransport

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.example/api/v1/cloud"
TEMPLATE = json.loads((FIXTURES / "deployment.json").read_text())
ACTION = re.compile(r"/deployments/(dep_[0-9a-z]+)(?:/(archive|pause|unpause))?$")
T = TypeVar("T")
FAST = RetryPolicy(max_attempts=6, initial_backoff=0.001, max_backoff=0.002, jitter=False)


def dep_id(n: int) -> str:
    return f"dep_{n:032x}"


class MiniApi:
    """Just enough archive/pause state to check bulk outcomes without HTTP."""

    def __init__(
        self,
        ids: list[str],
        *,
        archived: frozenset[str] | set[str] = frozenset(),
        paused: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.state = {i: {"archived": i in archived, "paused": i in paused} for i in ids}
        self.applied: Counter[str] = Counter()
        self.fail_next: list[int | Exception] = []
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    def body(self, i: str) -> dict[str, Any]:
        s = self.state[i]
        return {
            **TEMPLATE,
            "id": i,
            "status": "paused" if s["paused"] else "active",
            "archived_at": "2026-06-14T08:58:42Z" if s["archived"] else None,
        }

    async def __call__(self, request: Request) -> Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self.answer(request)
        finally:
            self.in_flight -= 1

    def answer(self, request: Request) -> Response:
        if self.fail_next and request.method == "POST":
            failure = self.fail_next.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return MockTransport.respond(request, failure, json_body={})
        match = ACTION.search(request.url)
        assert match, request.url
        i, action = match.groups()
        if i not in self.state:
            err = {"type": "error", "error": {"type": "not_found_error", "message": "nope"}}
            return MockTransport.respond(request, 404, json_body=err)
        s = self.state[i]
        conflict = {"type": "error", "error": {"type": "conflict_error", "message": "no"}}
        if action == "archive":
            if s["archived"]:
                return MockTransport.respond(request, 409, json_body=conflict)
            s["archived"] = True
            self.applied[i] += 1
        elif action == "pause":
            if s["paused"] or s["archived"]:
                return MockTransport.respond(request, 409, json_body=conflict)
            s["paused"] = True
            self.applied[i] += 1
        return MockTransport.respond(request, json_body=self.body(i))


async def bounded(job: Awaitable[T], seconds: float = 60.0) -> T:
    """``await job``, but never for more than ``seconds``: a hung job fails its test."""
    return await asyncio.wait_for(job, seconds)


def client_for(api: Callable[[Request], Any], **options: Any) -> QoderClient:
    async def no_sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    transport = options.pop("transport", None) or MockTransport(api)
    return QoderClient("pt-bulk", base_url=BASE, transport=transport, sleep=no_sleep, **options)


async def test_mixed_ids_each_get_exactly_one_honest_outcome() -> None:
    ids = [dep_id(n) for n in range(40)]
    api = MiniApi(ids, archived=set(ids[:10]), paused=set(ids[10:20]))
    unknown = [dep_id(1000 + n) for n in range(5)]
    async with client_for(api) as client:
        report = await bounded(client.deployments.bulk_archive(ids + unknown, concurrency=8))
    assert report.counts == {
        Outcome.ARCHIVED: 30,
        Outcome.ALREADY_ARCHIVED: 10,
        Outcome.NOT_FOUND: 5,
    }
    assert set(report.ids(Outcome.ALREADY_ARCHIVED)) == set(ids[:10])
    assert set(report.ids(Outcome.NOT_FOUND)) == set(unknown)
    assert all(api.state[i]["archived"] for i in ids)
    assert set(api.applied.values()) == {1}
    assert report.ok is False  # the unknown ids are not a success
    assert len(report.failed) == 5


async def test_duplicates_are_archived_once() -> None:
    ids = [dep_id(n) for n in range(10)]
    api = MiniApi(ids)
    async with client_for(api) as client:
        report = await bounded(client.deployments.bulk_archive(ids * 3, concurrency=4))
    assert report.duplicates == 20
    assert report.counts == {Outcome.ARCHIVED: 10}
    assert api.applied == Counter(dict.fromkeys(ids, 1))
    assert report.ok


async def test_bad_id_in_a_list_fails_before_any_call() -> None:
    api = MiniApi([dep_id(1)])
    transport = MockTransport(api)
    async with QoderClient("pt-x", base_url=BASE, transport=transport) as client:
        with pytest.raises(ValueError, match=r"ids\[1\]"):
            client.deployments.bulk_archive([dep_id(1), "../../etc"])
        with pytest.raises(TypeError):
            client.deployments.bulk_archive(dep_id(1))  # a str, not a list of ids
        with pytest.raises(ValueError, match="concurrency"):
            client.deployments.bulk_archive([dep_id(1)], concurrency=0)
    assert transport.requests == []


async def test_concurrency_is_bounded() -> None:
    ids = [dep_id(n) for n in range(60)]
    api = MiniApi(ids)
    api.delay = 0.005
    async with client_for(api) as client:
        report = await bounded(client.deployments.bulk_archive(ids, concurrency=7))
    assert report.ok
    assert api.max_in_flight == 7


async def test_async_source_is_consumed_lazily() -> None:
    ids = [dep_id(n) for n in range(200)]
    api = MiniApi(ids)
    api.delay = 0.002
    pulled = 0
    max_ahead = 0

    async def source() -> AsyncIterator[str]:
        nonlocal pulled
        for i in ids:
            pulled += 1
            yield i

    def watch(outcome: ItemOutcome) -> None:
        nonlocal max_ahead
        max_ahead = max(max_ahead, pulled - len(job.report.outcomes))

    async with client_for(api) as client:
        job = client.deployments.bulk_archive(source(), concurrency=5, on_outcome=watch)
        report = await bounded(job)
    assert report.counts == {Outcome.ARCHIVED: 200}
    # Never more than the in-flight calls (plus the one being handed over) ahead.
    assert max_ahead <= 6


async def test_transient_faults_are_retried_with_one_key_and_applied_once() -> None:
    ids = [dep_id(n) for n in range(20)]
    api = MiniApi(ids)
    api.fail_next = [503, 429, APIConnectionError("reset", maybe_sent=True), 500, 503]
    seen_keys: dict[str, set[str]] = {}

    async def recording(request: Request) -> Response:
        match = ACTION.search(request.url)
        if match and request.method == "POST":
            seen_keys.setdefault(match.group(1), set()).add(request.header("Idempotency-Key") or "")
        return await api(request)

    async with client_for(recording) as client:
        report = await bounded(client.deployments.bulk_archive(ids, concurrency=4, retry=FAST))
    assert report.counts == {Outcome.ARCHIVED: 20}
    assert report.attempts == 25
    assert report.throttled >= 4
    assert all(len(keys) == 1 for keys in seen_keys.values())
    assert set(api.applied.values()) == {1}


async def test_lost_response_after_apply_settles_as_archived() -> None:
    """A reset after the server applied the change, then a retry that sees 409."""
    ids = [dep_id(1)]
    api = MiniApi(ids)
    calls = 0

    async def lose_first_response(request: Request) -> Response:
        nonlocal calls
        response = await api(request)
        calls += 1
        if calls == 1:
            raise APIConnectionError("connection reset", maybe_sent=True)
        return response

    async with client_for(lose_first_response) as client:
        report = await bounded(client.deployments.bulk_archive(ids, retry=FAST))
    # Without replay support the retry gets 409; the bulk layer reads the deployment
    # and reports the id done, not failed - and the change was applied exactly once.
    assert report.outcomes[ids[0]].ok
    assert api.applied[ids[0]] == 1


async def test_failure_after_retries_is_reported_with_its_error() -> None:
    ids = [dep_id(1), dep_id(2)]
    api = MiniApi(ids)
    api.fail_next = [400]
    async with client_for(api) as client:
        report = await bounded(client.deployments.bulk_archive(ids, concurrency=1))
    failed = report.failed
    assert [f.outcome for f in failed] == [Outcome.FAILED]
    assert "400" in str(failed[0].error)
    assert report.counts == {Outcome.ARCHIVED: 1, Outcome.FAILED: 1}


async def test_cancellation_leaves_nothing_running_and_a_partial_report() -> None:
    ids = [dep_id(n) for n in range(100)]
    api = MiniApi(ids)
    never = asyncio.Event()

    hanging = 0
    all_hang = asyncio.Event()

    async def hang_after_ten(request: Request) -> Response:
        nonlocal hanging
        if sum(api.applied.values()) >= 10:
            hanging += 1
            if hanging == 4:
                all_hang.set()
            await never.wait()  # these calls are in flight when the job is cancelled
        return await api(request)

    async with client_for(hang_after_ten) as client:
        job = client.deployments.bulk_archive(ids, concurrency=4)
        task = asyncio.create_task(job.run())
        await asyncio.wait_for(all_hang.wait(), timeout=30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    report = job.report
    assert report.cancelled
    assert sorted(report.ids(Outcome.ARCHIVED)) == sorted(i for i in ids if api.applied[i])
    assert len(report.ids(Outcome.ARCHIVED)) == 10
    assert len(report.ids(Outcome.INTERRUPTED)) == 4
    assert len(report.outcomes) == 14
    assert job.in_flight == 0
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []


async def test_outcomes_stream_as_they_complete() -> None:
    ids = [dep_id(n) for n in range(30)]
    api = MiniApi(ids)
    async with client_for(api) as client:
        async with asyncio.timeout(60):
            streamed = [o.id async for o in client.deployments.bulk_archive(ids, concurrency=3)]
    assert sorted(streamed) == sorted(ids)


async def test_breaking_out_of_the_stream_cancels_the_rest() -> None:
    ids = [dep_id(n) for n in range(50)]
    api = MiniApi(ids)
    api.delay = 0.005
    async with client_for(api) as client:
        job = client.deployments.bulk_archive(ids, concurrency=2)
        async with asyncio.timeout(60), contextlib.aclosing(aiter(job)) as stream:
            async for _ in stream:
                break
    assert job.report.cancelled
    assert job.in_flight == 0
    assert sum(api.applied.values()) < 50


async def test_rate_limit_paces_launches_at_a_fixed_interval() -> None:
    ids = [dep_id(n) for n in range(11)]
    api = MiniApi(ids)
    now = [0.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    async with client_for(api) as client:
        job = BulkJob(
            client.deployments,
            ARCHIVE,
            ids,
            rate_limit=100.0,
            clock=lambda: now[0],
            sleep=fake_sleep,
        )
        report = await bounded(job)
    assert report.ok
    assert waits == pytest.approx([0.01] * 10)  # 11 launches, 10 gaps of 10 ms


async def test_bulk_pause_outcomes() -> None:
    ids = [dep_id(n) for n in range(6)]
    api = MiniApi(ids, paused={ids[0]}, archived={ids[1]})
    async with client_for(api) as client:
        report = await bounded(client.deployments.bulk_pause(ids))
    assert report.outcomes[ids[0]].outcome == Outcome.ALREADY_PAUSED
    assert report.outcomes[ids[1]].outcome == Outcome.FAILED
    assert report.counts[Outcome.PAUSED] == 4


async def test_callback_error_surfaces_after_work_settles() -> None:
    ids = [dep_id(n) for n in range(5)]
    api = MiniApi(ids)

    def boom(outcome: ItemOutcome) -> None:
        raise RuntimeError("progress bar broke")

    async with client_for(api) as client:
        with pytest.raises(RuntimeError, match="progress bar broke"):
            await bounded(client.deployments.bulk_archive(ids, on_outcome=boom))


async def test_bad_id_in_a_stream_fails_alone() -> None:
    ids = [dep_id(n) for n in range(3)]
    api = MiniApi(ids)

    async def source() -> AsyncIterator[str]:
        yield ids[0]
        yield "dep_../../oops"
        yield ids[1]
        yield ids[2]

    async with client_for(api) as client:
        report = await bounded(client.deployments.bulk_archive(source()))
    assert report.counts == {Outcome.ARCHIVED: 3, Outcome.FAILED: 1}
    failed = report.outcomes["dep_../../oops"]
    assert isinstance(failed.error, QoderError)
    assert "ids item" in str(failed.error)
    assert failed.attempts == 0


# -- fail fast ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "error"),
    [
        (401, "authentication_error", AuthenticationError),
        (403, "permission_error", PermissionDeniedError),
    ],
)
async def test_a_refused_token_stops_the_job_at_once(
    status: int, error_type: str, error: type[QoderError]
) -> None:
    ids = [dep_id(n) for n in range(300)]

    def refuse(request: Request) -> Response:
        body = {"type": "error", "error": {"type": error_type, "message": "bad token"}}
        return MockTransport.respond(request, status, json_body=body)

    transport = MockTransport(refuse)
    seen: list[ItemOutcome] = []
    async with client_for(refuse, transport=transport) as client:
        job = client.deployments.bulk_archive(ids, concurrency=4, on_outcome=seen.append)
        with pytest.raises(error, match="bad token") as raised:
            await bounded(job)
    report = job.report
    assert report.stopped is raised.value
    assert not report.ok
    # Only the calls already launched went out; every other id says it was not tried.
    assert len(transport.requests) <= 4
    assert len(report.outcomes) == len(seen) == 300
    counts = report.counts
    assert counts[Outcome.FAILED] == len(transport.requests)
    assert counts[Outcome.NOT_ATTEMPTED] == 300 - len(transport.requests)
    skipped = report.outcomes[ids[-1]]
    assert skipped.outcome is Outcome.NOT_ATTEMPTED
    assert skipped.error is report.stopped
    assert skipped.attempts == 0


def _unreachable(request: Request) -> Response:
    raise APIConnectionError(
        "could not connect to https://api.example: Connection refused",
        request=request,
        maybe_sent=False,
    )


async def test_a_host_that_never_answers_trips_the_breaker() -> None:
    ids = [dep_id(n) for n in range(10_000)]
    transport = MockTransport(_unreachable)
    async with client_for(_unreachable, transport=transport) as client:
        job = client.deployments.bulk_archive(ids)  # default retry: 8 attempts, 300 s
        with pytest.raises(APIConnectionError) as raised:
            await bounded(job)
    message = str(raised.value)
    assert "https://api.example" in message
    assert "never answered; the bulk job stopped" in message
    report = job.report
    assert report.stopped is raised.value
    # Nothing reached the server, so nothing can have changed: every id says so.
    assert report.counts == {Outcome.NOT_ATTEMPTED: 10_000}
    # A handful of attempts, not 10,000 ids x 8 attempts.
    assert len(transport.requests) < 200
    assert job.in_flight == 0


async def test_connection_errors_after_an_answer_do_not_trip_the_breaker() -> None:
    ids = [dep_id(n) for n in range(12)]
    api = MiniApi(ids)
    answered = 0

    async def up_then_down(request: Request) -> Response:
        nonlocal answered
        if answered:
            return _unreachable(request)
        answered += 1
        return await api(request)

    async with client_for(up_then_down) as client:
        report = await bounded(client.deployments.bulk_archive(ids, concurrency=1, retry=FAST))
    assert report.stopped is None
    assert report.counts == {Outcome.ARCHIVED: 1, Outcome.FAILED: 11}
    assert all(isinstance(item.error, APIConnectionError) for item in report.failed)


async def test_a_stop_reports_calls_that_may_have_landed_as_interrupted() -> None:
    ids = [dep_id(n) for n in range(20)]
    api = MiniApi(ids)
    sent = asyncio.Event()
    never = asyncio.Event()

    async def one_hangs_then_401(request: Request) -> Response:
        if ids[0] in request.url:
            sent.set()
            await never.wait()  # sent, no answer yet: it may land
        await sent.wait()
        body = {"type": "error", "error": {"type": "authentication_error", "message": "no"}}
        return MockTransport.respond(request, 401, json_body=body)

    async with client_for(one_hangs_then_401) as client:
        job = client.deployments.bulk_archive(ids, concurrency=2)
        with pytest.raises(AuthenticationError):
            await asyncio.wait_for(job.run(), timeout=30)
    report = job.report
    assert report.outcomes[ids[0]].outcome is Outcome.INTERRUPTED
    assert report.outcomes[ids[1]].outcome is Outcome.FAILED
    assert report.counts[Outcome.NOT_ATTEMPTED] == 18
    assert api.applied == Counter()


async def test_throttling_never_pauses_the_batch() -> None:
    """Throttling is the client's business: the job keeps its slots and its pace."""
    ids = [dep_id(n) for n in range(40)]
    api = MiniApi(ids)
    asked: list[float] = []

    async def slow_down(request: Request) -> Response:
        if request.method == "POST" and len(asked) < 10:
            asked.append(30.0)
            return MockTransport.respond(request, 429, headers={"Retry-After": "30"})
        return await api(request)

    async def job_sleep(seconds: float) -> None:
        raise AssertionError(f"the job itself slept {seconds}s")

    async with client_for(slow_down) as client:
        job = BulkJob(client.deployments, ARCHIVE, ids, concurrency=8, sleep=job_sleep)
        report = await bounded(job)
    assert report.ok
    assert report.throttled == 10
    assert job.concurrency == 8


# -- the public surface bulk is built on ----------------------------------------------------


async def test_with_options_appends_per_attempt_middleware_and_overrides_retry() -> None:
    ids = [dep_id(1)]
    api = MiniApi(ids)
    api.fail_next = [503, 503]
    order: list[str] = []

    def tag(name: str) -> Callable[[Request, Handler], Any]:
        async def middleware(request: Request, call_next: Handler) -> Response:
            order.append(name)
            return await call_next(request)

        return middleware

    async with client_for(api, per_attempt_middleware=[tag("client")]) as client:
        derived = client.deployments.with_options(
            retry=FAST, per_attempt_middleware=[tag("derived")]
        )
        archived = await derived.archive(ids[0])
        assert archived.is_archived
        assert order == ["client", "derived"] * 3  # two 503s, then the success
        order.clear()
        await client.deployments.get(ids[0])  # the original keeps its own chain
        assert order == ["client"]
        other = client.with_options(per_attempt_middleware=[tag("other")])
        await other.deployments.get(ids[0])
        assert order == ["client", "client", "other"]
        with pytest.raises(QoderError):
            await client.with_options(retry=1).deployments.with_options().pause(dep_id(9))


# -- bounded memory ---------------------------------------------------------------------


class _NotFoundTransport:
    """Answers every request 404, recording nothing (so only the report is measured)."""

    async def send(self, request: Request) -> Response:
        body = {
            "type": "error",
            "error": {"type": "not_found_error", "message": f"no deployment {request.url[-36:]}"},
            "request_id": "req_" + "0" * 24,
        }
        return MockTransport.respond(request, 404, json_body=body)

    async def aclose(self) -> None:
        return None


async def test_an_outcome_holds_well_under_a_kibibyte_per_id() -> None:
    ids = [dep_id(n) for n in range(3_000)]
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        async with client_for(lambda r: None, transport=_NotFoundTransport()) as client:
            report = await bounded(client.deployments.bulk_archive(ids))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert report.counts == {Outcome.NOT_FOUND: 3_000}
    item = report.outcomes[ids[0]]
    assert isinstance(item.error, QoderError)
    assert item.error.__traceback__ is None
    assert "no deployment" in str(item.error)
    print(f"{held / len(ids):.0f} bytes per id")
    # The goal is 1 KiB of resident memory per id (benchmarks, --only memory); traced
    # allocations read about 120 B under that slope (960 here when it read 1,091), so
    # the bound here is lower than the goal to catch such a drift.
    assert held / len(ids) <= 896, f"{held / len(ids):.0f} bytes per id"


# -- against the fake server ------------------------------------------------------------


async def test_every_id_is_applied_exactly_once_under_faults() -> None:
    async with FakeQoderServer(seed=7) as server:
        live = server.seed_deployments(150)
        paused = server.seed_deployments(20, status="paused")
        old = server.seed_deployments(10, archived=True)
        unknown = [dep_id(0xFFFF0000 + n) for n in range(5)]
        server.faults = FaultPlan(seed=11, rate=0.2, endpoints={"deployments.archive"})
        async with QoderClient(server.token, base_url=server.url, retry=FAST) as client:
            report = await bounded(
                client.deployments.bulk_archive(
                    [*live, *paused, *old, *unknown, *live[:10]], concurrency=16, retry=FAST
                )
            )
        assert sum(server.faults_injected.values()) > 0
    assert report.counts == {
        Outcome.ARCHIVED: 170,
        Outcome.ALREADY_ARCHIVED: 10,
        Outcome.NOT_FOUND: 5,
    }
    assert report.duplicates == 10
    assert server.archive_applications == Counter(dict.fromkeys([*live, *paused], 1))
    assert report.attempts > 185  # the faults cost retries, never a second application


async def test_the_derive_hook_leaves_no_reference_cycle() -> None:
    client = client_for(MiniApi([]))
    await client.aclose()
    freed = weakref.ref(client)
    gc.disable()
    try:
        del client
        assert freed() is None  # freed by reference counting, not the cycle collector
    finally:
        gc.enable()
