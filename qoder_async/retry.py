"""The retry middleware, composed from tenacity's parts (the only module importing it).

What is retried, and nothing else:

* connection errors that happened before the request was sent (always safe);
* connection errors and timeouts after it may have been sent, 408, and 5xx other than
  501/505 -- only when the request is idempotent: a GET, or a write carrying an
  ``Idempotency-Key`` (which the SDK mints once per call, above this layer, so every
  attempt repeats the same key and the API replays instead of re-applying);
* 429, which the gateway answers before the API sees the request;
* a 2xx whose body is cut off or not JSON at all (a failed transfer), again only when
  the request is idempotent -- a keyed write gets the original answer replayed.

How long to wait and when to stop are tenacity's own strategies, built once per policy:
``wait_exponential`` with full jitter (``wait_random_exponential``'s algorithm, drawing
from an injectable ``random.Random``) unless the server sent ``Retry-After`` /
``retry-after-ms``, and ``stop_after_attempt | stop_before_delay(deadline)`` plus a stop
on a ``Retry-After`` longer than ``max_retry_after`` (the error then surfaces with its
``retry_after``). One mechanism bounds an attempt: ``asyncio.timeout`` set to the
request's ``Timeouts.total`` or the time left before the deadline, whichever is first.
``CancelledError`` is never retried or swallowed.

The first attempt runs before any tenacity state exists: nearly every call succeeds at
once, and a ``RetryCallState`` is built only when there is something to retry -- it then
starts from that first attempt's outcome, nothing is replayed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import tenacity

from qoder_async._messages import Request, Response
from qoder_async.config import RetryPolicy
from qoder_async.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    QoderError,
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


def _may_have_reached(error: BaseException) -> bool:
    """Whether the attempt that raised ``error`` may have reached (and changed) the API."""
    if isinstance(error, APIConnectionError):
        return error.maybe_sent
    if isinstance(error, ResponseDecodeError):
        return True  # a 2xx status line arrived: the API answered
    if isinstance(error, APIStatusError):
        # 429 comes from the gateway and 4xx are refusals; a 5xx or 408 may come after
        # the API applied the change and failed to answer.
        return error.status == 408 or error.status >= 500
    return True  # raised by a user middleware: nothing says it did not


class _wait_full_jitter(tenacity.wait_exponential):
    """``wait_random_exponential``'s full jitter, drawing from an injectable ``rng``."""

    def __init__(self, rng: random.Random, *, multiplier: float, max: float) -> None:
        super().__init__(multiplier=multiplier, max=max)
        self._rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return self._rng.uniform(0.0, super().__call__(retry_state))


class _wait_retry_after(tenacity.wait.wait_base):
    """The server's ``Retry-After`` when the last error carries one, else ``fallback``."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self._fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        retry_after = _retry_after(retry_state)
        return self._fallback(retry_state) if retry_after is None else retry_after


class _stop_if_retry_after_beyond(tenacity.stop.stop_base):
    """Stop when the server asks for a longer wait than ``cap`` seconds."""

    def __init__(self, cap: float) -> None:
        self._cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        retry_after = _retry_after(retry_state)
        return retry_after is not None and retry_after > self._cap


class _Plan:
    """A policy's tenacity wait and stop strategies, built once and shared by calls."""

    __slots__ = ("stop", "wait")

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        backoff: tenacity.wait.wait_base = (
            _wait_full_jitter(rng, multiplier=policy.initial_backoff, max=policy.max_backoff)
            if policy.jitter
            else tenacity.wait_exponential(
                multiplier=policy.initial_backoff, max=policy.max_backoff
            )
        )
        self.wait = _wait_retry_after(backoff)
        stop = tenacity.stop_after_attempt(policy.max_attempts) | _stop_if_retry_after_beyond(
            policy.max_retry_after
        )
        if policy.deadline is not None:
            stop = stop | tenacity.stop_before_delay(policy.deadline)
        self.stop = stop


