"""The pytest plugin, seen from a user's project that only installed the package."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from qoder_async import QoderClient
from qoder_async.testing import FakeQoderServer

USER_TEST = """
import pytest

from qoder_async.testing import Fault, FaultPlan


@pytest.fixture
def qoder_fake_server_options():
    return {"faults": FaultPlan().script("deployments.archive", [Fault.reset_after()])}


@pytest.mark.asyncio
async def test_my_cleanup_job(qoder_fake_server, qoder_client):
    (dep,) = qoder_fake_server.seed_deployments(1)
    archived = await qoder_client.deployments.archive(dep)
    assert archived.is_archived
    assert qoder_fake_server.archive_applications[dep] == 1
    assert qoder_fake_server.request_counts["deployments.archive"] == 2
"""


def test_plugin_fixtures_work_in_a_scratch_project(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # no config from this repo
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


async def test_fixtures_here(qoder_fake_server: FakeQoderServer, qoder_client: QoderClient) -> None:
    assert qoder_client.base_url == qoder_fake_server.url
    (dep,) = qoder_fake_server.seed_deployments(1)
    assert (await qoder_client.deployments.get(dep)).id == dep
