"""Bulk operations: archive, pause or unpause many deployments at once, safely.

The guarantees, in order of importance:

* **Exactly one outcome per id, no change applied twice.** Duplicate ids are dropped;
  each id gets one logical call, whose retries all carry the same ``Idempotency-Key``.
  A 409 is checked with a GET: an id already in the target state is a success
  (``already_archived``), anything else is an honest failure. When the last attempt
  ended ambiguously (a reset or a lost/truncated response), a GET tells whether the
  change landed before the id is reported failed.
* **Bounded, throttle-aware concurrency.** At most ``concurrency`` calls are in flight;
  when the API throttles (429, 503, connection resets) the whole batch pauses and the
  limit drops, then climbs back one step per round of successes (AIMD). An optional
  ``rate_limit`` caps calls per second (the API's documented write budget is 20/s).
* **Bounded memory on an unbounded source.** The source is read only when a slot is
  free, so an async iterable (e.g. a filtered ``list()``) is never drained ahead.
* **Clean cancellation.** Cancelling stops launching, cancels what is in flight and
  waits for it, and leaves ``job.report`` saying which ids were done and which were
  interrupted mid-call (their state is unknown).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable
from typing import Any

import attrs

from qoder_async import _validation
from qoder_async.config import RetryPolicy
from qoder_async.errors import (
    APIConnectionError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    QoderError,
    RateLimitError,
    ResponseDecodeError,
)
from qoder_async.models import Deployment
from qoder_async.retry import attempt_observer, policy_override

__all__ = [
    "BULK_RETRY",
    "AdaptiveLimit",
    "BulkJob",
    "BulkOperation",
    "BulkReport",
    "ItemOutcome",
    "Outcome",
]

BULK_RETRY = RetryPolicy(max_attempts=8, deadline=300.0, initial_backoff=0.1, max_backoff=5.0)
"""Bulk calls retry harder than interactive ones: a batch should finish, not give up."""


class Outcome(enum.StrEnum):
    """What happened to one id."""

    ARCHIVED = "archived"
    ALREADY_ARCHIVED = "already_archived"
    PAUSED = "paused"
    ALREADY_PAUSED = "already_paused"
    UNPAUSED = "unpaused"
    ALREADY_ACTIVE = "already_active"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """Cancelled while its call was in flight: the change may or may not have landed."""

    @property
    def ok(self) -> bool:
        """True when the id ended in the state the operation asked for."""
        return self in _OK


_OK = frozenset(
    {
        Outcome.ARCHIVED,
        Outcome.ALREADY_ARCHIVED,
        Outcome.PAUSED,
        Outcome.ALREADY_PAUSED,
        Outcome.UNPAUSED,
        Outcome.ALREADY_ACTIVE,
    }
)


@attrs.frozen(kw_only=True)
class ItemOutcome:
    """The outcome of one id.

    Attributes:
        id: The deployment id.
        outcome: What happened.
        error: The error behind ``failed`` (or ``not_found``), else ``None``.
        attempts: HTTP attempts spent on this id (GETs that checked a conflict included).
        latency: Seconds from launching the call to knowing the outcome.
    """

    id: str
    outcome: Outcome
    error: BaseException | None = None
    attempts: int = 0
    latency: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the id ended in the state the operation asked for."""
        return self.outcome.ok

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the error as its type and message)."""
        data: dict[str, Any] = {
            "id": self.id,
            "outcome": str(self.outcome),
            "attempts": self.attempts,
            "latency_ms": round(self.latency * 1000, 3),
        }
        if self.error is not None:
            data["error"] = f"{type(self.error).__name__}: {self.error}"
        return data


@attrs.define(kw_only=True)
class BulkReport:
    """Everything a bulk job did; live while it runs, final when it returns.

    Attributes:
        action: ``archive``, ``pause`` or ``unpause``.
        outcomes: One entry per id, in the order they finished.
        duplicates: Ids seen again in the input and skipped.
        attempts: HTTP attempts in all.
        throttled: Attempts the API throttled (429, 503, connection reset).
        min_concurrency: The lowest concurrency limit the job fell to.
        elapsed: Seconds the job has run.
        cancelled: Whether the job was cancelled before it finished its input.
    """

    action: str
    outcomes: dict[str, ItemOutcome] = attrs.field(factory=dict)
    duplicates: int = 0
    attempts: int = 0
    throttled: int = 0
    min_concurrency: int = 0
    elapsed: float = 0.0
    cancelled: bool = False

    @property
    def counts(self) -> Counter[str]:
        """Ids per outcome."""
        return Counter(str(item.outcome) for item in self.outcomes.values())

    @property
    def ok(self) -> bool:
        """True when the job finished and every id ended in the asked-for state."""
        return not self.cancelled and all(item.ok for item in self.outcomes.values())

    @property
    def failed(self) -> list[ItemOutcome]:
        """Outcomes that are not successes (failed, not found, interrupted)."""
        return [item for item in self.outcomes.values() if not item.ok]

    def ids(self, outcome: Outcome | str) -> list[str]:
        """Ids that ended with ``outcome``."""
        return [item.id for item in self.outcomes.values() if item.outcome == outcome]

    def latency_percentile(self, fraction: float) -> float:
        """Latency (seconds) at ``fraction`` (0..1) over finished ids; 0 when none."""
        latencies = sorted(item.latency for item in self.outcomes.values())
        if not latencies:
            return 0.0
        index = min(len(latencies) - 1, max(0, round(fraction * (len(latencies) - 1))))
        return latencies[index]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary without the per-id list."""
        return {
            "action": self.action,
            "total": len(self.outcomes),
            "counts": dict(self.counts),
            "duplicates": self.duplicates,
            "attempts": self.attempts,
            "throttled": self.throttled,
            "elapsed_s": round(self.elapsed, 3),
            "cancelled": self.cancelled,
            "ok": self.ok,
        }


