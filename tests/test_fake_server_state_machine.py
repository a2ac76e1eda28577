"""Every cell of the deployment lifecycle table (wire reference §4.1), over HTTP."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from qoder_async.testing import FakeQoderServer
from tests.fake_server_support import (
    NOW,
    Clock,
    call,
    fixture,
    shape,
)

UNKNOWN = "dep_0123456789abcdef0123456789abcdef"


def make(fake_server: FakeQoderServer, state: str) -> str:
    """A deployment in the logical ``state`` (``archived_paused``: archived after a pause)."""
    if state == "unknown":
        return UNKNOWN
    schedule = {"type": "cron", "expression": "30 9 * * 1-5", "timezone": "Asia/Shanghai"}
    (dep_id,) = fake_server.seed_deployments(
        1,
        status="paused" if state in ("paused", "archived_paused") else "active",
        archived=state.startswith("archived"),
        schedule=schedule,
    )
    fake_server.reset_counters()
    return dep_id


def logical(deployment: dict[str, Any]) -> str:
    if deployment["archived_at"] is not None:
        return "archived"
    return str(deployment["status"])


async def act(fake_http: aiohttp.ClientSession, action: str, dep_id: str) -> tuple[int, Any]:
    if action == "get":
        return await call(fake_http, "GET", f"deployments/{dep_id}")
    if action == "update":
        return await call(
            fake_http, "POST", f"deployments/{dep_id}", json={"description": "changed"}
        )
    return await call(fake_http, "POST", f"deployments/{dep_id}/{action}")


# (state, action) -> (status, logical state afterwards)
TABLE: dict[tuple[str, str], tuple[int, str]] = {
    ("active", "pause"): (200, "paused"),
    ("active", "unpause"): (409, "active"),
    ("active", "archive"): (200, "archived"),
    ("active", "run"): (200, "active"),
    ("active", "update"): (200, "active"),
    ("active", "get"): (200, "active"),
    ("paused", "pause"): (409, "paused"),
    ("paused", "unpause"): (200, "active"),
    ("paused", "archive"): (200, "archived"),
    ("paused", "run"): (409, "paused"),
    ("paused", "update"): (200, "paused"),
    ("paused", "get"): (200, "paused"),
    ("archived", "pause"): (409, "archived"),
    ("archived", "unpause"): (409, "archived"),
    ("archived", "archive"): (409, "archived"),
    ("archived", "run"): (409, "archived"),
    ("archived", "update"): (409, "archived"),
    ("archived", "get"): (200, "archived"),
    ("archived_paused", "unpause"): (409, "archived"),
    ("archived_paused", "archive"): (409, "archived"),
    ("archived_paused", "run"): (409, "archived"),
}
ACTIONS = ("pause", "unpause", "archive", "run", "update", "get")
TABLE.update({("unknown", action): (404, "unknown") for action in ACTIONS})
WRITES = {"pause", "unpause", "archive", "run", "update"}


@pytest.mark.parametrize(("state", "action"), sorted(TABLE))
async def test_lifecycle_cell(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, state: str, action: str
) -> None:
    dep_id = make(fake_server, state)
    before = json.loads(json.dumps(fake_server.state.deployments.get(dep_id)))
    expected_status, expected_state = TABLE[(state, action)]

    status, body = await act(fake_http, action, dep_id)

    assert status == expected_status
    endpoint = "deployments." + action
    if status == 200:
        if action == "run":
            assert body["type"] == "deployment_run"
            assert body["deployment_id"] == dep_id
        else:
            assert body == fake_server.state.deployments[dep_id]
        assert fake_server.applied[endpoint] == (1 if action in WRITES else 0)
    else:
        error_type = {404: "not_found_error", 409: "conflict_error"}[status]
        assert body["type"] == "error"
        assert body["error"]["type"] == error_type
        assert fake_server.applied[endpoint] == 0
        # A rejected action changes nothing.
        assert fake_server.state.deployments.get(dep_id) == before
    if state != "unknown":
        assert logical(fake_server.state.deployments[dep_id]) == expected_state
    if action == "run" and status != 200:
        assert fake_server.state.runs == {}


@pytest.mark.parametrize(
    ("state", "query", "listed"),
    [
        ("active", "", True),
        ("paused", "", True),
        ("archived", "", False),
        ("archived", "?include_archived=true", True),
        ("archived_paused", "?include_archived=true&status=paused", True),
        ("archived_paused", "?status=paused", False),
        ("paused", "?status=paused", True),
        ("paused", "?status=active", False),
        ("active", "?status=active", True),
    ],
)
async def test_default_list_visibility(
    fake_http: aiohttp.ClientSession,
    fake_server: FakeQoderServer,
    state: str,
    query: str,
    listed: bool,
) -> None:
    dep_id = make(fake_server, state)

    async with fake_http.get("deployments" + query) as response:
        page = await response.json()

    assert [item["id"] for item in page["data"]] == ([dep_id] if listed else [])


async def test_pause_sets_manual_reason_and_keeps_upcoming_runs(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    dep_id = make(fake_server, "active")
    upcoming = fake_server.state.deployments[dep_id]["schedule"]["upcoming_runs_at"]
    fake_clock.now += 21

    status, paused = await act(fake_http, "pause", dep_id)

    assert status == 200
    assert paused["status"] == "paused"
    assert paused["paused_reason"] == {"type": "manual"}
    assert paused["schedule"]["upcoming_runs_at"] == upcoming
    assert paused["updated_at"] == "2026-06-14T08:58:22Z"
    assert paused["created_at"] == "2026-06-14T08:58:01Z"


async def test_unpause_recomputes_upcoming_runs_from_now(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    dep_id = make(fake_server, "paused")
    fake_clock.now += 3 * 86400  # Wednesday 2026-06-17 08:58Z: 01:30Z has passed

    status, active = await act(fake_http, "unpause", dep_id)

    assert status == 200
    assert (active["status"], active["paused_reason"]) == ("active", None)
    assert active["schedule"]["upcoming_runs_at"] == [
        "2026-06-18T01:30:00Z",
        "2026-06-19T01:30:00Z",
        "2026-06-22T01:30:00Z",
        "2026-06-23T01:30:00Z",
        "2026-06-24T01:30:00Z",
    ]
    assert active["metadata"]["cas_config"]["stats"]["next_trigger_at"] == "2026-06-18T01:30:00Z"


@pytest.mark.parametrize("state", ["active", "paused"])
async def test_archive_renames_empties_schedule_and_keeps_status(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock, state: str
) -> None:
    dep_id = make(fake_server, state)
    original = fake_server.state.deployments[dep_id]["name"]
    next_trigger = fake_server.state.deployments[dep_id]["metadata"]["cas_config"]["stats"][
        "next_trigger_at"
    ]
    fake_clock.now += 41

    status, archived = await act(fake_http, "archive", dep_id)

    assert status == 200
    assert archived["name"] == f"{original}_archived_{int(NOW) + 41}"
    assert archived["archived_at"] == "2026-06-14T08:58:42Z"
    assert archived["updated_at"] == "2026-06-14T08:58:42Z"
    assert archived["schedule"]["upcoming_runs_at"] == []
    assert archived["status"] == state
    # The API leaves the stale next trigger in place.
    assert archived["metadata"]["cas_config"]["stats"]["next_trigger_at"] == next_trigger
    assert fake_server.archive_applications == {dep_id: 1}
    status, again = await act(fake_http, "get", dep_id)
    assert (status, again) == (200, archived)


async def test_run_archive_sequence_matches_the_fixture_shapes(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    dep_id = make(fake_server, "active")
    fake_clock.now += 16
    status, run = await act(fake_http, "run", dep_id)
    assert status == 200
    fake_clock.now += 5
    _, paused = await act(fake_http, "pause", dep_id)
    fake_clock.now += 20
    _, archived = await act(fake_http, "archive", dep_id)

    assert shape(run) == shape(fixture("deployment_run_running.json"))
    assert shape(paused) == shape(fixture("deployment_paused.json"))
    assert paused["schedule"]["last_run_at"] == "2026-06-14T08:58:17Z"
    stats = paused["metadata"]["cas_config"]["stats"]
    assert (stats["last_triggered_at"], stats["total_runs"]) == ("2026-06-14T08:58:17Z", 1)
    expected_archived = fixture("deployment_archived.json")
    archived_shape = shape(archived)
    archived_shape["paused_reason"] = None  # archived while paused keeps the reason
    assert archived_shape == shape(expected_archived)
