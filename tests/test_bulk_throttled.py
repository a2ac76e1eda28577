"""Bulk archive over loopback against the fake server's token bucket: exactly once, always.

Small versions of the goodput benchmark's scenarios (``benchmarks/goodput.py``), with
the client's defaults. Timing is the benchmark's business; here every id must end
archived, applied exactly once, whatever the server's throttling looks like.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from qoder_async import QoderClient
from qoder_async.testing import FakeQoderServer, Throttle

SCENARIOS: dict[str, dict[str, Any]] = {
    "small burst, Retry-After": {"rate": 200, "burst": 10},
    "no Retry-After, no headers": {"rate": 200, "burst": 20, "retry_after": False},
    "X-RateLimit-* headers": {"rate": 200, "burst": 20, "headers": True},
    "limit drops and comes back": {
        "rate": 300,
        "burst": 20,
        "retry_after": False,
        "schedule": [(0.3, 60.0), (0.8, 300.0)],
    },
    "writes only": {"rate": 150, "burst": 10, "methods": ["POST"]},
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_bulk_archives_every_id_exactly_once_under_throttling(name: str) -> None:
    throttle = Throttle(**SCENARIOS[name])
    latency = 0.01 if name == "small burst, Retry-After" else 0.0
    async with FakeQoderServer(throttle=throttle, latency=latency) as server:
        ids = server.seed_deployments(150)
        async with QoderClient(server.token, base_url=server.url) as client:
            report = await client.deployments.bulk_archive(ids)
            pace = client.rate_control.rate("write") if client.rate_control else None
    assert report.ok, report.counts
    assert report.counts == {"archived": 150}
    assert server.archive_applications == dict.fromkeys(ids, 1)
    assert throttle.accepted >= 150
    if name != "X-RateLimit-* headers":
        assert throttle.throttled > 0  # the server did push back
        assert report.throttled > 0
    else:
        assert pace is not None  # paced from the headers


async def test_a_plain_gather_shares_the_clients_pace() -> None:
    throttle = Throttle(rate=200, burst=10, retry_after=False)
    async with FakeQoderServer(throttle=throttle) as server:
        ids = server.seed_deployments(120)
        async with QoderClient(server.token, base_url=server.url) as client:
            archived = await asyncio.gather(*(client.deployments.archive(i) for i in ids))
            assert client.rate_control is not None
            assert client.rate_control.rate("write") is not None
    assert all(deployment.is_archived for deployment in archived)
    assert server.archive_applications == dict.fromkeys(ids, 1)
    assert throttle.throttled > 0