@attrs.frozen(kw_only=True)
class BulkOperation:
    """One action applied in bulk: how to call it and how to read its results.

    Attributes:
        action: Name used in reports.
        call: Applies the action to one id.
        fetch: Reads one deployment (to check a conflict or an ambiguous failure).
        reached: Whether a deployment is already in the target state.
        done: Outcome when this job applied the change.
        already: Outcome when the deployment was already in the target state.
    """

    action: str
    call: Callable[[str], Awaitable[Any]]
    fetch: Callable[[str], Awaitable[Deployment]]
    reached: Callable[[Deployment], bool]
    done: Outcome
    already: Outcome


class AdaptiveLimit:
    """Additive-increase / multiplicative-decrease concurrency limit.

    Throttling cuts the limit to 70 % (at most once per ``cooldown`` seconds, so one
    burst of 429s counts once); every ``limit`` successes in a row raise it by one.
    """

    def __init__(self, maximum: int, *, minimum: int = 1, cooldown: float = 0.5) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.limit = maximum
        self.lowest = maximum
        self._cooldown = cooldown
        self._last_cut = -cooldown
        self._streak = 0

    def on_success(self) -> None:
        """One call went through unthrottled."""
        self._streak += 1
        if self._streak >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0

    def on_throttle(self, now: float) -> None:
        """The API throttled a call."""
        self._streak = 0
        if now - self._last_cut < self._cooldown:
            return
        self._last_cut = now
        self.limit = max(self.minimum, int(self.limit * 0.7))
        self.lowest = min(self.lowest, self.limit)


def _is_throttle(error: BaseException | None) -> bool:
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, InternalServerError):
        return error.status == 503
    return isinstance(error, APIConnectionError)


_ROUNDS = 5
"""Logical calls per id at most: the first, then fresh ones after transient failures."""


def _transient(error: QoderError) -> bool:
    if isinstance(error, APIConnectionError | RateLimitError | ResponseDecodeError):
        return True
    return isinstance(error, InternalServerError) and error.status != 505


