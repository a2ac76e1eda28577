"""The fake server's deployment endpoints, driven over real loopback HTTP.

Wire shapes are compared with the recorded fixtures key for key; validation, auth and
404 answers are checked in the documented error envelope.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from qoder_async.testing import FakeQoderServer
from tests.fake_server_support import (
    Clock,
    auth_headers,
    call,
    fixture,
    shape,
)

DEPLOYMENT_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DEP_ID = re.compile(r"^dep_[0-9a-f]{32}$")
FIXTURE_NOW = 1781427212.0  # 2026-06-14T08:53:32Z, the creation time in deployment.json


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "daily-report",
        "description": "Deployment created for API documentation verification",
        "agent": "agent_019eb4d4a06d747c865d5800b9c57ae2",
        "environment_id": "env_019e64e01a137caf953ac2ac7b42ec5c",
        "schedule": {"type": "cron", "expression": "0 9 * * *", "timezone": "Asia/Shanghai"},
        "initial_events": [{"type": "user.message", "content": "Generate today's status report"}],
        "resources": [],
        "vault_ids": [],
    }
    body.update(overrides)
    return body


@pytest.fixture
def fake_clock() -> Clock:
    """Starts at the creation time recorded in ``deployment.json``."""
    return Clock(FIXTURE_NOW)


async def post(fake_http: aiohttp.ClientSession, path: str, body: Any = None) -> tuple[int, Any]:
    return await call(fake_http, "POST", path, json=body)


async def get(fake_http: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
    return await call(fake_http, "GET", path)


async def test_create_returns_the_documented_deployment_shape(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    status, created = await post(fake_http, "deployments", create_body())

    assert status == 200
    expected = fixture("deployment.json")
    assert shape(created) == shape(expected)
    assert "last_run_at" not in created["schedule"]
    assert "last_triggered_at" not in created["metadata"]["cas_config"]["stats"]
    assert DEP_ID.match(created["id"])
    assert created["agent"] == {"id": expected["agent"]["id"], "type": "agent", "version": 1}
    assert created["schedule"]["upcoming_runs_at"] == expected["schedule"]["upcoming_runs_at"]
    assert created["metadata"] == expected["metadata"]
    assert created["created_at"] == created["updated_at"] == "2026-06-14T08:53:32Z"
    assert (created["status"], created["paused_reason"], created["archived_at"]) == (
        "active",
        None,
        None,
    )
    assert fake_server.state.deployments[created["id"]] == created
    assert fake_server.applied["deployments.create"] == 1


async def test_create_without_schedule_is_manual_only(fake_http: aiohttp.ClientSession) -> None:
    body = fixture("create_request_manual.synthesized.json")

    status, created = await post(fake_http, "deployments", body)

    assert status == 200
    assert created["schedule"] is None
    assert "next_trigger_at" not in created["metadata"]["cas_config"]["stats"]
    assert created["initial_events"] == body["initial_events"]  # content blocks echoed
    assert created["description"] is None


async def test_create_pins_the_agent_version_and_keeps_user_metadata(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    fake_server.state.agent_versions["agent_latest"] = 4
    pinned = {"id": "agent_pinned", "type": "agent", "version": 2}
    metadata = {"team": "ops", "cas_config": {"config": {"max_concurrent": 3}}}

    _, by_id = await post(fake_http, "deployments", create_body(agent="agent_latest"))
    _, by_ref = await post(fake_http, "deployments", create_body(agent=pinned, metadata=metadata))

    assert by_id["agent"]["version"] == 4
    assert by_ref["agent"] == pinned
    assert by_ref["metadata"]["team"] == "ops"
    assert by_ref["metadata"]["cas_config"]["config"] == {
        "max_concurrent": 3,
        "max_retries": 0,
        "timeout_ms": 300000,
    }


async def test_create_never_returns_repository_tokens(fake_http: aiohttp.ClientSession) -> None:
    repo = {
        "type": "github_repository",
        "url": "https://github.com/o/r",
        "authorization_token": "x",
    }

    _, created = await post(fake_http, "deployments", create_body(resources=[repo]))

    assert created["resources"] == [{"type": "github_repository", "url": "https://github.com/o/r"}]


INVALID_CREATES: list[tuple[dict[str, Any], str | None]] = [
    ({"name": None}, "name"),
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
    ({"name": "x" * 257}, "name"),
    ({"agent": None}, "agent"),
    ({"agent": 5}, "agent"),
    ({"agent": {"id": "agent_a", "version": 1}}, "agent.type"),
    ({"agent": {"id": "agent_a", "type": "agent", "version": "1"}}, "agent.version"),
    ({"agent": {"id": "", "type": "agent", "version": 1}}, "agent.id"),
    ({"environment_id": None}, "environment_id"),
    ({"initial_events": []}, "initial_events"),
    ({"initial_events": [{"type": "user.message", "content": "x"}] * 51}, "initial_events"),
    ({"initial_events": [{"content": "x"}]}, "initial_events[0].type"),
    ({"initial_events": [{"type": "agent.message"}]}, "initial_events[0].type"),
    ({"vault_ids": ["vault_x"] * 51}, "vault_ids"),
    ({"vault_ids": [1]}, "vault_ids[0]"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"k" * 65: "v"}}, "metadata"),
    ({"metadata": {"k": "v" * 513}}, "metadata.k"),
    ({"metadata": {"k": 1}}, "metadata.k"),
    ({"metadata": {"cas_config": {"config": {"max_concurrent": 0}}}}, None),
    ({"schedule": {"type": "interval", "expression": "0 9 * * *", "timezone": "UTC"}}, None),
    ({"schedule": {"type": "cron", "expression": "0 9 * *", "timezone": "UTC"}}, None),
    ({"schedule": {"type": "cron", "expression": "61 9 * * *", "timezone": "UTC"}}, None),
    ({"schedule": {"type": "cron", "expression": "0 9 * * *", "timezone": "Mars/Base"}}, None),
    ({"schedule": {"type": "cron", "expression": "0 9 * * *"}}, "schedule.timezone"),
    ({"resources": [{"type": "file"}]}, "resources[0].file_id"),
    ({"surprise": True}, "surprise"),
]


@pytest.mark.parametrize(("override", "param"), INVALID_CREATES)
async def test_create_validation_errors_name_the_field(
    fake_http: aiohttp.ClientSession,
    fake_server: FakeQoderServer,
    override: dict[str, Any],
    param: str | None,
) -> None:
    body = create_body(**override)
    body = {key: value for key, value in body.items() if value is not None}

    status, error = await post(fake_http, "deployments", body)

    assert status == 400
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"]
    if param is not None:
        assert error["error"]["param"] == param
    else:
        assert error["error"]["param"].startswith(("schedule.", "metadata.cas_config"))
    assert fake_server.state.deployments == {}
    assert fake_server.applied["deployments.create"] == 0


async def test_missing_name_matches_the_documented_400(fake_http: aiohttp.ClientSession) -> None:
    body = create_body()
    del body["name"]

    assert await post(fake_http, "deployments", body) == (400, fixture("error_400.json"))


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"name": "x",'])
async def test_malformed_json_is_a_400(fake_http: aiohttp.ClientSession, raw: bytes) -> None:
    async with fake_http.post("deployments", data=raw) as response:
        assert response.status == 400
        error = await response.json()
    assert error["error"] == {
        "type": "invalid_request_error",
        "message": "Request body must be valid JSON.",
    }


async def test_get_returns_the_stored_deployment(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    created = fake_server.state.create(create_body())

    assert await get(fake_http, f"deployments/{created['id']}") == (200, created)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "deployments/dep_0123456789abcdef0123456789abcdef"),
        ("POST", "deployments/dep_0123456789abcdef0123456789abcdef"),
        ("POST", "deployments/dep_0123456789abcdef0123456789abcdef/pause"),
        ("POST", "deployments/dep_0123456789abcdef0123456789abcdef/unpause"),
        ("POST", "deployments/dep_0123456789abcdef0123456789abcdef/archive"),
        ("POST", "deployments/dep_0123456789abcdef0123456789abcdef/run"),
        ("GET", "deployments/dep_0123456789abcdef0123456789abcdef/runs"),
        ("GET", "deployments/dep_0123456789abcdef0123456789abcdef/runs/drun_x"),
        ("GET", "deployment_runs/drun_0123456789abcdef0123456789abcdef"),
        ("GET", "no_such_endpoint"),
    ],
)
async def test_unknown_ids_are_404(
    fake_http: aiohttp.ClientSession, method: str, path: str
) -> None:
    async with fake_http.request(method, path, json={} if method == "POST" else None) as response:
        assert response.status == 404
        body = await response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"


async def test_update_merges_metadata_and_replaces_arrays(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer, fake_clock: Clock
) -> None:
    created = fake_server.state.create(
        create_body(metadata={"keep": "1", "drop": "2"}, vault_ids=["a"])
    )
    fake_clock.now += 30
    patch = {
        **fixture("update_request.json"),
        "metadata": {"drop": None, "new": "3"},
        "vault_ids": ["b", "c"],
    }

    status, updated = await post(fake_http, f"deployments/{created['id']}", patch)

    assert status == 200
    assert updated["name"] == "api-doc-verification-deployment-v2"
    assert updated["schedule"]["expression"] == "30 9 * * 1-5"
    # 2026-06-14 is a Sunday: the weekday schedule fires next on Monday 09:30 Shanghai.
    assert (
        updated["schedule"]["upcoming_runs_at"]
        == fixture("deployment_paused.json")["schedule"]["upcoming_runs_at"]
    )
    assert updated["metadata"]["cas_config"]["stats"]["next_trigger_at"] == "2026-06-15T01:30:00Z"
    assert {k: v for k, v in updated["metadata"].items() if k != "cas_config"} == {
        "keep": "1",
        "new": "3",
    }
    assert updated["vault_ids"] == ["b", "c"]
    assert updated["description"] == created["description"]
    assert updated["updated_at"] == "2026-06-14T08:54:02Z"
    assert updated["created_at"] == "2026-06-14T08:53:32Z"


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"name": ""}, "name"),
        ({"schedule": {"type": "cron", "expression": "0 9 * * *"}}, "schedule.timezone"),
        ({"schedule": {"expression": "0 9 * * *", "timezone": "UTC"}}, "schedule.type"),
        ({"initial_events": []}, "initial_events"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ],
)
async def test_update_validation_errors(
    fake_http: aiohttp.ClientSession,
    fake_server: FakeQoderServer,
    patch: dict[str, Any],
    param: str,
) -> None:
    created = fake_server.state.create(create_body())

    status, error = await post(fake_http, f"deployments/{created['id']}", patch)

    assert status == 400
    assert error["error"]["param"] == param
    assert fake_server.state.deployments[created["id"]]["name"] == "daily-report"


async def test_update_metadata_limit_counts_the_merged_result(
    fake_http: aiohttp.ClientSession, fake_server: FakeQoderServer
) -> None:
    created = fake_server.state.create(create_body(metadata={f"k{i}": "v" for i in range(16)}))

    status, error = await post(
        fake_http, f"deployments/{created['id']}", {"metadata": {"k99": "v"}}
    )
    replaced = {"metadata": {"k0": None, "k99": "v"}}
    ok_status, updated = await post(fake_http, f"deployments/{created['id']}", replaced)

    assert (status, error["error"]["param"]) == (400, "metadata")
    assert ok_status == 200
    assert "k99" in updated["metadata"]
    assert "k0" not in updated["metadata"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing Authorization header."),
        ({"Authorization": "Bearer pt-wrong"}, "Invalid API key or token."),
        ({"Authorization": "pt-fake-token"}, "Invalid API key or token."),
        ({"Authorization": "Basic pt-fake-token"}, "Invalid API key or token."),
        ({"x-api-key": "pt-fake-token"}, None),
    ],
)
async def test_authentication_failures_are_401(
    fake_server: FakeQoderServer, headers: dict[str, str], message: str | None
) -> None:
    async with (
        aiohttp.ClientSession(base_url=fake_server.url + "/") as session,
        session.get("deployments", headers=headers) as response,
    ):
        assert response.status == 401
        body = await response.json()
        assert response.headers["x-request-id"].startswith("req_")
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    if message is not None:
        assert body["error"]["message"] == message
    assert fake_server.request_counts["deployments.list"] == 1


async def test_configured_tokens_are_the_only_ones_accepted() -> None:
    async with FakeQoderServer(tokens=["pt-a", "pt-b"]) as fake_server:
        assert fake_server.token == "pt-a"
        async with aiohttp.ClientSession(base_url=fake_server.url + "/") as session:
            statuses = []
            for token in ("pt-a", "pt-b", "pt-fake-token"):
                headers = {"Authorization": f"Bearer {token}"}
                async with session.get("deployments", headers=headers) as response:
                    statuses.append(response.status)
    assert statuses == [200, 200, 401]


async def test_every_response_has_a_fresh_request_id(fake_http: aiohttp.ClientSession) -> None:
    ids = set()
    for path in ("deployments", "deployments/dep_missing", "deployment_runs"):
        async with fake_http.get(path) as response:
            ids.add(response.headers["x-request-id"])
    assert len(ids) == 3
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", request_id) for request_id in ids)


async def test_base_path_is_configurable() -> None:
    async with FakeQoderServer(base_path="/custom/") as fake_server:
        assert fake_server.url.endswith(f":{fake_server.port}/custom")
        async with (
            aiohttp.ClientSession(headers=auth_headers(fake_server)) as session,
            session.get(fake_server.url + "/deployments") as response,
        ):
            assert response.status == 200


def test_constructor_rejects_an_empty_token_set() -> None:
    with pytest.raises(ValueError, match="tokens"):
        FakeQoderServer(tokens=[])
    with pytest.raises(ValueError, match="tokens"):
        FakeQoderServer(tokens="pt-single")


async def test_url_is_unavailable_before_start_and_close_is_idempotent() -> None:
    fake_server = FakeQoderServer()
    with pytest.raises(RuntimeError):
        _ = fake_server.url
    await fake_server.start()
    try:
        assert fake_server.url.startswith("http://127.0.0.1:")
        with pytest.raises(RuntimeError):
            await fake_server.start()
    finally:
        await fake_server.close()
    await fake_server.close()
