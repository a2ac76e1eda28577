"""Idempotency keys (wire reference §1.7): replay, conflicts, scope and expiry."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from qoder_async.testing import FakeQoderServer
from tests.fake_server_support import (
    Clock,
)

CONFLICT = "Idempotency key reused with a different request body."


@pytest.fixture
def fake_server_options(fake_clock: Clock) -> dict[str, Any]:
    """Two tokens, so that key scoping per token can be checked."""
    return {"clock": fake_clock, "tokens": ["pt-one", "pt-two"]}


async def post(
    fake_http: aiohttp.ClientSession,
    path: str,
    *,
    key: str | None = None,
    data: bytes | None = None,
    header: str = "Idempotency-Key",
    token: str | None = None,
) -> tuple[int, bytes, bool]:
    headers = {} if key is None else {header: key}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with fake_http.post(path, data=data, headers=headers) as response:
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return response.status, await response.read(), replayed


CREATE = (
    b'{"name": "n", "agent": "agent_a", "environment_id": "env_a",'
    b' "initial_events": [{"type": "user.message", "content": "hi"}]}'
)
CREATE_REORDERED = (
    b'{"initial_events":[{"content":"hi","type":"user.message"}],'
    b'"environment_id":"env_a","agent":"agent_a","name":"n"}'
)


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Idempotency-Key"])
async def test_repeated_archive_is_applied_once_and_replayed(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, header: str
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)

    first = await post(fake_http, f"deployments/{dep_id}/archive", key="k-1", header=header)
    second = await post(fake_http, f"deployments/{dep_id}/archive", key="k-1", header=header)

    assert first[0] == second[0] == 200
    assert first[1] == second[1]
    assert (first[2], second[2]) == (False, True)
    assert fake_server.archive_applications == {dep_id: 1}
    assert fake_server.applied["deployments.archive"] == 1
    assert fake_server.request_counts["deployments.archive"] == 2


async def test_without_a_key_every_call_executes(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)

    statuses = [(await post(fake_http, f"deployments/{dep_id}/archive"))[0] for _ in range(2)]

    assert statuses == [200, 409]
    assert fake_server.archive_applications == {dep_id: 1}


async def test_create_replay_compares_json_not_bytes(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    first = await post(fake_http, "deployments", key="create-1", data=CREATE)
    second = await post(fake_http, "deployments", key="create-1", data=CREATE_REORDERED)

    assert first[0] == second[0] == 200
    assert first[1] == second[1]
    assert len(fake_server.state.deployments) == 1
    assert fake_server.applied["deployments.create"] == 1


async def test_same_key_with_a_different_body_is_409(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    await post(fake_http, "deployments", key="create-1", data=CREATE)
    other = CREATE.replace(b'"name": "n"', b'"name": "m"')

    status, body, replayed = await post(fake_http, "deployments", key="create-1", data=other)

    assert (status, replayed) == (409, False)
    assert b'"type":"conflict_error"' in body
    assert CONFLICT.encode() in body
    assert len(fake_server.state.deployments) == 1


async def test_same_key_on_another_deployment_is_409(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    first, second = fake_server.seed_deployments(2)

    ok = await post(fake_http, f"deployments/{first}/archive", key="shared")
    clash = await post(fake_http, f"deployments/{second}/archive", key="shared")

    assert (ok[0], clash[0]) == (200, 409)
    assert fake_server.archive_applications == {first: 1}


async def test_keys_are_scoped_per_token(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    one = await post(fake_http, "deployments", key="k", data=CREATE, token="pt-one")
    two = await post(fake_http, "deployments", key="k", data=CREATE, token="pt-two")

    assert one[0] == two[0] == 200
    assert one[1] != two[1]
    assert len(fake_server.state.deployments) == 2


async def test_a_conflict_answer_is_replayed_too(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    (dep_id,) = fake_server.seed_deployments(1, status="paused")

    first = await post(fake_http, f"deployments/{dep_id}/pause", key="p")
    fake_server.state.unpause(dep_id)
    second = await post(fake_http, f"deployments/{dep_id}/pause", key="p")

    assert (first[0], second[0], second[2]) == (409, 409, True)
    assert fake_server.state.deployments[dep_id]["status"] == "active"


async def test_a_rejected_body_does_not_burn_the_key(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    bad = await post(fake_http, "deployments", key="fix-me", data=b'{"name": "n"}')
    good = await post(fake_http, "deployments", key="fix-me", data=CREATE)

    assert (bad[0], good[0], good[2]) == (400, 200, False)


async def test_keys_expire_after_24_hours(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    await post(fake_http, f"deployments/{dep_id}/pause", key="daily")
    fake_server.state.unpause(dep_id)

    fake_clock.now += 24 * 3600 - 1
    within = await post(fake_http, f"deployments/{dep_id}/pause", key="daily")
    fake_clock.now += 2
    after = await post(fake_http, f"deployments/{dep_id}/pause", key="daily")

    assert (within[0], within[2]) == (200, True)
    assert (after[0], after[2]) == (200, False)
    assert fake_server.applied["deployments.pause"] == 2


async def test_get_ignores_the_key(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    headers = {"Idempotency-Key": "read"}
    bodies: list[Any] = []
    for _ in range(2):
        async with fake_http.get(f"deployments/{dep_id}", headers=headers) as response:
            assert "Idempotent-Replayed" not in response.headers
            bodies.append(await response.json())
        if len(bodies) == 1:
            fake_server.state.pause(dep_id)

    assert [body["status"] for body in bodies] == ["active", "paused"]


async def test_overlong_key_is_400(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)

    status, body, _ = await post(fake_http, f"deployments/{dep_id}/archive", key="k" * 256)

    assert status == 400
    assert b'"param":"Idempotency-Key"' in body
    assert fake_server.archive_applications == {}


def test_the_store_forgets_the_oldest_keys_past_its_bound() -> None:
    from qoder_async.testing._responses import IdempotencyStore

    store = IdempotencyStore(ttl=10.0, max_records=3)
    for number in range(5):
        store.remember("pt", f"k{number}", "POST", "/p", b"", (200, b"{}"), now=float(number))
    assert len(store) == 3
    assert store.lookup("pt", "k1", "POST", "/p", b"", now=5.0) is None
    assert store.lookup("pt", "k4", "POST", "/p", b"", now=5.0) == (200, b"{}", True)
    store.remember("pt", "k5", "POST", "/p", b"", (200, b"{}"), now=13.5)
    assert len(store) == 2  # k2 and k3 expired (at 12 and 13)
