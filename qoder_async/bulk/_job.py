"""The bulk job: feeds ids to bounded, throttle-aware concurrent calls (see the package doc)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from typing import Any

import attrs

from qoder_async import _validation
from qoder_async.bulk._limit import AdaptiveLimit
from qoder_async.bulk._report import BulkReport, ItemOutcome, Outcome
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

__all__ = ["BULK_RETRY", "BulkJob", "BulkOperation"]

BULK_RETRY = RetryPolicy(max_attempts=8, deadline=300.0, initial_backoff=0.1, max_backoff=5.0)
"""Bulk calls retry harder than interactive ones: a batch should finish, not give up."""


@attrs.frozen(kw_only=True)
class BulkOperation:
    """One action applied in bulk: how to call it and how to read its results.

    The job reads only what decides an outcome from the deployment the API returns (for
    archive, ``archived_at``), not the whole model: a report is about state, and a field
    the SDK does not know yet must not turn a done archive into a failure.

    Attributes:
        action: Name used in reports.
        call: Applies the action to one id; returns the deployment as a JSON object.
        fetch: Reads one deployment as a JSON object (to settle a conflict or an
            ambiguous failure).
        reached: Whether a deployment (JSON object) is in the target state.
        done: Outcome when this job applied the change.
        already: Outcome when the deployment was already in the target state.
    """

    action: str
    call: Callable[[str], Awaitable[Mapping[str, Any]]]
    fetch: Callable[[str], Awaitable[Mapping[str, Any]]]
    reached: Callable[[Mapping[str, Any]], bool]
    done: Outcome
    already: Outcome


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
                try:
                    deployment_id = _id_of(item, "ids item")
                except (TypeError, ValueError) as exc:
                    # One bad id from a stream is that id's failure, not the batch's:
                    # nothing is sent for it and the rest goes on.
                    bad = item.id if isinstance(item, Deployment) else str(item)
                    self._record(ItemOutcome(id=bad, outcome=Outcome.FAILED, error=exc))
                    continue
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
            # Throttling is the client's rate controller's to answer (it paces every
            # attempt); the job only counts it. Neither a lower concurrency nor a
            # batch-wide pause on Retry-After: both starved a rate-limited server.
            if error is not None and _is_throttle(error):
                self.report.throttled += 1

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
                if operation.reached(await operation.call(deployment_id)):
                    outcome, error = operation.done, None
                    break
                # A 2xx that does not show the change: settled below like a lost answer.
                raise ResponseDecodeError(
                    f"the {operation.action} answer does not show the change", status=200
                )
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
            state = await self._operation.fetch(deployment_id)
        except NotFoundError as exc:
            return Outcome.NOT_FOUND, exc
        except QoderError:
            return Outcome.FAILED, error
        if self._operation.reached(state):
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
