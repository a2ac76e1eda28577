"""A virtual-time harness for the rate controller: many concurrent calls, no real waiting.

``VirtualTime`` replaces the clock and the sleeps of the client (pacing and retry
backoff) and of a mock gateway: sleeping registers a wake-up, and ``run`` advances time
straight to the next wake-up once every task is blocked. So a minute of 32 workers
against a token bucket plays out deterministically in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from qoder_async import QoderClient
from qoder_async._messages import Request, Response
from qoder_async.config import RetryPolicy
from qoder_async.ratelimit import RateController
from qoder_async.testing.throttle import Throttle
from qoder_async.transport import MockTransport

BASE = "https://api.example.test/api/v1/cloud"
DEPLOYMENT = json.loads((Path(__file__).parent / "fixtures" / "deployment.json").read_text())
_YIELDS = 30  # event-loop turns that let every runnable task reach its next sleep


class VirtualTime:
    """Simulated monotonic time shared by the client and the mock server."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def run(self, work: Awaitable[Any], *, limit: float = 3600.0) -> Any:
        """Run ``work`` to its end, moving time forward whenever everything waits."""
        task = asyncio.ensure_future(work)
        end = self.now + limit
        while not task.done():
            for _ in range(_YIELDS):
                await asyncio.sleep(0)
                if task.done():
                    break
            else:
                if not self._timers:
                    raise RuntimeError("deadlock: nothing to wake up")
                at, _, future = heapq.heappop(self._timers)
                if at > end:
                    raise RuntimeError("virtual time limit reached")
                self.now = max(self.now, at)
                if not future.done():
                    future.set_result(None)
        return task.result()


def rejection(request: Request, headers: dict[str, str] | None = None) -> Response:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    return MockTransport.respond(request, 429, json_body=body, headers=headers)


def gateway(
    throttle: Throttle, time: VirtualTime, *, latency: float = 0.002
) -> Callable[[Request], Awaitable[Response]]:
    """A mock server behind ``throttle`` (which must read ``time``): 429 or the deployment."""

    async def handle(request: Request) -> Response:
        passed, headers = throttle.admit(request.method)
        await time.sleep(latency)
        if not passed:
            return rejection(request, headers)
        return MockTransport.respond(request, json_body=DEPLOYMENT, headers=headers)

    return handle


def make_client(
    handler: Callable[[Request], Response | Awaitable[Response]],
    time: VirtualTime,
    rate_limit: Any = "auto",
) -> QoderClient:
    """A client on ``handler`` whose pacing and retries run on ``time``."""
    controller = rate_limit
    if not isinstance(rate_limit, RateController) and rate_limit is not None:
        controller = RateController(rate_limit, clock=time, sleep=time.sleep)
    return QoderClient(
        "pt-test",
        base_url=BASE,
        transport=MockTransport(handler),
        retry=RetryPolicy(max_attempts=20, deadline=None, max_retry_after=120.0),
        sleep=time.sleep,
        rate_limit=controller,
    )


async def archive_all(client: QoderClient, ids: list[str], workers: int = 32) -> None:
    """``workers`` concurrent loops archiving ``ids`` (each id once)."""
    pending = iter(ids)

    async def worker() -> None:
        for deployment_id in pending:
            await client.deployments.archive(deployment_id)

    await asyncio.gather(*(worker() for _ in range(workers)))
