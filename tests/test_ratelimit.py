"""The client-wide rate controller, in virtual time (no test waits for real time).

``tests.ratelimit_sim`` runs the client's pacing and retry sleeps and a mock gateway
(the fake server's own ``Throttle`` token bucket) on one simulated clock, so 32
concurrent calls against a rate-limited server play out deterministically.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from qoder_async import QoderClient
from qoder_async._messages import Request, Response
from qoder_async.ratelimit import START_RATE, RateController
from qoder_async.testing.throttle import Throttle
from qoder_async.transport import MockTransport
from tests.ratelimit_sim import (
    BASE,
    DEPLOYMENT,
    VirtualTime,
    archive_all,
    gateway,
    make_client,
    rejection,
)


def ids(n: int, start: int = 0) -> list[str]:
    return [f"dep_{i}" for i in range(start, start + n)]


async def keep_archiving(client: QoderClient, throttle: Throttle, until: float) -> None:
    """32 workers archiving until ``until`` seconds after the throttle's first request."""

    async def worker() -> None:
        while throttle.elapsed() < until:
            await client.deployments.archive("dep_1")

    await asyncio.gather(*(worker() for _ in range(32)))


async def test_an_unthrottled_client_never_waits() -> None:
    time = VirtualTime()
    client = make_client(gateway(Throttle(rate=1e6, clock=time), time), time)
    await time.run(archive_all(client, ids(500)))
    await time.run(client.deployments.get("dep_1"))
    assert all(wait == 0.002 for wait in time.slept)  # only the server's latency
    assert client.rate_control is not None
    assert client.rate_control.rate("write") is None
    assert client.rate_control.rate("read") is None


async def test_it_finds_the_allowed_rate_and_then_rarely_hits_it() -> None:
    time = VirtualTime()
    throttle = Throttle(rate=50, burst=10, retry_after=False, clock=time)
    client = make_client(gateway(throttle, time), time)
    await time.run(archive_all(client, ids(300)))  # learning
    throttled, start = throttle.throttled, time.now
    await time.run(archive_all(client, ids(1000, 300)))
    # Paced at the allowed rate, with a 429 only now and then (when probing upward).
    assert 1000 / (time.now - start) >= 0.95 * 50
    assert throttle.throttled - throttled <= 0.03 * 1000


@pytest.mark.parametrize(("rate", "burst", "latency"), [(10, 10, 0.003), (20, 5, 0.02)])
async def test_probing_a_low_limit_costs_few_429s(
    rate: float, burst: float, latency: float
) -> None:
    time = VirtualTime()
    throttle = Throttle(rate=rate, burst=burst, clock=time)
    client = make_client(gateway(throttle, time, latency=latency), time)
    await time.run(archive_all(client, ids(100)))  # learning
    throttled, start = throttle.throttled, time.now
    await time.run(archive_all(client, ids(1000, 100)))
    # Probing for a higher limit is paid in 429s per request, not per second: at a
    # few requests a second it stays at two per 100 requests or fewer (a probe every
    # few seconds whatever the rate would cost 2-4 here), while using the whole rate.
    assert throttle.throttled - throttled <= 0.02 * 1000
    assert 1000 / (time.now - start) >= 0.95 * rate


async def test_a_lowered_limit_is_followed_down_and_a_raised_one_up() -> None:
    time = VirtualTime()
    throttle = Throttle(rate=100, burst=20, clock=time, schedule=[(10.0, 30.0), (20.0, 100.0)])
    client = make_client(gateway(throttle, time), time)
    await time.run(keep_archiving(client, throttle, 30.0))

    def accepted(start: float, end: float) -> int:
        return sum(throttle.timeline[tick] for tick in range(int(start * 10), int(end * 10)))

    # Within 5 s of each change, everything the server allows is used again...
    assert accepted(15.0, 20.0) >= 0.95 * 30 * 5
    assert accepted(25.0, 30.0) >= 0.95 * 100 * 5
    # ... and little is refused on the way (the first burst, a drop, a few probes).
    assert throttle.throttled <= 0.05 * throttle.accepted


async def test_a_write_limit_leaves_reads_alone() -> None:
    time = VirtualTime()
    throttle = Throttle(rate=20, burst=5, methods={"POST"}, clock=time)
    client = make_client(gateway(throttle, time), time)
    await time.run(archive_all(client, ids(100)))
    assert throttle.throttled > 0
    assert client.rate_control is not None
    assert client.rate_control.rate("write") is not None
    time.slept.clear()

    async def read_many() -> None:
        for _ in range(200):
            await client.deployments.get("dep_1")

    await time.run(read_many())
    assert all(wait == 0.002 for wait in time.slept)  # no pacing, only the latency
    assert client.rate_control.rate("read") is None


