"""The retry middleware, on tenacity (the only module that imports it).

What is retried, and nothing else:

* connection errors that happened before the request was sent (always safe);
* connection errors and timeouts after it may have been sent, 408, and 5xx other than
  501/505 -- only when the request is idempotent: a GET, or a write carrying an
  ``Idempotency-Key`` (which the SDK mints once per call, above this layer, so every
  attempt repeats the same key and the API replays instead of re-applying);
* 429, which the gateway answers before the API sees the request;
* a 2xx whose body is cut off or not JSON at all (a failed transfer), again only when
  the request is idempotent -- a keyed write gets the original answer replayed.

Every call is bounded by ``max_attempts`` *and* a total ``deadline`` (backoff sleeps
included). Sleeps use exponential backoff with full jitter, or the server's
``Retry-After`` / ``retry-after-ms`` when it sent one; a ``Retry-After`` longer than
``max_retry_after`` (or than the time left) ends the retries and surfaces the error,
whose ``retry_after`` says how long the server asked for. ``CancelledError`` is never
retried or swallowed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import tenacity

from qoder_async._messages import Request, Response
from qoder_async.config import RetryPolicy
from qoder_async.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
    ResponseDecodeError,
)
from qoder_async.middleware import IDEMPOTENCY_HEADER, Handler
from qoder_async.observability import loggable_headers

__all__ = [
    "RetryMiddleware",
    "Sleep",
    "is_idempotent",
    "is_retryable",
    "is_throttle",
]

logger = logging.getLogger("qoder_async")

Sleep = Callable[[float], Awaitable[None]]
"""An async sleep; tests inject one that records instead of waiting."""

WATCHDOG_MIN_LIMIT = 5.0
"""Attempt limits of at least this many seconds are enforced by the shared watchdog.

Shorter ones keep a precise per-attempt ``asyncio.timeout``: the watchdog may cut an
attempt up to one tick late, which is noise next to a limit of minutes (the default
120 s deadline, bulk's 300 s) but not next to a sub-second one."""

WATCHDOG_TICK = 0.05
"""Seconds between two checks of the watchdog while any attempt is registered."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NEVER_RETRIED_5XX = frozenset({501, 505})


def is_idempotent(request: Request) -> bool:
    """Whether sending ``request`` twice cannot apply a change twice."""
    if request.method in _SAFE_METHODS:
        return True
    return bool(request.header(IDEMPOTENCY_HEADER) or request.header("X-Idempotency-Key"))


def is_retryable(request: Request, error: BaseException) -> bool:
    """Whether ``error`` from sending ``request`` may be retried (see the module doc)."""
    if isinstance(error, APIConnectionError):
        return not error.maybe_sent or is_idempotent(request)
    if isinstance(error, ResponseDecodeError):
        return error.corrupt and is_idempotent(request)
    if isinstance(error, APIStatusError):
        status = error.status
        if status == 429:
            return True
        if status == 408 or (status >= 500 and status not in _NEVER_RETRIED_5XX):
            return is_idempotent(request)
    return False


def is_throttle(error: BaseException | None) -> bool:
    """Whether ``error`` says the API is throttling or briefly unreachable.

    A 429, a 503 or a connection error: worth trying again later (unlike any other 4xx
    or a bad response), and a sign to send less for a while.
    """
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, InternalServerError):
        return error.status == 503
    return isinstance(error, APIConnectionError)


# One watched attempt: [task, due (loop time), fired, task.cancelling() when registered].
# A plain list, not a class: one is made per call on the hot path.
_Watch = list[Any]


class _Watchdog:
    """Enforces far attempt limits for every attempt running on one event loop.

    ``asyncio.timeout`` arms and cancels a timer (plus an async context manager) for
    every attempt; with thousands of calls in flight that bookkeeping was a visible share
    of the client's CPU. Here an attempt registers its task and due time in a dict, and
    a single ``call_later`` handle, armed only while anything is registered, checks them
    every ``tick`` seconds and cancels the tasks past due, marking their entries fired so
    ``_attempt`` can tell its own timeout from a cancellation by anyone else. No task is
    created and no handle is left once the last attempt has left.
    """

    __slots__ = ("__weakref__", "_handle", "_tick", "_watches")

    def __init__(self, tick: float) -> None:
        self._tick = tick
        self._watches: dict[int, _Watch] = {}
        self._handle: asyncio.TimerHandle | None = None

    def watch(
        self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], limit: float
    ) -> _Watch:
        """Register ``task`` to be cancelled once ``limit`` seconds have passed."""
        entry: _Watch = [task, loop.time() + limit, False, task.cancelling()]
        # Keyed by the entry, not the task: a middleware may make a nested call from
        # the same task, and each attempt must keep (and release) its own registration.
        self._watches[id(entry)] = entry
        if self._handle is None:
            self._handle = loop.call_later(self._tick, self._check, loop)
        return entry

    def release(self, entry: _Watch) -> bool:
        """Unregister ``entry``; whether the watchdog cancelled its task (told only once)."""
        watches = self._watches
        watches.pop(id(entry), None)
        if not watches and self._handle is not None:
            self._handle.cancel()
            self._handle = None
        fired = entry[2]
        entry[2] = False
        return fired is True

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        watches = self._watches
        expired = [key for key, entry in watches.items() if entry[1] <= now]
        for key in expired:
            entry = watches.pop(key)
            entry[2] = True
            entry[0].cancel()
        self._handle = loop.call_later(self._tick, self._check, loop) if watches else None

    @property
    def active(self) -> int:
        """How many attempts are registered (for tests and debugging)."""
        return len(self._watches)

    @property
    def armed(self) -> bool:
        """Whether the watchdog's timer is scheduled (for tests and debugging)."""
        return self._handle is not None


# One watchdog per event loop, shared by every client on it; held weakly by loop so a
# closed loop (asyncio.run once per test or per script) takes its watchdog with it.
_WATCHDOGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)