class RetryMiddleware:
    """Retries one logical call according to a ``RetryPolicy``.

    Each attempt is bounded by the request's ``Timeouts.total`` and by the time left
    before the policy's ``deadline``; the last error surfaces with ``attempts`` and
    ``maybe_applied`` set (see ``QoderError``).

    Args:
        policy: Attempts, deadline, backoff and ``Retry-After`` cap.
        sleep: The sleep to use between attempts (injectable for tests; the deadline
            counts the time it was asked to sleep, so tests see it enforced at once).
        rng: Source of jitter (injectable for reproducible tests).
    """

    __slots__ = ("_plans", "_policy", "_rng", "_sleep")

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._policy = policy
        self._sleep: Sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._plans: dict[RetryPolicy, _Plan] = {}

    @property
    def policy(self) -> RetryPolicy:
        """The policy in force."""
        return self._policy

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        """Run the call, retrying failed attempts while the policy allows."""
        started = time.monotonic()
        policy = self._policy
        timeouts = request.timeout
        total = None if timeouts is None else timeouts.total
        limit = _earliest(total, policy.deadline)
        # The first attempt, written out rather than through ``_attempt``: nearly every
        # call ends here, and this saves a coroutine per call (see ``_attempt``).
        try:
            if limit is None:
                response = await call_next(request)
            else:
                timer = asyncio.timeout(limit)
                try:
                    async with timer:
                        response = await call_next(request)
                except TimeoutError as exc:
                    if not timer.expired():
                        raise
                    raise _timed_out(request, limit, 1) from exc
        except Exception as error:
            _attempt_ended(request, 1, started, error=error)
            if policy.max_attempts == 1 or not is_retryable(request, error):
                _annotate(request, error, 1, _may_have_reached(error))
                raise
            failed = error
        else:
            _attempt_ended(request, 1, started, response=response)
            return response
        # Outside the except block: a later attempt's error must not be chained to this
        # one as "during handling of the above exception".
        return await self._retry(request, call_next, policy, failed, started)

    async def _retry(
        self,
        request: Request,
        call_next: Handler,
        policy: RetryPolicy,
        error: Exception,
        started: float,
    ) -> Response:
        plan = self._plans.get(policy)
        if plan is None:
            plan = self._plans.setdefault(policy, _Plan(policy, self._rng))
        timeouts = request.timeout
        total = None if timeouts is None else timeouts.total
        deadline = policy.deadline
        reached = _may_have_reached(error)
        state = tenacity.RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.start_time = started  # the call's clock, first attempt included
        while True:
            state.set_exception((type(error), error, error.__traceback__))
            number = state.attempt_number
            if not is_retryable(request, error):
                break
            state.upcoming_sleep = plan.wait(state)
            if plan.stop(state):
                break
            _log_retry(request, state, error)
            asked = state.upcoming_sleep
            begun = time.monotonic()
            await self._sleep(asked)
            # Count at least the sleep asked for: with an injected sleep that returns at
            # once the deadline still holds, as it would for real.
            state.start_time -= max(0.0, asked - (time.monotonic() - begun))
            state.idle_for += asked
            state.prepare_for_next_attempt()
            elapsed = time.monotonic() - state.start_time
            remaining = None if deadline is None else deadline - elapsed
            try:
                return await self._attempt(
                    request, call_next, _earliest(total, remaining), number + 1
                )
            except Exception as exc:
                error = exc
                reached = reached or _may_have_reached(error)
        _annotate(request, error, number, reached)
        raise error

    async def _attempt(
        self,
        request: Request,
        call_next: Handler,
        limit: float | None,
        number: int,
    ) -> Response:
        begun = time.monotonic()
        try:
            if limit is None:
                response = await call_next(request)
            elif limit <= 0:
                raise APITimeoutError(
                    f"the call's deadline passed before attempt {number}",
                    request=request,
                    maybe_sent=False,
                )
            else:
                timer = asyncio.timeout(limit)
                try:
                    async with timer:
                        response = await call_next(request)
                except TimeoutError as exc:
                    if not timer.expired():
                        raise  # not ours: some layer below raised it
                    raise _timed_out(request, limit, number) from exc
        except Exception as error:
            _attempt_ended(request, number, begun, error=error)
            raise
        _attempt_ended(request, number, begun, response=response)
        response.mark_attempts(number)
        return response


def _attempt_ended(
    request: Request,
    number: int,
    begun: float,
    *,
    response: Response | None = None,
    error: BaseException | None = None,
) -> None:
    """Log the attempt (at debug level)."""
    if logger.isEnabledFor(logging.DEBUG):
        _log_attempt(request, number, begun, response=response, error=error)


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    if second is None or first < second:
        return first
    return second


def _annotate(request: Request, error: BaseException, attempts: int, reached: bool) -> None:
    """Tell the error how the call went: attempts made, and whether a write may have landed."""
    if isinstance(error, QoderError):
        error.attempts = attempts
        error.maybe_applied = reached and request.method not in _SAFE_METHODS


def _log_retry(request: Request, state: tenacity.RetryCallState, error: BaseException) -> None:
    logger.info(
        "retrying %s %s in %.3fs after attempt %d: %s",
        request.method,
        request.path,
        state.upcoming_sleep,
        state.attempt_number,
        _describe(error),
    )


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
