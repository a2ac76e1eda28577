"""The fake server's state API: typed views, counters per endpoint and id, the fault log,
seeding, resetting, and waiting for a condition, driven through real HTTP requests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pydoc

import aiohttp
import pytest

from qoder_async.testing import (
    DeploymentView,
    FakeQoderServer,
    Fault,
    FaultPlan,
    InjectedFault,
    RunView,
)
from qoder_async.testing.inspection import ServerInspection
from tests.fake_server_support import call


async def test_deployment_view_follows_pause_and_archive(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    (dep,) = fake_server.seed_deployments(1, schedule=None)
    before = fake_server.deployment(dep)
    assert isinstance(before, DeploymentView)
    assert (before.id, before.status, before.archived, before.paused_reason) == (
        dep,
        "active",
        False,
        None,
    )
    assert before.schedule_expression is None
    assert before.upcoming_runs_at == ()

    assert (await call(fake_http, "POST", f"deployments/{dep}/pause"))[0] == 200
    assert (await call(fake_http, "POST", f"deployments/{dep}/archive"))[0] == 200
    after = fake_server.deployment(dep)
    assert (after.status, after.paused_reason, after.archived) == ("paused", "manual", True)
    assert after.archived_at is not None
    assert after.name.startswith(before.name + "_archived_")
    # A view is a snapshot: it neither changes afterwards nor lets a test change state.
    assert before.archived is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.status = "active"  # type: ignore[misc]
    with pytest.raises(TypeError):
        after.wire["status"] = "active"  # type: ignore[index]
    assert fake_server.state.deployments[dep]["status"] == "paused"


async def test_deployments_lists_views_oldest_first(fake_server: FakeQoderServer) -> None:
    live = fake_server.seed_deployments(2)
    (gone,) = fake_server.seed_deployments(1, archived=True)
    assert [d.id for d in fake_server.deployments()] == [*live, gone]
    assert [d.id for d in fake_server.deployments(include_archived=False)] == live
    with pytest.raises(KeyError):
        fake_server.deployment("dep_" + "f" * 32)


async def test_counts_per_endpoint_and_deployment(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    first, second = fake_server.seed_deployments(2)
    for _ in range(2):
        await call(fake_http, "GET", f"deployments/{first}")
    await call(fake_http, "POST", f"deployments/{first}/archive")
    await call(fake_http, "POST", f"deployments/{first}/archive")  # 409: not applied
    await call(fake_http, "POST", f"deployments/{second}/pause")

    assert fake_server.request_count() == 5
    assert fake_server.request_count("deployments.get", deployment_id=first) == 2
    assert fake_server.request_count("deployments.archive") == 2
    assert fake_server.request_count(deployment_id=second) == 1
    assert fake_server.applied_count("deployments.archive", deployment_id=first) == 1
    assert fake_server.applied_count(deployment_id=second) == 1
    assert fake_server.applied_count("deployments.get") == 0
    assert fake_server.archive_applications == {first: 1}


async def test_a_create_counts_for_the_id_it_created(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    status, body = await call(
        fake_http,
        "POST",
        "deployments",
        json={
            "name": "nightly",
            "agent": fake_server.state.default_agent_id,
            "environment_id": fake_server.state.default_environment_id,
            "initial_events": [{"type": "user.message", "content": "hi"}],
        },
    )
    assert status == 200, body
    assert fake_server.applied_count("deployments.create", deployment_id=body["id"]) == 1
    assert fake_server.deployment(body["id"]).name == "nightly"


async def test_injected_faults_are_listed_in_order(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    (dep,) = fake_server.seed_deployments(1)
    fake_server.faults = FaultPlan().script("deployments.get", [Fault.server_error()])
    fake_server.faults.script("deployments.list", [Fault.rate_limited(retry_after=1)])
    await call(fake_http, "GET", f"deployments/{dep}")
    await call(fake_http, "GET", "deployments")
    await call(fake_http, "GET", f"deployments/{dep}")  # the script ran out: no fault

    assert fake_server.injected_faults() == [
        InjectedFault("deployments.get", "server_error", dep),
        InjectedFault("deployments.list", "rate_limited", None),
    ]
    assert fake_server.injected_faults("deployments.list") == [
        InjectedFault("deployments.list", "rate_limited", None)
    ]
    assert fake_server.faults_injected == {"server_error": 1, "rate_limited": 1}


async def test_reset_counters_keeps_state_and_plan(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    (dep,) = fake_server.seed_deployments(1)
    fake_server.faults = FaultPlan().script("deployments.get", [Fault.server_error()] * 2)
    await call(fake_http, "GET", f"deployments/{dep}")
    await call(fake_http, "POST", f"deployments/{dep}/archive")

    fake_server.reset_counters()

    assert fake_server.request_count() == 0
    assert fake_server.applied_count() == 0
    assert fake_server.injected_faults() == []
    assert not fake_server.request_counts
    assert not fake_server.applied
    assert not fake_server.archive_applications
    assert not fake_server.faults_injected
    assert fake_server.deployment(dep).archived  # state kept
    assert (await call(fake_http, "GET", f"deployments/{dep}"))[0] == 500  # plan kept


async def test_seed_run_and_run_views(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    first, second = fake_server.seed_deployments(2)
    running = fake_server.seed_run(first)
    failed = fake_server.seed_run(second, status="failed")
    assert isinstance(running, RunView)
    assert (running.deployment_id, running.status, running.trigger_type) == (
        first,
        "running",
        "manual",
    )
    assert running.completed_at is None
    assert running.error_message is None
    assert failed.status == "failed"
    assert failed.error_message == "The agent session failed."
    assert failed.completed_at is not None

    status, body = await call(fake_http, "GET", f"deployment_runs/{running.id}")
    assert (status, body["status"]) == (200, "running")
    assert fake_server.request_count() == 1  # seeding made no requests
    assert [r.id for r in fake_server.deployment_runs()] == [running.id, failed.id]
    assert [r.id for r in fake_server.deployment_runs(second)] == [failed.id]
    assert fake_server.deployment_run(failed.id) == failed

    fake_server.state.complete_run(running.id)
    assert fake_server.deployment_run(running.id).status == "completed"
    assert running.status == "running"  # the earlier snapshot did not move


async def test_seed_run_refuses_what_the_api_would(fake_server: FakeQoderServer) -> None:
    (paused,) = fake_server.seed_deployments(1, status="paused")
    (busy,) = fake_server.seed_deployments(1)
    with pytest.raises(ValueError, match="paused"):
        fake_server.seed_run(paused)
    fake_server.seed_run(busy)
    with pytest.raises(ValueError, match="skipped"):
        fake_server.seed_run(busy)  # max_concurrent is 1
    with pytest.raises(ValueError, match="status"):
        fake_server.seed_run(busy, status="skipped")
    with pytest.raises(KeyError):
        fake_server.seed_run("dep_" + "f" * 32)
    with pytest.raises(KeyError):
        fake_server.deployment_run("drun_" + "f" * 32)


async def test_wait_until_wakes_on_the_request_it_waits_for(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    (dep,) = fake_server.seed_deployments(1)
    fake_server.faults = FaultPlan().script("deployments.archive", [Fault.latency(5)])
    request = asyncio.create_task(call(fake_http, "POST", f"deployments/{dep}/archive"))
    # The request is held by the latency fault, so only the server's own signal can tell
    # that it arrived.
    await fake_server.wait_until(lambda: fake_server.request_count("deployments.archive") == 1)
    assert fake_server.applied_count() == 0
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request


async def test_wait_until_returns_at_once_when_already_true(
    fake_server: FakeQoderServer,
) -> None:
    await fake_server.wait_until(lambda: True, timeout=0)


async def test_wait_until_is_bounded_and_reports_a_failing_predicate(
    fake_server: FakeQoderServer, fake_http: aiohttp.ClientSession
) -> None:
    with pytest.raises(TimeoutError, match=r"within 0\.05 s"):
        await fake_server.wait_until(lambda: fake_server.request_count() > 0, timeout=0.05)

    def broken() -> bool:
        if fake_server.request_count():
            raise LookupError("the predicate itself failed")
        return False

    waiter = asyncio.create_task(fake_server.wait_until(broken))
    await call(fake_http, "GET", "deployments")
    with pytest.raises(LookupError, match="predicate itself"):
        await waiter


def test_help_documents_every_public_method_and_the_counters() -> None:
    methods = [
        name
        for cls in (FakeQoderServer, ServerInspection)
        for name, value in vars(cls).items()
        if not name.startswith("_") and callable(value)
    ]
    assert {"deployment", "request_count", "seed_run", "wait_until"} <= set(methods)
    assert [name for name in methods if not getattr(FakeQoderServer, name).__doc__] == []
    text = pydoc.render_doc(FakeQoderServer, renderer=pydoc.TextDoc())
    for attribute in (
        "token",
        "state",
        "request_counts",
        "applied",
        "archive_applications",
        "faults_injected",
    ):
        assert f"{attribute}:" in text, attribute
