"""Retry decisions, each rule on its own, through the real chain over MockTransport."""

from __future__ import annotations

import asyncio
import email.utils
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest

from qoder_async._messages import Request, Response
from qoder_async.config import RetryPolicy, Timeouts
from qoder_async.errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ConflictError,
    FeatureNotAvailableError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
)
from qoder_async.middleware import Handler, _new_key, build_chain, decode_errors
from qoder_async.retry import RetryMiddleware
from qoder_async.transport import MockTransport
from tests.chain_helpers import TOKEN, SleepRecorder, get, make_chain, post, scripted

NOT_SENT = APIConnectionError("connect refused", maybe_sent=False)
MAYBE_SENT = APIConnectionError("reset by peer", maybe_sent=True)


async def test_same_idempotency_key_on_every_attempt() -> None:
    chain, transport, _ = make_chain(scripted(503, MAYBE_SENT, 500, 200))
    response = await chain(post())
    assert response.status == 200
    keys = [r.header("Idempotency-Key") for r in transport.requests]
    assert len(keys) == 4
    assert keys[0]
    assert len(set(keys)) == 1


async def test_each_call_gets_its_own_key() -> None:
    chain, transport, _ = make_chain(scripted(200))
    await chain(post())
    await chain(post())
    first, second = (r.header("Idempotency-Key") for r in transport.requests)
    assert first != second


async def test_caller_key_is_kept() -> None:
    chain, transport, _ = make_chain(scripted(503, 200))
    await chain(post().with_headers({"Idempotency-Key": "mine-1"}))
    assert [r.header("Idempotency-Key") for r in transport.requests] == ["mine-1", "mine-1"]


async def test_minted_key_is_a_canonical_uuid4() -> None:
    chain, transport, _ = make_chain(scripted(200))
    await chain(post())
    key = transport.requests[0].header("Idempotency-Key")
    assert key is not None
    parsed = uuid.UUID(key)
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == key  # lower-case 8-4-4-4-12


def test_keys_are_uuid4_with_random_bits_everywhere_else() -> None:
    keys = [_new_key() for _ in range(2000)]
    assert len(set(keys)) == len(keys)
    parsed = [uuid.UUID(key) for key in keys]
    assert all(
        u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == k
        for u, k in zip(parsed, keys, strict=True)
    )
    # Every one of the 122 free bits takes both values across the sample.
    fixed = (0xF << 76) | (0x3 << 62)
    ones = zeros = 0
    for u in parsed:
        ones |= u.int
        zeros |= ~u.int
    free = ((1 << 128) - 1) & ~fixed
    assert ones & free == free
    assert zeros & free == free


@pytest.mark.parametrize("name", ["idempotency-key", "X-Idempotency-Key", "x-idempotency-key"])
async def test_caller_key_in_any_spelling_is_kept(name: str) -> None:
    chain, transport, _ = make_chain(scripted(200))
    await chain(post().with_headers({name: "mine-2"}))
    (sent,) = transport.requests
    assert sent.header(name) == "mine-2"
    assert sent.header("Idempotency-Key") in (None, "mine-2")
    assert [k for k in sent.headers if k.lower() == "idempotency-key"] in ([], [name])


async def test_auth_header_on_every_attempt() -> None:
    chain, transport, _ = make_chain(scripted(429, 502, 200))
    await chain(get())
    assert [r.header("authorization") for r in transport.requests] == [f"Bearer {TOKEN}"] * 3


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried(status: int) -> None:
    chain, transport, sleeps = make_chain(scripted(status, 200))
    assert (await chain(post())).status == 200
    assert len(transport.requests) == 2
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (404, NotFoundError),
        (409, ConflictError),
        (501, FeatureNotAvailableError),
        (505, InternalServerError),
    ],
)
async def test_never_retried_statuses(status: int, cls: type[Exception]) -> None:
    chain, transport, sleeps = make_chain(scripted(status, 200))
    with pytest.raises(cls):
        await chain(post())
    assert len(transport.requests) == 1
    assert sleeps.delays == []


async def test_not_sent_connection_error_is_retried_even_without_key() -> None:
    chain, transport, _ = make_chain(scripted(NOT_SENT, 200), keys=False)
    assert (await chain(post())).status == 200
    assert len(transport.requests) == 2