def _watchdog_for(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    watchdog = _WATCHDOGS.get(loop)
    if watchdog is None:
        watchdog = _WATCHDOGS.setdefault(loop, _Watchdog(WATCHDOG_TICK))
    return watchdog


class RetryMiddleware:
    """Retries one logical call according to a ``RetryPolicy``.

    Args:
        policy: Attempts, deadline, backoff and ``Retry-After`` cap.
        attempt_timeout: Seconds one attempt may take (``None``: only the deadline).
        sleep: The sleep to use between attempts (injectable for tests).
        rng: Source of jitter (injectable for reproducible tests).
        watchdog_min_limit: Attempt limits of at least this many seconds are enforced
            by the event loop's shared watchdog (within ``WATCHDOG_TICK`` of the
            limit), shorter ones by a precise per-attempt timer.
    """

    __slots__ = ("_attempt_timeout", "_policy", "_rng", "_sleep", "_watchdog_min_limit")

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        attempt_timeout: float | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
        watchdog_min_limit: float = WATCHDOG_MIN_LIMIT,
    ) -> None:
        self._policy = policy
        self._attempt_timeout = attempt_timeout
        self._sleep: Sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._watchdog_min_limit = watchdog_min_limit

    @property
    def policy(self) -> RetryPolicy:
        """The policy in force."""
        return self._policy

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        """Run the call, retrying failed attempts while the policy allows."""
        started = time.monotonic()
        policy = self._policy
        # The first attempt runs outside tenacity: nearly every call succeeds at once,
        # and building the retry state machine only when needed keeps the hot path lean.
        try:
            return await self._attempt(policy, request, call_next, 0.0, 1)
        except Exception as error:
            if policy.max_attempts == 1 or not is_retryable(request, error):
                raise
            first_error = error
        return await self._retry(policy, request, call_next, started, first_error)

    async def _retry(
        self,
        policy: RetryPolicy,
        request: Request,
        call_next: Handler,
        started: float,
        first_error: Exception,
    ) -> Response:
        # The deadline counts time spent in attempts plus the backoff the policy asked
        # for; with the real sleep that is wall time, with an injected sleep it stays
        # consistent (tests never wait, yet still see the deadline enforced).
        slept_for_real = 0.0
        asked_to_sleep = 0.0

        async def sleep(seconds: float) -> None:
            nonlocal slept_for_real, asked_to_sleep
            asked_to_sleep += seconds
            begun = time.monotonic()
            await self._sleep(seconds)
            slept_for_real += time.monotonic() - begun

        def elapsed() -> float:
            return time.monotonic() - started - slept_for_real + asked_to_sleep

        def should_retry(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            assert outcome is not None
            error = outcome.exception()
            return error is not None and is_retryable(request, error)

        def wait(state: tenacity.RetryCallState) -> float:
            retry_after = _retry_after(state)
            if retry_after is not None:
                return retry_after
            ceiling = min(
                policy.max_backoff, policy.initial_backoff * 2 ** (state.attempt_number - 1)
            )
            return self._rng.uniform(0.0, ceiling) if policy.jitter else ceiling

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= policy.max_attempts:
                return True
            retry_after = _retry_after(state)
            if retry_after is not None and retry_after > policy.max_retry_after:
                return True
            if policy.deadline is None:
                return False
            return elapsed() + state.upcoming_sleep >= policy.deadline

        def before_sleep(state: tenacity.RetryCallState) -> None:
            assert state.outcome is not None
            logger.info(
                "retrying %s %s in %.3fs after attempt %d: %s",
                request.method,
                request.path,
                state.upcoming_sleep,
                state.attempt_number,
                _describe(state.outcome.exception()),
            )

        retrying = tenacity.AsyncRetrying(
            retry=should_retry,
            wait=wait,
            stop=stop,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first_error  # replays the attempt made before tenacity
                return await self._attempt(policy, request, call_next, elapsed(), number)
        raise AssertionError("unreachable: tenacity either returns or reraises")

    async def _attempt(
        self,
        policy: RetryPolicy,
        request: Request,
        call_next: Handler,
        elapsed: float,
        number: int,
    ) -> Response:
        begun = time.monotonic()
        limit = self._attempt_timeout
        deadline = policy.deadline
        if deadline is not None:
            remaining = deadline - elapsed
            if remaining <= 0:
                raise APITimeoutError(
                    f"the call's {deadline}s deadline passed before attempt {number}",
                    request=request,
                    maybe_sent=False,
                )
            limit = remaining if limit is None else min(limit, remaining)
        try:
            if limit is None:
                response = await call_next(request)
            elif limit >= self._watchdog_min_limit and (task := asyncio.current_task()):
                loop = asyncio.get_running_loop()
                watchdog = _watchdog_for(loop)
                watch = watchdog.watch(loop, task, limit)
                try:
                    response = await call_next(request)
                except asyncio.CancelledError:
                    # Ours only if the watchdog fired for this attempt and nobody else
                    # cancelled the task meanwhile (asyncio.timeout's own rule): a
                    # caller's cancellation always propagates, never converted.
                    if not watchdog.release(watch) or task.uncancel() > watch[3]:
                        raise
                    raise _timed_out(request, limit, number) from TimeoutError()
                finally:
                    if watchdog.release(watch):
                        # Fired, but the attempt ended otherwise (its code swallowed
                        # the cancellation): withdraw the request so it cannot leak.
                        task.uncancel()
            else:
                try:
                    async with asyncio.timeout(limit):
                        response = await call_next(request)
                except TimeoutError as exc:
                    raise _timed_out(request, limit, number) from exc
        except Exception as error:
            if logger.isEnabledFor(logging.DEBUG):
                _log_attempt(request, number, begun, error=error)
            raise
        if logger.isEnabledFor(logging.DEBUG):
            _log_attempt(request, number, begun, response=response)
        return response


def _timed_out(request: Request, limit: float, number: int) -> APITimeoutError:
    return APITimeoutError(
        f"{request.method} {request.path} timed out after {limit:.3g}s (attempt {number})",
        request=request,
        maybe_sent=True,
    )


def _retry_after(state: tenacity.RetryCallState) -> float | None:
    assert state.outcome is not None
    return getattr(state.outcome.exception(), "retry_after", None)


def _describe(error: BaseException | None) -> str:
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status}"
    return f"{type(error).__name__}: {error}"


def _log_attempt(
    request: Request,
    number: int,
    begun: float,
    *,
    response: Response | None = None,
    error: BaseException | None = None,
) -> None:
    # The headers as sent (auth and defaults are added below this layer), when known.
    sent = request
    response_headers: dict[str, str] | None = None
    if response is not None:
        status: object = response.status
        request_id = response.header("x-request-id") or response.header("request-id")
        sent = response.request
        response_headers = loggable_headers(response.headers)
    else:
        status = getattr(error, "status", None) or type(error).__name__
        request_id = getattr(error, "request_id", None)
        attempted = getattr(error, "request", None)
        if isinstance(attempted, Request):
            sent = attempted
    logger.debug(
        "%s %s status=%s attempt=%d elapsed_ms=%.1f request_id=%s idempotency_key=%s "
        "request_headers=%s response_headers=%s",
        request.method,
        request.path,
        status,
        number,
        (time.monotonic() - begun) * 1000.0,
        request_id,
        request.header(IDEMPOTENCY_HEADER),
        loggable_headers(sent.headers),
        response_headers,
        extra={
            "qoder_method": request.method,
            "qoder_path": request.path,
            "qoder_status": status,
            "qoder_attempt": number,
            "qoder_request_id": request_id,
        },
    )
