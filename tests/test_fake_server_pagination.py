"""Cursor pagination and filters of ``GET /deployments`` over thousands of deployments."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from qoder_async.testing import FakeQoderServer
from tests.fake_server_support import (
    Clock,
    fixture,
)

COUNT = 2500


@pytest.fixture
def seeded(fake_server: FakeQoderServer) -> list[str]:
    """2,500 deployments, newest first (the list order)."""
    return list(reversed(fake_server.seed_deployments(COUNT)))


async def page(fake_http: aiohttp.ClientSession, params: dict[str, str]) -> dict[str, Any]:
    async with fake_http.get("deployments", params=params) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
    return body


async def error_param(fake_http: aiohttp.ClientSession, params: dict[str, str]) -> str:
    async with fake_http.get("deployments", params=params) as response:
        assert response.status == 400
        body = await response.json()
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["param"])


def check_envelope(body: dict[str, Any]) -> list[str]:
    ids = [item["id"] for item in body["data"]]
    assert list(body) == ["data", "first_id", "has_more", "last_id", "next_page"]
    assert body["first_id"] == (ids[0] if ids else None)
    assert body["last_id"] == (ids[-1] if ids else None)
    assert body["next_page"] == (body["last_id"] if body["has_more"] else None)
    return ids


@pytest.mark.parametrize("cursor", ["after_id", "page"])
async def test_forward_walk_visits_every_deployment_once_newest_first(
    fake_http: aiohttp.ClientSession, seeded: list[str], cursor: str
) -> None:
    seen: list[str] = []
    params = {"limit": "100"}
    pages = 0
    for _ in range(COUNT):  # a bound: a cursor that never ends fails instead of hanging
        body = await page(fake_http, params)
        pages += 1
        seen += check_envelope(body)
        if not body["has_more"]:
            break
        params = {"limit": "100", cursor: body["next_page" if cursor == "page" else "last_id"]}
    else:
        raise AssertionError("has_more never turned false")
    assert seen == seeded
    assert pages == COUNT // 100


async def test_backward_walk_with_before_id(
    fake_http: aiohttp.ClientSession, seeded: list[str]
) -> None:
    last = await page(fake_http, {"limit": "1000", "after_id": seeded[COUNT - 301]})
    assert check_envelope(last) == seeded[COUNT - 300 :]
    assert last["has_more"] is False
    collected: list[str] = []
    cursor = last["first_id"]
    for _ in range(COUNT):  # a bound: a cursor that never ends fails instead of hanging
        body = await page(fake_http, {"limit": "700", "before_id": cursor})
        ids = check_envelope(body)
        collected = ids + collected
        if not body["has_more"]:
            break
        cursor = body["first_id"]
    else:
        raise AssertionError("has_more never turned false")
    assert collected == seeded[: COUNT - 300]


async def test_default_limit_is_20_and_max_is_1000(
    fake_http: aiohttp.ClientSession, seeded: list[str]
) -> None:
    assert check_envelope(await page(fake_http, {})) == seeded[:20]
    body = await page(fake_http, {"limit": "1000"})
    assert check_envelope(body) == seeded[:1000]
    assert body["has_more"] is True


async def test_exact_last_page_has_no_more(
    fake_http: aiohttp.ClientSession, seeded: list[str]
) -> None:
    body = await page(fake_http, {"limit": "500", "after_id": seeded[1999]})
    assert check_envelope(body) == seeded[2000:]
    assert (body["has_more"], body["next_page"]) == (False, None)


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "abc", "", "2.5"])
async def test_bad_limits_are_400(fake_http: aiohttp.ClientSession, limit: str) -> None:
    assert await error_param(fake_http, {"limit": limit}) == "limit"


@pytest.mark.parametrize(
    "params",
    [
        {"after_id": "A", "before_id": "B"},
        {"after_id": "A", "page": "B"},
        {"page": "A", "before_id": "B"},
    ],
)
async def test_more_than_one_cursor_is_400(
    fake_http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    assert await error_param(fake_http, params) in ("before_id", "page")


@pytest.mark.parametrize("name", ["after_id", "before_id", "page"])
async def test_unknown_cursor_is_400(fake_http: aiohttp.ClientSession, name: str) -> None:
    assert await error_param(fake_http, {name: "dep_ffffffffffffffffffffffffffffffff"}) == name


async def test_empty_list_envelope(fake_http: aiohttp.ClientSession) -> None:
    expected = fixture("list_page_empty.json")
    assert await page(fake_http, {}) == {**expected, "next_page": None}


async def test_cursors_stay_valid_when_items_are_archived_while_paging(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, seeded: list[str]
) -> None:
    first = await page(fake_http, {"limit": "50"})
    for dep_id in seeded[40:60]:  # includes the cursor itself
        fake_server.state.archive(dep_id)
    second = await page(fake_http, {"limit": "50", "after_id": first["last_id"]})
    assert check_envelope(second) == seeded[60:110]


async def test_same_second_creations_list_newest_first(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    body = {
        "name": "n",
        "agent": "agent_a",
        "environment_id": "env_a",
        "initial_events": [{"type": "user.message", "content": "hi"}],
    }
    created = []
    for _ in range(5):
        async with fake_http.post("deployments", json=body) as response:
            created.append((await response.json())["id"])

    assert check_envelope(await page(fake_http, {})) == list(reversed(created))


async def test_status_and_archive_filters(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    active = fake_server.seed_deployments(3)
    paused = fake_server.seed_deployments(2, status="paused")
    archived = fake_server.seed_deployments(4, archived=True)

    def ids(body: dict[str, Any]) -> set[str]:
        return set(check_envelope(body))

    assert ids(await page(fake_http, {})) == {*active, *paused}
    assert ids(await page(fake_http, {"status": "paused"})) == set(paused)
    assert ids(await page(fake_http, {"status": "active"})) == set(active)
    everything = await page(fake_http, {"include_archived": "true"})
    assert ids(everything) == {*active, *paused, *archived}
    assert ids(await page(fake_http, {"include_archived": "false"})) == {*active, *paused}


async def test_agent_and_created_at_filters(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    mine = fake_server.seed_deployments(30, agent_id="agent_mine")  # created 08:57:32Z .. 08:58:01Z
    fake_server.seed_deployments(10)

    body = await page(fake_http, {"agent_id": "agent_mine", "limit": "100"})
    assert check_envelope(body) == list(reversed(mine))
    window = {
        "agent_id": "agent_mine",
        "created_at[gte]": "2026-06-14T08:57:52Z",
        "created_at[lte]": "2026-06-14T08:57:54Z",
    }
    assert check_envelope(await page(fake_http, window)) == list(reversed(mine[20:23]))
    assert check_envelope(await page(fake_http, {"agent_id": "agent_nobody"})) == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"status": "archived"}, "status"),
        ({"include_archived": "yes"}, "include_archived"),
        ({"created_at[gte]": "yesterday"}, "created_at[gte]"),
        ({"created_at[lte]": "2026-13-01T00:00:00Z"}, "created_at[lte]"),
    ],
)
async def test_bad_filters_are_400(
    fake_http: aiohttp.ClientSession, params: dict[str, str], param: str
) -> None:
    assert await error_param(fake_http, params) == param
