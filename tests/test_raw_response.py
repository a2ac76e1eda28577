"""``with_raw_response``: a successful call's status, headers and request id, then the model.

Against the fake server over real loopback; what the server sent is read off the wire by
a per-attempt middleware (it sees every attempt's response before the SDK keeps any).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable

import pytest

from qoder_async import (
    APIStatusError,
    Deployment,
    DeploymentRun,
    Handler,
    InvalidArgumentError,
    NotFoundError,
    RawResponse,
    Request,
    Response,
    ResponseDecodeError,
    UnknownResource,
    _salvage,
)
from qoder_async.testing import FakeQoderServer, Fault, FaultPlan
from tests.e2e_helpers import client_for

DRIFTED = {"type": "file", "id": "file_1", "mount_path": "/mnt/session/uploads/file_1"}


class Wire:
    """Per-attempt middleware recording each request sent and the request id answered."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.request_ids: list[str | None] = []

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        self.requests.append(request)
        try:
            response = await call_next(request)
        except APIStatusError as failed:  # a non-2xx attempt, raised inside the attempt
            self.request_ids.append(failed.request_id)
            raise
        self.request_ids.append(response.header("x-request-id"))
        return response


async def test_get_gives_status_headers_request_id_and_parses_to_the_normal_result(
    qoder_fake_server: FakeQoderServer,
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    wire = Wire()
    async with client_for(qoder_fake_server, per_attempt_middleware=[wire]) as client:
        raw = await client.deployments.with_raw_response.get(dep)
        normal = await client.deployments.get(dep)
    assert isinstance(raw, RawResponse)
    assert raw.status == 200
    assert raw.request_id is not None
    assert raw.request_id.startswith("req_")
    assert raw.request_id == wire.request_ids[0] != wire.request_ids[1]
    assert raw.headers["x-request-id"] == raw.request_id
    assert raw.attempts == 1
    parsed = raw.parse()
    assert parsed == normal
    assert parsed.id == dep
    assert raw.parse() is parsed  # decoded once
    assert raw.request_id in repr(raw)


async def test_every_single_object_call_has_a_raw_form(
    qoder_fake_server: FakeQoderServer,
) -> None:
    async with client_for(qoder_fake_server) as client:
        raw = client.deployments.with_raw_response
        created = await raw.create(
            name="raw",
            agent="agent_1",
            environment_id="env_1",
            initial_events=[{"type": "user.message", "content": "hi"}],
        )
        dep = created.parse().id
        updated = (await raw.update(dep, name="renamed")).parse()
        assert updated.name == "renamed"
        run = await raw.run(dep)
        assert isinstance(run.parse(), DeploymentRun)
        run_id = run.parse().id
        by_deployment = await client.deployments.runs.with_raw_response.get(dep, run_id)
        global_run = await client.deployment_runs.with_raw_response.get(run_id)
        assert (
            by_deployment.parse() == global_run.parse() == await client.deployment_runs.get(run_id)
        )
        assert (await raw.pause(dep)).parse().is_paused
        assert not (await raw.unpause(dep)).parse().is_paused
        archived = await raw.archive(dep)
        assert archived.parse().is_archived
        responses = [created, run, by_deployment, global_run, archived]
        assert {r.status for r in responses} <= {200, 201}
        assert all(r.request_id for r in responses)
        assert len({r.request_id for r in responses}) == len(responses)
    assert qoder_fake_server.archive_applications[dep] == 1


async def test_a_retried_call_reports_the_attempt_and_id_that_succeeded(
    qoder_fake_server: FakeQoderServer,
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = FaultPlan().script("deployments.get", [Fault.server_error()])
    wire = Wire()
    async with client_for(qoder_fake_server, per_attempt_middleware=[wire]) as client:
        raw = await client.deployments.with_raw_response.get(dep)
    assert raw.attempts == 2
    assert len(wire.request_ids) == 2
    assert raw.request_id == wire.request_ids[1] != wire.request_ids[0]


async def test_the_same_validation_and_per_call_options_as_the_normal_call(
    qoder_fake_server: FakeQoderServer,
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    wire = Wire()
    async with client_for(qoder_fake_server, per_attempt_middleware=[wire]) as client:
        calls: list[Callable[..., Awaitable[object]]] = [
            client.deployments.get,
            client.deployments.with_raw_response.get,
        ]
        for call in calls:
            with pytest.raises(InvalidArgumentError, match=r"^deployment_id"):
                await call("not an id")
            with pytest.raises(ValueError, match=r"^timeout"):
                await call(dep, timeout=-1)
            with pytest.raises(ValueError, match=r"^extra_headers"):
                await call(dep, extra_headers={"bad name": "x"})
        assert wire.requests == []  # refused before anything was sent
        raw = await client.deployments.with_raw_response.archive(
            dep, idempotency_key="raw-archive-1", extra_headers={"X-Trace": "t1"}
        )
        with pytest.raises(NotFoundError) as missing:
            await client.deployments.with_raw_response.get("dep_" + "0" * 32)
    sent = wire.requests[0]
    assert sent.header("X-Trace") == "t1"
    assert sent.header("Idempotency-Key") == "raw-archive-1"
    assert raw.parse().is_archived
    assert missing.value.request_id == wire.request_ids[1]


async def test_headers_leave_out_credentials(qoder_fake_server: FakeQoderServer) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)

    async def set_cookie(request: Request, call_next: Handler) -> Response:
        got = await call_next(request)
        headers = {**got.headers, "Set-Cookie": "session=secret"}
        return Response(got.status, headers, got.content, got.request, got.elapsed)

    async with client_for(qoder_fake_server, per_attempt_middleware=[set_cookie]) as client:
        raw = await client.deployments.with_raw_response.get(dep)
    assert "secret" not in str(dict(raw.headers))
    assert raw.request_id


def _drifted(server: FakeQoderServer) -> str:
    (dep,) = server.seed_deployments(1)
    server.state.deployments[dep]["resources"] = [DRIFTED]
    return dep


async def test_a_drifted_body_parses_leniently_by_default(
    qoder_fake_server: FakeQoderServer, caplog: pytest.LogCaptureFixture
) -> None:
    dep = _drifted(qoder_fake_server)
    _salvage._warned.clear()
    try:
        async with client_for(qoder_fake_server, strict_responses=False) as client:
            with caplog.at_level(logging.WARNING, logger="qoder_async"):
                raw = await client.deployments.with_raw_response.get(dep)
                parsed: Deployment = raw.parse()
    finally:
        _salvage._warned.clear()
    assert parsed.resources == (UnknownResource(type="file", raw=DRIFTED),)
    assert any("resources[0].file_id" in r.getMessage() for r in caplog.records)


async def test_a_drifted_body_raises_on_parse_in_strict_mode(
    qoder_fake_server: FakeQoderServer,
) -> None:
    dep = _drifted(qoder_fake_server)
    async with client_for(qoder_fake_server, strict_responses=True) as client:
        raw = await client.deployments.with_raw_response.archive(dep)
        with pytest.raises(ResponseDecodeError) as normal:
            await client.deployments.get(dep)
    assert raw.status == 200  # the archive applied; only the body does not fit
    with pytest.raises(ResponseDecodeError, match=r"deployment\.resources\[0\]\.file_id") as err:
        raw.parse()
    assert err.value.request_id == raw.request_id
    assert err.value.maybe_applied is True
    assert normal.value.maybe_applied is False
    assert qoder_fake_server.archive_applications[dep] == 1


async def test_help_shows_the_same_parameters_and_the_raw_return_type(
    qoder_fake_server: FakeQoderServer,
) -> None:
    async with client_for(qoder_fake_server) as client:
        for name in ("create", "get", "update", "pause", "unpause", "archive", "run"):
            normal = getattr(client.deployments, name)
            raw = getattr(client.deployments.with_raw_response, name)
            model = "DeploymentRun" if name == "run" else "Deployment"
            assert raw.__name__ == normal.__name__ == name
            assert raw.__doc__ == normal.__doc__
            assert inspect.signature(raw).parameters == inspect.signature(normal).parameters
            assert inspect.signature(normal).return_annotation == model
            assert inspect.signature(raw).return_annotation == f"RawResponse[{model}]"
        runs_get = inspect.signature(client.deployments.runs.with_raw_response.get)
        assert list(runs_get.parameters)[:2] == ["deployment_id", "run_id"]
