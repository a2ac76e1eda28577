"""Bulk operations over MockTransport: outcomes, dedupe, laziness, backoff, cancellation."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from qoder_async import APIConnectionError, QoderClient, ResponseDecodeError, RetryPolicy
from qoder_async._messages import Request, Response
from qoder_async.bulk import AdaptiveLimit, ItemOutcome, Outcome
from qoder_async.transport import MockTransport

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.example/api/v1/cloud"
TEMPLATE = json.loads((FIXTURES / "deployment.json").read_text())
ACTION = re.compile(r"/deployments/(dep_[0-9a-z]+)(?:/(archive|pause|unpause))?$")
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


def client_for(api: Callable[[Request], Any]) -> QoderClient:
    async def no_sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    return QoderClient("pt-bulk", base_url=BASE, transport=MockTransport(api), sleep=no_sleep)


async def test_mixed_ids_each_get_exactly_one_honest_outcome() -> None:
    ids = [dep_id(n) for n in range(40)]
    api = MiniApi(ids, archived=set(ids[:10]), paused=set(ids[10:20]))
    unknown = [dep_id(1000 + n) for n in range(5)]
    async with client_for(api) as client:
        report = await client.deployments.bulk_archive(ids + unknown, concurrency=8)
    assert report.counts == {"archived": 30, "already_archived": 10, "not_found": 5}
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
        report = await client.deployments.bulk_archive(ids * 3, concurrency=4)
    assert report.duplicates == 20
    assert report.counts == {"archived": 10}
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
        report = await client.deployments.bulk_archive(ids, concurrency=7)
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
        report = await job
    assert report.counts == {"archived": 200}
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
        report = await client.deployments.bulk_archive(ids, concurrency=4, retry=FAST)
    assert report.counts == {"archived": 20}
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
        report = await client.deployments.bulk_archive(ids, retry=FAST)
    # Without replay support the retry gets 409; the bulk layer reads the deployment
    # and reports the id done, not failed - and the change was applied exactly once.
    assert report.outcomes[ids[0]].ok
    assert api.applied[ids[0]] == 1


async def test_failure_after_retries_is_reported_with_its_error() -> None:
    ids = [dep_id(1), dep_id(2)]
    api = MiniApi(ids)
    api.fail_next = [400]
    async with client_for(api) as client:
        report = await client.deployments.bulk_archive(ids, concurrency=1)
    failed = report.failed
    assert [f.outcome for f in failed] == [Outcome.FAILED]
    assert "400" in str(failed[0].error)
    assert report.counts == {"archived": 1, "failed": 1}


async def test_throttling_is_left_to_the_rate_controller_not_the_concurrency() -> None:
    ids = [dep_id(n) for n in range(600)]
    api = MiniApi(ids)
    api.fail_next = [429] * 30
    async with client_for(api) as client:
        job = client.deployments.bulk_archive(ids, concurrency=16, retry=FAST)
        report = await job
    assert report.ok
    assert report.throttled == 30
    # The client's rate controller paces after 429s; the job keeps its concurrency.
    assert report.min_concurrency == 16
    assert job.concurrency == 16


def test_adaptive_limit_arithmetic() -> None:
    limit = AdaptiveLimit(20, minimum=2, cooldown=1.0)
    limit.on_throttle(now=10.0)
    assert limit.limit == 14
    limit.on_throttle(now=10.5)  # inside the cooldown: one burst counts once
    assert limit.limit == 14
    limit.on_throttle(now=11.5)
    assert limit.limit == 9
    for _ in range(9):
        limit.on_success()
    assert limit.limit == 10
    for _ in range(5):
        limit.on_throttle(now=100.0 + 2 * _)
    assert limit.limit == 2
    assert limit.lowest == 2


async def test_cancellation_leaves_nothing_running_and_a_partial_report() -> None:
    ids = [dep_id(n) for n in range(100)]
    api = MiniApi(ids)
    never = asyncio.Event()

    async def hang_after_ten(request: Request) -> Response:
        if sum(api.applied.values()) >= 10:
            await never.wait()  # these calls are in flight when the job is cancelled
        return await api(request)

    async with client_for(hang_after_ten) as client:
        job = client.deployments.bulk_archive(ids, concurrency=4)
        task = asyncio.create_task(job.run())
        while job.in_flight < 4 or len(job.report.outcomes) < 10:
            await asyncio.sleep(0.001)
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
        streamed = [o.id async for o in client.deployments.bulk_archive(ids, concurrency=3)]
    assert sorted(streamed) == sorted(ids)


async def test_breaking_out_of_the_stream_cancels_the_rest() -> None:
    ids = [dep_id(n) for n in range(50)]
    api = MiniApi(ids)
    api.delay = 0.005
    async with client_for(api) as client:
        job = client.deployments.bulk_archive(ids, concurrency=2)
        async for _ in job:
            break
        await asyncio.sleep(0.05)
    assert job.report.cancelled
    assert job.in_flight == 0
    assert sum(api.applied.values()) < 50


async def test_rate_limit_spaces_launches() -> None:
    ids = [dep_id(n) for n in range(11)]
    api = MiniApi(ids)
    loop = asyncio.get_running_loop()
    async with client_for(api) as client:
        started = loop.time()
        report = await client.deployments.bulk_archive(ids, rate_limit=100.0)
        elapsed = loop.time() - started
    assert report.ok
    assert elapsed >= 0.09  # 10 gaps of 10 ms


async def test_bulk_pause_outcomes() -> None:
    ids = [dep_id(n) for n in range(6)]
    api = MiniApi(ids, paused={ids[0]}, archived={ids[1]})
    async with client_for(api) as client:
        report = await client.deployments.bulk_pause(ids)
    assert report.outcomes[ids[0]].outcome == Outcome.ALREADY_PAUSED
    assert report.outcomes[ids[1]].outcome == Outcome.FAILED
    assert report.counts["paused"] == 4


async def test_callback_error_surfaces_after_work_settles() -> None:
    ids = [dep_id(n) for n in range(5)]
    api = MiniApi(ids)

    def boom(outcome: ItemOutcome) -> None:
        raise RuntimeError("progress bar broke")

    async with client_for(api) as client:
        with pytest.raises(RuntimeError, match="progress bar broke"):
            await client.deployments.bulk_archive(ids, on_outcome=boom)


async def test_bad_id_in_a_stream_fails_alone() -> None:
    ids = [dep_id(n) for n in range(3)]
    api = MiniApi(ids)

    async def source() -> AsyncIterator[str]:
        yield ids[0]
        yield "dep_../../oops"
        yield ids[1]
        yield ids[2]

    async with client_for(api) as client:
        report = await client.deployments.bulk_archive(source())
    assert report.counts == {"archived": 3, "failed": 1}
    failed = report.outcomes["dep_../../oops"]
    assert isinstance(failed.error, ValueError)
    assert failed.attempts == 0


async def test_outcome_reads_state_not_the_whole_model() -> None:
    """A field the SDK cannot model yet must not turn a done archive into a failure."""
    ids = [dep_id(1)]
    api = MiniApi(ids)

    async def changed_shape(request: Request) -> Response:
        response = await api(request)
        body = json.loads(response.content)
        body["agent"] = "agent_now_a_string"  # no longer an object: Deployment fails
        return MockTransport.respond(request, response.status, json_body=body)

    async with client_for(changed_shape) as client:
        report = await client.deployments.bulk_archive(ids)
        with pytest.raises(ResponseDecodeError):
            await client.deployments.get(ids[0])
    assert report.counts == {"archived": 1}
    assert api.applied[ids[0]] == 1
