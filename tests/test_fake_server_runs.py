"""Runs: ``POST …/run``, per-deployment and global run lists and lookups, filters."""

from __future__ import annotations

import re
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

RUN_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


async def run(fake_http: aiohttp.ClientSession, dep_id: str) -> dict[str, Any]:
    status, body = await call(fake_http, "POST", f"deployments/{dep_id}/run", json={})
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def test_run_now_returns_a_running_run(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    fake_clock.now = 1781427246.271902633  # 2026-06-14T08:54:06.27Z

    started = await run(fake_http, dep_id)

    assert shape(started) == shape(fixture("deployment_run_running.json"))
    assert started["status"] == "running"
    assert started["trigger_context"] == {"type": "manual"}
    assert started["agent"] == fake_server.state.deployments[dep_id]["agent"]
    assert re.fullmatch(r"drun_[0-9a-f]{32}", started["id"])
    assert re.fullmatch(r"sess_[0-9a-f]{32}", started["session_id"])
    assert re.fullmatch(r"turn_[0-9a-f]{32}", started["cas_run_extras"]["turn_id"])
    assert started["triggered_at"].startswith("2026-06-14T08:54:06.2719")
    assert started["created_at"] == started["triggered_at"]
    for stamp in (started["triggered_at"], started["cas_run_extras"]["started_at"]):
        assert RUN_TS.match(stamp)
    deployment = fake_server.state.deployments[dep_id]
    assert deployment["schedule"]["last_run_at"] == "2026-06-14T08:54:06Z"
    assert deployment["metadata"]["cas_config"]["stats"]["total_runs"] == 1
    assert fake_server.applied["deployments.run"] == 1


async def test_run_accepts_an_empty_body_or_none(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    fake_server.state.deployments[dep_id]["metadata"]["cas_config"]["config"]["max_concurrent"] = 5

    status_none, _ = await call(fake_http, "POST", f"deployments/{dep_id}/run")
    status_empty, _ = await call(fake_http, "POST", f"deployments/{dep_id}/run", json={})
    status_bad, error = await call(fake_http, "POST", f"deployments/{dep_id}/run", data=b"{oops")

    assert (status_none, status_empty, status_bad) == (200, 200, 400)
    assert error["error"]["message"] == "Request body must be valid JSON."


async def test_run_at_max_concurrent_is_recorded_as_skipped(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)

    first = await run(fake_http, dep_id)
    second = await run(fake_http, dep_id)
    fake_server.state.complete_run(first["id"])
    third = await run(fake_http, dep_id)

    assert [first["status"], second["status"], third["status"]] == ["running", "skipped", "running"]
    assert "session_id" not in second
    assert second["completed_at"] == second["triggered_at"]
    assert (
        fake_server.state.deployments[dep_id]["metadata"]["cas_config"]["stats"]["total_runs"] == 3
    )


async def test_completed_and_failed_runs(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    fake_server.state.deployments[dep_id]["metadata"]["cas_config"]["config"]["max_concurrent"] = 2
    ok = await run(fake_http, dep_id)
    bad = await run(fake_http, dep_id)
    fake_clock.now += 17.268
    fake_server.state.complete_run(ok["id"])
    fake_server.state.complete_run(
        bad["id"], status="failed", error={"type": "x", "message": "boom"}
    )

    _, done = await call(fake_http, "GET", f"deployments/{dep_id}/runs/{ok['id']}")
    _, failed = await call(fake_http, "GET", f"deployment_runs/{bad['id']}")

    assert shape(done) == shape(fixture("deployment_run.json"))
    assert done["status"] == "completed"
    assert 17000 <= done["duration_ms"] <= 17268
    assert failed["status"] == "failed"
    assert failed["error"] == {"type": "x", "message": "boom"}
    assert "duration_ms" not in failed
    stats = fake_server.state.deployments[dep_id]["metadata"]["cas_config"]["stats"]
    assert (stats["total_failures"], stats["consecutive_failures"]) == (1, 1)
    with pytest.raises(ValueError, match="cannot move"):
        fake_server.state.complete_run(ok["id"])


async def test_runs_complete_by_themselves_when_a_duration_is_set(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    fake_server.state.run_duration = 10.0
    started = await run(fake_http, dep_id)

    fake_clock.now += 5
    _, early = await call(fake_http, "GET", f"deployment_runs/{started['id']}")
    fake_clock.now += 6
    _, late = await call(fake_http, "GET", f"deployment_runs/{started['id']}")

    assert early["status"] == "running"
    assert late["status"] == "completed"
    assert late["duration_ms"] == pytest.approx(10962, abs=2)


async def test_scoped_run_list_and_lookup(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    mine, other = fake_server.seed_deployments(2)
    my_runs = [await run(fake_http, mine)]
    fake_server.state.complete_run(my_runs[0]["id"])
    my_runs.append(await run(fake_http, mine))
    other_run = await run(fake_http, other)

    status, page = await call(fake_http, "GET", f"deployments/{mine}/runs")
    assert status == 200
    assert [item["id"] for item in page["data"]] == [my_runs[1]["id"], my_runs[0]["id"]]
    assert (page["has_more"], page["next_page"]) == (False, None)

    assert (await call(fake_http, "GET", f"deployments/{mine}/runs/{other_run['id']}"))[0] == 404
    assert (await call(fake_http, "GET", f"deployments/{other}/runs/{other_run['id']}"))[0] == 200
    _, completed = await call(fake_http, "GET", f"deployments/{mine}/runs?status=completed")
    assert [item["id"] for item in completed["data"]] == [my_runs[0]["id"]]
    assert shape(completed) == shape(fixture("deployment_run_list_page.json"))


async def test_run_list_pages_newest_first(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    fake_server.state.deployments[dep_id]["metadata"]["cas_config"]["config"]["max_concurrent"] = (
        100
    )
    created = []
    for _ in range(25):
        fake_clock.now += 0.001
        created.append((await run(fake_http, dep_id))["id"])
    newest_first = list(reversed(created))

    _, first = await call(fake_http, "GET", f"deployments/{dep_id}/runs", params={"limit": "10"})
    _, second = await call(
        fake_http,
        "GET",
        f"deployments/{dep_id}/runs",
        params={"limit": "10", "page": first["next_page"]},
    )
    _, back = await call(
        fake_http, "GET", "deployment_runs", params={"limit": "10", "before_id": second["first_id"]}
    )

    assert [item["id"] for item in first["data"]] == newest_first[:10]
    assert first["has_more"] is True
    assert [item["id"] for item in second["data"]] == newest_first[10:20]
    assert [item["id"] for item in back["data"]] == newest_first[:10]
    assert back["has_more"] is False


async def test_triggered_time_filters(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    fake_server.state.deployments[dep_id]["metadata"]["cas_config"]["config"]["max_concurrent"] = 9
    ids = []
    for minute in range(3):
        fake_clock.now = NOW + 60 * minute  # 08:58:01, 08:59:01, 09:00:01
        ids.append((await run(fake_http, dep_id))["id"])

    params = {"triggered_after": "2026-06-14T08:59:00Z", "triggered_before": "2026-06-14T09:00:00Z"}
    _, page = await call(fake_http, "GET", f"deployments/{dep_id}/runs", params=params)
    _, recent = await call(
        fake_http, "GET", "deployment_runs", params={"created_at[gte]": "2026-06-14T08:59:01Z"}
    )

    assert [item["id"] for item in page["data"]] == [ids[1]]
    assert [item["id"] for item in recent["data"]] == [ids[2], ids[1]]


async def test_global_run_filters(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    first, second = fake_server.seed_deployments(2)
    a = await run(fake_http, first)
    fake_server.state.complete_run(a["id"], status="failed")
    b = await run(fake_http, first)
    c = fake_server.state.run(second, trigger_type="schedule")

    async def ids(**params: str) -> list[str]:
        status, page = await call(fake_http, "GET", "deployment_runs", params=params)
        assert status == 200
        return [item["id"] for item in page["data"]]

    assert await ids() == [c["id"], b["id"], a["id"]]
    assert await ids(deployment_id=first) == [b["id"], a["id"]]
    assert await ids(deployment_id="dep_unknown") == []
    assert await ids(status="failed") == [a["id"]]
    assert await ids(status="running") == [c["id"], b["id"]]
    assert await ids(trigger_type="schedule") == [c["id"]]
    assert await ids(trigger_type="manual", has_error="false") == [b["id"]]
    assert await ids(has_error="true") == [a["id"]]


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("deployment_runs", {"status": "done"}, "status"),
        ("deployment_runs", {"trigger_type": "cron"}, "trigger_type"),
        ("deployment_runs", {"has_error": "1"}, "has_error"),
        ("deployment_runs", {"limit": "0"}, "limit"),
        ("deployment_runs", {"after_id": "drun_x", "before_id": "drun_y"}, "before_id"),
        ("deployment_runs", {"after_id": "drun_unknown"}, "after_id"),
        ("SCOPED", {"triggered_after": "soon"}, "triggered_after"),
        ("SCOPED", {"status": "archived"}, "status"),
    ],
)
async def test_bad_run_list_queries_are_400(
    fake_http: aiohttp.ClientSession,
    fake_server: FakeQoderServer,
    path: str,
    params: dict[str, str],
    param: str,
) -> None:
    (dep_id,) = fake_server.seed_deployments(1)
    if path == "SCOPED":
        path = f"deployments/{dep_id}/runs"

    status, body = await call(fake_http, "GET", path, params=params)

    assert status == 400
    assert body["error"]["param"] == param


async def test_scoped_run_list_of_unknown_deployment_is_404(
    fake_http: aiohttp.ClientSession,
) -> None:
    status, body = await call(fake_http, "GET", "deployments/dep_unknown/runs")
    assert (status, body["error"]["type"]) == (404, "not_found_error")
