"""Every endpoint through the SDK against the fake server, over real loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qoder_async import (
    AgentRef,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    QoderClient,
    ScheduleSpec,
    UserMessage,
)
from qoder_async._messages import Request, Response
from qoder_async.middleware import Handler
from qoder_async.testing import FakeQoderServer
from tests.e2e_helpers import client_for

EVENTS = [{"type": "user.message", "content": [{"type": "text", "text": "status report"}]}]


async def test_create_get_update_pause_unpause_run_archive(
    qoder_fake_server: FakeQoderServer,
) -> None:
    server = qoder_fake_server
    async with client_for(server) as client:
        created = await client.deployments.create(
            name="daily-report",
            agent="agent_019eb4d4a06d747c865d5800b9c57ae2",
            environment_id="env_019e64e01a137caf953ac2ac7b42ec5c",
            initial_events=EVENTS,
            schedule=ScheduleSpec(expression="0 9 * * *", timezone="Asia/Shanghai"),
            description="made by the e2e test",
            metadata={"team": "platform"},
        )
        assert created.status == "active"
        assert created.schedule is not None
        assert created.schedule.upcoming_runs_at[0].hour == 1  # 09:00 Shanghai is 01:00Z
        assert created.schedule.last_run_at is None
        assert created.agent.version >= 1
        assert created.metadata["team"] == "platform"
        assert (await client.deployments.get(created.id)) == created

        updated = await client.deployments.update(
            created.id, name="daily-report-v2", metadata={"team": None, "owner": "ops"}
        )
        assert updated.name == "daily-report-v2"
        assert "team" not in updated.metadata
        assert updated.metadata["owner"] == "ops"

        paused = await client.deployments.pause(created.id)
        assert paused.status == "paused"
        assert paused.paused_reason is not None
        assert paused.paused_reason.type == "manual"
        with pytest.raises(ConflictError):
            await client.deployments.pause(created.id)
        with pytest.raises(ConflictError):
            await client.deployments.run(created.id)

        active = await client.deployments.unpause(created.id)
        assert active.status == "active"
        assert active.paused_reason is None

        run = await client.deployments.run(created.id)
        assert run.deployment_id == created.id
        assert run.trigger_context.type == "manual"
        assert (await client.deployments.runs.get(created.id, run.id)).id == run.id
        assert (await client.deployment_runs.get(run.id)).id == run.id
        after_run = await client.deployments.get(created.id)
        assert after_run.schedule is not None
        assert after_run.schedule.last_run_at is not None

        archived = await client.deployments.archive(created.id)
        assert archived.is_archived
        assert archived.name.startswith("daily-report-v2_archived_")
        assert archived.schedule is not None
        assert archived.schedule.upcoming_runs_at == ()
        with pytest.raises(ConflictError):
            await client.deployments.archive(created.id)
        listed = [d.id async for d in client.deployments.list()]
        assert created.id not in listed
        everything = [d.id async for d in client.deployments.list(include_archived=True)]
        assert created.id in everything
    assert server.archive_applications[created.id] == 1


async def test_manual_deployment_with_pinned_agent_and_string_content(
    qoder_fake_server: FakeQoderServer,
) -> None:
    async with client_for(qoder_fake_server) as client:
        created = await client.deployments.create(
            name="manual-only",
            agent=AgentRef(id="agent_019eb4d4a06d747c865d5800b9c57ae2", version=3),
            environment_id="env_019e64e01a137caf953ac2ac7b42ec5c",
            initial_events=[UserMessage(content="plain text is sent as a block")],
        )
    assert created.schedule is None
    assert created.agent.version == 3
    event = created.initial_events[0]
    assert isinstance(event, UserMessage)


async def test_filters_and_run_lists(qoder_fake_server: FakeQoderServer) -> None:
    server = qoder_fake_server
    mine = server.seed_deployments(5, agent_id="agent_" + "a" * 32)
    server.seed_deployments(3, status="paused")
    server.seed_deployments(2, archived=True)
    async with client_for(server) as client:
        paused = [d async for d in client.deployments.list(status="paused")]
        assert len(paused) == 3
        assert all(d.status == "paused" for d in paused)
        by_agent = [
            d.id
            async for d in client.deployments.list(
                agent_id="agent_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            )
        ]
        assert sorted(by_agent) == sorted(mine)
        assert len([d async for d in client.deployments.list()]) == 8
        assert len([d async for d in client.deployments.list(include_archived=True)]) == 10
        future = datetime(2100, 1, 1, tzinfo=UTC)
        assert [d async for d in client.deployments.list(created_after=future)] == []

        runs = [await client.deployments.run(mine[0]) for _ in range(3)]
        scoped = [r.id async for r in client.deployments.runs.list(mine[0], limit=2)]
        assert scoped == [r.id for r in reversed(runs)]  # newest first, across pages
        glob = [r.id async for r in client.deployment_runs.list(deployment_id=mine[0])]
        assert sorted(glob) == sorted(r.id for r in runs)
        manual = [r async for r in client.deployment_runs.list(trigger_type="manual")]
        assert len(manual) == 3


async def test_pagination_over_thousands(qoder_fake_server: FakeQoderServer) -> None:
    ids = qoder_fake_server.seed_deployments(2500)
    async with client_for(qoder_fake_server) as client:
        walked = [d.id async for d in client.deployments.list(limit=1000)]
        pages = [len(p.data) async for p in client.deployments.list(limit=1000).pages()]
        default_pages = 0
        async for _page in client.deployments.list().pages():
            default_pages += 1
    assert walked == list(reversed(ids))  # newest first, each exactly once
    assert pages == [1000, 1000, 500]
    assert default_pages == 125  # 20 per page by default
    assert qoder_fake_server.request_counts["deployments.list"] == 3 + 3 + 125


async def test_backward_paging_with_before_id(qoder_fake_server: FakeQoderServer) -> None:
    ids = list(reversed(qoder_fake_server.seed_deployments(30)))  # newest first
    async with client_for(qoder_fake_server) as client:
        older_first = [d.id async for d in client.deployments.list(before_id=ids[25], limit=10)]
    assert sorted(older_first) == sorted(ids[:25])


async def test_error_classes_from_the_real_wire(qoder_fake_server: FakeQoderServer) -> None:
    server = qoder_fake_server
    (dep,) = server.seed_deployments(1)
    async with QoderClient("pt-wrong-token", base_url=server.url) as bad:
        with pytest.raises(AuthenticationError) as auth:
            await bad.deployments.get(dep)
    assert auth.value.error_type == "authentication_error"
    assert auth.value.request_id

    async def corrupt_body(request: Request, call_next: Handler) -> Response:
        return await call_next(
            Request(
                method=request.method,
                url=request.url,
                headers=request.headers,
                content=b"{not json",
            )
        )

    async with client_for(server, per_attempt_middleware=[corrupt_body]) as client:
        with pytest.raises(BadRequestError) as bad_request:
            await client.deployments.update(dep, name="x")
    assert bad_request.value.error_type == "invalid_request_error"

    async with client_for(server) as client:
        with pytest.raises(NotFoundError) as missing:
            await client.deployments.get("dep_" + "0" * 32)
        assert missing.value.error_type == "not_found_error"
        with pytest.raises(NotFoundError):
            [r async for r in client.deployments.runs.list("dep_" + "0" * 32)]
        with pytest.raises(ConflictError) as conflict:
            await client.deployments.unpause(dep)
        assert conflict.value.error_type == "conflict_error"


async def test_reused_idempotency_key_with_another_body_is_a_conflict(
    qoder_fake_server: FakeQoderServer,
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    async with client_for(qoder_fake_server) as client:
        first = await client.deployments.update(dep, name="one", idempotency_key="k-123")
        again = await client.deployments.update(dep, name="one", idempotency_key="k-123")
        assert again == first  # replayed, not re-applied
        with pytest.raises(ConflictError, match="Idempotency key reused"):
            await client.deployments.update(dep, name="two", idempotency_key="k-123")
    assert qoder_fake_server.applied["deployments.update"] == 1


async def test_update_schedule_none_makes_it_manual(qoder_fake_server: FakeQoderServer) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    async with client_for(qoder_fake_server) as client:
        assert (await client.deployments.get(dep)).schedule is not None
        manual = await client.deployments.update(dep, schedule=None)
        assert manual.schedule is None
        renamed = await client.deployments.update(dep, name="still-manual")
        assert renamed.schedule is None
        rescheduled = await client.deployments.update(
            dep, schedule=ScheduleSpec(expression="30 9 * * 1-5", timezone="Asia/Shanghai")
        )
        assert rescheduled.schedule is not None
        assert rescheduled.schedule.expression == "30 9 * * 1-5"
