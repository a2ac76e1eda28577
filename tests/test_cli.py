"""The ``qoder-async`` command line: help, parsing, rendering, and every API command run
as a real subprocess against a fake server.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys

import aiohttp
import pytest

from qoder_async.cli import main
from qoder_async.cli._output import format_table
from qoder_async.cli._progress import Progress
from qoder_async.testing import FakeQoderServer
from tests.cli_support import (
    AGENT_B,
    UNKNOWN,
    assert_one_error_line,
    child_env,
    cli,
    server_fixture,  # noqa: F401 (pytest fixture)
)

# -- in-process: help, parsing, rendering -------------------------------------------------

COMMANDS = [
    [],
    ["deployments"],
    *[
        ["deployments", c]
        for c in ("list", "get", "create", "update", "pause", "unpause", "archive", "run")
    ],
    ["runs"],
    ["runs", "list"],
    ["runs", "get"],
    ["bulk-archive"],
    ["fake-server"],
    ["demo"],
    ["completion"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: qoder-async")
    assert "show this help message" in text
    # A group lists its commands; a command lists the global options too.
    group = command in ([], ["deployments"], ["runs"])
    assert ("COMMAND" if group else "--json") in text


def test_usage_errors_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QODER_PAT", raising=False)
    assert main(["deployments", "get", "dep_" + "0" * 32]) == 2
    assert "QODER_PAT" in capsys.readouterr().err
    monkeypatch.setenv("QODER_PAT", "pt-secret-value")
    assert main(["runs", "list"]) == 2
    assert main(["bulk-archive", "--resume", "dep_" + "0" * 32]) == 2
    assert main(["bulk-archive", "--agent-id", AGENT_B, "dep_" + "0" * 32]) == 2
    assert main(["deployments", "get", "not-an-id"]) == 2
    err = capsys.readouterr().err
    assert "--results" in err
    assert "deployment_id" in err
    assert "pt-secret-value" not in err
    with pytest.raises(SystemExit) as exited:
        main(["--concurrency", "0", "deployments", "list"])
    assert exited.value.code == 2


def test_format_table_aligns_and_right_aligns_numbers() -> None:
    table = format_table(("NAME", "COUNT"), [("a", 5), ("longer", 1234)])
    assert table.splitlines() == ["NAME    COUNT", "a           5", "longer   1234"]


def test_progress_line_shows_rate_and_eta() -> None:
    now = [100.0]
    stream = io.StringIO()
    progress = Progress(stream, "archive", total=100, enabled=True, clock=lambda: now[0])
    for _ in range(25):
        progress.advance()
    now[0] += 1.0
    line = progress.render(200)
    assert "25/100" in line
    assert "25%" in line
    assert "25/s" in line
    assert "ETA 0:03" in line


# -- deployments ------------------------------------------------------------------------


async def test_deployments_list_json_lines_match_the_server(server: FakeQoderServer) -> None:
    ids = server.seed_deployments(7)
    server.state.pause(ids[2])
    result = await cli(server, "--json", "deployments", "list")
    assert result.code == 0, result.err
    listed = result.json_lines()
    assert [d["id"] for d in listed] == ids[::-1]  # newest first
    for item in listed:
        stored = server.state.deployments[item["id"]]
        assert (item["name"], item["status"]) == (stored["name"], stored["status"])
    paused = await cli(server, "deployments", "list", "--status", "paused", "--json")
    assert [d["id"] for d in paused.json_lines()] == [ids[2]]
    piped = await cli(server, "deployments", "list", "--limit", "3")
    rows = [line.split("\t") for line in piped.out.splitlines()]
    assert [row[0] for row in rows] == ids[::-1][:3]  # no header line in a pipe
    assert {len(row) for row in rows} == {5}
    assert "showing the first 3 deployments; use --limit N or --all" in piped.err


async def test_get_create_update_and_state_changes(server: FakeQoderServer) -> None:
    created = await cli(
        server,
        "--json",
        "deployments",
        "create",
        "--name",
        "nightly-report",
        "--agent",
        server.state.default_agent_id,
        "--environment-id",
        server.state.default_environment_id,
        "--message",
        "Summarise yesterday",
        "--cron",
        "0 3 * * *",
        "--metadata",
        "team=ops",
    )
    assert created.code == 0, created.err
    body = json.loads(created.out)
    dep = body["id"]
    stored = server.state.deployments[dep]
    assert stored["name"] == "nightly-report"
    assert stored["schedule"]["expression"] == "0 3 * * *"
    assert stored["metadata"]["team"] == "ops"

    shown = await cli(server, "deployments", "get", dep)
    assert "nightly-report" in shown.out
    assert "team=ops" in shown.out

    updated = await cli(
        server, "--json", "deployments", "update", dep, "--name", "renamed",
        "--unset-metadata", "team",
    )  # fmt: skip
    assert updated.code == 0, updated.err
    assert json.loads(updated.out)["name"] == "renamed"
    assert "team" not in server.state.deployments[dep]["metadata"]

    for action, status in (("pause", "paused"), ("unpause", "active")):
        result = await cli(server, "--json", "deployments", action, dep)
        assert result.code == 0, result.err
        assert json.loads(result.out)["status"] == server.state.deployments[dep]["status"] == status

    run = await cli(server, "--json", "deployments", "run", dep)
    assert run.code == 0, run.err
    assert json.loads(run.out)["id"] in server.state.runs

    archived = await cli(server, "--json", "deployments", "archive", dep, "--yes")
    assert archived.code == 0, archived.err
    assert json.loads(archived.out)["archived_at"] == server.state.deployments[dep]["archived_at"]
    assert server.archive_applications[dep] == 1


async def test_api_errors_print_one_line_and_never_the_token(server: FakeQoderServer) -> None:
    missing = await cli(server, "deployments", "get", UNKNOWN)
    assert missing.code == 1
    assert_one_error_line(missing, "error: 404 not_found_error:")
    assert "[request_id: req_" in missing.err  # the form the SDK's own errors use

    dep = server.seed_deployments(1, status="paused")[0]
    conflict = await cli(server, "deployments", "pause", dep)
    assert conflict.code == 1
    assert_one_error_line(conflict, "error: 409 conflict_error:")

    bad_token = "pt-not-the-right-one-1234"
    denied = await cli(server, "deployments", "list", token=bad_token)
    assert denied.code == 1
    assert_one_error_line(denied, "error: 401 authentication_error:")
    assert "check the token in the QODER_PAT environment variable" in denied.err
    assert bad_token not in denied.out + denied.err


async def test_runs_list_and_get(server: FakeQoderServer) -> None:
    first, second = server.seed_deployments(2)
    run_a = server.state.run(first)["id"]
    run_b = server.state.run(second)["id"]
    scoped = await cli(server, "--json", "runs", "list", first)
    assert [r["id"] for r in scoped.json_lines()] == [run_a]
    everything = await cli(server, "runs", "list", "--all", "--json", "--trigger-type", "manual")
    assert {r["id"] for r in everything.json_lines()} == {run_a, run_b}
    piped = await cli(server, "runs", "list", "--all")
    assert sorted(line.split("\t")[0] for line in piped.out.splitlines()) == sorted([run_a, run_b])
    global_get = await cli(server, "--json", "runs", "get", run_b)
    assert json.loads(global_get.out)["deployment_id"] == second
    scoped_get = await cli(server, "--json", "runs", "get", first, run_a)
    assert json.loads(scoped_get.out)["id"] == run_a
    wrong = await cli(server, "runs", "get", first, run_b)
    assert wrong.code == 1
    assert_one_error_line(wrong, "error: 404 not_found_error:")


# -- fake-server ------------------------------------------------------------------------


async def test_fake_server_command_serves_until_stopped() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "--json", "fake-server", "--port", "0",
        "--seed-deployments", "3", "--seed", "5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(None),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        assert info["url"].startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {info['token']}"}
        async with aiohttp.ClientSession() as session:
            for _ in range(50):  # poll until it answers
                try:
                    async with session.get(f"{info['url']}/deployments", headers=headers) as r:
                        assert r.status == 200
                        body = await r.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the fake server never answered")
        assert len(body["data"]) == 3
    finally:
        if proc.returncode is None:
            proc.terminate()
        code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 0