async def test_rate_limit_headers_set_the_pace_so_no_429_follows() -> None:
    time = VirtualTime()
    throttle = Throttle(rate=40, burst=10, headers=True, clock=time)
    client = make_client(gateway(throttle, time), time)
    await time.run(archive_all(client, ids(100)))
    # Only the first wave, sent at once before any answer, could meet an empty bucket.
    assert throttle.throttled <= 32
    throttled, start = throttle.throttled, time.now
    await time.run(archive_all(client, ids(800, 100)))
    assert throttle.throttled == throttled
    assert 800 / (time.now - start) >= 0.97 * 40


async def test_retry_after_delays_that_request_only_not_the_pace() -> None:
    time = VirtualTime()
    answers = iter([429, 200, 200, 200])

    def handle(request: Request) -> Response:
        if next(answers) == 429:
            return rejection(request, {"Retry-After": "30"})
        return MockTransport.respond(request, json_body=DEPLOYMENT)

    client = make_client(handle, time)
    await time.run(client.deployments.archive("dep_1"))
    assert 30.0 in time.slept  # the retry layer waited for that request
    time.slept.clear()
    await time.run(client.deployments.archive("dep_2"))
    # The next call was not held back by the 30 s: at most one pacing interval.
    assert sum(time.slept) <= 1.0 / START_RATE


async def test_a_fixed_rate_paces_every_attempt() -> None:
    time = VirtualTime()
    handler = gateway(Throttle(rate=1e6, clock=time), time, latency=0.0)
    client = make_client(handler, time, rate_limit=10)
    start = time.now
    await time.run(archive_all(client, ids(21)))
    assert time.now - start == pytest.approx(2.0, abs=0.05)


async def test_stray_429s_do_not_grind_an_unlimited_server_down() -> None:
    time = VirtualTime()
    count = 0

    async def handle(request: Request) -> Response:
        nonlocal count
        count += 1
        await time.sleep(0.005)
        if count % 50 == 0:
            return rejection(request)
        return MockTransport.respond(request, json_body=DEPLOYMENT)

    client = make_client(handle, time)
    start = time.now
    await time.run(archive_all(client, ids(6000)))
    # 2 % of requests answered 429 whatever the pace is not a limit: 32 workers at 5 ms
    # could do 6,400/s; they must not creep down towards a crawl (tens a second).
    assert 6000 / (time.now - start) > 500


def test_clones_share_the_controller_and_none_turns_it_off() -> None:
    client = QoderClient("pt-test", base_url=BASE)
    assert client.rate_control is not None
    assert client.rate_control.mode == "auto"
    assert client.with_options(retry=2).rate_control is client.rate_control
    assert QoderClient("pt-test", base_url=BASE, rate_limit=None).rate_control is None
    fixed = QoderClient("pt-test", base_url=BASE, rate_limit=25)
    assert fixed.rate_control is not None
    assert fixed.rate_control.mode == "fixed"
    shared = RateController()
    assert QoderClient("pt-test", base_url=BASE, rate_limit=shared).rate_control is shared


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "fast", True])
def test_a_bad_rate_limit_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        QoderClient("pt-test", base_url=BASE, rate_limit=bad)


@pytest.mark.parametrize("share", [0.03, 0.06])
async def test_clustered_stray_429s_cost_little_next_to_no_rate_control(share: float) -> None:
    # Random 429s (as the demo injects among its faults) come in clusters now and then:
    # two or three within a few answers must not read as a limit, or each cluster cuts
    # the pace and the client settles at a fraction of what an unlimited server takes.
    async def rate(rate_limit: Any) -> float:
        time = VirtualTime()
        chance = random.Random(7)

        async def handle(request: Request) -> Response:
            await time.sleep(0.005)
            if chance.random() < share:
                return rejection(request)
            return MockTransport.respond(request, json_body=DEPLOYMENT)

        client = make_client(handle, time, rate_limit)
        start = time.now
        await time.run(archive_all(client, ids(6000)))
        return 6000 / (time.now - start)

    # Without rate control only the retries' backoff slows the workers (by a third to a
    # half here); rate control may cost some more, not the 8-12x it did.
    assert await rate("auto") > 0.5 * await rate(None)