async def test_maybe_sent_write_without_key_is_not_retried() -> None:
    chain, transport, _ = make_chain(scripted(MAYBE_SENT, 200), keys=False)
    with pytest.raises(APIConnectionError):
        await chain(post())
    assert len(transport.requests) == 1


@pytest.mark.parametrize("status", [500, 503, 408])
async def test_5xx_on_write_without_key_is_not_retried(status: int) -> None:
    chain, transport, _ = make_chain(scripted(status, 200), keys=False)
    with pytest.raises(Exception) as info:
        await chain(post())
    assert getattr(info.value, "status", None) == status
    assert len(transport.requests) == 1


async def test_429_on_write_without_key_is_retried() -> None:
    chain, transport, _ = make_chain(scripted(429, 200), keys=False)
    assert (await chain(post())).status == 200
    assert len(transport.requests) == 2


async def test_maybe_sent_get_is_retried() -> None:
    chain, transport, _ = make_chain(scripted(MAYBE_SENT, 200), keys=False)
    assert (await chain(get())).status == 200
    assert len(transport.requests) == 2


async def test_attempts_are_bounded_and_last_error_surfaces() -> None:
    chain, transport, sleeps = make_chain(
        scripted(503), policy=RetryPolicy(max_attempts=3, jitter=False)
    )
    with pytest.raises(InternalServerError):
        await chain(get())
    assert len(transport.requests) == 3
    assert sleeps.delays == [0.25, 0.5]


async def test_exponential_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff=1.0, max_backoff=3.0, jitter=False)
    chain, _, sleeps = make_chain(scripted(503), policy=policy)
    with pytest.raises(InternalServerError):
        await chain(get())
    assert sleeps.delays == [1.0, 2.0, 3.0, 3.0, 3.0]


async def test_full_jitter_stays_under_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=8, initial_backoff=1.0, max_backoff=4.0, jitter=True)
    chain, _, sleeps = make_chain(scripted(503), policy=policy)
    with pytest.raises(InternalServerError):
        await chain(get())
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(0.0 <= d <= c for d, c in zip(sleeps.delays, ceilings, strict=True))
    assert len(set(sleeps.delays)) > 1


def _with_headers(status: int, **headers: str) -> Response:
    return Response(status=status, headers=headers, content=b"", request=get())


async def test_retry_after_seconds_is_honoured() -> None:
    chain, _, sleeps = make_chain(scripted(_with_headers(429, **{"Retry-After": "3"}), 200))
    await chain(get())
    assert sleeps.delays == [3.0]


async def test_retry_after_ms_is_honoured() -> None:
    chain, _, sleeps = make_chain(scripted(_with_headers(503, **{"retry-after-ms": "1500"}), 200))
    await chain(get())
    assert sleeps.delays == [1.5]


async def test_retry_after_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    chain, _, sleeps = make_chain(scripted(_with_headers(429, **{"Retry-After": when}), 200))
    await chain(get())
    assert 3.5 <= sleeps.delays[0] <= 5.0


async def test_retry_after_beyond_cap_surfaces_error_with_retry_after() -> None:
    policy = RetryPolicy(max_retry_after=10.0, jitter=False)
    chain, transport, sleeps = make_chain(
        scripted(_with_headers(429, **{"Retry-After": "600"}), 200), policy=policy
    )
    with pytest.raises(RateLimitError) as info:
        await chain(get())
    assert info.value.retry_after == 600.0
    assert len(transport.requests) == 1
    assert sleeps.delays == []


async def test_deadline_bounds_the_backoff_schedule() -> None:
    policy = RetryPolicy(max_attempts=50, deadline=5.0, initial_backoff=2.0, jitter=False)
    chain, transport, sleeps = make_chain(scripted(503), policy=policy)
    with pytest.raises(InternalServerError):
        await chain(get())
    # 2 s then 4 s would cross the 5 s deadline, so only the first sleep happens.
    assert sleeps.delays == [2.0]
    assert len(transport.requests) == 2


async def test_deadline_cuts_a_slow_attempt_on_time() -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(10)
        return MockTransport.respond(request, 200)

    chain, _, _ = make_chain(slow, policy=RetryPolicy(deadline=0.2, jitter=False))
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        await chain(get())
    assert time.monotonic() - started < 1.0