class BulkJob:
    """A bulk operation over ids: ``await job`` for the report, or ``async for`` outcomes.

    Build one with ``client.deployments.bulk_archive(...)`` (or ``bulk_pause`` /
    ``bulk_unpause``); it starts when awaited or iterated, and runs once. ``report``
    is live while it runs and stays readable after a cancellation.
    """

    def __init__(
        self,
        operation: BulkOperation,
        ids: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
        *,
        concurrency: int = 32,
        min_concurrency: int = 1,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        on_outcome: Callable[[ItemOutcome], object] | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if rate_limit is not None and not rate_limit > 0:
            raise ValueError(f"rate_limit must be > 0 requests per second, got {rate_limit!r}")
        if isinstance(ids, str | bytes):
            raise TypeError("ids must be an iterable of ids, not a single string")
        if not isinstance(ids, AsyncIterable):
            # A bad id fails here, before any call.
            ids = [_id_of(item, f"ids[{index}]") for index, item in enumerate(ids)]
        self._operation = operation
        self._source = ids
        self._limit = AdaptiveLimit(concurrency, minimum=min_concurrency)
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._retry = retry or BULK_RETRY
        self._on_outcome = on_outcome
        self._callback_error: BaseException | None = None
        self._started = False
        self._pause_until = 0.0
        self._next_slot = 0.0
        self._in_flight: dict[asyncio.Task[None], str] = {}
        self._launched: set[str] = set()
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[ItemOutcome | None] | None = None
        self.report = BulkReport(action=operation.action, min_concurrency=concurrency)

    @property
    def concurrency(self) -> int:
        """The concurrency limit in force right now."""
        return self._limit.limit

    @property
    def in_flight(self) -> int:
        """Calls running right now."""
        return len(self._in_flight)

    def __await__(self) -> Generator[Any, None, BulkReport]:
        return self.run().__await__()

    async def __aiter__(self) -> AsyncIterator[ItemOutcome]:
        queue: asyncio.Queue[ItemOutcome | None] = asyncio.Queue()
        self._queue = queue
        runner = asyncio.ensure_future(self.run())
        runner.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (item := await queue.get()) is not None:
                yield item
            await runner  # re-raise what ended the run, if anything
        finally:
            if not runner.done():
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)

    async def run(self) -> BulkReport:
        """Run the job to the end and return its report."""
        if self._started:
            raise RuntimeError("a BulkJob runs once; build another for a second run")
        self._started = True
        started = time.monotonic()
        source = _aiter_ids(self._source)
        try:
            while True:
                await self._room()
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    break
                deployment_id = _id_of(item, "ids item")
                if deployment_id in self._launched:
                    self.report.duplicates += 1
                    continue
                self._launched.add(deployment_id)
                task = asyncio.create_task(self._one(deployment_id))
                self._in_flight[task] = deployment_id
                task.add_done_callback(self._finished)
            while self._in_flight:
                self._wake.clear()
                await self._wake.wait()
        except BaseException:
            self.report.cancelled = True
            await self._stop_in_flight()
            raise
        finally:
            await _close(source)
            self.report.elapsed = time.monotonic() - started
            self.report.min_concurrency = self._limit.lowest
        if self._callback_error is not None:
            raise self._callback_error
        return self.report

    async def _room(self) -> None:
        """Wait for a free slot, the end of a batch-wide pause, and the rate limit."""
        while len(self._in_flight) >= self._limit.limit:
            self._wake.clear()
            await self._wake.wait()
        now = time.monotonic()
        if self._pause_until > now:
            await asyncio.sleep(self._pause_until - now)
        if self._interval:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            if slot > now:
                await asyncio.sleep(slot - now)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()

    async def _stop_in_flight(self) -> None:
        interrupted = dict(self._in_flight)
        for task in interrupted:
            task.cancel()
        await asyncio.gather(*interrupted, return_exceptions=True)
        for deployment_id in interrupted.values():
            if deployment_id not in self.report.outcomes:
                self._record(ItemOutcome(id=deployment_id, outcome=Outcome.INTERRUPTED))

    def _observe(self, counter: list[int]) -> Callable[[int, BaseException | None], None]:
        def observe(number: int, error: BaseException | None) -> None:
            counter[0] += 1
            self.report.attempts += 1
            if error is None:
                self._limit.on_success()
            elif _is_throttle(error):
                self.report.throttled += 1
                now = time.monotonic()
                self._limit.on_throttle(now)
                # When the server says how long to wait, no new call starts before then
                # (capped). Otherwise the lower concurrency limit is the back-off: a fixed
                # batch-wide pause per throttled attempt would stall the batch for good
                # under a steady trickle of faults, and each call backs off on its own.
                wait = getattr(error, "retry_after", None)
                if wait is not None:
                    pause = min(wait, self._retry.max_retry_after)
                    self._pause_until = max(self._pause_until, now + pause)

        return observe

    async def _one(self, deployment_id: str) -> None:
        counter = [0]
        attempt_observer.set(self._observe(counter))
        policy_override.set(self._retry)
        operation = self._operation
        started = time.monotonic()
        error: BaseException | None = None
        for _ in range(_ROUNDS):
            try:
                await operation.call(deployment_id)
                outcome, error = operation.done, None
                break
            except NotFoundError as exc:
                outcome, error = Outcome.NOT_FOUND, exc
                break
            except ConflictError as exc:
                outcome, error = await self._settle(
                    deployment_id, exc, if_reached=operation.already
                )
                break
            except QoderError as exc:
                outcome, error = await self._settle(deployment_id, exc, if_reached=operation.done)
                if outcome is not Outcome.FAILED or not _transient(exc):
                    break
                # The call's own retries are spent and the GET says the change has not
                # landed. Another call (with a new key) cannot apply it twice: the API
                # answers a second archive/pause/unpause with 409, which settles above.
        self._record(
            ItemOutcome(
                id=deployment_id,
                outcome=outcome,
                error=error,
                attempts=counter[0],
                latency=time.monotonic() - started,
            )
        )

    async def _settle(
        self, deployment_id: str, error: QoderError, *, if_reached: Outcome
    ) -> tuple[Outcome, BaseException | None]:
        """After a 409 or an ambiguous failure, read the deployment to learn the truth."""
        try:
            deployment = await self._operation.fetch(deployment_id)
        except NotFoundError as exc:
            return Outcome.NOT_FOUND, exc
        except QoderError:
            return Outcome.FAILED, error
        if self._operation.reached(deployment):
            return if_reached, None
        return Outcome.FAILED, error

    def _record(self, item: ItemOutcome) -> None:
        self.report.outcomes[item.id] = item
        if self._on_outcome is not None and self._callback_error is None:
            try:
                self._on_outcome(item)
            except Exception as exc:  # surfaced by run() once in-flight work is done
                self._callback_error = exc
        if self._queue is not None:
            self._queue.put_nowait(item)


def _id_of(item: str | Deployment, name: str) -> str:
    if isinstance(item, Deployment):
        # Checked too: a deployment may come from a list whose server sent a bad id,
        # which must not end up in a URL path.
        return _validation.deployment_id(item.id, name=f"{name}.id")
    return _validation.deployment_id(item, name=name)


async def _aiter_ids(
    source: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
) -> AsyncIterator[str | Deployment]:
    if isinstance(source, AsyncIterable):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item


async def _close(source: AsyncIterator[Any]) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
