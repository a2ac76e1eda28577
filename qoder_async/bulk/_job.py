"""The bulk job: feeds ids to a fixed number of concurrent calls (see the package doc)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
)
from typing import TYPE_CHECKING, Any

from qoder_async import _validation
from qoder_async.bulk._operations import BulkOperation
from qoder_async.bulk._report import BulkReport, ItemOutcome, Outcome
from qoder_async.bulk._watch import AttemptWatch, Breaker, Track
from qoder_async.config import RetryPolicy
from qoder_async.errors import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    QoderError,
    RateLimitError,
    ResponseDecodeError,
)
from qoder_async.models import Deployment
from qoder_async.retry import is_throttle

if TYPE_CHECKING:
    from qoder_async.resources.deployments import DeploymentsAPI

__all__ = ["BULK_RETRY", "BulkJob"]

BULK_RETRY = RetryPolicy(max_attempts=8, deadline=300.0, initial_backoff=0.1, max_backoff=5.0)
"""Bulk calls retry harder than interactive ones: a batch should finish, not give up."""

_ROUNDS = 5
"""Logical calls per id at most: the first, then fresh ones after transient failures."""

STOP_GRACE = 2.0
"""Seconds the calls in flight may take to finish once a 401/403 has stopped the job."""


def _transient(error: QoderError) -> bool:
    if isinstance(error, APIConnectionError | RateLimitError | ResponseDecodeError):
        return True
    return isinstance(error, InternalServerError) and error.status != 505


class BulkJob:
    """A bulk operation over ids: ``await job`` for the report, or ``async for`` outcomes.

    Build one with ``client.deployments.bulk_archive(...)`` (or ``bulk_pause`` /
    ``bulk_unpause``; ``clock`` and ``sleep``, for the ``rate_limit`` pacing, exist for
    tests); it starts when awaited or iterated, and runs once. ``report``
    is live while it runs and stays readable after a cancellation or a stop.

    A job stops early on a 401 or 403 (no other id could fare better; the calls already
    in flight get ``STOP_GRACE`` seconds to take their answer) and when the host never
    answers while connection attempts keep failing. Ids it had not reached then end
    ``not_attempted``; ``report.stopped`` holds the error, and awaiting (or
    iterating) the job raises it once every outcome is recorded.
    """

    def __init__(
        self,
        api: DeploymentsAPI,
        operation: BulkOperation,
        ids: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        on_outcome: Callable[[ItemOutcome], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
        self._concurrency = concurrency
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._clock = clock
        self._sleep = sleep  # the rate limit's pacing (injectable for tests)
        self._tracks: dict[asyncio.Task[None], Track] = {}
        self._breaker = Breaker()
        self._api = api.with_options(
            retry=retry or BULK_RETRY,
            per_attempt_middleware=[AttemptWatch(self._attempt_ended, self._tracks)],
        )
        self._on_outcome = on_outcome
        self._callback_error: BaseException | None = None
        self._started = False
        self._next_slot = 0.0
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[ItemOutcome | None] | None = None
        self.report = BulkReport(action=operation.action)

    @property
    def concurrency(self) -> int:
        """Most calls in flight at once."""
        return self._concurrency

    @property
    def in_flight(self) -> int:
        """Calls running right now."""
        return len(self._tracks)

    def __await__(self) -> Generator[Any, None, BulkReport]:
        return self.run().__await__()

    async def __aiter__(self) -> AsyncGenerator[ItemOutcome, None]:
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
        """Run the job to the end and return its report (raises ``report.stopped``)."""
        if self._started:
            raise RuntimeError("a BulkJob runs once; build another for a second run")
        self._started = True
        started = time.monotonic()
        source = _aiter_ids(self._source)
        launched: set[str] = set()
        try:
            while await self._room():
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
                    failure = QoderError(str(exc))
                    self._record(ItemOutcome(id=bad, outcome=Outcome.FAILED, error=failure))
                    continue
                if deployment_id in launched:
                    self.report.duplicates += 1
                    continue
                launched.add(deployment_id)
                if self._interval and not await self._pace():
                    launched.discard(deployment_id)  # stopped while pacing: never sent
                    break
                task = asyncio.create_task(self._one(deployment_id))
                self._tracks[task] = Track(deployment_id)
                task.add_done_callback(self._finished)
            while self._tracks and self.report.stopped is None:
                self._wake.clear()
                await self._wake.wait()
            if self.report.stopped is not None:
                if self._tracks and not isinstance(self.report.stopped, APIConnectionError):
                    # After a 401/403 the calls in flight get their own answer (the same
                    # refusal, at once) instead of ending "interrupted", within a bound.
                    # A dead host's calls would only go on retrying: they are cut now.
                    await asyncio.wait(list(self._tracks), timeout=STOP_GRACE)
                await self._stop_in_flight()
                if not isinstance(self._source, AsyncIterable):
                    # A list's unread ids are known: say what happened to them. An async
                    # source is not drained (it may be a listing that would fail too).
                    for rest in self._source:
                        rest_id = _id_of(rest, "ids item")
                        if rest_id not in launched:
                            launched.add(rest_id)
                            self._skip(rest_id)
        except BaseException:
            self.report.cancelled = True
            await self._stop_in_flight()
            raise
        finally:
            await _close(source)
            self.report.elapsed = time.monotonic() - started
        if self._callback_error is not None:
            raise self._callback_error
        if self.report.stopped is not None:
            raise self.report.stopped
        return self.report

    async def _room(self) -> bool:
        """Wait for a free slot; False once the job has stopped."""
        while len(self._tracks) >= self._concurrency and self.report.stopped is None:
            self._wake.clear()
            await self._wake.wait()
        return self.report.stopped is None

    async def _pace(self) -> bool:
        """Wait for this launch's turn under ``rate_limit``; False once stopped."""
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)
        return self.report.stopped is None

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tracks.pop(task, None)
        self._wake.set()

    def _stop(self, error: QoderError) -> None:
        """Stop launching; ``run`` then stops what is in flight. The first reason wins."""
        if self.report.stopped is None:
            self.report.stopped = error
            self._wake.set()

    async def _stop_in_flight(self) -> None:
        interrupted = dict(self._tracks)
        for task in interrupted:
            task.cancel()
        await asyncio.gather(*interrupted, return_exceptions=True)
        for track in interrupted.values():
            if track.id in self.report.outcomes:
                continue
            if self.report.stopped is not None and track.untouched:
                self._skip(track.id, attempts=track.attempts)
            else:
                self._record(
                    ItemOutcome(id=track.id, outcome=Outcome.INTERRUPTED, attempts=track.attempts)
                )

    def _skip(self, deployment_id: str, *, attempts: int = 0) -> None:
        self._record(
            ItemOutcome(
                id=deployment_id,
                outcome=Outcome.NOT_ATTEMPTED,
                error=self.report.stopped,
                attempts=attempts,
            )
        )

    def _attempt_ended(self, track: Track | None, error: BaseException | None) -> None:
        self.report.attempts += 1
        if is_throttle(error):
            self.report.throttled += 1
        reason = self._breaker.observe(error)
        if reason is not None:
            self._stop(reason)

    async def _one(self, deployment_id: str) -> None:
        task = asyncio.current_task()
        operation = self._operation
        started = time.monotonic()
        error: QoderError | None = None
        for _ in range(_ROUNDS):
            try:
                if operation.reached(await operation.call(self._api, deployment_id)):
                    outcome, error = operation.done, None
                    break
                # A 2xx that does not show the change: settled below like a lost answer.
                raise ResponseDecodeError(
                    f"the {operation.action} answer does not show the change", status=200
                )
            except NotFoundError as exc:
                outcome, error = Outcome.NOT_FOUND, exc
                break
            except (AuthenticationError, PermissionDeniedError) as exc:
                # The token cannot do this: no other id would fare better.
                outcome, error = Outcome.FAILED, exc
                self._stop(exc)
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
        track = self._tracks.get(task) if task is not None else None
        self._record(
            ItemOutcome(
                id=deployment_id,
                outcome=outcome,
                error=error,
                attempts=track.attempts if track else 0,
                latency=time.monotonic() - started,
            )
        )

    async def _settle(
        self, deployment_id: str, error: QoderError, *, if_reached: Outcome
    ) -> tuple[Outcome, QoderError | None]:
        """After a 409 or an ambiguous failure, read the deployment to learn the truth."""
        try:
            state = await self._api.get(deployment_id)
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