async def test_attempt_timeout_then_retry_succeeds() -> None:
    calls = 0

    async def first_slow(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(10)
        return MockTransport.respond(request, 200)

    chain, _, sleeps = make_chain(first_slow)
    assert (await chain(post().with_timeout(Timeouts(total=0.05)))).status == 200
    assert calls == 2
    assert len(sleeps.delays) == 1


async def test_cancellation_is_never_retried_or_swallowed() -> None:
    started = asyncio.Event()

    async def hang(request: Request) -> Response:
        started.set()
        await asyncio.sleep(10)
        raise AssertionError("not reached")

    chain, transport, sleeps = make_chain(hang)
    task = asyncio.ensure_future(chain(get()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(transport.requests) == 1
    assert sleeps.delays == []


async def test_cancellation_during_backoff_propagates() -> None:
    _chain, transport, _ = make_chain(scripted(503))
    blocked = asyncio.Event()

    async def blocking_sleep(seconds: float) -> None:
        blocked.set()
        await asyncio.sleep(60)

    real = build_chain(
        [RetryMiddleware(RetryPolicy(jitter=False), sleep=blocking_sleep), decode_errors],
        transport.send,
    )
    task = asyncio.ensure_future(real(get()))
    await blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(transport.requests) == 1


async def test_disabled_policy_makes_one_attempt() -> None:
    chain, transport, _ = make_chain(scripted(503, 200), policy=RetryPolicy.disabled())
    with pytest.raises(InternalServerError):
        await chain(get())
    assert len(transport.requests) == 1


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="deadline"):
        RetryPolicy(deadline=-1)


def _cut_off(request: Request) -> Response:
    return MockTransport.respond(request, 200, content=b'{"id": "dep_1", "na')


async def test_cut_off_success_body_is_retried_with_the_same_key() -> None:
    chain, transport, _ = make_chain(scripted(_cut_off(post()), 200))
    response = await chain(post())
    assert response.data == {"ok": True}
    keys = {r.header("Idempotency-Key") for r in transport.requests}
    assert len(transport.requests) == 2
    assert len(keys) == 1


async def test_cut_off_success_body_on_unkeyed_write_is_not_retried() -> None:
    chain, transport, _ = make_chain(scripted(_cut_off(post()), 200), keys=False)
    with pytest.raises(ResponseDecodeError) as info:
        await chain(post())
    assert info.value.corrupt
    assert len(transport.requests) == 1


# What the surfacing error says about the call.


async def test_error_after_a_maybe_applied_attempt_says_so_and_counts_attempts() -> None:
    # The archive case: the first answer is lost after the API applied the change,
    # the replay then fails with a status the caller sees.
    lost = APIConnectionError("reset after sending", maybe_sent=True)
    chain, transport, _ = make_chain(scripted(lost, 409))
    with pytest.raises(ConflictError) as info:
        await chain(post())
    assert info.value.attempts == 2
    assert info.value.maybe_applied is True
    assert len(transport.requests) == 2


async def test_the_surfacing_error_is_not_chained_to_earlier_attempts() -> None:
    chain, _, _ = make_chain(scripted(503, 502), policy=RetryPolicy(max_attempts=2, jitter=False))
    with pytest.raises(InternalServerError) as info:
        await chain(get())
    assert info.value.status == 502
    assert info.value.__context__ is None


async def test_write_refused_at_once_was_not_applied() -> None:
    chain, _, _ = make_chain(scripted(400))
    with pytest.raises(BadRequestError) as info:
        await chain(post())
    assert (info.value.attempts, info.value.maybe_applied) == (1, False)


async def test_throttled_write_was_not_applied() -> None:
    chain, _, _ = make_chain(scripted(429), policy=RetryPolicy(max_attempts=3, jitter=False))
    with pytest.raises(RateLimitError) as info:
        await chain(post())
    assert (info.value.attempts, info.value.maybe_applied) == (3, False)


async def test_5xx_on_a_write_may_have_applied_it() -> None:
    chain, _, _ = make_chain(scripted(503), policy=RetryPolicy(max_attempts=2, jitter=False))
    with pytest.raises(InternalServerError) as info:
        await chain(post())
    assert (info.value.attempts, info.value.maybe_applied) == (2, True)


async def test_a_read_never_says_maybe_applied() -> None:
    lost = APIConnectionError("reset after sending", maybe_sent=True)
    chain, _, _ = make_chain(scripted(lost), policy=RetryPolicy(max_attempts=3, jitter=False))
    with pytest.raises(APIConnectionError) as info:
        await chain(get())
    assert (info.value.attempts, info.value.maybe_applied) == (3, False)


# One mechanism bounds an attempt: asyncio.timeout, set to the request's Timeouts.total
# or the time left before the deadline. These check it leaves nothing behind and never
# turns a caller's cancellation into a timeout.


def _bounded_chain(
    handler: Callable[[Request], Awaitable[Response]], *, deadline: float = 0.3
) -> Handler:
    retry = RetryMiddleware(RetryPolicy(max_attempts=1, deadline=deadline), sleep=SleepRecorder())
    return build_chain([retry, decode_errors], MockTransport(handler).send)


def _assert_idle() -> None:
    loop = asyncio.get_running_loop()
    timers = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    assert timers == []
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_deadline_cuts_a_hanging_attempt_as_a_maybe_sent_timeout() -> None:
    async def hang(request: Request) -> Response:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    chain = _bounded_chain(hang, deadline=0.3)
    with pytest.raises(APITimeoutError, match=r"timed out after 0\.3s \(attempt 1\)") as info:
        await chain(get())
    assert info.value.maybe_sent
    assert info.value.attempts == 1
    _assert_idle()


async def test_request_total_bounds_each_attempt_and_is_retried() -> None:
    calls = 0

    async def first_hangs(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(30)
        return MockTransport.respond(request, 200)

    retry = RetryMiddleware(RetryPolicy(jitter=False), sleep=SleepRecorder())
    chain = build_chain([retry, decode_errors], MockTransport(first_hangs).send)
    response = await chain(get().with_timeout(Timeouts(total=0.2)))
    assert response.status == 200
    assert response.attempts == 2
    assert calls == 2
    _assert_idle()


async def test_a_timeout_error_from_below_is_not_mistaken_for_ours() -> None:
    async def raises_timeout(request: Request) -> Response:
        raise TimeoutError("a per-attempt middleware's own")

    chain = _bounded_chain(raises_timeout, deadline=5.0)
    with pytest.raises(TimeoutError, match="middleware's own"):
        await chain(get())
    _assert_idle()


async def test_user_cancellation_of_a_bounded_attempt_propagates() -> None:
    started = asyncio.Event()

    async def hang(request: Request) -> Response:
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    chain = _bounded_chain(hang, deadline=5.0)
    task = asyncio.ensure_future(chain(get()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _assert_idle()


async def test_user_cancellation_racing_the_timeout_still_propagates() -> None:
    async def cancelled_while_timing_out(request: Request) -> Response:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            # The timeout fired; the caller cancels too before the attempt unwinds.
            asyncio.current_task().cancel()  # type: ignore[union-attr]
            raise
        raise AssertionError("not reached")

    chain = _bounded_chain(cancelled_while_timing_out, deadline=0.2)
    task = asyncio.ensure_future(chain(get()))
    with pytest.raises(asyncio.CancelledError):
        await task
    _assert_idle()


async def test_no_timer_or_task_is_left_after_bounded_calls() -> None:
    async def ok(request: Request) -> Response:
        return MockTransport.respond(request, 200)

    chain = _bounded_chain(ok, deadline=0.5)
    results = await asyncio.gather(*(chain(get()) for _ in range(20)))
    assert [r.status for r in results] == [200] * 20
    _assert_idle()


async def test_nested_bounded_calls_in_one_task_keep_their_own_limits() -> None:
    async def hang(request: Request) -> Response:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    inner = _bounded_chain(hang, deadline=0.2)
    inner_errors: list[APITimeoutError] = []

    async def nested(request: Request) -> Response:
        with pytest.raises(APITimeoutError) as info:
            await inner(get())
        inner_errors.append(info.value)
        return MockTransport.respond(request, 200)

    outer = _bounded_chain(nested, deadline=5.0)
    assert (await outer(get())).status == 200
    assert len(inner_errors) == 1
    _assert_idle()


def test_one_middleware_serves_two_event_loops_in_turn() -> None:
    async def hang(request: Request) -> Response:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    chain = _bounded_chain(hang, deadline=0.2)

    async def once() -> None:
        with pytest.raises(APITimeoutError):
            await chain(get())
        _assert_idle()

    asyncio.run(once())
    asyncio.run(once())
