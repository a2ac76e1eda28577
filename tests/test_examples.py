"""The examples run as written against the fake server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from qoder_async.testing import FakeQoderServer, FaultPlan

EXAMPLES = Path(__file__).parents[1] / "examples"


async def run_example(server: FakeQoderServer, name: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "QODER_BASE_URL": server.url, "QODER_PAT": server.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / name),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode()


async def test_quickstart(qoder_fake_server: FakeQoderServer) -> None:
    code, output = await run_example(qoder_fake_server, "quickstart.py")
    assert code == 0, output
    assert "created dep_" in output
    assert "pausing twice is a conflict" in output
    assert "archived as 'daily-report_archived_" in output
    (deployment,) = qoder_fake_server.state.deployments.values()
    assert deployment["archived_at"]
    assert qoder_fake_server.applied["deployments.run"] == 1


async def test_bulk_archive_example_under_faults(qoder_fake_server: FakeQoderServer) -> None:
    server = qoder_fake_server
    mine = server.seed_deployments(120, agent_id="agent_" + "b" * 32, status="paused")
    others = server.seed_deployments(30)
    server.faults = FaultPlan(seed=3, rate=0.15, endpoints={"deployments.archive"})
    code, output = await run_example(
        server, "bulk_archive.py", "--agent-id", "agent_" + "b" * 32, "--status", "paused"
    )
    assert code == 0, output
    assert "'archived': 120" in output
    assert all(server.state.deployments[dep]["archived_at"] for dep in mine)
    assert not any(server.state.deployments[dep]["archived_at"] for dep in others)
    assert set(server.archive_applications.values()) == {1}
