"""The decode mode through a real client: lenient by default, strict on request.

The fake server hands back a deployment whose resource drifted from the documented
shape (a ``file`` resource with ``id`` instead of ``file_id``) on the very call that
archives it: a lenient client returns the archived deployment, a strict one raises
``ResponseDecodeError`` naming the path, and either way the archive was applied once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from qoder_async import ClientConfig, QoderClient, ResponseDecodeError, UnknownResource, _salvage
from qoder_async.testing import FakeQoderServer
from tests.e2e_helpers import client_for

DRIFTED = {"type": "file", "id": "file_1", "mount_path": "/mnt/session/uploads/file_1"}


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    _salvage._warned.clear()
    yield
    _salvage._warned.clear()


def drifted_deployment(server: FakeQoderServer) -> str:
    (dep,) = server.seed_deployments(1)
    server.state.deployments[dep]["resources"] = [DRIFTED]
    return dep


async def test_lenient_archive_returns_the_drifted_deployment(
    qoder_fake_server: FakeQoderServer, caplog: pytest.LogCaptureFixture
) -> None:
    dep = drifted_deployment(qoder_fake_server)
    async with client_for(qoder_fake_server, strict_responses=False) as client:
        assert client.config.strict_responses is False
        with caplog.at_level(logging.WARNING, logger="qoder_async"):
            archived = await client.deployments.archive(dep)
            again = await client.deployments.get(dep)
    assert archived.id == dep
    assert archived.is_archived
    assert archived.resources == (UnknownResource(type="file", raw=DRIFTED),)
    assert again == archived
    assert qoder_fake_server.archive_applications[dep] == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "qoder_async"]
    assert len(warnings) == 1  # once per path, not once per call
    assert "deployment.resources[0].file_id" in warnings[0]


async def test_strict_archive_raises_naming_the_path_after_the_change_applied(
    qoder_fake_server: FakeQoderServer,
) -> None:
    dep = drifted_deployment(qoder_fake_server)
    async with client_for(qoder_fake_server, strict_responses=True) as client:
        with pytest.raises(ResponseDecodeError, match=r"deployment\.resources\[0\]\.file_id"):
            await client.deployments.archive(dep)
    assert qoder_fake_server.archive_applications[dep] == 1


async def test_bodies_that_are_not_objects_stay_errors_when_lenient(
    qoder_fake_server: FakeQoderServer,
) -> None:
    dep = drifted_deployment(qoder_fake_server)
    del qoder_fake_server.state.deployments[dep]["id"]
    async with client_for(qoder_fake_server, strict_responses=False) as client:
        with pytest.raises(ResponseDecodeError, match=r"deployment\.id: missing required field"):
            await client.deployments.get(dep)


def test_the_mode_comes_from_the_argument_the_config_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("QODER_STRICT_RESPONSES", raising=False)
    assert QoderClient("pt-x").config.strict_responses is False
    assert QoderClient("pt-x", strict_responses=True).config.strict_responses is True
    strict_config = ClientConfig(strict_responses=True)
    assert QoderClient("pt-x", config=strict_config).config.strict_responses is True
    monkeypatch.setenv("QODER_STRICT_RESPONSES", "1")
    assert QoderClient("pt-x").config.strict_responses is True
    assert QoderClient("pt-x", strict_responses=False).config.strict_responses is False
    assert QoderClient("pt-x", config=ClientConfig()).config.strict_responses is False
