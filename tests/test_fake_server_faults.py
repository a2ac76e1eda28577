"""Fault injection as a raw HTTP client observes it, and seeded reproducibility."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest

from qoder_async.testing import DEFAULT_RANDOM_KINDS, FakeQoderServer, Fault, FaultPlan
from tests.fake_server_support import (
    auth_headers,
)

RESET = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


@pytest.fixture
def fake_server_options() -> dict[str, Any]:
    """The server keeps real time here: no hand-moved clock."""
    return {}


@pytest.fixture
def dep_id(fake_server: FakeQoderServer) -> str:
    return fake_server.seed_deployments(1)[0]


def archived(fake_server: FakeQoderServer, dep_id: str) -> bool:
    return fake_server.state.deployments[dep_id]["archived_at"] is not None


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(None, None), (2, "2"), (0.25, "0.25"), ("Wed, 21 Oct 2026 07:28:00 GMT", None)],
)
async def test_rate_limited(
    fake_http: aiohttp.ClientSession,
    fake_server: FakeQoderServer,
    dep_id: str,
    retry_after: float | str | None,
    header: str | None,
) -> None:
    fake_server.faults.script("deployments.archive", [Fault.rate_limited(retry_after)])

    async with fake_http.post(f"deployments/{dep_id}/archive") as response:
        assert response.status == 429
        body = await response.json()
        expected = retry_after if isinstance(retry_after, str) else header
        assert response.headers.get("Retry-After") == expected
        assert response.headers["x-request-id"].startswith("req_")

    assert body["error"]["type"] == "rate_limit_error"
    assert not archived(fake_server, dep_id)
    assert fake_server.faults_injected == {"rate_limited": 1}
    assert fake_server.applied["deployments.archive"] == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("json", "application/json"), ("html", "text/html"), ("empty", None)],
)
async def test_unavailable(
    fake_http: aiohttp.ClientSession,
    fake_server: FakeQoderServer,
    dep_id: str,
    body: str,
    content_type: str | None,
) -> None:
    fault = Fault.unavailable(retry_after=1, body=body)  # type: ignore[arg-type]
    fake_server.faults.script("deployments.archive", [fault])

    async with fake_http.post(f"deployments/{dep_id}/archive") as response:
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        raw = await response.read()
        if content_type is not None:
            assert response.content_type == content_type

    if body == "json":
        assert json.loads(raw)["type"] == "error"
    elif body == "html":
        assert raw.startswith(b"<html>")
    else:
        assert raw == b""
    assert not archived(fake_server, dep_id)


async def test_server_error(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, dep_id: str
) -> None:
    fake_server.faults.script("deployments.archive", [Fault.server_error()])

    async with fake_http.post(f"deployments/{dep_id}/archive") as response:
        assert response.status == 500
        assert (await response.json())["error"]["type"] == "api_error"

    assert not archived(fake_server, dep_id)


async def test_reset_before_drops_the_connection_without_applying(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, dep_id: str
) -> None:
    fake_server.faults.script("deployments.archive", [Fault.reset_before()])

    with pytest.raises(RESET):
        async with fake_http.post(f"deployments/{dep_id}/archive") as response:
            await response.read()

    assert not archived(fake_server, dep_id)
    assert fake_server.applied["deployments.archive"] == 0
    assert fake_server.faults_injected == {"reset_before": 1}
    async with fake_http.post(f"deployments/{dep_id}/archive") as response:  # the next call works
        assert response.status == 200


async def test_reset_after_applies_then_loses_the_response(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, dep_id: str
) -> None:
    fake_server.faults.script("deployments.archive", [Fault.reset_after()])
    headers = {"Idempotency-Key": "archive-once"}

    with pytest.raises(RESET):
        async with fake_http.post(f"deployments/{dep_id}/archive", headers=headers) as response:
            await response.read()

    assert archived(fake_server, dep_id)
    assert fake_server.archive_applications == {dep_id: 1}
    # The retry with the same key gets the lost response; nothing is applied twice.
    async with fake_http.post(f"deployments/{dep_id}/archive", headers=headers) as response:
        assert response.status == 200
        assert response.headers["Idempotent-Replayed"] == "true"
        assert (await response.json())["id"] == dep_id
    assert fake_server.archive_applications == {dep_id: 1}


async def test_resets_on_reads_are_seen_after_aiohttps_own_retry(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, dep_id: str
) -> None:
    # aiohttp's ClientSession silently repeats an idempotent method (GET) once after a
    # dropped connection, so one reset is invisible to a raw session; two are not.
    fake_server.faults.script("deployments.get", [Fault.reset_before()] * 2)

    with pytest.raises(RESET):
        async with fake_http.get(f"deployments/{dep_id}") as response:
            await response.read()

    assert fake_server.request_counts["deployments.get"] == 2


async def test_latency_delays_a_normal_answer(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, dep_id: str
) -> None:
    fake_server.faults.script("deployments.get", [Fault.latency(0.2)])

    started = time.monotonic()
    async with fake_http.get(f"deployments/{dep_id}") as response:
        assert response.status == 200
    assert time.monotonic() - started >= 0.2
    assert fake_server.faults_injected == {"latency": 1}


async def test_global_latency_applies_to_every_request(dep_id: str) -> None:
    async with FakeQoderServer(latency=0.05, faults=FaultPlan(latency=0.05)) as fake_server:
        headers = auth_headers(fake_server)
        async with aiohttp.ClientSession(headers=headers) as session:
            started = time.monotonic()
            for _ in range(2):
                async with session.get(fake_server.url + "/deployments") as response:
                    assert response.status == 200
            assert time.monotonic() - started >= 0.2


async def test_truncated_json_applies_and_cuts_the_body(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, dep_id: str
) -> None:
    fake_server.faults.script("deployments.archive", [Fault.truncated_json()])

    async with fake_http.post(f"deployments/{dep_id}/archive") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        raw = await response.read()

    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(raw)
    full = json.dumps(fake_server.state.deployments[dep_id], separators=(",", ":")).encode()
    assert raw == full[: len(full) // 2]
    assert archived(fake_server, dep_id)


async def test_non_json_is_a_200_html_page_and_applies_nothing(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, dep_id: str
) -> None:
    fake_server.faults.script("deployments.archive", [Fault.non_json()])

    async with fake_http.post(f"deployments/{dep_id}/archive") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert (await response.text()).startswith("<!DOCTYPE html>")

    assert not archived(fake_server, dep_id)


async def test_scripted_faults_hit_only_their_endpoint_in_order(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    ids = fake_server.seed_deployments(4)
    fake_server.faults.script("deployments.archive", [Fault.server_error(), Fault.rate_limited()])
    statuses = []
    for dep_id in ids:
        async with fake_http.get(f"deployments/{dep_id}") as response:
            assert response.status == 200
        async with fake_http.post(f"deployments/{dep_id}/archive") as response:
            statuses.append(response.status)

    assert statuses == [500, 429, 200, 200]
    assert fake_server.faults.pending() == 0


async def test_wildcard_script_hits_any_endpoint(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    fake_server.faults = FaultPlan(script={"*": [Fault.server_error()]})

    async with fake_http.get("deployment_runs") as response:
        assert response.status == 500
    async with fake_http.get("deployments") as response:
        assert response.status == 200


async def test_faults_come_after_authentication(fake_server: FakeQoderServer) -> None:
    fake_server.faults.script("deployments.list", [Fault.server_error()])
    async with aiohttp.ClientSession() as session:
        async with session.get(fake_server.url + "/deployments") as response:
            assert response.status == 401
        assert fake_server.faults.pending("deployments.list") == 1
        headers = auth_headers(fake_server)
        async with session.get(fake_server.url + "/deployments", headers=headers) as response:
            assert response.status == 500


async def test_plan_can_be_replaced_at_runtime(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    fake_server.faults = FaultPlan(seed=1, rate=1.0, kinds=["server_error"])
    async with fake_http.get("deployments") as response:
        assert response.status == 500
    fake_server.faults = None
    async with fake_http.get("deployments") as response:
        assert response.status == 200


async def test_random_faults_only_on_selected_endpoints(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    fake_server.faults = FaultPlan(
        seed=3, rate=1.0, kinds=[Fault.rate_limited()], endpoints={"deployments.list"}
    )
    async with fake_http.get("deployments") as response:
        assert response.status == 429
    async with fake_http.get("deployment_runs") as response:
        assert response.status == 200


async def drive(seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The outcomes a client sees for a fixed request sequence under a seeded plan."""
    plan = FaultPlan(seed=seed, rate=0.3)
    async with FakeQoderServer(faults=plan, seed=seed) as fake_server:
        ids = fake_server.seed_deployments(40)
        headers = auth_headers(fake_server)
        connector = aiohttp.TCPConnector(force_close=True)
        outcomes = []
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            for dep_id in ids:
                try:
                    async with session.post(f"{fake_server.url}/deployments/{dep_id}/archive") as r:
                        await r.read()
                        outcomes.append(str(r.status))
                except RESET:
                    outcomes.append("reset")
        history: list[tuple[str, str]] = [(name, fault.kind) for name, fault in plan.history]
        assert sum(fake_server.faults_injected.values()) == len(history)
    return outcomes, history


async def test_seeded_random_plan_is_reproducible() -> None:
    first = await drive(7)
    again = await drive(7)
    other = await drive(8)

    assert first == again
    assert first != other
    assert 0 < len(first[1]) < 40
    assert {kind for _, kind in first[1]} <= set(DEFAULT_RANDOM_KINDS)


def test_fault_and_plan_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        Fault("meltdown")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="body"):
        Fault.unavailable(body="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds"):
        Fault.latency(-1)
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(rate=1.5)
    with pytest.raises(ValueError, match="kinds"):
        FaultPlan(rate=0.5, kinds=[])
    with pytest.raises(TypeError):
        FaultPlan().script("deployments.archive", ["reset_after"])  # type: ignore[list-item]
    plan = FaultPlan().script("deployments.archive", [Fault.reset_after()] * 3)
    assert plan.pending("deployments.archive") == 3
    assert "pending=3" in repr(plan)
    plan.clear()
    assert plan.next_fault("deployments.archive") is None
