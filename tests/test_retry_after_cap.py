"""``max_retry_after``: a ``Retry-After`` longer than it is surfaced at once, not slept.

The server asks for less than the call's deadline, so only ``max_retry_after`` (not the
deadline) can stop the retries here.
"""

from __future__ import annotations

import pytest

from qoder_async import QoderClient, RateLimitError, RetryPolicy
from qoder_async._messages import Request, Response
from qoder_async.transport import MockTransport
from tests.chain_helpers import SleepRecorder

DEP = "dep_" + "0" * 31 + "1"
BODY = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


def throttled(retry_after: str) -> tuple[MockTransport, list[Request]]:
    def handler(request: Request) -> Response:
        return MockTransport.respond(
            request, 429, json_body=BODY, headers={"Retry-After": retry_after}
        )

    transport = MockTransport(handler)
    return transport, transport.requests


async def test_retry_after_above_the_cap_but_within_the_deadline_surfaces_at_once() -> None:
    transport, requests = throttled("30")
    sleep = SleepRecorder()
    policy = RetryPolicy(max_attempts=5, deadline=120.0, max_retry_after=10.0)
    async with QoderClient("pt-x", transport=transport, retry=policy, sleep=sleep) as client:
        with pytest.raises(RateLimitError) as info:
            await client.deployments.get(DEP)
    assert info.value.retry_after == 30.0
    assert sleep.delays == []
    assert len(requests) == 1


async def test_retry_after_within_the_cap_is_slept_and_retried() -> None:
    transport, requests = throttled("3")
    sleep = SleepRecorder()
    policy = RetryPolicy(max_attempts=3, deadline=120.0, max_retry_after=10.0)
    async with QoderClient("pt-x", transport=transport, retry=policy, sleep=sleep) as client:
        with pytest.raises(RateLimitError) as info:
            await client.deployments.get(DEP)
    assert info.value.retry_after == 3.0
    assert sleep.delays == [3.0, 3.0]
    assert len(requests) == 3
